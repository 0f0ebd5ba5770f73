import { createHash } from "node:crypto";
import {
  type MemberDeathCause,
  NO_EVENTS,
  type PeerEventSink,
  type PKIidType,
  type PkiHex,
  PkiIdMemo,
  pkiHex,
  pkiKey,
} from "../api/index.js";
import { createMessageStore, type MessageStore } from "../gossip/msgstore/index.js";
import type { Logger } from "../logging/index.js";
import {
  alivePartition,
  comparePeerTime,
  createGossipMessageComparator,
  peekAlivePkiId,
  type ReceivedMessage,
  SignedGossipMessage,
} from "../protoext/index.js";
import {
  type AliveMessage,
  type Envelope,
  type GossipMessage,
  GossipMessage_Tag,
  type Member,
  type MembershipRequest,
  type MembershipResponse,
  type PeerTime,
} from "../protos/gen/gossip/message.pb.js";
import { bytesEqual, errorMessage, fromHex, raceAbort, type TimerHandle, toHex } from "../util/index.js";
import { AliveView } from "./alive-view.js";
import { DiscoveryError, type DiscoveryLimitReason, type DiscoveryRejectReason } from "./errors.js";
import {
  type AliveCheck,
  DEF_ALIVE_TIME_INTERVAL_MS,
  DEF_MAX_RECONNECT_BACKOFF_FACTOR,
  DEFAULT_DISCOVERY_OPTIONS,
  type Discovery,
  type DiscoveryComponents,
  type DiscoveryOptions,
  type Identifier,
  type PeerIdentification,
  SEND_UNTIL_ACKED_WAIT_MS,
  type SyncOptions,
} from "./interface.js";
import { DiscoveryLogLimiter } from "./log-limiter.js";
import { createDiscoveryMetrics, type DiscoveryMetrics } from "./metrics.js";
import { cloneNetworkMember, copyNetworkMember, type NetworkMember, networkMemberToString, preferredEndpoint } from "./network-member.js";

const EMPTY = new Uint8Array(0);
const NO_MEMBERS: readonly NetworkMember[] = Object.freeze([]);

/** An alive message whose membership and timestamp are present (what every handler below relies on). */
interface WellFormedAlive extends AliveMessage {
  membership: Member;
  timestamp: PeerTime;
}

/** Fabric's discovery `timestamp`: the newest PeerTime seen of a peer, and when we saw it. */
interface LastSeen {
  incNum: bigint;
  seqNum: bigint;
  /** `clock.monotonic()` when the peer was last heard from. */
  lastSeenMs: number;
  /** `clock.monotonic()` when this incarnation (incNum) was first heard of, or came back from the dead. */
  sinceMs: number;
}

/** No members listed as known (Fabric's requests). */
const NO_KNOWN: ReadonlySet<string> = new Set();
/**
 * membershipDelta lists a known member whose PKI-ID is longer than this by the first this many bytes of
 * the SHA-256 of its PKI-ID (a quarter of the bytes), and responders match a whole PKI-ID or such a tag.
 * PKI-IDs need not be hashes (the development crypto's are identities), hence the hash; a tag shared
 * by chance (or found by 2^64 work) only leaves a member out of a response to the one who listed it.
 */
const KNOWN_TAG_BYTES = 8;
/** Prefixes what a version tag hashes, so that it never equals a PKI-ID tag. */
const VERSION_TAG_DOMAIN = Uint8Array.of(0x76);

/**
 * membershipDelta's tag of one alive message: the first KNOWN_TAG_BYTES of the SHA-256 of "v", its member's
 * PKI-ID and its timestamp (incNum, seqNum: 8 bytes each, big-endian). A request lists a member not heard of
 * lately by the version it holds, and a response leaves that member out only when it holds that very version,
 * so a newer alive message is never held back (#knownFor). Cached per message.
 */
const versionTags = new WeakMap<SignedGossipMessage, string>();
function versionTag(msg: SignedGossipMessage, am: WellFormedAlive): string {
  let tag = versionTags.get(msg);
  if (tag !== undefined) return tag;
  const time = new DataView(new ArrayBuffer(16));
  time.setBigUint64(0, BigInt.asUintN(64, am.timestamp.incNum));
  time.setBigUint64(8, BigInt.asUintN(64, am.timestamp.seqNum));
  const hash = createHash("sha256").update(VERSION_TAG_DOMAIN).update(am.membership.pkiId).update(new Uint8Array(time.buffer)).digest("hex");
  tag = hash.slice(0, KNOWN_TAG_BYTES * 2);
  versionTags.set(msg, tag);
  return tag;
}

/**
 * Signature checks of one membership response run in one go; the rest wait for later turns. Ours. A check
 * of a member not seen before validates its certificate too (~1-1.5 ms on a busy core): 8 of them hold the
 * event loop ~10 ms, so blocks and health checks wait at most that long behind a response of invented
 * members (64 held it ~100 ms at a time: honest p99 200-300 ms against 20 ms).
 */
const RESPONSE_CHECKS_PER_SLICE = 8;

/** A membership response being handled, slice by slice. */
interface ResponseWork {
  rm: ReceivedMessage;
  sender: PkiHex;
  store: MessageStore<SignedGossipMessage>;
  entries: { env: Envelope; dead: boolean }[];
  /** The next entry to handle. */
  next: number;
  limited: Map<DiscoveryLimitReason, number>;
}

/** "stop": the response is malformed, the rest is ignored; "checked": a signature was checked. */
type ResponseEntryOutcome = "stop" | "checked" | "skipped";

function countLimited(limited: Map<DiscoveryLimitReason, number>, reason: DiscoveryLimitReason): void {
  limited.set(reason, (limited.get(reason) ?? 0) + 1);
}

/** What discovery keeps per known member besides Fabric's maps (all of it ours). */
interface MemberMeta {
  /** The org the member's identity belongs to ("" when unknown). */
  org: string;
  /** Heard from directly: an alive message of its own came over its own connection. */
  firstHand: boolean;
  /** When a dead member known only second-hand is forgotten (`clock.monotonic()`); undefined otherwise. */
  forgetAtMs: number | undefined;
  /** Probes of the dead member that failed in a row. */
  failedProbes: number;
  /** Reconnect rounds to skip before the next probe (the back-off). */
  skipRounds: number;
  /** Its PKI-ID's membershipDelta tag, once computed (#knownTag). */
  knownTag?: string;
  /** aliveFollowsFabricPeers: when its latest pushed alive message came (`clock.monotonic()`), and that message's incNum. */
  pushedAliveAtMs?: number;
  pushedAliveInc?: bigint;
  /** aliveFollowsFabricPeers: how many of that incarnation's pushed alive messages came at about Fabric's pace after the one before. */
  fabricPaceGaps?: number;
  /** aliveFollowsFabricPeers: that incarnation's pushed alive messages also came at a pace Fabric's never has (#notePushedAlive). */
  otherPaceSeen?: boolean;
  /** aliveFollowsFabricPeers: how often that incarnation was asked (#askPaceQuestions). */
  paceAsks?: number;
  /** aliveFollowsFabricPeers: the incarnation we know to be ours: it listed, or answered our question honouring the list. */
  paceKnownInc?: bigint;
  /** No longer the member's entry (#removeMember): a stale entry of #metaByArray. */
  removed?: boolean;
}

/**
 * aliveFollowsFabricPeers: two pushed alive messages of a member this far apart suggest Fabric's alive pace (5 s);
 * ours come every aliveTimeInterval (15 s in the tuned set), and every 5 s while they follow a Fabric peer. Two less
 * than half of it apart are a pace Fabric's never has: ours send two at start, 250 ms apart.
 */
const FABRIC_PACE_GAP_MIN_MS = DEF_ALIVE_TIME_INTERVAL_MS / 2;
const FABRIC_PACE_GAP_MAX_MS = (DEF_ALIVE_TIME_INTERVAL_MS * 3) / 2;

/**
 * aliveFollowsFabricPeers: a question (#askPaceQuestions) not answered within this long is taken as lost (a request or
 * response lost on the way), and its member is asked again at the next sync, up to MAX_PACE_ASKS times an incarnation.
 * Answers come within a round trip.
 */
const PACE_ANSWER_WAIT_MS = 2_000;
const MAX_PACE_ASKS = 3;

/** A sync request that asked a member whether it honours membershipDelta's lists: what it listed, by member. */
interface PaceQuestion {
  incNum: bigint;
  atMs: number;
  /** Listed members: the version tag listed, or undefined when listed by PKI-ID (any version is left out then). */
  listed: Map<PkiHex, string | undefined>;
  /** Asked as a suspect (#notePushedAlive), not as a random target of the sync: unanswered, it is asked again. */
  suspect: boolean;
}

/** A member forgotten not long ago: its dead entries are ignored and alive messages must be newer. */
interface Tombstone {
  incNum: bigint;
  seqNum: bigint;
  untilMs: number;
}

/** Whether a new member may be learned, and how. */
type Admission = { ok: true; org: string } | { ok: false; reason: DiscoveryLimitReason | "STALE" };

/** Sender budgets of the current quota window. */
interface QuotaWindow {
  startMs: number;
  entriesBySender: Map<string, number>;
  newByOrg: Map<string, number>;
}

/**
 * Fills in the options a caller left out the way Fabric's gossip config derives them:
 * aliveExpirationTimeout = 5 x aliveTimeInterval, the check interval = aliveExpirationTimeout / 10,
 * reconnectInterval = aliveExpirationTimeout; and our membership limits (maxReconnectBackoff =
 * reconnectInterval x 16).
 */
export function resolveDiscoveryOptions(options: Partial<DiscoveryOptions> = {}): DiscoveryOptions {
  const aliveTimeIntervalMs = options.aliveTimeIntervalMs ?? DEFAULT_DISCOVERY_OPTIONS.aliveTimeIntervalMs;
  const aliveExpirationTimeoutMs = options.aliveExpirationTimeoutMs ?? 5 * aliveTimeIntervalMs;
  const reconnectIntervalMs = options.reconnectIntervalMs ?? aliveExpirationTimeoutMs;
  return {
    aliveTimeIntervalMs,
    aliveExpirationTimeoutMs,
    aliveExpirationCheckIntervalMs: options.aliveExpirationCheckIntervalMs ?? aliveExpirationTimeoutMs / 10,
    reconnectIntervalMs,
    maxConnectionAttempts: options.maxConnectionAttempts ?? DEFAULT_DISCOVERY_OPTIONS.maxConnectionAttempts,
    msgExpirationFactor: options.msgExpirationFactor ?? DEFAULT_DISCOVERY_OPTIONS.msgExpirationFactor,
    bootstrapPeers: [...(options.bootstrapPeers ?? [])],
    maxMembersPerResponse: options.maxMembersPerResponse ?? DEFAULT_DISCOVERY_OPTIONS.maxMembersPerResponse,
    maxMemberEntriesPerSenderPerInterval:
      options.maxMemberEntriesPerSenderPerInterval ?? DEFAULT_DISCOVERY_OPTIONS.maxMemberEntriesPerSenderPerInterval,
    maxNewMembersPerOrgPerInterval: options.maxNewMembersPerOrgPerInterval ?? DEFAULT_DISCOVERY_OPTIONS.maxNewMembersPerOrgPerInterval,
    memberQuotaIntervalMs: options.memberQuotaIntervalMs ?? DEFAULT_DISCOVERY_OPTIONS.memberQuotaIntervalMs,
    maxKnownMembersPerOrg: options.maxKnownMembersPerOrg ?? DEFAULT_DISCOVERY_OPTIONS.maxKnownMembersPerOrg,
    maxKnownMembers: options.maxKnownMembers ?? DEFAULT_DISCOVERY_OPTIONS.maxKnownMembers,
    maxReconnectPingsInFlight: Math.max(1, options.maxReconnectPingsInFlight ?? DEFAULT_DISCOVERY_OPTIONS.maxReconnectPingsInFlight),
    maxReconnectBackoffMs: options.maxReconnectBackoffMs ?? DEF_MAX_RECONNECT_BACKOFF_FACTOR * reconnectIntervalMs,
    membershipDelta: options.membershipDelta === true,
    livenessFromTraffic: options.livenessFromTraffic === true,
    aliveFollowsFabricPeers: options.aliveFollowsFabricPeers === true,
  };
}

/**
 * Creates the discovery service of the peer described by `self` (Fabric's `NewDiscoveryService`).
 * `self.internalEndpoint` must be `host:port`. Nothing runs until `start()`.
 */
export function createDiscovery(self: NetworkMember, components: DiscoveryComponents, options: Partial<DiscoveryOptions> = {}): Discovery {
  return new DiscoveryImpl(self, components, resolveDiscoveryOptions(options));
}

/** Parses the port of our internal endpoint, as Fabric's `validateSelfConfig` does (it panics where we throw). */
function selfPort(internalEndpoint: string): number {
  if (internalEndpoint === "") {
    throw new DiscoveryError("BAD_SELF_ENDPOINT", "the internal endpoint is empty; set peer.gossip.endpoint (or peer.address) to host:port");
  }
  const parts = internalEndpoint.split(":");
  if (parts.length !== 2) {
    throw new DiscoveryError("BAD_SELF_ENDPOINT", `the internal endpoint "${internalEndpoint}" is not formatted as host:port`);
  }
  const portText = parts[1]!;
  const port = /^[0-9]+$/.test(portText) ? Number(portText) : Number.NaN;
  if (!Number.isSafeInteger(port)) {
    throw new DiscoveryError("BAD_SELF_ENDPOINT", `the internal endpoint "${internalEndpoint}" has no valid port`);
  }
  if (port > 0xffff) {
    throw new DiscoveryError("BAD_SELF_ENDPOINT", `the port of the internal endpoint "${internalEndpoint}" takes more than 16 bits`);
  }
  return port;
}

/** The alive message of `msg` when it has a membership with a PKI-ID and a timestamp. */
function wellFormedAlive(msg: SignedGossipMessage): WellFormedAlive | undefined {
  const content = msg.message.content;
  if (content?.$case !== "aliveMsg") return undefined;
  const am = content.value;
  if (am.membership === undefined || am.membership.pkiId.byteLength === 0 || am.timestamp === undefined) return undefined;
  return am as WellFormedAlive;
}

/**
 * Whether `store` holds the very alive message `env` carries (the same payload), found before decoding
 * it: its PKI-ID read off the wire names the partition. Such an entry of a membership response (the
 * common case: responders send what was pushed to us too) would decode to a stored message, which
 * checkValid refuses as a duplicate; so it is refused as stale without the decode.
 */
function storesSame(store: MessageStore<SignedGossipMessage>, env: Envelope): boolean {
  const pkiId = peekAlivePkiId(env.payload);
  if (pkiId === undefined) return false;
  return store.holds(alivePartition(pkiId), (held) => bytesEqual(held.envelope.payload, env.payload));
}

/** The member a sync request goes to, from its alive message as the alive view holds it. */
function syncTarget(msg: SignedGossipMessage): NetworkMember {
  const member = wellFormedAlive(msg)!.membership;
  return { endpoint: member.endpoint, metadata: member.metadata, pkiId: member.pkiId, internalEndpoint: msg.internalEndpoint() };
}

/** Fabric's discovery `before(a, b)`: whether the stored time `a` is older than `b`. */
function before(a: LastSeen, b: PeerTime): boolean {
  return comparePeerTime({ incNum: a.incNum, seqNum: a.seqNum }, b) < 0;
}

/** Fabric's discovery `same(a, b)`. */
function same(a: LastSeen, b: PeerTime): boolean {
  return comparePeerTime({ incNum: a.incNum, seqNum: a.seqNum }, b) === 0;
}

/**
 * Fabric's `gossipDiscoveryImpl`. Single-threaded: every handler runs to completion, so Fabric's
 * lock is not needed; its goroutines are chains of clock timeouts (heartbeat, expiration check,
 * reconnect rounds, the alive store's expiration) and tracked background tasks (connect,
 * sendUntilAcked) that `stop()` aborts and awaits.
 *
 * Departures from Fabric (gossip/discovery/discovery_impl.go, v2.5.6):
 * - a failure to sign a heartbeat is logged and the heartbeat loop goes on (Fabric's
 *   `periodicalSendAlive` returns for good);
 * - membership limits against a member that lies (Fabric has none; see DiscoveryOptions): entries
 *   per MembershipResponse and per sender per interval, new members per org per interval, known
 *   members per org and in total; what is over a limit is ignored and counted;
 * - a dead member known only second-hand (never heard from directly) is forgotten
 *   aliveExpirationTimeout x msgExpirationFactor after it was last heard of, as a member whose
 *   pushed alive message expires from the store is in Fabric (Fabric keeps members learned from
 *   membership responses for good: they never enter the store), and a forgotten member is not
 *   learned again from a dead list for as long (a tombstone);
 * - the reconnect round pings at most maxReconnectPingsInFlight dead members at once (Fabric: all,
 *   each with a new connection), and backs off exponentially for members known only second-hand;
 * - log lines caused by remote input go through one rate limiter keyed by org and code.
 */
class DiscoveryImpl implements Discovery {
  readonly #c: DiscoveryComponents;
  readonly #o: DiscoveryOptions;
  readonly #logger: Logger;
  readonly #events: PeerEventSink;
  readonly #limitedLog: DiscoveryLogLimiter;
  readonly #metrics: DiscoveryMetrics;
  readonly #port: number;

  #self: NetworkMember;
  #incTime: bigint;
  #seqNum = 0n;
  /** Each member's last endpoint change (for #watchForTwins); bounded by the members known. */
  readonly #endpointMoves = new Map<PkiHex, { from: string; at: number; reportedAt: number | undefined }>();
  #selfAliveMessage: SignedGossipMessage | undefined;

  /** Fabric's aliveLastTS / deadLastTS: a PKI-ID is in at most one of them. */
  readonly #aliveLastTS = new Map<PkiHex, LastSeen>();
  readonly #deadLastTS = new Map<PkiHex, LastSeen>();
  /** Every known member, alive or dead. */
  readonly #id2Member = new Map<PkiHex, NetworkMember>();
  /**
   * Fabric's aliveMembership / deadMembership: the latest alive envelope of each member. The alive
   * one also keeps the member list getMembership hands out, updated per change instead of per call.
   */
  readonly #aliveMembership = new AliveView();
  readonly #deadMembership = new Map<PkiHex, SignedGossipMessage>();
  /** Pushed alive messages with TTL: replay protection and forgetting. Created at start. */
  #msgStore: MessageStore<SignedGossipMessage> | undefined;

  /** Ours: per known member (same keys as #id2Member). */
  readonly #meta = new Map<PkiHex, MemberMeta>();
  /**
   * #meta by PKI-ID array too: every message received asks heardFrom about its connection's PKI-ID (a
   * connection keeps its own copy), and routing asks heardDirectly about members' arrays.
   */
  readonly #metaByArray = new PkiIdMemo<MemberMeta>(
    (key) => this.#meta.get(key),
    (meta) => meta.removed !== true,
  );
  /** Ours: known members per org. */
  readonly #orgCount = new Map<string, number>();
  /** Ours: members forgotten less than the alive message TTL ago, oldest first. */
  readonly #tombstones = new Map<PkiHex, Tombstone>();
  #quota: QuotaWindow | undefined;
  /** Ours: dead members waiting for a ping (heard from directly first), queued or in flight. */
  readonly #probeQueue: PkiHex[] = [];
  readonly #probeQueueSecondHand: PkiHex[] = [];
  readonly #probing = new Set<PkiHex>();
  /** livenessFromTraffic: alive members pinged because they were quiet (#pingQuietMembers). */
  readonly #quietPings = new Set<PkiHex>();
  /** livenessFromTraffic: alive members comm presumed dead, pinged before we agree (#confirmPresumedDead). */
  readonly #deathChecks = new Set<PkiHex>();
  #pingsInFlight = 0;
  /** The last alive check that ran late by more than its period: when, and how late (see #scheduleCheckAlive). */
  #stall: { atMs: number; ms: number } | undefined;
  /** When the pending alive check is due (monotonic ms). */
  #checkDueMs = 0;
  /** aliveFollowsFabricPeers: members whose membership requests are Fabric's, with the incarnation that sent them. */
  readonly #fabricPaced = new Map<PkiHex, bigint>();
  /** aliveFollowsFabricPeers: members whose pushed alive messages came at about Fabric's pace, to ask in a sync (#askPaceQuestions). */
  readonly #paceSuspects = new Map<PkiHex, bigint>();
  /** aliveFollowsFabricPeers: our sync requests that asked a suspect, until its response (#notePaceAnswer). */
  readonly #paceQuestions = new Map<PkiHex, PaceQuestion>();
  /** The pending periodic alive message: when it was scheduled, and after how long. */
  #aliveTimer: { handle: TimerHandle; atMs: number; delayMs: number } | undefined;

  /** sendUntilAcked waiters by MembershipRequest nonce (Fabric's pubsub). */
  readonly #nonceWaiters = new Map<bigint, Set<() => void>>();

  readonly #abort = new AbortController();
  readonly #timers = new Set<TimerHandle>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #unsubscribe: (() => void)[] = [];
  #started = false;
  #stopped = false;
  #stopping: Promise<void> | undefined;

  constructor(self: NetworkMember, components: DiscoveryComponents, options: DiscoveryOptions) {
    this.#c = components;
    this.#o = options;
    this.#port = selfPort(self.internalEndpoint);
    this.#self = { endpoint: self.endpoint, metadata: self.metadata, pkiId: self.pkiId, internalEndpoint: self.internalEndpoint };
    this.#logger = components.logger.child("gossip.discovery", { endpoint: self.internalEndpoint });
    this.#events = components.events ?? NO_EVENTS;
    this.#metrics = createDiscoveryMetrics(components.metrics);
    this.#limitedLog = new DiscoveryLogLimiter(this.#logger, components.clock, this.#metrics.logSuppressed);
    this.#incTime = components.clock.nowNs();
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.#stopped) throw new DiscoveryError("STOPPED", "discovery was stopped; create a new instance to start again");
    if (this.#started) return;
    this.#started = true;
    const { clock, comm } = this.#c;
    this.#incTime = clock.nowNs();
    this.#msgStore = createMessageStore(createGossipMessageComparator(0), undefined, {
      ttlMs: this.#o.aliveExpirationTimeoutMs * this.#o.msgExpirationFactor,
      clock,
      onExpire: (msg) => this.#onAliveMessageExpired(msg),
      logger: this.#logger,
    });
    this.#unsubscribe.push(
      comm.accept((msg) => this.#handleMsgFromComm(msg)),
      comm.onPresumedDead((pkiId, endpoint) => {
        if (this.#stopped) return;
        const key = pkiKey(pkiId);
        if (!this.#aliveLastTS.has(key)) return;
        // Not in Fabric: a failure at an endpoint the member no longer announces (a twin that stopped, a
        // restart elsewhere, a dial begun before its alive message moved it) says nothing of where it is now.
        const member = this.#id2Member.get(key);
        if (endpoint !== undefined && member !== undefined && endpoint !== member.endpoint && endpoint !== member.internalEndpoint) {
          this.#logger.debug("Not presuming a member dead: the failed endpoint is not its current one", { pkiId: key, endpoint, current: preferredEndpoint(member) });
          return;
        }
        // Not in Fabric (S16): our own loop was held up, and the failure is what the others did meanwhile (they
        // closed streams to us, or our dial's timer ran late); the member's own news is still unread.
        if (this.#withinStallGrace(key)) {
          this.#logger.debug("Not presuming a member dead: our event loop has just stalled", { pkiId: key });
          return;
        }
        if (this.#o.livenessFromTraffic && member !== undefined) {
          this.#confirmPresumedDead(key, pkiId, member);
          return;
        }
        this.#expireDeadMembers([pkiId], "presumed-dead");
      }),
      comm.onIdentitySwitch((pkiId) => {
        if (this.#stopped) return;
        this.#purge(pkiId);
      }),
    );
    this.#scheduleSendAlive();
    this.#scheduleCheckAlive();
    this.#reconnectRound();
  }

  stop(): Promise<void> {
    if (this.#stopping !== undefined) return this.#stopping;
    this.#stopped = true;
    this.#logger.info("Stopping");
    this.#abort.abort(new DiscoveryError("STOPPED", "discovery stopped"));
    for (const timer of this.#timers) timer.cancel();
    this.#timers.clear();
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#msgStore?.stop();
    this.#stopping = Promise.allSettled([...this.#tasks]).then(() => {
      this.#logger.info("Stopped");
    });
    return this.#stopping;
  }

  /** Runs `fn` after `ms` unless stopped first; the timer is cancelled by `stop()`, or by `#cancel`. */
  #after(ms: number, fn: () => void): TimerHandle | undefined {
    if (this.#stopped) return undefined;
    const handle = this.#c.clock.setTimeout(() => {
      this.#timers.delete(handle);
      if (!this.#stopped) fn();
    }, ms);
    this.#timers.add(handle);
    return handle;
  }

  /** Cancels a timer of `#after` before it runs. */
  #cancel(handle: TimerHandle): void {
    handle.cancel();
    this.#timers.delete(handle);
  }

  /** Runs a background task that `stop()` aborts and awaits. */
  #spawn(name: string, task: (signal: AbortSignal) => Promise<void>): void {
    if (this.#stopped) return;
    const signal = this.#abort.signal;
    const p: Promise<void> = task(signal)
      .catch((err: unknown) => {
        if (!signal.aborted) this.#logger.warn(`${name} failed`, { error: errorMessage(err) });
      })
      .finally(() => {
        this.#tasks.delete(p);
      });
    this.#tasks.add(p);
  }

  // ---------------------------------------------------------------- public queries

  lookup(pkiId: PKIidType): NetworkMember | undefined {
    if (bytesEqual(pkiId, this.#self.pkiId)) return copyNetworkMember(this.#self);
    const member = this.#id2Member.get(pkiKey(pkiId));
    return member === undefined ? undefined : copyNetworkMember(member);
  }

  endpointOf(pkiId: PKIidType): string | undefined {
    if (bytesEqual(pkiId, this.#self.pkiId)) return this.#self.endpoint;
    return this.#id2Member.get(pkiKey(pkiId))?.endpoint;
  }

  /**
   * As Fabric's `Self()`, this builds a NoopSigned alive message (consuming a sequence number) and
   * returns its envelope. Unlike Fabric it also fills in our internal endpoint.
   */
  self(): NetworkMember {
    const msg = this.#aliveMsg();
    const envelope = SignedGossipMessage.noopSign(msg).envelope;
    return { ...this.#self, envelope };
  }

  updateMetadata(metadata: Uint8Array): void {
    this.#self = { ...this.#self, metadata };
  }

  updateEndpoint(endpoint: string): void {
    this.#self = { ...this.#self, endpoint };
  }

  getDeadMembers(): NetworkMember[] {
    if (this.#stopped) return [];
    return [...this.#deadLastTS.keys()].flatMap((key) => {
      const m = this.#id2Member.get(key);
      return m === undefined ? [] : [cloneNetworkMember(m)];
    });
  }

  getMembership(): NetworkMember[] {
    if (this.#stopped) return [];
    return this.#aliveMembership.members().slice();
  }

  membershipView(): readonly NetworkMember[] {
    if (this.#stopped) return NO_MEMBERS;
    return this.#aliveMembership.members();
  }

  isAlive(pkiId: PKIidType): boolean {
    return !this.#stopped && this.#aliveMembership.has(pkiKey(pkiId));
  }

  readMembership<T>(read: (members: readonly NetworkMember[]) => T): T {
    if (this.#stopped) return read(NO_MEMBERS);
    return this.#aliveMembership.read(read);
  }

  membershipVersion(): number {
    return this.#aliveMembership.version;
  }

  heardDirectly(pkiId: PKIidType): boolean {
    return this.#metaByArray.get(pkiId)?.firstHand === true;
  }

  heardFrom(pkiId: PKIidType): void {
    const meta = this.#metaByArray.get(pkiId);
    if (meta === undefined) return;
    if (this.#o.livenessFromTraffic) {
      // Its own connection carried a message: it is alive now, whatever its alive messages' luck on the way here.
      const alive = this.#aliveLastTS.get(pkiKey(pkiId));
      if (alive !== undefined) alive.lastSeenMs = this.#c.clock.monotonic();
    }
    if (meta.firstHand) return;
    meta.firstHand = true;
    meta.forgetAtMs = undefined;
  }

  /** Stores `msg` as the latest alive message of `key`; call after #id2Member holds the member's internal endpoint. */
  #setAlive(key: PkiHex, msg: SignedGossipMessage): void {
    const am = wellFormedAlive(msg)!;
    const known = this.#id2Member.get(key);
    this.#aliveMembership.set(key, msg, {
      pkiId: known?.pkiId ?? am.membership.pkiId,
      endpoint: am.membership.endpoint,
      metadata: am.membership.metadata,
      internalEndpoint: known?.internalEndpoint ?? "",
      envelope: msg.envelope,
    });
  }

  // ---------------------------------------------------------------- sync and connect

  initiateSync(peerNum: number, options: SyncOptions = {}): void {
    if (this.#stopped) return;
    const alive = [...this.#aliveMembership.messages()];
    const k = Math.min(peerNum, alive.length);
    const chosen = new Set(this.#c.random.indices(k, alive.length));
    if (options.eachOrg === true) for (const i of this.#oneOfEachOrg(alive)) chosen.add(i);
    const targets: NetworkMember[] = [];
    for (const i of chosen) targets.push(syncTarget(alive[i]!));
    if (options.withAlive === true) this.#sendAlive();
    if (targets.length === 0) {
      this.#logger.debug("No peers to send to, aborting membership sync");
      return;
    }
    // One signed alive message for every target; with membershipDelta each request lists what its target may skip.
    const am = this.#createSignedAliveMessage(true);
    if (am === undefined) return;
    if (!this.#o.membershipDelta) {
      const req = membershipRequestOf(am, 0n);
      for (const target of targets) this.#c.comm.sendToPeer(target, req);
      return;
    }
    const asked = this.#o.aliveFollowsFabricPeers ? this.#askPaceQuestions(targets, peerNum) : undefined;
    for (const target of targets) {
      const question = asked?.get(pkiKey(target.pkiId));
      this.#c.comm.sendToPeer(target, membershipRequestOf(am, 0n, this.#knownFor(target, question?.listed)));
    }
  }

  /**
   * aliveFollowsFabricPeers: while our alive messages go at our own pace, every sync request asks its target whether it
   * honours our list: a Fabric peer answers with its whole view, listed members included; ours never sends back a
   * member we listed (#notePaceAnswer). Members whose pushed alive messages came at about Fabric's pace (suspects) take
   * the places of random targets (up to `peerNum`, at least one), so a sync sends as many requests as before; a suspect
   * not answering is asked again, up to MAX_PACE_ASKS times an incarnation. A Fabric peer's own requests reach a given
   * peer rarely (3 of N peers every 4 s). Returns the questions by target.
   */
  #askPaceQuestions(targets: NetworkMember[], peerNum: number): Map<PkiHex, PaceQuestion> | undefined {
    const now = this.#c.clock.monotonic();
    for (const [key, q] of this.#paceQuestions) {
      if (now - q.atMs > this.#o.aliveExpirationTimeoutMs) this.#paceQuestions.delete(key);
      else if (q.suspect && now - q.atMs > PACE_ANSWER_WAIT_MS) {
        // No answer yet: lost on the way, most likely. A suspect again (the question stays: a late answer still counts).
        const meta = this.#meta.get(key);
        if (meta !== undefined && (meta.paceAsks ?? 0) < MAX_PACE_ASKS && meta.paceKnownInc !== q.incNum) this.#paceSuspects.set(key, q.incNum);
      }
    }
    const configured = this.#o.aliveTimeIntervalMs;
    if (configured <= DEF_ALIVE_TIME_INTERVAL_MS || this.#alivePaceMs() !== configured) {
      // At Fabric's pace already: another Fabric peer would change nothing, and ours following one look like it.
      this.#paceSuspects.clear();
      return undefined;
    }
    const suspects: { key: PkiHex; incNum: bigint; msg: SignedGossipMessage; meta: MemberMeta }[] = [];
    for (const [key, incNum] of this.#paceSuspects) {
      const msg = this.#aliveMembership.get(key);
      const meta = this.#meta.get(key);
      if (msg === undefined || meta === undefined || this.#aliveLastTS.get(key)?.incNum !== incNum || meta.paceKnownInc === incNum) {
        this.#paceSuspects.delete(key);
        continue;
      }
      suspects.push({ key, incNum, msg, meta });
    }
    // Members once seen at a pace Fabric's never has go last (ours, at start); then those at Fabric's pace for the
    // most alive messages: ours that follow a Fabric peer go at its pace only since they found it.
    suspects.sort((a, b) => Number(a.meta.otherPaceSeen === true) - Number(b.meta.otherPaceSeen === true) || (b.meta.fabricPaceGaps ?? 0) - (a.meta.fabricPaceGaps ?? 0));
    const asked = new Map<PkiHex, PaceQuestion>();
    const ask = (key: PkiHex, incNum: bigint, suspect: boolean): void => {
      const question: PaceQuestion = { incNum, atMs: now, listed: new Map(), suspect };
      this.#paceQuestions.set(key, question);
      asked.set(key, question);
    };
    let replace = targets.length - 1;
    for (const s of suspects.slice(0, Math.max(1, peerNum))) {
      this.#paceSuspects.delete(s.key);
      s.meta.paceAsks = (s.meta.paceAsks ?? 0) + 1;
      const target = syncTarget(s.msg);
      if (!targets.some((t) => bytesEqual(t.pkiId, target.pkiId))) {
        // In the place of a random target not asked itself (from the last), or added when there is none.
        while (replace >= 0 && asked.has(pkiHex(targets[replace]!.pkiId))) replace--;
        if (replace >= 0) targets[replace--] = target;
        else targets.push(target);
      }
      ask(s.key, s.incNum, true);
    }
    // The random targets are asked as well: their answers tell ours from Fabric's at no cost.
    for (const target of targets) {
      const key = pkiKey(target.pkiId);
      if (asked.has(key) || this.#paceQuestions.get(key)?.suspect === true) continue;
      const incNum = this.#aliveLastTS.get(key)?.incNum;
      if (incNum === undefined || this.#meta.get(key)?.paceKnownInc === incNum || this.#fabricPaced.get(key) === incNum) continue;
      ask(key, incNum, false);
    }
    return asked;
  }

  /** aliveFollowsFabricPeers: a pushed alive message of another member was taken; its gap since the last one may make it a suspect. */
  #notePushedAlive(am: WellFormedAlive): void {
    const key = pkiHex(am.membership.pkiId);
    const meta = this.#meta.get(key);
    if (meta === undefined) return;
    const now = this.#c.clock.monotonic();
    const incNum = am.timestamp.incNum;
    const last = meta.pushedAliveInc === incNum ? meta.pushedAliveAtMs : undefined;
    if (last === undefined) {
      meta.fabricPaceGaps = 0;
      meta.otherPaceSeen = false;
      meta.paceAsks = 0;
    }
    meta.pushedAliveAtMs = now;
    meta.pushedAliveInc = incNum;
    if (last === undefined) return;
    const gap = now - last;
    if (gap < FABRIC_PACE_GAP_MIN_MS) meta.otherPaceSeen = true;
    if (gap < FABRIC_PACE_GAP_MIN_MS || gap > FABRIC_PACE_GAP_MAX_MS) return;
    meta.fabricPaceGaps = (meta.fabricPaceGaps ?? 0) + 1;
    if (meta.paceKnownInc !== incNum && (meta.paceAsks ?? 0) < MAX_PACE_ASKS && this.#fabricPaced.get(key) !== incNum) this.#paceSuspects.set(key, incNum);
  }

  /**
   * aliveFollowsFabricPeers: the response of a member we asked (#askPaceQuestions). A member we listed (by PKI-ID, or
   * by version at the version we still hold) is in it only when the responder ignored the list: Fabric's.
   */
  #notePaceAnswer(key: PkiHex, res: MembershipResponse): void {
    const question = this.#paceQuestions.get(key);
    if (question === undefined) return;
    this.#paceQuestions.delete(key);
    // Nothing listed, nothing to tell by.
    if (question.listed.size === 0) return;
    for (const env of res.alive) {
      const pkiId = peekAlivePkiId(env.payload);
      if (pkiId === undefined) continue;
      const k = pkiHex(pkiId);
      if (!question.listed.has(k)) continue;
      const tag = question.listed.get(k);
      if (tag !== undefined) {
        const held = this.#aliveMembership.get(k);
        const am = held === undefined ? undefined : wellFormedAlive(held);
        if (held === undefined || am === undefined || !bytesEqual(held.envelope.payload, env.payload) || versionTag(held, am) !== tag) continue;
      }
      if (this.#aliveLastTS.get(key)?.incNum === question.incNum) this.#markFabricPaced(key, question.incNum, "its membership response ignored our list");
      return;
    }
    // It honoured the list: ours.
    const meta = this.#meta.get(key);
    if (meta !== undefined && this.#aliveLastTS.get(key)?.incNum === question.incNum) meta.paceKnownInc = question.incNum;
  }

  /** The membershipDelta tag of a member's PKI-ID (hex), computed once per member known. */
  #knownTag(key: PkiHex, pkiId: Uint8Array): string {
    const meta = this.#meta.get(key);
    if (meta?.knownTag !== undefined) return meta.knownTag;
    const tag = createHash("sha256").update(pkiId).digest("hex").slice(0, KNOWN_TAG_BYTES * 2);
    if (meta !== undefined) meta.knownTag = tag;
    return tag;
  }

  /** Indices into `alive` of one random member of each org (members whose org is unknown are left out). */
  #oneOfEachOrg(alive: readonly SignedGossipMessage[]): number[] {
    const byOrg = new Map<string, number[]>();
    for (const [i, msg] of alive.entries()) {
      const org = this.#meta.get(pkiKey(wellFormedAlive(msg)!.membership.pkiId))?.org ?? "";
      if (org === "") continue;
      const list = byOrg.get(org);
      if (list === undefined) byOrg.set(org, [i]);
      else list.push(i);
    }
    return [...byOrg.values()].map((list) => list[this.#c.random.int(list.length)]!);
  }

  /**
   * membershipDelta (ours): the alive members a sync request to `target` lists as known, so that its
   * response leaves them out. Those not yet due by PKI-ID (#freshWindowMs): whatever version the target
   * holds, we need none. Older ones by the version tag of the alive message we hold, so the response brings
   * them only when the target holds another (membership responses are part of how liveness spreads: listing
   * every member by PKI-ID let 145 of them expire at 100 peers). Each sync
   * and response carries a new alive message of its sender, so versions differ between peers all the time,
   * and listing every member by version returned most of them. A peer of another org is told only of members
   * it may learn (an external endpoint); dead members are not listed, so they can come back.
   */
  #knownFor(target: NetworkMember, listed?: Map<PkiHex, string | undefined>): Uint8Array[] {
    const selfOrg = this.#orgOf(this.#self.pkiId);
    const targetOrg = this.#orgOf(target.pkiId);
    const sameOrg = selfOrg !== "" && targetOrg === selfOrg;
    const freshSince = this.#c.clock.monotonic() - this.#freshWindowMs();
    const out: Uint8Array[] = [];
    for (const m of this.#aliveMembership.members()) {
      if (!sameOrg && m.endpoint === "") continue;
      const key = pkiKey(m.pkiId);
      // A responder discloses only members of its org and of ours (Fabric's disclosure policy): listing others costs bytes for nothing.
      const org = this.#meta.get(key)?.org ?? "";
      if (selfOrg !== "" && targetOrg !== "" && org !== "" && org !== selfOrg && org !== targetOrg) continue;
      const seen = this.#aliveLastTS.get(key)?.lastSeenMs;
      // A responder honours the first maxKnownMembers entries (ours too): only those say anything of it (#notePaceAnswer).
      const noted = listed !== undefined && out.length < this.#o.maxKnownMembers;
      if (seen !== undefined && seen >= freshSince) {
        out.push(m.pkiId.byteLength > KNOWN_TAG_BYTES ? fromHex(this.#knownTag(key, m.pkiId)) : m.pkiId);
        if (noted) listed.set(key, undefined);
        continue;
      }
      const msg = this.#aliveMembership.get(key);
      const am = msg === undefined ? undefined : wellFormedAlive(msg);
      if (msg !== undefined && am !== undefined) {
        const tag = versionTag(msg, am);
        out.push(fromHex(tag));
        if (noted) listed.set(key, tag);
      }
    }
    return out;
  }

  /**
   * membershipDelta: how long after we last heard of a member a sync request still lists it by PKI-ID. Its
   * next alive message is due an aliveTimeInterval after its last (a quarter more for the way here); before
   * that, a response could only bring a version we are about to get anyway. Never past the point where
   * livenessFromTraffic pings a quiet member. With aliveExpirationTimeout at its default of 5 x the interval
   * this is a quarter of the timeout, as it always was; at the tuned set's 15 s against 25 s, a window of
   * a quarter of the timeout had every response resend members between two of their alive messages
   * (certificates included in the first seconds): 0.7 KB/s a peer at 100 peers.
   */
  #freshWindowMs(): number {
    return Math.min(this.#o.aliveTimeIntervalMs * 1.25, this.#quietAfterMs());
  }

  /** livenessFromTraffic: how long a member may stay unheard of before it is pinged (all but two check periods). */
  #quietAfterMs(): number {
    return this.#o.aliveExpirationTimeoutMs - 2 * this.#o.aliveExpirationCheckIntervalMs;
  }

  connect(member: NetworkMember, identifier: Identifier): void {
    if (this.#stopped) return;
    if ([member.internalEndpoint, member.endpoint].some((e) => this.#isMyOwnEndpoint(e))) {
      this.#logger.debug("Skipping connecting to myself", { member: networkMemberToString(member) });
      return;
    }
    this.#spawn("connect", async (signal) => {
      for (let i = 0; i < this.#o.maxConnectionAttempts && !this.#stopped; i++) {
        let id: PeerIdentification;
        try {
          id = await raceAbort(identifier(), signal);
        } catch (err) {
          if (this.#stopped) return;
          this.#logger.warn("Could not connect", { member: networkMemberToString(member), error: errorMessage(err) });
          await this.#c.clock.sleep(this.#o.reconnectIntervalMs, signal);
          continue;
        }
        if (this.#stopped) return;
        const peer: NetworkMember = {
          internalEndpoint: member.internalEndpoint,
          endpoint: member.endpoint,
          metadata: EMPTY,
          pkiId: id.id,
        };
        const req = this.#createMembershipRequest(id.selfOrg, this.#c.random.uint64());
        if (req === undefined) continue;
        this.#spawn("sendUntilAcked", (s) => this.#sendUntilAcked(peer, req, s));
        return;
      }
    });
  }

  #isMyOwnEndpoint(endpoint: string): boolean {
    // Departure from Fabric: an empty endpoint is never ours (Fabric would match an empty self endpoint).
    if (endpoint === "") return false;
    return (
      endpoint === `127.0.0.1:${this.#port}` ||
      endpoint === `localhost:${this.#port}` ||
      endpoint === this.#self.internalEndpoint ||
      endpoint === this.#self.endpoint
    );
  }

  async #sendUntilAcked(peer: NetworkMember, msg: SignedGossipMessage, signal: AbortSignal): Promise<void> {
    const nonce = msg.message.nonce;
    for (let i = 0; i < this.#o.maxConnectionAttempts && !this.#stopped; i++) {
      const acked = this.#waitForNonce(nonce, SEND_UNTIL_ACKED_WAIT_MS, signal);
      this.#c.comm.sendToPeer(peer, msg);
      if (await acked) return;
      if (this.#stopped) return;
      await this.#c.clock.sleep(this.#o.reconnectIntervalMs, signal);
    }
  }

  /** Resolves true when a MembershipResponse with `nonce` arrives, false after `ms` or on stop. */
  #waitForNonce(nonce: bigint, ms: number, signal: AbortSignal): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let waiters = this.#nonceWaiters.get(nonce);
      if (waiters === undefined) {
        waiters = new Set();
        this.#nonceWaiters.set(nonce, waiters);
      }
      const set = waiters;
      let settled = false;
      const done = (acked: boolean): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        set.delete(onAck);
        if (set.size === 0 && this.#nonceWaiters.get(nonce) === set) this.#nonceWaiters.delete(nonce);
        signal.removeEventListener("abort", onAbort);
        resolve(acked);
      };
      const onAck = (): void => done(true);
      const onAbort = (): void => done(false);
      const timer = this.#c.clock.setTimeout(() => done(false), ms);
      set.add(onAck);
      if (signal.aborted) done(false);
      else signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  #publishNonce(nonce: bigint): void {
    const waiters = this.#nonceWaiters.get(nonce);
    if (waiters === undefined) return;
    for (const onAck of [...waiters]) onAck();
  }

  // ---------------------------------------------------------------- periodic work

  /** Fabric's `periodicalSendAlive`: sleep, then heartbeat if anyone is listening. */
  #scheduleSendAlive(delayMs?: number): void {
    if (this.#stopped) return;
    const paceMs = this.#alivePaceMs();
    const handle = this.#after(delayMs ?? paceMs, () => {
      this.#aliveTimer = undefined;
      this.#sendAlive();
      this.#scheduleSendAlive();
    });
    if (handle !== undefined) this.#aliveTimer = { handle, atMs: this.#c.clock.monotonic(), delayMs: delayMs ?? paceMs };
    this.#metrics.aliveIntervalSeconds.set(paceMs / 1000);
  }

  /**
   * How long between two of our alive messages: aliveTimeInterval, or with aliveFollowsFabricPeers no longer
   * than Fabric's default while a member known to be a Fabric peer (#noteRequestList, #notePaceAnswer) is alive
   * (it counts only alive messages: at 15 s, 100 peers, half of them Fabric's, these declared ours dead 112-124
   * times in 90 s).
   */
  #alivePaceMs(): number {
    const configured = this.#o.aliveTimeIntervalMs;
    if (this.#fabricPaced.size === 0 || configured <= DEF_ALIVE_TIME_INTERVAL_MS) return configured;
    for (const [key, incNum] of this.#fabricPaced) {
      if (this.#aliveLastTS.get(key)?.incNum === incNum) return DEF_ALIVE_TIME_INTERVAL_MS;
      // Forgotten, or back with another incarnation (which will show its requests again); dead ones may come back.
      if (!this.#deadLastTS.has(key)) this.#fabricPaced.delete(key);
    }
    return configured;
  }

  /**
   * aliveFollowsFabricPeers: a membership request of the alive member `key` listed `listed` members. Fabric never
   * lists (FAB-2570); ours list what they know once they know anyone, in every request with nonce 0 (a periodic
   * sync, or a request to a dead member that answered a probe). So such a request with no list, from a member heard
   * of (this incarnation) for at least Fabric's alive interval, is Fabric's. A connect request (a random nonce,
   * sent until acknowledged) may be a copy made at our start, when we knew nobody: it does not count. A member
   * whose request lists is taken off.
   */
  #noteRequestList(key: PkiHex, incNum: bigint, listed: number, nonce: bigint): void {
    if (listed > 0) {
      this.#fabricPaced.delete(key);
      this.#paceSuspects.delete(key);
      const meta = this.#meta.get(key);
      if (meta !== undefined) meta.paceKnownInc = incNum;
      return;
    }
    if (nonce !== 0n) return;
    const seen = this.#aliveLastTS.get(key);
    if (seen === undefined || seen.incNum !== incNum || this.#fabricPaced.get(key) === incNum) return;
    if (this.#c.clock.monotonic() - seen.sinceMs < DEF_ALIVE_TIME_INTERVAL_MS) return;
    this.#markFabricPaced(key, incNum, "it sends Fabric's membership requests");
  }

  /** aliveFollowsFabricPeers: `key`'s incarnation `incNum` is a Fabric peer; our pace follows it while it is alive. */
  #markFabricPaced(key: PkiHex, incNum: bigint, why: string): void {
    const before = this.#alivePaceMs();
    this.#fabricPaced.set(key, incNum);
    this.#paceSuspects.delete(key);
    const pace = this.#alivePaceMs();
    if (pace === before) return;
    this.#logger.info("A member is a Fabric peer: our alive messages go at Fabric's pace while it is alive", { pkiId: key, why, paceMs: pace });
    // The pending alive message comes no later than one new period after the last.
    const t = this.#aliveTimer;
    if (t === undefined || t.delayMs <= pace) return;
    this.#cancel(t.handle);
    this.#scheduleSendAlive(Math.max(0, t.atMs + pace - this.#c.clock.monotonic()));
  }

  #sendAlive(): void {
    if (this.#aliveMembership.size === 0) {
      this.#logger.debug("Empty membership, no one to send a heartbeat to");
      return;
    }
    const msg = this.#createSignedAliveMessage(true);
    if (msg === undefined) return;
    this.#selfAliveMessage = msg;
    this.#c.comm.gossip(msg);
  }

  /**
   * Not in Fabric (RELIABILITY S16, Lifeguard's local health): the pending alive check is late by more than its
   * period, so our event loop was held up (a stall, a CPU-starved host, a stopped process). Recorded as a stall;
   * returns the lateness. Called by the check itself, and by a presumed-dead report that beats it on waking.
   */
  #noteLateness(): number {
    const now = this.#c.clock.monotonic();
    const lateMs = Math.max(0, now - this.#checkDueMs);
    if (lateMs > this.#o.aliveExpirationCheckIntervalMs && (this.#stall === undefined || this.#stall.atMs < this.#checkDueMs)) {
      this.#logger.debug("Alive check ran late: silences judged with that much grace", { lateMs });
      // The input held up by the stall may take longer than one check period to be read (a loaded host):
      // a member not heard from since before the stall keeps the grace at the next checks too.
      this.#stall = { atMs: now, ms: lateMs };
    }
    return lateMs;
  }

  /** A member not heard from since a stall that ended less than the stall's length (at least a check period) ago. */
  #withinStallGrace(key: PkiHex): boolean {
    this.#noteLateness();
    const stall = this.#stall;
    const ts = this.#aliveLastTS.get(key);
    if (stall === undefined || ts === undefined || ts.lastSeenMs >= stall.atMs) return false;
    return this.#c.clock.monotonic() - stall.atMs <= Math.max(stall.ms, this.#o.aliveExpirationCheckIntervalMs);
  }

  /** Fabric's `periodicalCheckAlive`; also forgets second-hand dead members that are due, and closes log windows. */
  #scheduleCheckAlive(): void {
    this.#checkDueMs = this.#c.clock.monotonic() + this.#o.aliveExpirationCheckIntervalMs;
    this.#after(this.#o.aliveExpirationCheckIntervalMs, () => {
      // A check that runs late ran after a stall: what members sent meanwhile waits unread in our sockets, and a
      // late timer runs before that input is read, so each silence is judged longer by the lateness: a slow peer
      // does not declare everyone dead when it wakes.
      const lateMs = this.#noteLateness();
      const dead = this.#getDeadMembers(lateMs);
      if (dead.length > 0) this.#expireDeadMembers(dead, "expired");
      if (this.#o.livenessFromTraffic) this.#pingQuietMembers();
      this.#forgetDueMembers();
      this.#limitedLog.flush();
      this.#scheduleCheckAlive();
    });
  }

  /** `graceMs`: how late the check runs (see #scheduleCheckAlive). */
  #getDeadMembers(graceMs: number): PKIidType[] {
    const now = this.#c.clock.monotonic();
    const dead: PKIidType[] = [];
    const stall = this.#stall;
    for (const [key, ts] of this.#aliveLastTS) {
      const elapsed = now - ts.lastSeenMs;
      const grace = stall !== undefined && ts.lastSeenMs < stall.atMs ? Math.max(graceMs, stall.ms) : graceMs;
      if (elapsed > this.#o.aliveExpirationTimeoutMs + grace) {
        this.#limitedLog.warn("PEER_SILENT", this.#originOfMember(key), "Haven't heard from peer", { pkiId: key, elapsedMs: elapsed });
        dead.push(fromHex(key));
      }
    }
    return dead;
  }

  /**
   * livenessFromTraffic (ours): an alive member not heard of for all but two check periods of
   * aliveExpirationTimeout is pinged; an answer over its own connection counts as hearing from it. Its alive
   * messages may just have missed us (a fanout of 2 reaches about 80 % of peers), and a crashed member
   * does not answer, so it still expires on time. At most maxReconnectPingsInFlight such pings at once.
   */
  #pingQuietMembers(): void {
    const quietSince = this.#c.clock.monotonic() - this.#quietAfterMs();
    for (const [key, ts] of this.#aliveLastTS) {
      if (this.#quietPings.size >= this.#o.maxReconnectPingsInFlight) return;
      if (ts.lastSeenMs >= quietSince || this.#quietPings.has(key)) continue;
      const member = this.#id2Member.get(key);
      if (member === undefined) continue;
      this.#pingAliveMember(key, member, this.#quietPings);
    }
  }

  /**
   * livenessFromTraffic: pings an alive member, tracked in `inFlight` meanwhile. An answer counts as hearing
   * from it; without one, `onSilence` runs (if it is still alive with us).
   */
  #pingAliveMember(key: PkiHex, member: NetworkMember, inFlight: Set<PkiHex>, onSilence?: () => void): void {
    inFlight.add(key);
    void this.#ping(cloneNetworkMember(member)).then((responsive) => {
      inFlight.delete(key);
      const alive = this.#aliveLastTS.get(key);
      if (this.#stopped || alive === undefined) return;
      if (responsive) alive.lastSeenMs = this.#c.clock.monotonic();
      else onSilence?.();
    });
  }

  /**
   * livenessFromTraffic (ours): comm presumed an alive member dead (a failed dial or send), and one ping
   * decides. Fabric declares it dead at once; but a dial's ping must answer within connTimeout (2 s), and
   * over links with a long tail of round trips one slow dial then declared a live member dead (200 peers,
   * longtail:10ms,200ms: once in 90 s). A crashed member does not answer the ping either, and is declared
   * dead that ping's timeout later. At most maxReconnectPingsInFlight such pings at once; beyond that,
   * Fabric's rule.
   */
  #confirmPresumedDead(key: PkiHex, pkiId: PKIidType, member: NetworkMember): void {
    if (this.#deathChecks.has(key)) return;
    if (this.#deathChecks.size >= this.#o.maxReconnectPingsInFlight) {
      this.#expireDeadMembers([pkiId], "presumed-dead");
      return;
    }
    this.#pingAliveMember(key, member, this.#deathChecks, () => this.#expireDeadMembers([pkiId], "presumed-dead"));
  }

  /**
   * Fabric's `periodicalReconnectToDead`, one round every reconnectInterval: each dead member is
   * queued for a ping (members heard from directly ahead of the others) unless a ping of it is
   * queued or in flight, or its back-off skips this round. At most maxReconnectPingsInFlight pings
   * run at once; a finished one starts the next. Fabric pings every dead member at once and waits
   * for all of them before sleeping.
   */
  #reconnectRound(): void {
    for (const key of this.#deadLastTS.keys()) {
      if (this.#probing.has(key)) continue;
      const meta = this.#meta.get(key);
      if (meta !== undefined && meta.skipRounds > 0) {
        meta.skipRounds--;
        continue;
      }
      this.#probing.add(key);
      (meta === undefined || meta.firstHand ? this.#probeQueue : this.#probeQueueSecondHand).push(key);
    }
    this.#pumpProbes();
    this.#after(this.#o.reconnectIntervalMs, () => this.#reconnectRound());
  }

  #pumpProbes(): void {
    while (!this.#stopped && this.#pingsInFlight < this.#o.maxReconnectPingsInFlight) {
      const key = this.#probeQueue.shift() ?? this.#probeQueueSecondHand.shift();
      if (key === undefined) return;
      const member = this.#deadLastTS.has(key) ? this.#id2Member.get(key) : undefined;
      if (member === undefined) {
        this.#probing.delete(key);
        continue;
      }
      this.#probe(key, cloneNetworkMember(member));
    }
  }

  /**
   * Pings one dead member through comm. The ping cannot be cancelled: after stop() its answer is
   * ignored (it holds no timer of ours), as Fabric's round does with its goroutines.
   */
  #probe(key: PkiHex, member: NetworkMember): void {
    this.#pingsInFlight++;
    this.#metrics.pingsInFlight.set(this.#pingsInFlight);
    void this.#ping(member).then((responsive) => {
      this.#pingsInFlight--;
      this.#metrics.pingsInFlight.set(this.#pingsInFlight);
      this.#probing.delete(key);
      if (this.#stopped) return;
      this.#onProbed(key, member, responsive);
      this.#pumpProbes();
    });
  }

  /** Whether `member` answers a ping through comm; a failure (thrown or rejected) is no answer. */
  #ping(member: NetworkMember): Promise<boolean> {
    try {
      return this.#c.comm.ping(member).catch(() => false);
    } catch {
      return Promise.resolve(false);
    }
  }

  #onProbed(key: PkiHex, member: NetworkMember, responsive: boolean): void {
    const meta = this.#meta.get(key);
    if (responsive) {
      if (meta !== undefined) {
        meta.failedProbes = 0;
        meta.skipRounds = 0;
      }
      this.#logger.debug("Dead peer is responding, sending membership request", { member: networkMemberToString(member) });
      this.#sendMembershipRequest(member, true);
      return;
    }
    this.#logger.debug("Dead peer is still dead", { member: networkMemberToString(member) });
    if (meta === undefined || meta.firstHand) return;
    // Back-off of a member known only second-hand: after k failures, the next ping 2^k rounds later.
    meta.failedProbes = Math.min(meta.failedProbes + 1, 30);
    const capRounds = Math.max(1, Math.floor(this.#o.maxReconnectBackoffMs / this.#o.reconnectIntervalMs));
    meta.skipRounds = Math.min(2 ** meta.failedProbes, capRounds) - 1;
  }

  #sendMembershipRequest(member: NetworkMember, includeInternalEndpoint: boolean): void {
    const req = this.#createMembershipRequest(includeInternalEndpoint, 0n, member);
    if (req !== undefined) this.#c.comm.sendToPeer(member, req);
  }

  /** Moves alive members to the dead list and closes their connections (Fabric's `expireDeadMembers`). */
  #expireDeadMembers(dead: readonly PKIidType[], cause: MemberDeathCause): void {
    const expired: [PkiHex, NetworkMember][] = [];
    for (const pkiId of dead) {
      const key = pkiHex(pkiId);
      const lastTS = this.#aliveLastTS.get(key);
      if (lastTS === undefined) continue;
      const member = this.#id2Member.get(key);
      if (member !== undefined) expired.push([key, cloneNetworkMember(member)]);
      this.#deadLastTS.set(key, lastTS);
      this.#aliveLastTS.delete(key);
      const am = this.#aliveMembership.get(key);
      if (am !== undefined) {
        this.#deadMembership.set(key, am);
        this.#aliveMembership.delete(key);
      }
      const meta = this.#meta.get(key);
      if (meta !== undefined && !meta.firstHand) meta.forgetAtMs = lastTS.lastSeenMs + this.#ttlMs();
      this.#metrics.expired.inc({ cause });
    }
    for (const [key, member] of expired) {
      this.#limitedLog.warn("PEER_EXPIRED", this.#originOfMember(key), "Closing connection to expired peer", {
        pkiId: key,
        member: networkMemberToString(member),
      });
      this.#events.emit({ kind: "member-dead", pkiId: key, endpoint: reachableAt(member), cause });
      this.#c.comm.closeConn(member);
    }
  }

  /** The alive store's expiration callback: forget the member unless it is a bootstrap or anchor peer. */
  #onAliveMessageExpired(msg: SignedGossipMessage): void {
    const am = wellFormedAlive(msg);
    if (am === undefined) return;
    const key = pkiHex(am.membership.pkiId);
    // Already forgotten (on the second-hand schedule, at a cap, or purged): nothing to tell again.
    if (!this.#id2Member.has(key)) return;
    const { endpoint } = am.membership;
    if (this.#isProtected(endpoint, msg.internalEndpoint())) {
      this.#logger.debug(`Do not remove bootstrap or anchor peer endpoint ${endpoint} from membership`);
      return;
    }
    this.#forget(key);
  }

  /** Whether an endpoint pair is a bootstrap or anchor peer's: such members are never forgotten (as in Fabric). */
  #isProtected(endpoint: string, internalEndpoint: string): boolean {
    const bootstrap = this.#o.bootstrapPeers;
    const tracker = this.#c.anchorPeerTracker;
    return (
      bootstrap.includes(endpoint) ||
      bootstrap.includes(internalEndpoint) ||
      tracker.isAnchorPeer(endpoint) ||
      tracker.isAnchorPeer(internalEndpoint)
    );
  }

  #isProtectedMember(key: PkiHex): boolean {
    const m = this.#id2Member.get(key);
    return m !== undefined && this.#isProtected(m.endpoint, m.internalEndpoint);
  }

  /** Alive message TTL = aliveExpirationTimeout x msgExpirationFactor: also how long a forgotten member stays tombstoned. */
  #ttlMs(): number {
    return this.#o.aliveExpirationTimeoutMs * this.#o.msgExpirationFactor;
  }

  /**
   * Forgets a member (Fabric's store callback's removal): it leaves every map, a tombstone keeps its
   * last known timestamp for the TTL so that no dead list brings it back and only a newer alive
   * message does.
   */
  #forget(key: PkiHex): void {
    const member = this.#id2Member.get(key);
    if (member === undefined) return;
    const ts = this.#deadLastTS.get(key) ?? this.#aliveLastTS.get(key);
    const origin = this.#originOfMember(key);
    this.#removeMember(key);
    if (ts !== undefined) this.#tombstone(key, ts.incNum, ts.seqNum);
    this.#limitedLog.info("MEMBER_FORGOTTEN", origin, "Removing member", {
      endpoint: member.endpoint,
      internalEndpoint: member.internalEndpoint,
      pkiId: key,
    });
    this.#events.emit({ kind: "member-purged", pkiId: key, endpoint: reachableAt(member) });
    this.#metrics.forgotten.inc();
  }

  #tombstone(key: PkiHex, incNum: bigint, seqNum: bigint): void {
    this.#tombstones.delete(key);
    this.#tombstones.set(key, { incNum, seqNum, untilMs: this.#c.clock.monotonic() + this.#ttlMs() });
    // Bounded: the oldest go first.
    while (this.#tombstones.size > this.#o.maxKnownMembers) {
      const oldest = this.#tombstones.keys().next().value;
      if (oldest === undefined) break;
      this.#tombstones.delete(oldest);
    }
  }

  /** Forgets the second-hand dead members whose time has come, and drops tombstones that ran out. */
  #forgetDueMembers(): void {
    const now = this.#c.clock.monotonic();
    const due: PkiHex[] = [];
    for (const key of this.#deadLastTS.keys()) {
      const meta = this.#meta.get(key);
      if (meta?.forgetAtMs === undefined || meta.forgetAtMs > now) continue;
      if (this.#isProtectedMember(key)) meta.forgetAtMs = undefined;
      else due.push(key);
    }
    for (const key of due) this.#forget(key);
    for (const [key, t] of this.#tombstones) {
      if (t.untilMs > now) break;
      this.#tombstones.delete(key);
    }
  }

  /** Fabric's `purge`: an identity switch deletes the member from every map. */
  #purge(pkiId: PKIidType): void {
    this.#logger.info("Purging from membership", { pkiId: toHex(pkiId) });
    const key = pkiHex(pkiId);
    const known = this.#id2Member.get(key);
    const ts = this.#deadLastTS.get(key) ?? this.#aliveLastTS.get(key);
    this.#removeMember(key);
    if (ts !== undefined) this.#tombstone(key, ts.incNum, ts.seqNum);
    if (known !== undefined) this.#events.emit({ kind: "member-purged", pkiId: key, endpoint: reachableAt(known) });
  }

  #removeMember(key: PkiHex): void {
    this.#aliveMembership.delete(key);
    this.#deadMembership.delete(key);
    this.#id2Member.delete(key);
    this.#deadLastTS.delete(key);
    this.#aliveLastTS.delete(key);
    const meta = this.#meta.get(key);
    if (meta !== undefined) {
      meta.removed = true;
      this.#meta.delete(key);
      const n = (this.#orgCount.get(meta.org) ?? 1) - 1;
      if (n > 0) this.#orgCount.set(meta.org, n);
      else this.#orgCount.delete(meta.org);
    }
    this.#metrics.knownMembers.set(this.#id2Member.size);
  }

  // ---------------------------------------------------------------- limits

  /** The org of a member: from the host (after validation the identity mapper knows it), "" when unknown. */
  #orgOf(pkiId: PKIidType): string {
    try {
      return this.#c.orgOf?.(pkiId) ?? "";
    } catch {
      return "";
    }
  }

  /** What log lines about a known member are keyed by: its org, or its PKI-ID when the org is unknown. */
  #originOfMember(key: PkiHex): string {
    const org = this.#meta.get(key)?.org;
    return org !== undefined && org !== "" ? org : `pki:${key.slice(0, 16)}`;
  }

  /** What log lines about a received message are keyed by: the sender's org, or its PKI-ID. */
  #originOfSender(rm: ReceivedMessage | undefined): string {
    if (rm === undefined) return "local";
    const org = this.#orgOf(rm.connectionInfo.id);
    return org !== "" ? org : `pki:${toHex(rm.connectionInfo.id).slice(0, 16)}`;
  }

  #quotaWindow(): QuotaWindow {
    const now = this.#c.clock.monotonic();
    let q = this.#quota;
    if (q === undefined || now - q.startMs >= this.#o.memberQuotaIntervalMs) {
      q = { startMs: now, entriesBySender: new Map(), newByOrg: new Map() };
      this.#quota = q;
    }
    return q;
  }

  /** Takes one verified entry from `sender`'s budget; false when it is used up. */
  #spendSenderBudget(sender: PkiHex): boolean {
    const q = this.#quotaWindow();
    const used = q.entriesBySender.get(sender) ?? 0;
    if (used >= this.#o.maxMemberEntriesPerSenderPerInterval) return false;
    q.entriesBySender.set(sender, used + 1);
    return true;
  }

  /**
   * Whether a member not known yet may be learned (from an alive message, or from a dead list when
   * `fromDeadList`): not tombstoned (or its alive message newer than the tombstone), within its org's
   * quota of new members (unless it came `direct`ly), and within the caps on known members (making room by forgetting the oldest
   * dead member known only second-hand).
   */
  #admitNewMember(key: PkiHex, pkiId: PKIidType, ts: PeerTime, fromDeadList: boolean, direct = false): Admission {
    const tomb = this.#tombstones.get(key);
    if (tomb !== undefined) {
      if (tomb.untilMs <= this.#c.clock.monotonic()) this.#tombstones.delete(key);
      else if (fromDeadList) return { ok: false, reason: "FORGOTTEN" };
      else if (comparePeerTime(tomb, ts) >= 0) return { ok: false, reason: "STALE" };
    }
    const org = this.#orgOf(pkiId);
    const q = this.#quotaWindow();
    const learned = q.newByOrg.get(org) ?? 0;
    // A member speaking for itself over its own connection exists: invented members of its org
    // (which fill the quota) must not keep it out. It still counts.
    if (learned >= this.#o.maxNewMembersPerOrgPerInterval && !direct) return { ok: false, reason: "ORG_QUOTA" };
    if ((this.#orgCount.get(org) ?? 0) >= this.#o.maxKnownMembersPerOrg && !this.#replaceDeadMember(org)) {
      return { ok: false, reason: "MEMBER_LIMIT" };
    }
    if (this.#id2Member.size >= this.#o.maxKnownMembers && !this.#replaceDeadMember(undefined)) {
      return { ok: false, reason: "MEMBER_LIMIT" };
    }
    q.newByOrg.set(org, learned + 1);
    this.#tombstones.delete(key);
    return { ok: true, org };
  }

  /** Forgets the longest-dead member known only second-hand (of `org` when given); false when there is none. */
  #replaceDeadMember(org: string | undefined): boolean {
    for (const key of this.#deadLastTS.keys()) {
      const meta = this.#meta.get(key);
      if (meta === undefined || meta.firstHand || (org !== undefined && meta.org !== org)) continue;
      if (this.#isProtectedMember(key)) continue;
      this.#forget(key);
      return true;
    }
    return false;
  }

  /** Counts entries ignored at limits (metric by reason, one event and one rate-limited line per reason). */
  #reportLimited(counts: ReadonlyMap<DiscoveryLimitReason, number>, rm: ReceivedMessage | undefined, what: string): void {
    for (const [reason, n] of counts) {
      if (n === 0) continue;
      this.#metrics.limited.inc({ reason }, n);
      this.#events.emit({ kind: "message-rejected", component: "discovery", code: reason });
      const sender = rm === undefined ? "" : toHex(rm.connectionInfo.id);
      // A member we forgot (its identity switched or expired) is still told of by peers that have not yet: expected
      // after every certificate renewal, so no warning.
      if (reason === "FORGOTTEN") this.#logger.debug("Ignored membership entries of forgotten members", { count: n, sender, what });
      else this.#limitedLog.warn(reason, this.#originOfSender(rm), "Ignored membership entries over a limit", { reason, count: n, sender, what });
    }
  }

  // ---------------------------------------------------------------- receiving

  /** `misbehaviour`: the sender alone is to blame (its own message is forged or malformed); comm counts it. */
  #reject(reason: DiscoveryRejectReason, from: ReceivedMessage | undefined, detail?: string, misbehaviour = false): void {
    this.#metrics.rejected.inc({ reason });
    this.#events.emit({ kind: "message-rejected", component: "discovery", code: reason });
    if (misbehaviour && from !== undefined) this.#c.comm.reportMisbehaviour?.(from.connectionInfo.id, reason);
    if (reason === "STALE") return;
    const sender = from === undefined ? "" : toHex(from.connectionInfo.id);
    this.#limitedLog.warn(reason, this.#originOfSender(from), "Dropped discovery message", { reason, sender, detail });
  }

  #validate(msg: SignedGossipMessage): boolean {
    return this.#check(msg) === "ok";
  }

  /** The alive message's check, with the reason of a failure when the crypto service tells it. */
  #check(msg: SignedGossipMessage): AliveCheck {
    try {
      const crypto = this.#c.crypto;
      if (crypto.checkAliveMsg !== undefined) return crypto.checkAliveMsg(msg);
      return crypto.validateAliveMsg(msg) ? "ok" : "no-identity";
    } catch (err) {
      this.#logger.debug("Alive message validation threw", { error: errorMessage(err) });
      return "no-identity";
    }
  }

  #handleMsgFromComm(rm: ReceivedMessage): void {
    if (this.#stopped || this.#msgStore === undefined) return;
    const msg = rm.message;
    const content = msg.message.content;
    switch (content?.$case) {
      case "memReq":
        this.#handleMembershipRequest(rm, content.value, msg.message.nonce);
        return;
      case "aliveMsg":
        this.#handlePushedAlive(rm, msg, this.#msgStore);
        return;
      case "memRes":
        this.#handleMembershipResponse(rm, content.value, msg.message.nonce, this.#msgStore);
        return;
      default:
        this.#reject("WRONG_TYPE", rm, `expected an alive message, a membership request or response, got ${content?.$case ?? "no content"}`);
    }
  }

  /** A pushed alive message: store check, validation, ignore our own, store, handle, forward. */
  #handlePushedAlive(rm: ReceivedMessage, msg: SignedGossipMessage, store: MessageStore<SignedGossipMessage>): void {
    const am = wellFormedAlive(msg);
    if (am === undefined) {
      this.#reject("MALFORMED", rm, "alive message without membership, PKI-ID or timestamp", true);
      return;
    }
    if (!store.checkValid(msg)) {
      this.#reject("STALE", rm);
      return;
    }
    const check = this.#check(msg);
    if (check !== "ok") {
      // The sender's own alive message is its fault; a relayed one only when forged (a known, valid identity
      // and a signature not its own): honest peers verify before they forward, but may relay an alive
      // message whose certificate we have not learned yet.
      this.#reject("INVALID_SIGNATURE", rm, `alive message of ${toHex(am.membership.pkiId)} is not authentic (${check})`, this.#isDirect(rm, am) || check === "forged");
      return;
    }
    if (this.#isSentByMe(msg, am)) return;
    const limited = new Map<DiscoveryLimitReason, number>();
    // Stored and forwarded only when used: an alive message of a member refused at a limit would
    // otherwise carry the flood on to every peer (Fabric stores it before handling it).
    if (!this.#handleAliveMessage(msg, am, this.#isDirect(rm, am), limited)) {
      this.#reportLimited(limited, rm, "alive message");
      return;
    }
    store.add(msg);
    if (this.#o.aliveFollowsFabricPeers) this.#notePushedAlive(am);
    this.#c.comm.forward(rm);
  }

  /** Whether the message is the member's own, over its own connection (heard from directly). */
  #isDirect(rm: ReceivedMessage, am: WellFormedAlive): boolean {
    return bytesEqual(rm.connectionInfo.id, am.membership.pkiId);
  }

  #handleMembershipRequest(rm: ReceivedMessage, req: MembershipRequest, nonce: bigint): void {
    if (req.selfInformation === undefined) {
      this.#reject("MISSING_SELF_INFORMATION", rm, "membership request without self information", true);
      return;
    }
    let selfInfo: SignedGossipMessage;
    try {
      selfInfo = SignedGossipMessage.fromEnvelope(req.selfInformation);
    } catch (err) {
      this.#reject("MALFORMED", rm, errorMessage(err), true);
      return;
    }
    const am = wellFormedAlive(selfInfo);
    if (am === undefined) {
      this.#reject("NOT_ALIVE_MESSAGE", rm, "membership request self information is not a well-formed alive message", true);
      return;
    }
    if (!this.#validate(selfInfo)) {
      this.#reject("INVALID_SIGNATURE", rm, `self information of ${toHex(am.membership.pkiId)} is not authentic`, true);
      return;
    }
    if (this.#msgStore!.checkValid(selfInfo)) {
      const limited = new Map<DiscoveryLimitReason, number>();
      this.#handleAliveMessage(selfInfo, am, this.#isDirect(rm, am), limited);
      this.#reportLimited(limited, rm, "membership request");
    } else this.#reject("STALE", rm);
    if (this.#o.aliveFollowsFabricPeers) this.#noteRequestList(pkiHex(am.membership.pkiId), am.timestamp.incNum, req.known.length, nonce);
    // As in Fabric, a stale (but authentic) request is still answered: it changes nothing here. Without
    // membershipDelta the list is ignored, as Fabric ignores it: such a peer answers as Fabric's does (#notePaceAnswer).
    const known = req.known.length === 0 || !this.#o.membershipDelta ? NO_KNOWN : new Set(req.known.slice(0, this.#o.maxKnownMembers).map((k) => pkiHex(k)));
    this.#sendMemResponse(am.membership, selfInfo.internalEndpoint(), nonce, known, am.timestamp);
  }

  /** `requesterTime`: the timestamp of the alive message the request carried. */
  #sendMemResponse(target: Member, internalEndpoint: string, nonce: bigint, known: ReadonlySet<string>, requesterTime: PeerTime): void {
    const targetPeer: NetworkMember = {
      endpoint: target.endpoint,
      metadata: target.metadata,
      pkiId: target.pkiId,
      internalEndpoint,
    };
    const aliveMsg = this.#selfAliveMessage ?? this.#createSignedAliveMessage(true);
    if (aliveMsg === undefined) return;
    let memResp: MembershipResponse | undefined;
    try {
      memResp = this.#createMembershipResponse(aliveMsg, targetPeer, known, requesterTime);
    } catch (err) {
      this.#logger.warn("Disclosure policy failed", { error: errorMessage(err) });
      return;
    }
    if (memResp === undefined) {
      this.#limitedLog.warn(
        "MEMREQ_REFUSED",
        this.#originOfMember(pkiHex(target.pkiId)),
        "Got a membership request from a peer that shouldn't have sent one, closing connection to the peer as a result",
        { member: networkMemberToString(targetPeer) },
      );
      this.#c.comm.closeConn(targetPeer);
      return;
    }
    const msg = SignedGossipMessage.noopSign({
      nonce,
      channel: EMPTY,
      tag: GossipMessage_Tag.EMPTY,
      content: { $case: "memRes", value: memResp },
    });
    this.#c.comm.sendToPeer(targetPeer, msg);
  }

  /** Our view as the disclosure policy lets `target` see it, or undefined if it may not even see us. */
  #createMembershipResponse(
    aliveMsg: SignedGossipMessage,
    target: NetworkMember,
    known: ReadonlySet<string>,
    requesterTime: PeerTime,
  ): MembershipResponse | undefined {
    const { sieve, envelopeFilter } = this.#c.disclosurePolicy(target);
    if (!sieve(aliveMsg)) return undefined;
    // Ours (membershipDelta): members the requester listed as known are left out: by the version it holds (versionTag),
    // or by PKI-ID or its tag (what earlier versions of ours list: members heard of lately). Fabric's requests list none.
    // Such a requester (membershipDelta) is not sent back its own alive message either, unless we hold a newer
    // one than its request carried (a twin's, which it must learn of), nor ours when it listed us as known.
    const delta = known.size > 0;
    const unknown = (m: SignedGossipMessage): boolean => {
      if (!delta) return true;
      const am = wellFormedAlive(m);
      if (am === undefined) return true;
      const pkiId = am.membership.pkiId;
      if (bytesEqual(pkiId, target.pkiId) && comparePeerTime(am.timestamp, requesterTime) <= 0) return false;
      const key = pkiKey(pkiId);
      // The version tag last: it may hash a message not tagged yet.
      return !known.has(key) && !known.has(this.#knownTag(key, pkiId)) && !known.has(versionTag(m, am));
    };
    const dead: Envelope[] = [];
    for (const dm of this.#deadMembership.values()) {
      if (sieve(dm) && unknown(dm)) dead.push(envelopeFilter(dm));
    }
    const alive: Envelope[] = [];
    for (const am of this.#aliveMembership.messages()) {
      if (sieve(am) && unknown(am)) alive.push(envelopeFilter(am));
    }
    if (unknown(aliveMsg)) alive.push(envelopeFilter(aliveMsg));
    return { alive, dead };
  }

  /**
   * Fabric's MembershipResponse handling, within limits (ours): at most maxMembersPerResponse entries
   * are looked at (alive ones first), an entry that brings nothing new (a known member, not newer) is
   * skipped before its signature is checked, and the sender's budget of checked entries per interval
   * bounds the rest. Ours too: at most RESPONSE_CHECKS_PER_SLICE signature checks run in one go, the
   * rest in later turns of the event loop, so a response of a thousand members does not hold up every
   * other message (and health checks) for the whole of its checks.
   */
  #handleMembershipResponse(rm: ReceivedMessage, res: MembershipResponse, nonce: bigint, store: MessageStore<SignedGossipMessage>): void {
    this.#publishNonce(nonce);
    // Our sync requests go with nonce 0 (a connect request or probe, with its own nonce, lists nothing).
    if (nonce === 0n && this.#paceQuestions.size > 0) this.#notePaceAnswer(pkiHex(rm.connectionInfo.id), res);
    const max = this.#o.maxMembersPerResponse;
    const aliveEntries = res.alive.length > max ? res.alive.slice(0, max) : res.alive;
    const deadRoom = max - aliveEntries.length;
    const deadEntries = res.dead.length > deadRoom ? res.dead.slice(0, deadRoom) : res.dead;
    const work: ResponseWork = {
      rm,
      sender: pkiHex(rm.connectionInfo.id),
      store,
      entries: [...aliveEntries.map((env) => ({ env, dead: false })), ...deadEntries.map((env) => ({ env, dead: true }))],
      next: 0,
      limited: new Map(),
    };
    const overLimit = res.alive.length - aliveEntries.length + res.dead.length - deadEntries.length;
    if (overLimit > 0) work.limited.set("RESPONSE_LIMIT", overLimit);
    this.#continueResponse(work);
  }

  /** Handles entries of a membership response until RESPONSE_CHECKS_PER_SLICE checks ran; schedules the rest. */
  #continueResponse(work: ResponseWork): void {
    let checks = 0;
    while (work.next < work.entries.length) {
      if (checks >= RESPONSE_CHECKS_PER_SLICE) {
        this.#after(0, () => this.#continueResponse(work));
        return;
      }
      const { env, dead } = work.entries[work.next++]!;
      const outcome = dead ? this.#responseDeadEntry(work, env) : this.#responseAliveEntry(work, env);
      if (outcome === "stop") break;
      if (outcome === "checked") checks++;
    }
    this.#reportLimited(work.limited, work.rm, "membership response");
  }

  #responseAliveEntry(work: ResponseWork, env: Envelope): ResponseEntryOutcome {
    const { rm } = work;
    if (storesSame(work.store, env)) {
      this.#reject("STALE", rm);
      return "skipped";
    }
    let msg: SignedGossipMessage;
    try {
      msg = SignedGossipMessage.fromEnvelope(env);
    } catch (err) {
      this.#reject("MALFORMED", rm, `membership response contains an invalid message from an online peer: ${errorMessage(err)}`);
      return "stop";
    }
    if (msg.message.content?.$case !== "aliveMsg") {
      this.#reject("NOT_ALIVE_MESSAGE", rm, `membership response holds a ${msg.message.content?.$case ?? "empty"} message`);
      return "stop";
    }
    const am = wellFormedAlive(msg);
    if (am === undefined) {
      this.#reject("MALFORMED", rm, "alive message without membership, PKI-ID or timestamp");
      return "skipped";
    }
    if (!work.store.checkValid(msg)) {
      this.#reject("STALE", rm);
      return "skipped";
    }
    // Fabric checks the signature first; handleAliveMessage then ignores what is not newer.
    if (this.#bringsNothingNew(am)) return "skipped";
    if (!this.#spendSenderBudget(work.sender)) {
      countLimited(work.limited, "SENDER_BUDGET");
      return "skipped";
    }
    const check = this.#check(msg);
    if (check !== "ok") {
      // A responder sends what it verified and stored: a forged entry is its doing.
      this.#reject("INVALID_SIGNATURE", rm, `alive message of ${toHex(am.membership.pkiId)} is not authentic (${check})`, check === "forged");
      return "checked";
    }
    this.#handleAliveMessage(msg, am, this.#isDirect(rm, am), work.limited);
    return "checked";
  }

  #responseDeadEntry(work: ResponseWork, env: Envelope): ResponseEntryOutcome {
    const { rm } = work;
    if (storesSame(work.store, env)) {
      this.#reject("STALE", rm);
      return "skipped";
    }
    let msg: SignedGossipMessage;
    try {
      msg = SignedGossipMessage.fromEnvelope(env);
    } catch (err) {
      this.#reject("MALFORMED", rm, `membership response contains an invalid message from an offline peer: ${errorMessage(err)}`);
      return "stop";
    }
    const am = wellFormedAlive(msg);
    if (am === undefined) {
      this.#reject("NOT_ALIVE_MESSAGE", rm, "membership response dead entry is not a well-formed alive message");
      return "skipped";
    }
    if (!work.store.checkValid(msg)) {
      this.#reject("STALE", rm);
      return "skipped";
    }
    const key = pkiKey(am.membership.pkiId);
    if (bytesEqual(am.membership.pkiId, this.#self.pkiId)) {
      // Our own earlier run, dead to the sender: outdone when its incarnation is later than ours.
      if (am.timestamp.incNum > this.#incTime && this.#validate(msg)) this.#outdoEarlierIncarnation(am);
      return "skipped";
    }
    // As Fabric, a dead entry only teaches a member not known; checked here before the signature.
    if (this.#id2Member.has(key)) return "skipped";
    const tomb = this.#tombstones.get(key);
    if (tomb !== undefined && tomb.untilMs > this.#c.clock.monotonic()) {
      countLimited(work.limited, "FORGOTTEN");
      return "skipped";
    }
    if (!this.#spendSenderBudget(work.sender)) {
      countLimited(work.limited, "SENDER_BUDGET");
      return "skipped";
    }
    const check = this.#check(msg);
    if (check !== "ok") {
      this.#reject("INVALID_SIGNATURE", rm, `dead peer's alive message of ${toHex(am.membership.pkiId)} is not authentic (${check})`, check === "forged");
      return "checked";
    }
    const admission = this.#admitNewMember(key, am.membership.pkiId, am.timestamp, true);
    if (!admission.ok) {
      if (admission.reason !== "STALE") countLimited(work.limited, admission.reason);
      return "checked";
    }
    this.#learnNewMember(msg, am, true, admission.org, false);
    return "checked";
  }

  /** A known member's alive message that is not newer than what we hold: handling it would change nothing. */
  #bringsNothingNew(am: WellFormedAlive): boolean {
    const key = pkiKey(am.membership.pkiId);
    const last = this.#aliveLastTS.get(key) ?? this.#deadLastTS.get(key);
    return last !== undefined && !before(last, am.timestamp);
  }

  /** Fabric's `isSentByMe`: our own alive message; a different endpoint means a misconfigured twin. */
  #isSentByMe(msg: SignedGossipMessage, am: WellFormedAlive): boolean {
    if (!bytesEqual(am.membership.pkiId, this.#self.pkiId)) return false;
    const diffExternal = this.#self.endpoint !== am.membership.endpoint;
    const internal = msg.internalEndpoint();
    const diffInternal = internal !== "" && internal !== this.#self.internalEndpoint;
    if (diffExternal || diffInternal) {
      // Error level, as Fabric, but a few lines a minute per endpoint rather than one per alive message of the twin.
      this.#limitedLog.error("DUPLICATE_IDENTITY", am.membership.endpoint || internal, "Bad configuration detected: Received AliveMessage from a peer with the same PKI-ID as myself", {
        endpoint: am.membership.endpoint,
        internalEndpoint: internal,
      });
      this.#events.emit({ kind: "duplicate-identity", pkiId: pkiHex(am.membership.pkiId), endpoint: am.membership.endpoint || internal });
      // Not in Fabric: a twin started after us has a newer incarnation, so every peer takes its alive messages
      // over ours, and once it stops ours stay "old" until they are forgotten (about 17 minutes in a real
      // network). Taking a newer incarnation makes ours win again; when the twin stops, the membership view
      // recovers with our next alive message.
      if (am.timestamp.incNum >= this.#incTime) {
        this.#incTime = am.timestamp.incNum + 1n;
        this.#seqNum = 0n;
      }
    } else {
      this.#outdoEarlierIncarnation(am);
    }
    return true;
  }

  /**
   * Not in Fabric: our own alive message (authentic) from an earlier run of this peer whose incarnation number
   * is later than ours, because the wall clock went back between the two starts (an NTP step, a corrected VM
   * clock). Every peer holds that run's messages and takes ours as older, so this peer stays out of their views
   * until they forget it (aliveExpirationTimeout x msgExpirationFactor after it died). Taking a later
   * incarnation makes our next alive message win at once.
   */
  #outdoEarlierIncarnation(am: WellFormedAlive): void {
    if (am.timestamp.incNum <= this.#incTime) return;
    this.#logger.warn("An earlier run of this peer has a later incarnation number than this run (did the wall clock go back?): taking a later one", {
      earlier: am.timestamp.incNum.toString(),
      ours: this.#incTime.toString(),
    });
    this.#incTime = am.timestamp.incNum + 1n;
    this.#seqNum = 0n;
  }

  /**
   * A member whose alive messages come from one endpoint, then another, then the first again, within the
   * alive store's time to live (aliveExpirationTimeout x msgExpirationFactor), is two processes with one
   * identity: reported as a duplicate identity (at most once per alive expiration timeout per member). A move
   * to a new endpoint (a restart elsewhere) does not come back that soon.
   */
  #watchForTwins(key: PkiHex, before: string, after: string): void {
    if (before === after || before === "" || after === "") return;
    const now = this.#c.clock.monotonic();
    const window = this.#o.aliveExpirationTimeoutMs * this.#o.msgExpirationFactor;
    const last = this.#endpointMoves.get(key);
    this.#endpointMoves.set(key, { from: before, at: now, reportedAt: last?.reportedAt });
    if (last === undefined || last.from !== after || now - last.at > window) return;
    if (last.reportedAt !== undefined && now - last.reportedAt < this.#o.aliveExpirationTimeoutMs) {
      this.#endpointMoves.set(key, { from: before, at: now, reportedAt: last.reportedAt });
      return;
    }
    this.#endpointMoves.set(key, { from: before, at: now, reportedAt: now });
    this.#limitedLog.warn("DUPLICATE_IDENTITY", key, "Two processes run with one identity: its alive messages alternate between two endpoints", {
      pkiId: key,
      endpoints: [before, after],
    });
    this.#events.emit({ kind: "duplicate-identity", pkiId: key, endpoint: after });
  }

  /**
   * Fabric's `handleAliveMessage`: learn, resurrect, refresh, or ignore. `direct`: the message came
   * from the member itself. Returns false when a new member was refused at a limit (counted in
   * `limited`) or by a tombstone.
   */
  #handleAliveMessage(msg: SignedGossipMessage, am: WellFormedAlive, direct: boolean, limited: Map<DiscoveryLimitReason, number>): boolean {
    if (this.#isSentByMe(msg, am)) return true;
    const key = pkiKey(am.membership.pkiId);
    const ts = am.timestamp;
    if (!this.#id2Member.has(key)) {
      const admission = this.#admitNewMember(key, am.membership.pkiId, ts, false, direct);
      if (!admission.ok) {
        if (admission.reason === "STALE") this.#logger.debug("Got an alive message not newer than a forgotten member's last", { pkiId: key });
        else limited.set(admission.reason, (limited.get(admission.reason) ?? 0) + 1);
        return false;
      }
      this.#learnNewMember(msg, am, false, admission.org, direct);
      return true;
    }
    const meta = this.#meta.get(key);
    if (direct && meta !== undefined && !meta.firstHand) {
      meta.firstHand = true;
      meta.forgetAtMs = undefined;
    }
    const lastAlive = this.#aliveLastTS.get(key);
    const lastDead = this.#deadLastTS.get(key);
    if (lastAlive === undefined && lastDead === undefined) {
      // Fabric panics here; the invariant is that a known member is alive or dead.
      this.#logger.error("Member is known but neither alive nor dead", { pkiId: key });
      return true;
    }
    if (lastDead !== undefined) {
      if (before(lastDead, ts)) this.#resurrectMember(msg, am);
      else if (!same(lastDead, ts)) this.#logger.debug("Got old alive message about dead peer", { pkiId: key });
      return true;
    }
    if (lastAlive !== undefined) {
      if (before(lastAlive, ts)) this.#learnExistingMember(msg, am);
      else if (!same(lastAlive, ts)) this.#logger.debug("Got old alive message about alive peer", { pkiId: key });
    }
    return true;
  }

  #resurrectMember(msg: SignedGossipMessage, am: WellFormedAlive): void {
    const member = am.membership;
    const key = pkiKey(member.pkiId);
    this.#logger.debug("Resurrecting member", { pkiId: key });
    const now = this.#c.clock.monotonic();
    this.#aliveLastTS.set(key, { incNum: am.timestamp.incNum, seqNum: am.timestamp.seqNum, lastSeenMs: now, sinceMs: now });
    const known = this.#id2Member.get(key);
    let internalEndpoint = known?.internalEndpoint ?? "";
    if (msg.envelope.secretEnvelope !== undefined) internalEndpoint = msg.internalEndpoint();
    this.#id2Member.set(key, { endpoint: member.endpoint, metadata: member.metadata, pkiId: known?.pkiId ?? member.pkiId.slice(), internalEndpoint });
    this.#deadLastTS.delete(key);
    this.#deadMembership.delete(key);
    const meta = this.#meta.get(key);
    if (meta !== undefined) {
      meta.forgetAtMs = undefined;
      meta.failedProbes = 0;
      meta.skipRounds = 0;
    }
    this.#setAlive(key, msg);
    this.#events.emit({ kind: "member-alive", pkiId: key, endpoint: reachableAt(this.#id2Member.get(key)!) });
  }

  #learnExistingMember(msg: SignedGossipMessage, am: WellFormedAlive): void {
    const key = pkiKey(am.membership.pkiId);
    const member = this.#id2Member.get(key)!;
    let internalEndpoint = member.internalEndpoint;
    if (msg.envelope.secretEnvelope !== undefined) internalEndpoint = msg.internalEndpoint();
    this.#watchForTwins(key, reachableAt(member), am.membership.endpoint !== "" ? am.membership.endpoint : internalEndpoint);
    // The member keeps its PKI-ID array (its own copy, see #learnNewMember): lookups keyed by array
    // identity (pkiKey, the identity mapper) then hit for every message about it.
    this.#id2Member.set(key, { ...member, endpoint: am.membership.endpoint, metadata: am.membership.metadata, internalEndpoint });
    const alive = this.#aliveLastTS.get(key);
    if (alive === undefined) {
      this.#logger.warn("Member has already expired", { pkiId: key });
      return;
    }
    const now = this.#c.clock.monotonic();
    if (alive.incNum !== am.timestamp.incNum) alive.sinceMs = now;
    alive.incNum = am.timestamp.incNum;
    alive.seqNum = am.timestamp.seqNum;
    alive.lastSeenMs = now;
    if (this.#aliveMembership.has(key)) this.#setAlive(key, msg);
  }

  /**
   * Fabric's `learnNewMembers` for one member, alive or (from a dead list) dead, admitted by
   * #admitNewMember. A dead member known only second-hand is due to be forgotten after the TTL.
   */
  #learnNewMember(msg: SignedGossipMessage, am: WellFormedAlive, dead: boolean, org: string, direct: boolean): void {
    if (bytesEqual(am.membership.pkiId, this.#self.pkiId)) return;
    const now = this.#c.clock.monotonic();
    const key = pkiHex(am.membership.pkiId);
    (dead ? this.#deadLastTS : this.#aliveLastTS).set(key, { incNum: am.timestamp.incNum, seqNum: am.timestamp.seqNum, lastSeenMs: now, sinceMs: now });
    // Fabric updates the member in any case, keeping a previously known internal endpoint.
    const known = this.#id2Member.get(key);
    const internalEndpoint = known?.internalEndpoint ?? msg.internalEndpoint();
    this.#id2Member.set(key, {
      endpoint: am.membership.endpoint,
      metadata: am.membership.metadata,
      // One array per member for as long as it is known: a copy, so that it pins no frame (a view of
      // a membership response would keep the whole response), and the same instance in every later
      // update, so that lookups keyed by array identity (pkiKey, the identity mapper) keep hitting.
      pkiId: known?.pkiId ?? am.membership.pkiId.slice(),
      internalEndpoint,
    });
    if (!this.#meta.has(key)) {
      this.#orgCount.set(org, (this.#orgCount.get(org) ?? 0) + 1);
      this.#meta.set(key, {
        org,
        firstHand: direct,
        forgetAtMs: dead && !direct ? now + this.#ttlMs() : undefined,
        failedProbes: 0,
        skipRounds: 0,
      });
    }
    this.#metrics.knownMembers.set(this.#id2Member.size);
    // After #id2Member: the alive view takes the member's internal endpoint from it.
    if (dead) {
      this.#deadMembership.set(key, msg);
      return;
    }
    this.#setAlive(key, msg);
    this.#events.emit({ kind: "member-alive", pkiId: key, endpoint: reachableAt(this.#id2Member.get(key)!) });
  }

  // ---------------------------------------------------------------- building our messages

  /** Fabric's `aliveMsgAndInternalEndpoint`: our next alive message (a new sequence number). */
  #aliveMsg(): GossipMessage {
    this.#seqNum++;
    return {
      nonce: 0n,
      channel: EMPTY,
      tag: GossipMessage_Tag.EMPTY,
      content: {
        $case: "aliveMsg",
        value: {
          membership: { endpoint: this.#self.endpoint, metadata: this.#self.metadata, pkiId: this.#self.pkiId },
          timestamp: { incNum: this.#incTime, seqNum: this.#seqNum },
          identity: EMPTY,
        },
      },
    };
  }

  #createSignedAliveMessage(includeInternalEndpoint: boolean): SignedGossipMessage | undefined {
    const msg = this.#aliveMsg();
    let signed: SignedGossipMessage | undefined;
    try {
      signed = this.#c.crypto.signMessage(msg, this.#self.internalEndpoint);
    } catch (err) {
      this.#logger.warn("Failed creating alive message", { error: errorMessage(err) });
      return undefined;
    }
    if (signed === undefined) {
      this.#logger.warn("Failed creating alive message: signing failed");
      return undefined;
    }
    return includeInternalEndpoint ? signed : signed.withoutSecret();
  }

  /**
   * A NoopSigned MembershipRequest carrying our freshly signed alive message. `known` stays empty, as in Fabric
   * (FAB-2570), unless `listTo` is given and aliveFollowsFabricPeers is on with membershipDelta: then it lists what we
   * know, as our sync requests do, or that member would take us for a Fabric peer (#noteRequestList).
   */
  #createMembershipRequest(includeInternalEndpoint: boolean, nonce: bigint, listTo?: NetworkMember): SignedGossipMessage | undefined {
    const am = this.#createSignedAliveMessage(includeInternalEndpoint);
    if (am === undefined) return undefined;
    const list = listTo !== undefined && this.#o.aliveFollowsFabricPeers && this.#o.membershipDelta;
    return membershipRequestOf(am, nonce, list ? this.#knownFor(listTo) : []);
  }
}

/**
 * A NoopSigned MembershipRequest carrying the signed alive message `am`. `known` lists members the sender
 * knows: empty in Fabric's requests (FAB-2570); filled only with membershipDelta (ours).
 */
function membershipRequestOf(am: SignedGossipMessage, nonce: bigint, known: Uint8Array[] = []): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce,
    channel: EMPTY,
    tag: GossipMessage_Tag.EMPTY,
    content: { $case: "memReq", value: { selfInformation: am.envelope, known } },
  });
}

/** Where a member can be reached, for events: its external endpoint, or its internal one when it has none (a peer of our org). */
function reachableAt(m: Pick<NetworkMember, "endpoint" | "internalEndpoint">): string {
  return m.endpoint !== "" ? m.endpoint : m.internalEndpoint;
}
