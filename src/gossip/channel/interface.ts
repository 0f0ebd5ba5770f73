import type {
  PeerEventSink,
  MessageCryptoService,
  OrgIdentityType,
  PeerIdentityType,
  PeerSignature,
  PKIidType,
  RemotePeer,
} from "../../api/index.js";
import type { NetworkMember } from "../../discovery/index.js";
import type { Logger } from "../../logging/index.js";
import type { MetricsProvider } from "../../metrics/index.js";
import type { ReceivedMessage, SignedGossipMessage } from "../../protoext/index.js";
import type { Chaincode, GossipMessage } from "../../protos/gen/gossip/message.pb.js";
import type { Clock, Random } from "../../util/index.js";
import { DEFAULT_DIGEST_WAIT_TIME_MS, DEFAULT_REQUEST_WAIT_TIME_MS, DEFAULT_RESPONSE_WAIT_TIME_MS } from "../algo/index.js";
import type { RoutingFilter } from "../filter/index.js";

/**
 * How the channel reaches the rest of the gossip node: Fabric's `channel.Adapter`, implemented by the
 * node's `gossipAdapterImpl` (chanstate.go). None of these may throw for ordinary input; a throw is
 * caught and logged by the channel.
 */
export interface ChannelAdapter {
  /** Signs `msg` with the peer's identity (the node's `mcs.Sign`). May throw when signing fails. */
  sign(msg: GossipMessage): SignedGossipMessage;
  /** Pushes `msg` through the node's emitter to every eligible peer (Fabric's `Gossip`). */
  gossip(msg: SignedGossipMessage): void;
  /** Re-gossips a received message through the emitter, excluding its sender (Fabric's `Forward`). */
  forward(msg: ReceivedMessage): void;
  /** Hands a message to local subscribers such as the state provider and election (Fabric's `DeMultiplex`). */
  deMultiplex(msg: SignedGossipMessage): void;
  /** The alive members known to discovery, without ourselves (Fabric's `GetMembership`). */
  getMembership(): NetworkMember[];
  /** Whether `pkiId` is one of `getMembership()`, without building it. Not in Fabric. */
  isAlive(pkiId: PKIidType): boolean;
  /** The member discovery knows under `pkiId` (alive or dead), or undefined (Fabric's `Lookup`). */
  lookup(pkiId: PKIidType): NetworkMember | undefined;
  /** Sends `msg` to `peers` without waiting (comm's `Send`). */
  send(msg: SignedGossipMessage, ...peers: RemotePeer[]): void;
  /** Whether a StateInfo message is signed by the identity of its `pki_id` (the node's `validateStateInfoMsg`). */
  validateStateInfoMessage(msg: SignedGossipMessage): boolean;
  /** The organization of a peer, or an empty array when it is unknown (Fabric's `GetOrgOfPeer`). */
  getOrgOfPeer(pkiId: PKIidType): OrgIdentityType;
  /** The identity of a peer from the identity mapper, or undefined when unknown or expired. */
  getIdentityByPKIID(pkiId: PKIidType): PeerIdentityType | undefined;
}

/** An anchor peer of an organization, from the channel config (Fabric's `api.AnchorPeer`). */
export interface AnchorPeer {
  host: string;
  port: number;
}

/**
 * What the peer learns of a channel from its config block (Fabric's `api.JoinChannelMessage`).
 * Defined here, where it is consumed.
 */
export interface JoinChannelMessage {
  /** The sequence number of the config block this message was made from; older ones are ignored. */
  readonly sequenceNumber: number;
  /** The organizations of the channel (their MSP IDs). */
  members(): OrgIdentityType[];
  /** The anchor peers of `org`. */
  anchorPeersOf(org: OrgIdentityType): AnchorPeer[];
}

/** What a sub-channel criterion is evaluated on: Fabric's `api.PeerSignature` of the peer's signed StateInfo, plus the member and message themselves. */
export interface PeerStateInfo extends PeerSignature {
  /** The member being considered. */
  peer: Pick<NetworkMember, "pkiId">;
  /** Its StateInfo message as held in the channel's cache. */
  stateInfo: SignedGossipMessage;
}

/** Fabric's `api.SubChannelSelectionCriteria`: e.g. a collection's member-orgs policy evaluated on the StateInfo signature. */
export type SubChannelSelectionCriteria = (signature: PeerStateInfo) => boolean;

/** Fabric's `election.DefLeaderAliveThreshold`. */
export const DEF_LEADER_ALIVE_THRESHOLD_MS = 10_000;
/** Fabric's `channel.DefMsgExpirationTimeout`: TTL of the leadership message store. */
export const DEF_MSG_EXPIRATION_TIMEOUT_MS = DEF_LEADER_ALIVE_THRESHOLD_MS * 10;
/** Block store TTL as a multiple of the pull interval (chanstate.go `GetConf`). */
export const BLOCK_EXPIRATION_PULL_INTERVALS = 100;
/** StateInfo cache sweep period as a multiple of the pull interval (chanstate.go `GetConf`). */
export const STATE_INFO_SWEEP_PULL_INTERVALS = 5;
/** With stateInfoPullWhenMissing and nothing missing, a StateInfo pull round (from one peer) runs every this many requestStateInfoIntervals. */
export const STATE_INFO_REFRESH_ROUNDS = 8;

/**
 * Fabric's `channel.Config`, as plain data with `...Ms` durations. Defaults are core.yaml's
 * `peer.gossip.*` and the derived timers of FABRIC-REFERENCE §3.1.
 */
export interface ChannelConfig {
  /** How often our StateInfo is published when it changed (`publishStateInfoInterval`, 4 s). */
  publishStateInfoIntervalMs: number;
  /** The block store's comparator window (`maxBlockCountToStore`, 10). */
  maxBlockCountToStore: number;
  /** Peers per StateInfo request and per block pull round (`pullPeerNum`, 3). */
  pullPeerNum: number;
  /** Period of block pull rounds (`pullInterval`, 4 s). */
  pullIntervalMs: number;
  /** How often a StateInfo snapshot is requested (`requestStateInfoInterval`, 4 s). */
  requestStateInfoIntervalMs: number;
  /** Block store TTL (pullInterval x 100 = 400 s). */
  blockExpirationIntervalMs: number;
  /** StateInfo cache sweep period (pullInterval x 5 = 20 s). */
  stateInfoCacheSweepIntervalMs: number;
  /** Membership tracker period (`membershipTrackerInterval`, 5 s). */
  timeForMembershipTrackerMs: number;
  /** Block pull engine: digest wait (`digestWaitTime`, 1 s). */
  digestWaitTimeMs: number;
  /** Block pull engine: request wait (`requestWaitTime`, 1.5 s). */
  requestWaitTimeMs: number;
  /** Block pull engine: response wait (`responseWaitTime`, 2 s). */
  responseWaitTimeMs: number;
  /** Leadership message store TTL (leaderAliveThreshold x 10 = 100 s; Fabric's `MsgExpirationTimeout`). */
  leaderMsgExpirationTimeoutMs: number;
  /**
   * Not in Fabric (fabric-gossip's `peer.gossip.blockPullInterval`, opt-in): when above 0, the block
   * puller runs its rounds every this many ms instead of every `pullIntervalMs`, and a pushed block
   * that reveals a gap (a block between our ledger height and it, within `maxBlockCountToStore`, that
   * we neither hold nor committed) starts a block pull round at once. Identity pull, membership sync
   * and the intervals derived from `pullIntervalMs` are unchanged; the messages are Fabric's.
   * Absent or 0 (default): Fabric's behaviour, block pull rounds every `pullIntervalMs` only.
   */
  blockPullIntervalMs?: number;
  /**
   * Not in Fabric (fabric-gossip's `peer.gossip.pullWaitsFollowRtt`, opt-in): the block puller's
   * digest, request and response waits become floors, raised to cover the round trips it measures.
   */
  pullWaitsFollowRtt?: boolean;
  /**
   * Not in Fabric (fabric-gossip's `peer.gossip.stateInfoPullWhenMissing`, opt-in): while a member of a
   * channel org has no StateInfo with us, a StateInfo pull round asks one such member (not pullPeerNum
   * random peers), and otherwise one random peer every STATE_INFO_REFRESH_ROUNDS-th round; pushed
   * StateInfo keeps the rest current.
   */
  stateInfoPullWhenMissing?: boolean;
  /** The transport's message size limit (comm's `maxMessageSize`): block pull responses are split to fit it. Default 100 MiB. */
  maxMessageBytes?: number;
}

/** Fabric's defaults. The two derived intervals follow `pullIntervalMs` when not given (see `resolveChannelConfig`). */
export const DEFAULT_CHANNEL_CONFIG: Readonly<ChannelConfig> = Object.freeze({
  publishStateInfoIntervalMs: 4_000,
  maxBlockCountToStore: 10,
  pullPeerNum: 3,
  pullIntervalMs: 4_000,
  requestStateInfoIntervalMs: 4_000,
  blockExpirationIntervalMs: 4_000 * BLOCK_EXPIRATION_PULL_INTERVALS,
  stateInfoCacheSweepIntervalMs: 4_000 * STATE_INFO_SWEEP_PULL_INTERVALS,
  timeForMembershipTrackerMs: 5_000,
  digestWaitTimeMs: DEFAULT_DIGEST_WAIT_TIME_MS,
  requestWaitTimeMs: DEFAULT_REQUEST_WAIT_TIME_MS,
  responseWaitTimeMs: DEFAULT_RESPONSE_WAIT_TIME_MS,
  leaderMsgExpirationTimeoutMs: DEF_MSG_EXPIRATION_TIMEOUT_MS,
});

/** The part of the MessageCryptoService the channel uses. */
export type ChannelCryptoService = Pick<MessageCryptoService, "verifyBlock" | "verifyByChannel">;

/** What a channel is built with (the arguments of Fabric's `NewGossipChannel`). */
export interface GossipChannelComponents {
  /** Our PKI-ID. */
  pkiId: PKIidType;
  /** Our organization (MSP ID bytes). */
  org: OrgIdentityType;
  /** The channel name. */
  channelId: string;
  adapter: ChannelAdapter;
  /** The initial channel configuration; one without orgs leaves the channel with no orgs until reconfigured. */
  joinMsg: JoinChannelMessage;
  clock: Clock;
  random: Random;
  /** Parent logger; the channel logs as `gossip.channel` with the channel name. */
  logger?: Logger;
  /** The peer's metrics (gossip_membership_total_peers_known and our reject counter). */
  metrics: MetricsProvider;
  /** Where rejected messages are told. Default: nowhere. */
  events?: PeerEventSink;
  mcs: ChannelCryptoService;
}

/**
 * Fabric's `channel.GossipChannel`: the per-channel state of a gossip node. StateInfo membership,
 * block verification, storage and forwarding, block pull, leadership filtering and reconfiguration.
 */
export interface GossipChannel {
  /** The channel name. */
  readonly channelId: string;
  /** Our current signed StateInfo message (Fabric's `Self`). */
  self(): SignedGossipMessage;
  /**
   * Alive members with a known identity and a cached StateInfo that has not left the channel, with
   * `properties` and `envelope` taken from that StateInfo (copies; discovery's objects are not changed).
   * Empty once we have left the channel.
   */
  getPeers(): NetworkMember[];
  /** Whether `pkiId` is one of `getPeers()`, checked for it alone. Not in Fabric. */
  hasPeer(pkiId: PKIidType): boolean;
  /** A filter selecting members with a known identity and StateInfo for which `criteria` holds. */
  peerFilter(criteria: SubChannelSelectionCriteria): RoutingFilter<NetworkMember>;
  /** Whether the member's org is in the channel. */
  isMemberInChan(member: Pick<NetworkMember, "pkiId">): boolean;
  /** Whether `org` is one of the channel's orgs. */
  isOrgInChannel(org: OrgIdentityType): boolean;
  /** Whether the member's identity is known and we hold its StateInfo (it should get blocks). */
  eligibleForChannel(member: Pick<NetworkMember, "pkiId">): boolean;
  /** Sets the ledger height we publish (on the next publish tick). */
  updateLedgerHeight(height: bigint): void;
  /**
   * Publishes our StateInfo now if it changed since last published and somebody can hear it, as the
   * next publish tick would (ours: startupSync, so that a peer joins the channel's view in seconds).
   * With `orAgain`, an unchanged StateInfo that went out before is gossiped again.
   */
  publishStateInfoIfChanged(options?: { orAgain?: boolean }): void;
  /** Sets the chaincodes we publish, and publishes at once even with an empty membership. */
  updateChaincodes(chaincodes: Chaincode[]): void;
  /** Processes a channel message from a remote peer. Never throws. */
  handleMessage(msg: ReceivedMessage): void;
  /** Stores a block we gossip ourselves (and makes it pullable), or a StateInfo message. */
  addToMsgStore(msg: SignedGossipMessage): void;
  /** Replaces the channel's orgs, unless `joinMsg` has none or is older than the current one. */
  configureChannel(joinMsg: JoinChannelMessage): void;
  /** Marks us as having left: published in our StateInfo; no peers, no block pull any more. */
  leaveChannel(): void;
  /** Starts the periodic publish, request, sweep, membership tracking and block pull. Idempotent. */
  start(): Promise<void>;
  /** Stops everything; afterwards no timer of the channel is pending and messages are ignored. Idempotent. */
  stop(): Promise<void>;
}
