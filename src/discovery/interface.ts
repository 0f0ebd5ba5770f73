import type { PeerEventSink, PKIidType } from "../api/index.js";
import type { MetricsProvider } from "../metrics/index.js";
import type { Logger } from "../logging/index.js";
import type { ReceivedMessage, SignedGossipMessage } from "../protoext/index.js";
import type { Envelope, GossipMessage } from "../protos/gen/gossip/message.pb.js";
import type { Clock, Random } from "../util/index.js";
import type { NetworkMember } from "./network-member.js";

/** discovery.DefAliveTimeInterval: heartbeat period (peer.gossip.aliveTimeInterval). */
export const DEF_ALIVE_TIME_INTERVAL_MS = 5_000;
/** discovery.DefAliveExpirationTimeout = 5 x aliveTimeInterval (peer.gossip.aliveExpirationTimeout). */
export const DEF_ALIVE_EXPIRATION_TIMEOUT_MS = 5 * DEF_ALIVE_TIME_INTERVAL_MS;
/** discovery.DefAliveExpirationCheckInterval = aliveExpirationTimeout / 10. */
export const DEF_ALIVE_EXPIRATION_CHECK_INTERVAL_MS = DEF_ALIVE_EXPIRATION_TIMEOUT_MS / 10;
/** discovery.DefReconnectInterval = aliveExpirationTimeout (peer.gossip.reconnectInterval). */
export const DEF_RECONNECT_INTERVAL_MS = DEF_ALIVE_EXPIRATION_TIMEOUT_MS;
/** discovery.DefMsgExpirationFactor: alive store TTL = aliveExpirationTimeout x this (peer.gossip.msgExpirationFactor). */
export const DEF_MSG_EXPIRATION_FACTOR = 20;
/** discovery.DefMaxConnectionAttempts (peer.gossip.maxConnectionAttempts). */
export const DEF_MAX_CONNECTION_ATTEMPTS = 120;
/** How long `sendUntilAcked` waits for a MembershipResponse per attempt: hard-coded in Fabric. */
export const SEND_UNTIL_ACKED_WAIT_MS = 5_000;
/** peer.gossip.publishCertPeriod: how long after start alive messages carry the full identity. */
export const DEF_PUBLISH_CERT_PERIOD_MS = 10_000;

// Limits against a member (or its org's CA) that lies about the membership. Fabric has none of them;
// the defaults are far above what an honest network of a few hundred peers per org ever reaches, so
// they change nothing there (docs/DESIGN-NOTES.md, "Membership that a liar cannot bloat").

/** Ours: alive + dead entries looked at per MembershipResponse; the rest are ignored and counted. */
export const DEF_MAX_MEMBERS_PER_RESPONSE = 1_000;
/** Ours: response entries verified (new or newer news) per sender per quota interval. */
export const DEF_MAX_MEMBER_ENTRIES_PER_SENDER_PER_INTERVAL = 5_000;
/** Ours: members not known before, learned per org per quota interval. */
export const DEF_MAX_NEW_MEMBERS_PER_ORG_PER_INTERVAL = 500;
/** Ours: the window of the per-sender and per-org quotas. */
export const DEF_MEMBER_QUOTA_INTERVAL_MS = 60_000;
/** Ours: members (alive and dead) known of one org. */
export const DEF_MAX_KNOWN_MEMBERS_PER_ORG = 2_000;
/** Ours: members (alive and dead) known in total. */
export const DEF_MAX_KNOWN_MEMBERS = 10_000;
/** Ours: pings of dead members in flight at once (Fabric pings every dead member at once). */
export const DEF_MAX_RECONNECT_PINGS_IN_FLIGHT = 32;
/** Ours: the longest back-off of a dead member known only second-hand, as a multiple of reconnectInterval. */
export const DEF_MAX_RECONNECT_BACKOFF_FACTOR = 16;

/** What a membership sync does beyond Fabric's (initiateSync). */
export interface SyncOptions {
  eachOrg?: boolean;
  withAlive?: boolean;
}

/**
 * Fabric's `discovery.Discovery`: the membership view (alive and dead peers) kept with signed
 * AliveMessage heartbeats and MembershipRequest/Response exchanges.
 */
export interface Discovery {
  /** The member with this PKI-ID (ourselves included), or undefined when unknown. */
  lookup(pkiId: PKIidType): NetworkMember | undefined;
  /**
   * The external endpoint of the member with this PKI-ID (ourselves included), or undefined when unknown:
   * what `lookup(pkiId)?.endpoint` answers, without copying the member (routing asks it per message).
   */
  endpointOf(pkiId: PKIidType): string | undefined;
  /**
   * This peer's membership information. Like Fabric's `Self()` it builds a fresh (NoopSigned) alive
   * message, which consumes a sequence number.
   */
  self(): NetworkMember;
  /** Replaces the metadata published in our next alive messages. */
  updateMetadata(metadata: Uint8Array): void;
  /** Replaces the external endpoint published in our next alive messages. */
  updateEndpoint(endpoint: string): void;
  /** The members presumed dead (not heard from within aliveExpirationTimeout), not yet forgotten. */
  getDeadMembers(): NetworkMember[];
  /** The alive members of the view (empty once stopped): a new array the caller may change; its members are frozen. */
  getMembership(): NetworkMember[];
  /**
   * The same members as `getMembership`, in the same order, without the copy: a frozen array that is
   * the same instance until the view changes (for hot paths that only read it). Not in Fabric.
   */
  membershipView(): readonly NetworkMember[];
  /**
   * Calls `read` with the same members as `membershipView`, lent rather than handed out: the array
   * stays as it is while `read` runs (synchronously), and must not be kept after. Unlike a hand-out,
   * it costs no copy of the list at the view's next change. Not in Fabric.
   */
  readMembership<T>(read: (members: readonly NetworkMember[]) => T): T;
  /** Whether `pkiId` is an alive member of the view (one of `getMembership()`), without a list. Not in Fabric. */
  isAlive(pkiId: PKIidType): boolean;
  /**
   * Grows with every change to the alive view (a member learned, refreshed by a newer alive message,
   * resurrected, expired or purged): equal versions mean equal `membershipView()`s. Not in Fabric.
   */
  membershipVersion(): number;
  /**
   * Whether an alive message of the member's own came over its own connection: it exists. A member
   * known only from others' messages may be invented (a liar's membership response). Not in Fabric.
   */
  heardDirectly(pkiId: PKIidType): boolean;
  /**
   * A message came over a connection authenticated as `pkiId`: the member exists, so it counts as heard
   * from directly (a process behind an invented member never sends anything). Not in Fabric.
   */
  heardFrom(pkiId: PKIidType): void;
  /**
   * Sends a MembershipRequest to up to `peerNum` random alive members. Ours, with `options.eachOrg`: to a
   * random alive member of every org known as well (a peer learns an org's members only from that org's
   * peers or its own org-mates); with `options.withAlive`, also gossips our alive message at once.
   */
  initiateSync(peerNum: number, options?: SyncOptions): void;
  /**
   * Connects to a bootstrap or anchor peer: identifies it with `identifier` (retried up to
   * maxConnectionAttempts, reconnectInterval apart), then sends it a MembershipRequest until answered.
   * Connecting to our own endpoint is skipped.
   */
  connect(member: NetworkMember, identifier: Identifier): void;
  start(): Promise<void>;
  /** Stops every loop and task; idempotent. */
  stop(): Promise<void>;
}

/** What an identifier learns about a remote peer (Fabric's `PeerIdentification`). */
export interface PeerIdentification {
  id: PKIidType;
  /** Whether the peer is in our org: only then does the MembershipRequest carry our internal endpoint. */
  selfOrg: boolean;
}

/**
 * Identifies a peer to connect to (Fabric's `identifier`): the Node runs the comm probe handshake and
 * checks the org. Rejects when the peer cannot be reached or identified.
 */
export type Identifier = () => Promise<PeerIdentification>;

/**
 * What discovery needs from the messaging layer (Fabric's `discovery.CommService`). The Node
 * implements it on top of comm and the push emitter.
 */
export interface CommService {
  /** Pushes `msg` to the network through the emitter (heartbeats). */
  gossip(msg: SignedGossipMessage): void;
  /** Sends `msg` to one peer (the comm layer may strip secrets for other orgs). */
  sendToPeer(peer: NetworkMember, msg: SignedGossipMessage): void;
  /** Probes `peer`; resolves true when it answers. Should not reject; a rejection counts as false. */
  ping(peer: NetworkMember): Promise<boolean>;
  /**
   * Delivers every incoming discovery message (alive, MembershipRequest, MembershipResponse) to
   * `handler`. The Node has already checked that a MembershipRequest's self information carries the
   * sender's own PKI-ID. Returns an unsubscribe.
   */
  accept(handler: (msg: ReceivedMessage) => void): () => void;
  /**
   * Calls `listener` with the PKI-ID of each peer comm presumes dead, and the endpoint that failed when
   * comm had dialled it. Returns an unsubscribe.
   */
  onPresumedDead(listener: (pkiId: PKIidType, endpoint?: string) => void): () => void;
  /** Calls `listener` with a PKI-ID whose identity was switched or purged. Returns an unsubscribe. */
  onIdentitySwitch(listener: (pkiId: PKIidType) => void): () => void;
  /** Closes the connection to `peer`, if any. */
  closeConn(peer: NetworkMember): void;
  /** Forwards a received message to the next hops, excluding the peer it came from. */
  forward(msg: ReceivedMessage): void;
  /**
   * Counts an offence against the sender of a message no honest peer sends (its own alive message
   * or membership request forged or malformed); comm refuses a repeat offender. Not in Fabric.
   */
  reportMisbehaviour?(pkiId: PKIidType, code: string): void;
}

/**
 * What discovery needs from cryptography (Fabric's `discovery.CryptoService`, implemented by the
 * Node's `discoverySecurityAdapter`; `createDiscoverySecurityAdapter` is a ready implementation).
 */
export interface CryptoService {
  /** Whether an alive message is authentic (identity from the message or the identity mapper; signature and secret verify). */
  validateAliveMsg(msg: SignedGossipMessage): boolean;
  /**
   * Ours: `validateAliveMsg` with the reason of a failure. "forged": the identity is known and valid but
   * the signature is not its own, which no honest peer relays (it verifies before it stores or forwards).
   * Absent: discovery takes any failure as one nobody can be blamed for.
   */
  checkAliveMsg?(msg: SignedGossipMessage): AliveCheck;
  /**
   * Signs `msg` and, when `internalEndpoint` is not empty, adds the signed secret envelope holding it.
   * Returns undefined (or throws) when signing fails.
   */
  signMessage(msg: GossipMessage, internalEndpoint: string): SignedGossipMessage | undefined;
}

/**
 * What checking an alive message found: "ok"; "malformed" (no PKI-ID, unsigned); "no-identity" (neither in
 * the message nor known: it may come later); "bad-identity" (the identity carried is not valid for the
 * PKI-ID); "forged" (a known, valid identity whose signature does not verify).
 */
export type AliveCheck = "ok" | "malformed" | "no-identity" | "bad-identity" | "forged";

/** Whether a message may be disclosed to some remote peer (Fabric's `Sieve`). */
export type Sieve = (msg: SignedGossipMessage) => boolean;

/** The envelope to disclose for a message, possibly with parts removed (Fabric's `EnvelopeFilter`). */
export type EnvelopeFilter = (msg: SignedGossipMessage) => Envelope;

/** Which messages a remote peer may learn, and what of them (Fabric's `DisclosurePolicy`). */
export type DisclosurePolicy = (remotePeer: NetworkMember) => { sieve: Sieve; envelopeFilter: EnvelopeFilter };

/** Discloses everything, unfiltered (Fabric's test `noopPolicy`). */
export const NOOP_DISCLOSURE_POLICY: DisclosurePolicy = () => ({
  sieve: () => true,
  envelopeFilter: (msg) => msg.envelope,
});

/** Tells whether an endpoint is an anchor peer of some channel (Fabric's `AnchorPeerTracker`). */
export interface AnchorPeerTracker {
  isAnchorPeer(endpoint: string): boolean;
}

/** A tracker that knows no anchor peers. */
export const NO_ANCHOR_PEERS: AnchorPeerTracker = { isAnchorPeer: () => false };

/** What discovery is built from. */
export interface DiscoveryComponents {
  clock: Clock;
  random: Random;
  /** The parent logger; discovery logs as `gossip.discovery`. */
  logger: Logger;
  metrics: MetricsProvider;
  comm: CommService;
  crypto: CryptoService;
  disclosurePolicy: DisclosurePolicy;
  anchorPeerTracker: AnchorPeerTracker;
  /** Where membership changes are told (alive, dead with its cause, purged, duplicate identity). Default: nowhere. */
  events?: PeerEventSink;
  /**
   * The org (MSP ID) of a member whose alive message was just validated (the identity mapper holds its
   * identity then), for the per-org quotas and for keying log lines. Default: every member in one
   * unnamed org, so the per-org limits act as global ones. Not in Fabric.
   */
  orgOf?: (pkiId: PKIidType) => string | undefined;
}

/** Fabric's `DiscoveryConfig`, as plain data with `...Ms` durations. config/ validates it. */
export interface DiscoveryOptions {
  /** Heartbeat period. Default DEF_ALIVE_TIME_INTERVAL_MS (5 s). */
  aliveTimeIntervalMs: number;
  /** Silence after which a peer moves to the dead list. Default 25 s. */
  aliveExpirationTimeoutMs: number;
  /** Period of the expiration check. Default aliveExpirationTimeout / 10 (2.5 s). */
  aliveExpirationCheckIntervalMs: number;
  /** Period of probing dead peers, and back-off between connect attempts. Default 25 s. */
  reconnectIntervalMs: number;
  /** Attempts for `connect` and for sending its MembershipRequest. Default 120. */
  maxConnectionAttempts: number;
  /** Alive store TTL = aliveExpirationTimeout x this. Default 20. */
  msgExpirationFactor: number;
  /** peer.gossip.bootstrap endpoints: never forgotten once learned. */
  bootstrapPeers: string[];
  /**
   * Ours (Fabric has no limit): alive + dead entries looked at per MembershipResponse, alive list
   * first; the rest are ignored and counted. Default 1,000.
   */
  maxMembersPerResponse: number;
  /**
   * Ours: membership response entries that need a signature check (a member not known, or newer news
   * of a known one) taken from one sender per `memberQuotaIntervalMs`; the rest are ignored. Default 5,000.
   */
  maxMemberEntriesPerSenderPerInterval: number;
  /**
   * Ours: members not known before that are learned per org per `memberQuotaIntervalMs`, however they
   * come (pushed alive messages, membership requests and responses). One org's CA minting identities
   * uses up its own quota only. Default 500.
   */
  maxNewMembersPerOrgPerInterval: number;
  /** Ours: the window of the per-sender and per-org quotas. Default 60 s. */
  memberQuotaIntervalMs: number;
  /**
   * Ours: members (alive and dead) known of one org. At the cap a new member of that org takes the
   * place of the org's oldest dead member known only second-hand, or is ignored. Default 2,000.
   */
  maxKnownMembersPerOrg: number;
  /** Ours: members (alive and dead) known in total; the same replacement rule. Default 10,000. */
  maxKnownMembers: number;
  /** Ours: pings of dead members in flight at once (Fabric: all of them). Default 32. */
  maxReconnectPingsInFlight: number;
  /**
   * Ours: a dead member known only second-hand (never heard from directly) that failed k probes is
   * probed again after reconnectInterval x 2^k, at most this long. Members heard from directly are
   * probed every reconnectInterval as in Fabric. Default reconnectInterval x 16 (400 s).
   */
  maxReconnectBackoffMs: number;
  /**
   * Ours (peer.gossip.membershipDelta, off by default): periodic membership sync requests list the alive
   * members we know (in Fabric's unused `known` field), and responses leave out what a request lists, so a
   * response carries news instead of the whole view. Fabric peers send no list and get whole responses. Off,
   * a response ignores a list, as Fabric's do.
   */
  membershipDelta: boolean;
  /**
   * Ours (peer.gossip.livenessFromTraffic, off by default): any message over a member's own authenticated
   * connection counts as hearing from it for expiration, as its alive messages do, and so does an answer to
   * a ping sent when it has been quiet for all but two check periods of the timeout; Fabric counts only
   * alive messages.
   */
  livenessFromTraffic: boolean;
  /**
   * Ours (peer.gossip.aliveFollowsFabricPeers, off by default): while an alive member sends Fabric's
   * membership requests (a sync request, nonce 0, with an empty `known` list from a member heard of for at
   * least DEF_ALIVE_TIME_INTERVAL_MS), our alive messages go at least as often as Fabric's default pace
   * (DEF_ALIVE_TIME_INTERVAL_MS), since such a peer counts only alive messages; and with membershipDelta our
   * own requests to a member that answered a probe list what we know, as sync requests do, so that ours are
   * never taken for Fabric's. With membershipDelta too, a sync's answers tell: one holding members the request
   * listed is Fabric's, one without is ours; members whose pushed alive messages come at Fabric's pace are asked
   * in the places of random targets, again when no answer comes.
   */
  aliveFollowsFabricPeers: boolean;
}

export const DEFAULT_DISCOVERY_OPTIONS: Readonly<DiscoveryOptions> = Object.freeze({
  aliveTimeIntervalMs: DEF_ALIVE_TIME_INTERVAL_MS,
  aliveExpirationTimeoutMs: DEF_ALIVE_EXPIRATION_TIMEOUT_MS,
  aliveExpirationCheckIntervalMs: DEF_ALIVE_EXPIRATION_CHECK_INTERVAL_MS,
  reconnectIntervalMs: DEF_RECONNECT_INTERVAL_MS,
  maxConnectionAttempts: DEF_MAX_CONNECTION_ATTEMPTS,
  msgExpirationFactor: DEF_MSG_EXPIRATION_FACTOR,
  bootstrapPeers: [] as string[],
  maxMembersPerResponse: DEF_MAX_MEMBERS_PER_RESPONSE,
  maxMemberEntriesPerSenderPerInterval: DEF_MAX_MEMBER_ENTRIES_PER_SENDER_PER_INTERVAL,
  maxNewMembersPerOrgPerInterval: DEF_MAX_NEW_MEMBERS_PER_ORG_PER_INTERVAL,
  memberQuotaIntervalMs: DEF_MEMBER_QUOTA_INTERVAL_MS,
  maxKnownMembersPerOrg: DEF_MAX_KNOWN_MEMBERS_PER_ORG,
  maxKnownMembers: DEF_MAX_KNOWN_MEMBERS,
  maxReconnectPingsInFlight: DEF_MAX_RECONNECT_PINGS_IN_FLIGHT,
  maxReconnectBackoffMs: DEF_MAX_RECONNECT_BACKOFF_FACTOR * DEF_RECONNECT_INTERVAL_MS,
  membershipDelta: false,
  livenessFromTraffic: false,
  aliveFollowsFabricPeers: false,
});
