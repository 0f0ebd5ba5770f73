import type {
  PeerEventSink,
  MessageCryptoService,
  OrgIdentityType,
  SecurityAdvisor,
  PeerIdentityInfo,
  PeerIdentityType,
  PKIidType,
  RemotePeer,
} from "../../api/index.js";
import type { MetricsProvider } from "../../metrics/index.js";
import type { Comm, CommOptions, FrameDecoder, Transport } from "../../comm/index.js";
import type { DiscoveryOptions, NetworkMember } from "../../discovery/index.js";
import type { Logger } from "../../logging/index.js";
import type { ReceivedMessage } from "../../protoext/index.js";
import type { Chaincode, GossipMessage } from "../../protos/gen/gossip/message.pb.js";
import type { Clock, Random } from "../../util/index.js";
import type { JoinChannelMessage, SubChannelSelectionCriteria } from "../channel/index.js";
import type { RoutingFilter } from "../filter/index.js";

/** Fabric's `gossip.SendCriteria`. */
export interface SendCriteria {
  timeoutMs: number;
  minAck: number;
  maxPeers: number;
  /** Only peers it accepts are chosen. */
  isEligible?: RoutingFilter<NetworkMember>;
  /** When set, peers are chosen among the channel's members. */
  channel?: string;
}

/** What the node is built from. */
export interface GossipNodeComponents {
  transport: Transport;
  mcs: MessageCryptoService;
  securityAdvisor: SecurityAdvisor;
  selfIdentity: PeerIdentityType;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Where the node and its parts (comm, discovery, channels) create their metrics. */
  metrics: MetricsProvider;
  /** Where the node and its parts tell what happens (membership, rejections). Default: nowhere. */
  events?: PeerEventSink;
  /** How comm decodes received frames (CommComponents.decodeFrame). */
  decodeFrame?: FrameDecoder;
}

/** The node's settings, Fabric's `gossip.Config`; config/ fills it from peer.gossip.*. */
export interface GossipNodeOptions {
  /** Internal endpoint (peer.gossip.endpoint or peer.address). */
  internalEndpoint: string;
  /** Endpoint published to other orgs (peer.gossip.externalEndpoint); empty hides us from them. */
  externalEndpoint: string;
  bootstrapPeers: string[];
  propagateIterations: number;
  propagatePeerNum: number;
  maxPropagationBurstSize: number;
  maxPropagationBurstLatencyMs: number;
  pullIntervalMs: number;
  pullPeerNum: number;
  digestWaitTimeMs: number;
  requestWaitTimeMs: number;
  responseWaitTimeMs: number;
  publishStateInfoIntervalMs: number;
  requestStateInfoIntervalMs: number;
  publishCertPeriodMs: number;
  maxBlockCountToStore: number;
  aliveTimeIntervalMs: number;
  aliveExpirationTimeoutMs: number;
  reconnectIntervalMs: number;
  maxConnectionAttempts: number;
  msgExpirationFactor: number;
  leaderAliveThresholdMs: number;
  membershipTrackerIntervalMs: number;
  comm: Partial<CommOptions>;
  /** Not in Fabric: peer.gossip.blockPullInterval, the channels' opt-in block pull interval and gap trigger; absent or 0 is off. */
  blockPullIntervalMs?: number;
  /** Not in Fabric: peer.gossip.pullWaitsFollowRtt, block pull waits that follow the measured round trip; absent is off. */
  pullWaitsFollowRtt?: boolean;
  /** Not in Fabric: peer.gossip.membershipDelta, membership sync requests list the members known and responses leave them out; absent is off. */
  membershipDelta?: boolean;
  /** Not in Fabric: peer.gossip.startupSync (GossipConfig.startupSync); absent is off. */
  startupSync?: boolean;
  /** Not in Fabric: peer.gossip.stateInfoPullWhenMissing (ChannelConfig.stateInfoPullWhenMissing); absent is off. */
  stateInfoPullWhenMissing?: boolean;
  /** Not in Fabric: peer.gossip.livenessFromTraffic (DiscoveryOptions.livenessFromTraffic); absent is off. */
  livenessFromTraffic?: boolean;
  /** Not in Fabric: peer.gossip.aliveFollowsFabricPeers (DiscoveryOptions.aliveFollowsFabricPeers); absent is off. */
  aliveFollowsFabricPeers?: boolean;
  /** Not in Fabric: discovery's bounds on what others make it learn (absent: discovery's defaults). */
  discoveryLimits?: Partial<DiscoveryLimits>;
  /**
   * Not in Fabric (peer.gossip.limits.preferDirectMembers; absent: true): routing gives at most half of
   * a message's targets to members known only second-hand while members heard from directly can take them.
   */
  preferDirectMembers?: boolean;
}

/** Discovery's options that bound membership (peer.gossip.limits.*), not its Fabric timers. */
export type DiscoveryLimits = Pick<
  DiscoveryOptions,
  | "maxMembersPerResponse"
  | "maxMemberEntriesPerSenderPerInterval"
  | "maxNewMembersPerOrgPerInterval"
  | "memberQuotaIntervalMs"
  | "maxKnownMembersPerOrg"
  | "maxKnownMembers"
  | "maxReconnectPingsInFlight"
  | "maxReconnectBackoffMs"
>;

/** Fabric's defaults (gossip/gossip/config.go, discovery, comm). */
export const DEFAULT_GOSSIP_NODE_OPTIONS: Readonly<Omit<GossipNodeOptions, "internalEndpoint">> = Object.freeze({
  externalEndpoint: "",
  bootstrapPeers: [],
  propagateIterations: 1,
  propagatePeerNum: 3,
  maxPropagationBurstSize: 10,
  maxPropagationBurstLatencyMs: 10,
  pullIntervalMs: 4_000,
  pullPeerNum: 3,
  digestWaitTimeMs: 1_000,
  requestWaitTimeMs: 1_500,
  responseWaitTimeMs: 2_000,
  publishStateInfoIntervalMs: 4_000,
  requestStateInfoIntervalMs: 4_000,
  publishCertPeriodMs: 10_000,
  maxBlockCountToStore: 10,
  aliveTimeIntervalMs: 5_000,
  aliveExpirationTimeoutMs: 25_000,
  reconnectIntervalMs: 25_000,
  maxConnectionAttempts: 120,
  msgExpirationFactor: 20,
  leaderAliveThresholdMs: 10_000,
  membershipTrackerIntervalMs: 5_000,
  comm: {},
});

/** Fabric's `gossip.Gossip`: the node's API to the rest of the peer. */
export interface GossipNode {
  /** Our PKI-ID. */
  pkiId(): PKIidType;
  /** The comm underneath (connection stats, tests). Not in Fabric's Gossip interface. */
  comm(): Comm;
  /** Sends a message (NoopSigned) to the given peers. */
  send(msg: GossipMessage, ...peers: RemotePeer[]): void;
  /** Sends to peers chosen by `criteria` with acks; rejects when fewer than minAck acknowledged. */
  sendByCriteria(msg: GossipMessage, criteria: SendCriteria): Promise<void>;
  /** The alive membership. */
  peers(): NetworkMember[];
  /** The members of a channel (with their StateInfo properties). */
  peersOfChannel(channel: string): NetworkMember[];
  updateMetadata(metadata: Uint8Array): void;
  updateLedgerHeight(height: bigint, channel: string): void;
  updateChaincodes(chaincodes: Chaincode[], channel: string): void;
  /** Signs (or NoopSigns a block) and pushes a message to peers. */
  gossip(msg: GossipMessage): void;
  /** A routing filter of the channel's peers that satisfy `criteria`. */
  peerFilter(channel: string, criteria: SubChannelSelectionCriteria): RoutingFilter<NetworkMember>;
  /**
   * Subscribes to messages: without pass-through, to what channels hand to local consumers
   * (blocks, leadership); with pass-through, to raw received messages (private data, state transfer).
   */
  accept(acceptor: (msg: GossipMessage) => boolean, handler: (msg: GossipMessage) => void): () => void;
  acceptPassThrough(acceptor: (msg: ReceivedMessage) => boolean, handler: (msg: ReceivedMessage) => void): () => void;
  joinChan(joinMsg: JoinChannelMessage, channel: string): void;
  leaveChan(channel: string): void;
  /** Re-validates the identities `isSuspected` selects and drops the invalid ones. */
  suspectPeers(isSuspected: (identity: PeerIdentityType) => boolean): void;
  identityInfo(): PeerIdentityInfo[];
  isInMyOrg(member: Pick<NetworkMember, "pkiId">): boolean;
  selfMembershipInfo(): NetworkMember;
  /** The channels joined. */
  channels(): string[];
  /** The organization of a peer we hold the identity of, or empty. */
  orgOfPeer(pkiId: PKIidType): OrgIdentityType;
  /** Dead members as discovery knows them (empty once stopped). */
  deadMembers(): NetworkMember[];
  start(): Promise<void>;
  stop(): Promise<void>;
}
