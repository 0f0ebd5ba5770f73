import {
  NO_EVENTS,
  type PeerEventSink,
  type OrgIdentityType,
  type PeerIdentityInfo,
  type PeerIdentityType,
  type PKIidType,
  pkiHex,
  type PkiHex,
  type RemotePeer,
} from "../../api/index.js";
import { type Comm, createComm } from "../../comm/index.js";
import {
  createDiscovery,
  createDiscoverySecurityAdapter,
  type CommService,
  type DisclosurePolicy,
  type Discovery,
  type Identifier,
  type NetworkMember,
  preferredEndpoint,
} from "../../discovery/index.js";
import { createIdentityMapper, type IdentityMapper } from "../../identity/index.js";
import { type Logger, RateLimitedLog } from "../../logging/index.js";
import { type GossipMessage, PullMsgType } from "../../protos/gen/gossip/message.pb.js";
import {
  checkTagLegal,
  createGossipMessageComparator,
  getPullMsgType,
  isAliveMsg,
  isChannelRestricted,
  isConnEstablish,
  isDataMsg,
  isEmptyMsg,
  isLeadershipMsg,
  isMembershipRequest,
  isMembershipResponse,
  isPrivateDataMsg,
  isPullMsg,
  isStateInfoMsg,
  isStateInfoPullRequestMsg,
  type ReceivedMessage,
  SignedGossipMessage,
} from "../../protoext/index.js";
import { bytesEqual, fromUtf8, type TimerHandle, errorMessage, GossipError } from "../../util/index.js";
import { createBatchingEmitter, type BatchingEmitter } from "../batcher/index.js";
import { CertStore } from "../certstore/index.js";
import { createGossipChannel, generateMAC, type GossipChannel, type JoinChannelMessage, type SubChannelSelectionCriteria } from "../channel/index.js";
import { selectAll, selectPeers, type RoutingFilter } from "../filter/index.js";
import { createMessageStore, type MessageStore } from "../msgstore/index.js";
import { type EmittedMessage, SEND_TO_ALL } from "./emitted.js";
import { DEFAULT_GOSSIP_NODE_OPTIONS, type GossipNode, type GossipNodeComponents, type GossipNodeOptions, type SendCriteria } from "./interface.js";
import { createNodeMetrics, type NodeMetrics } from "./metrics.js";
import { routeBatch } from "./routing.js";

const EMPTY = new Uint8Array(0);
/** Routing prefers members heard from directly while second-hand ones outnumber them more than this to 1. */
const SECOND_HAND_RATIO = 4;
/** How often that proportion is recounted. */
const PREFERENCE_RECOUNT_MS = 500;
/**
 * startupSync: when the early syncs run, in ms after start (those below pullInterval). In a simulated
 * rollout of 100 peers over 1 s on 10-50 ms links, stopping at 2 s left a few late starters unknown to
 * early ones until the first regular sync; every 500 ms to 2 s and one at 3 s completed every view by 3 s.
 */
const STARTUP_SYNC_AT_MS = [250, 500, 1_000, 1_500, 2_000, 3_000] as const;
/**
 * startupSync: how many of the early syncs also gossip our alive message (one left about 1 % of pairs unknown until the next).
 * The second costs about 115 KB a peer at 100 peers (it still carries our certificate and reaches every peer
 * that knew us by then), but a sync asks only orgs we know a member of: without it, at 100 peers over 10-50 ms
 * links, views completed at 3.3-3.5 s instead of 2.5-2.8 s, and at 5 % loss a late starter knew none of an org's
 * members for about 10 s.
 */
const STARTUP_ALIVES = 2;
/**
 * startupSync: the early syncs (of STARTUP_SYNC_AT_MS, from the first after the STARTUP_ALIVES ones) that gossip
 * our StateInfo even if unchanged. At 100 peers over 10-50 ms links (fast crypto), pairs that lacked each
 * other's StateInfo 6 s after the start: 1,069 when it went out at every early sync only if changed (from
 * 0.25 s, before most peers held our identity) and missing ones were pulled from three random peers; with
 * stateInfoPullWhenMissing asking the member whose StateInfo is missing, 595 when it also went out again at
 * 3 s, and 236 when it went out from 1 s and again at these.
 */
const STARTUP_STATE_INFO_AGAIN_AT_MS: readonly number[] = [1_500, 3_000];

/** A node-level failure (bad use of the API, not bad input from a peer). */
export class GossipNodeError extends GossipError {}

interface Subscriber<T> {
  acceptor: (msg: T) => boolean;
  handler: (msg: T) => void;
}

/**
 * Fabric's gossip Node (gossip/gossip/gossip_impl.go): comm, identity mapper, discovery, certificate
 * store, emitter and channels, with Fabric's validation and routing rules.
 */
export class GossipNodeImpl implements GossipNode {
  readonly #c: GossipNodeComponents;
  readonly #o: GossipNodeOptions;
  readonly #log: Logger;
  readonly #warn: RateLimitedLog;
  readonly #pkiId: PKIidType;
  readonly #selfOrg: OrgIdentityType;
  readonly #comm: Comm;
  readonly #idMapper: IdentityMapper;
  readonly #emitter: BatchingEmitter<EmittedMessage>;
  readonly #discovery: Discovery;
  readonly #certStore: CertStore;
  /** StateInfo of channels we are not in, from peers of our org (forwarded, Fabric's node-level store). */
  readonly #stateInfoStore: MessageStore<SignedGossipMessage>;
  readonly #channels = new Map<string, GossipChannel>();
  readonly #anchorEndpoints = new Map<string, Set<string>>();
  readonly #subscribers = new Set<Subscriber<GossipMessage>>();
  readonly #discoveryHandlers = new Set<(m: ReceivedMessage) => void>();
  readonly #metrics: NodeMetrics;
  readonly #events: PeerEventSink;
  #syncTimer: TimerHandle | undefined;
  #startupSyncTimer: TimerHandle | undefined;
  #started = false;
  #stopped = false;
  /** When the routing preference was last decided (monotonic ms), and what was decided. */
  #preferCountedAt = Number.NEGATIVE_INFINITY;
  #preferActive = false;
  #preferCountedSize = 0;

  constructor(components: GossipNodeComponents, options: Partial<GossipNodeOptions> & Pick<GossipNodeOptions, "internalEndpoint">) {
    this.#c = components;
    this.#o = { ...DEFAULT_GOSSIP_NODE_OPTIONS, ...options };
    const { mcs, securityAdvisor, selfIdentity, clock, random, metrics } = components;
    this.#log = components.logger.child("gossip.gossip", { endpoint: this.#o.internalEndpoint });
    this.#events = components.events ?? NO_EVENTS;
    this.#warn = new RateLimitedLog(this.#log, clock);
    this.#metrics = createNodeMetrics(metrics);
    this.#pkiId = mcs.getPKIidOfCert(selfIdentity);
    this.#selfOrg = securityAdvisor.orgByPeerIdentity(selfIdentity);

    this.#idMapper = createIdentityMapper({
      mcs,
      securityAdvisor,
      selfIdentity,
      clock,
      logger: components.logger,
      onPurge: (pkiId) => {
        this.#certStore.remove(pkiId);
        this.#comm.identitySwitched(pkiId);
      },
    });
    this.#comm = createComm(
      {
        transport: components.transport,
        clock,
        random,
        logger: components.logger,
        metrics,
        events: this.#events,
        mcs,
        securityAdvisor,
        selfIdentity,
        onIdentity: (pkiId, identity) => this.#putIdentity(pkiId, identity),
        identityOf: (pkiId) => this.#idMapper.get(pkiId),
        ...(components.decodeFrame !== undefined ? { decodeFrame: components.decodeFrame } : {}),
      },
      this.#o.comm,
    );
    this.#emitter = createBatchingEmitter<EmittedMessage>(
      { iterations: this.#o.propagateIterations, burstSize: this.#o.maxPropagationBurstSize, latencyMs: this.#o.maxPropagationBurstLatencyMs },
      (batch) => this.#gossipBatch(batch),
      clock,
      components.logger,
    );
    this.#stateInfoStore = createMessageStore(createGossipMessageComparator(0), undefined, {
      ttlMs: this.#o.publishStateInfoIntervalMs * 100,
      clock,
      logger: components.logger,
    });
    this.#discovery = createDiscovery(
      { endpoint: this.#o.externalEndpoint, internalEndpoint: this.#o.internalEndpoint, pkiId: this.#pkiId, metadata: EMPTY },
      {
        clock,
        random,
        logger: components.logger,
        metrics,
        events: this.#events,
        comm: this.#discoveryComm(),
        crypto: createDiscoverySecurityAdapter(
          // put must throw when the identity is not the claimed PKI-ID's: the adapter then refuses the alive message.
          { mcs, identities: { put: (p, id) => this.#idMapper.put(p, id), get: (p) => this.#idMapper.get(p) }, selfIdentity, clock, logger: components.logger },
          { publishCertPeriodMs: this.#o.publishCertPeriodMs },
        ),
        disclosurePolicy: this.#disclosurePolicy,
        anchorPeerTracker: { isAnchorPeer: (endpoint) => [...this.#anchorEndpoints.values()].some((s) => s.has(endpoint)) },
        // Discovery's per-org membership quotas and log keys (the MSP ID, from the identity mapper).
        orgOf: (pkiId) => {
          const org = this.#orgOf(pkiId);
          return org.byteLength === 0 ? undefined : fromUtf8(org);
        },
      },
      {
        aliveTimeIntervalMs: this.#o.aliveTimeIntervalMs,
        aliveExpirationTimeoutMs: this.#o.aliveExpirationTimeoutMs,
        aliveExpirationCheckIntervalMs: this.#o.aliveExpirationTimeoutMs / 10,
        reconnectIntervalMs: this.#o.reconnectIntervalMs,
        maxConnectionAttempts: this.#o.maxConnectionAttempts,
        msgExpirationFactor: this.#o.msgExpirationFactor,
        bootstrapPeers: this.#o.bootstrapPeers,
        membershipDelta: this.#o.membershipDelta === true,
        livenessFromTraffic: this.#o.livenessFromTraffic === true,
        aliveFollowsFabricPeers: this.#o.aliveFollowsFabricPeers === true,
        ...this.#o.discoveryLimits,
      },
    );
    this.#certStore = new CertStore(
      {
        idMapper: this.#idMapper,
        mcs,
        selfIdentity,
        clock,
        random,
        logger: components.logger,
        send: (msg, ...peers) => this.#comm.send(msg, ...peers),
        membership: () => this.#discovery.getMembership(),
        egressFilter: (hello) => this.#identityEgressFilter(hello),
      },
      {
        pullIntervalMs: this.#o.pullIntervalMs,
        pullPeerNum: this.#o.pullPeerNum,
        digestWaitTimeMs: this.#o.digestWaitTimeMs,
        requestWaitTimeMs: this.#o.requestWaitTimeMs,
        responseWaitTimeMs: this.#o.responseWaitTimeMs,
        // Identity pull has the same waits as block pull: fixed ones tuned for 1 ms links end before a digest
        // comes back over longer ones, and an identity missed at start would then never be learned.
        followRtt: this.#o.pullWaitsFollowRtt === true,
      },
    );
    this.#comm.accept(
      (m) => {
        const g = m.message.message;
        return !isConnEstablish(g) && !isEmptyMsg(g) && !isPrivateDataMsg(g);
      },
      (m) => this.#handleMessage(m),
    );
    this.#comm.onPresumedDead((pkiId) => this.#log.debug("peer presumed dead", { pkiId: pkiHex(pkiId) }));
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#comm.start();
    await this.#idMapper.start();
    await this.#certStore.start();
    await this.#emitter.start();
    await this.#discovery.start();
    // Channels joined before start() start now; later ones start as they are joined.
    for (const gc of this.#channels.values()) await gc.start();
    this.#scheduleSync();
    if (this.#o.startupSync === true) this.#scheduleStartupSync(0);
    this.#connectToBootstrapPeers();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#syncTimer?.cancel();
    this.#startupSyncTimer?.cancel();
    for (const gc of this.#channels.values()) await gc.stop();
    await this.#discovery.stop();
    await this.#emitter.stop();
    await this.#certStore.stop();
    this.#stateInfoStore.stop();
    await this.#idMapper.stop();
    await this.#comm.stop();
    this.#subscribers.clear();
    this.#discoveryHandlers.clear();
  }

  // ------------------------------------------------------------------ API

  pkiId(): PKIidType {
    return this.#pkiId;
  }

  /** The comm underneath (connection stats, tests). */
  comm(): Comm {
    return this.#comm;
  }

  send(msg: GossipMessage, ...peers: RemotePeer[]): void {
    this.#comm.send(SignedGossipMessage.noopSign(msg), ...peers);
  }

  async sendByCriteria(msg: GossipMessage, criteria: SendCriteria): Promise<void> {
    if (criteria.maxPeers === 0) return;
    if (criteria.timeoutMs <= 0) throw new GossipNodeError("BAD_CRITERIA", "Timeout should be specified");
    let membership: readonly NetworkMember[] = this.#discovery.membershipView();
    if (criteria.channel !== undefined && criteria.channel !== "") {
      const gc = this.#channels.get(criteria.channel);
      if (gc === undefined) throw new GossipNodeError("NO_SUCH_CHANNEL", `requested to send for channel ${criteria.channel}, but no such channel exists`);
      membership = gc.getPeers();
    }
    const peers = selectPeers(criteria.maxPeers, membership, criteria.isEligible ?? selectAll, this.#c.random);
    if (peers.length < criteria.minAck) {
      throw new GossipNodeError("NOT_ENOUGH_PEERS", `requested to send to at least ${criteria.minAck} peers, but know only of ${peers.length} suitable peers`);
    }
    const result = await this.#comm.sendWithAck(SignedGossipMessage.noopSign(msg), criteria.timeoutMs, criteria.minAck, ...peers);
    if (result.ackCount < criteria.minAck) {
      throw new GossipNodeError("NOT_ENOUGH_ACKS", `${result.ackCount} of the required ${criteria.minAck} peers acknowledged: ${result.results.map((r) => r.error).filter(Boolean).join("; ")}`);
    }
  }

  peers(): NetworkMember[] {
    return this.#stopped ? [] : this.#discovery.getMembership();
  }

  peersOfChannel(channel: string): NetworkMember[] {
    return this.#channels.get(channel)?.getPeers() ?? [];
  }

  /** Whether `pkiId` is one of `peersOfChannel(channel)`, without building them. Not in Fabric. */
  isPeerOfChannel(channel: string, pkiId: PKIidType): boolean {
    return this.#channels.get(channel)?.hasPeer(pkiId) ?? false;
  }

  updateMetadata(metadata: Uint8Array): void {
    this.#discovery.updateMetadata(metadata);
  }

  updateLedgerHeight(height: bigint, channel: string): void {
    const gc = this.#channels.get(channel);
    if (gc === undefined) this.#log.warn("no such channel to update the ledger height of", { channel });
    else gc.updateLedgerHeight(height);
  }

  updateChaincodes(chaincodes: Parameters<GossipChannel["updateChaincodes"]>[0], channel: string): void {
    const gc = this.#channels.get(channel);
    if (gc === undefined) this.#log.warn("no such channel to update the chaincodes of", { channel });
    else gc.updateChaincodes(chaincodes);
  }

  gossip(msg: GossipMessage): void {
    const illegal = checkTagLegal(msg);
    if (illegal !== undefined) throw new GossipNodeError("ILLEGAL_TAG", `refusing to gossip a message with an illegal tag: ${illegal}`);
    const signed = isDataMsg(msg) ? SignedGossipMessage.noopSign(msg) : SignedGossipMessage.sign(msg, (b) => this.#c.mcs.sign(b));
    if (isChannelRestricted(msg)) {
      const channel = fromUtf8(msg.channel);
      const gc = this.#channels.get(channel);
      if (gc === undefined) {
        this.#log.warn("not gossiping a message of a channel we are not in", { channel });
        return;
      }
      if (isDataMsg(msg)) gc.addToMsgStore(signed);
    }
    if (this.#o.propagateIterations === 0) return;
    this.#emitter.add({ msg: signed, filter: SEND_TO_ALL });
  }

  peerFilter(channel: string, criteria: SubChannelSelectionCriteria): RoutingFilter<NetworkMember> {
    const gc = this.#channels.get(channel);
    if (gc === undefined) throw new GossipNodeError("NO_SUCH_CHANNEL", `channel ${channel} does not exist`);
    return gc.peerFilter(criteria);
  }

  accept(acceptor: (msg: GossipMessage) => boolean, handler: (msg: GossipMessage) => void): () => void {
    const sub = { acceptor, handler };
    this.#subscribers.add(sub);
    return () => this.#subscribers.delete(sub);
  }

  acceptPassThrough(acceptor: (msg: ReceivedMessage) => boolean, handler: (msg: ReceivedMessage) => void): () => void {
    return this.#comm.accept(acceptor, handler);
  }

  joinChan(joinMsg: JoinChannelMessage, channel: string): void {
    let gc = this.#channels.get(channel);
    if (gc === undefined) {
      gc = createGossipChannel(
        {
          pkiId: this.#pkiId,
          org: this.#selfOrg,
          channelId: channel,
          adapter: this.#channelAdapter(),
          joinMsg,
          clock: this.#c.clock,
          random: this.#c.random,
          logger: this.#c.logger,
          metrics: this.#c.metrics,
          events: this.#events,
          mcs: this.#c.mcs,
        },
        {
          publishStateInfoIntervalMs: this.#o.publishStateInfoIntervalMs,
          maxBlockCountToStore: this.#o.maxBlockCountToStore,
          pullPeerNum: this.#o.pullPeerNum,
          pullIntervalMs: this.#o.pullIntervalMs,
          requestStateInfoIntervalMs: this.#o.requestStateInfoIntervalMs,
          blockExpirationIntervalMs: this.#o.pullIntervalMs * 100,
          stateInfoCacheSweepIntervalMs: this.#o.pullIntervalMs * 5,
          timeForMembershipTrackerMs: this.#o.membershipTrackerIntervalMs,
          digestWaitTimeMs: this.#o.digestWaitTimeMs,
          requestWaitTimeMs: this.#o.requestWaitTimeMs,
          responseWaitTimeMs: this.#o.responseWaitTimeMs,
          leaderMsgExpirationTimeoutMs: this.#o.leaderAliveThresholdMs * 10,
          ...(this.#o.comm.maxMessageSize !== undefined ? { maxMessageBytes: this.#o.comm.maxMessageSize } : {}),
          blockPullIntervalMs: this.#o.blockPullIntervalMs,
          pullWaitsFollowRtt: this.#o.pullWaitsFollowRtt === true,
          stateInfoPullWhenMissing: this.#o.stateInfoPullWhenMissing === true,
        },
      );
      this.#channels.set(channel, gc);
      if (this.#started && !this.#stopped) void gc.start().catch((err: unknown) => this.#log.error("channel failed to start", { channel, error: errorMessage(err) }));
    } else {
      gc.configureChannel(joinMsg);
    }
    const anchors = new Set<string>();
    for (const org of joinMsg.members()) {
      for (const ap of joinMsg.anchorPeersOf(org)) anchors.add(`${ap.host}:${ap.port}`);
      this.#learnAnchorPeers(channel, org, joinMsg.anchorPeersOf(org));
    }
    this.#anchorEndpoints.set(channel, anchors);
  }

  leaveChan(channel: string): void {
    const gc = this.#channels.get(channel);
    if (gc === undefined) this.#log.warn("no such channel to leave", { channel });
    else gc.leaveChannel();
  }

  suspectPeers(isSuspected: (identity: PeerIdentityType) => boolean): void {
    this.#idMapper.suspectPeers((identity) => isSuspected(identity));
  }

  identityInfo(): PeerIdentityInfo[] {
    return this.#idMapper.identityInfo();
  }

  isInMyOrg(member: Pick<NetworkMember, "pkiId">): boolean {
    if (member.pkiId.byteLength === 0) return false;
    const org = this.#orgOf(member.pkiId);
    return org.byteLength > 0 && bytesEqual(org, this.#selfOrg);
  }

  selfMembershipInfo(): NetworkMember {
    return this.#discovery.self();
  }

  channels(): string[] {
    return [...this.#channels.keys()];
  }

  /** The organization of a peer we hold the identity of, or empty. */
  orgOfPeer(pkiId: PKIidType): OrgIdentityType {
    return this.#orgOf(pkiId);
  }

  /** Dead members as discovery knows them. */
  deadMembers(): NetworkMember[] {
    return this.#stopped ? [] : this.#discovery.getDeadMembers();
  }

  // ------------------------------------------------------------------ receiving

  #handleMessage(m: ReceivedMessage): void {
    if (this.#stopped) return;
    // The connection's PKI-ID was proven in its handshake: that member exists (routing prefers such members).
    this.#discovery.heardFrom(m.connectionInfo.id);
    const msg = m.message.message;
    const illegal = checkTagLegal(msg);
    if (illegal !== undefined) {
      this.#reject("ILLEGAL_TAG", m, illegal, true);
      return;
    }
    if (isChannelRestricted(msg)) {
      const gc = this.#channelForMessage(m);
      if (gc === undefined) {
        // Not in the channel: still pass on StateInfo from our own org (dedupe before verifying).
        if (isStateInfoMsg(msg) && this.isInMyOrg({ pkiId: m.connectionInfo.id }) && this.#stateInfoStore.checkValid(m.message)) {
          if (!this.#validateStateInfo(m.message)) {
            this.#reject("BAD_STATE_INFO", m, "StateInfo signature does not verify");
            return;
          }
          if (this.#stateInfoStore.add(m.message)) this.#emitter.add({ msg: m.message, filter: notSender(m) });
        }
        return;
      }
      if (isLeadershipMsg(msg) && !this.#validateLeadership(m.message)) {
        this.#reject("BAD_LEADERSHIP", m, "leadership message signature does not verify");
        return;
      }
      gc.handleMessage(m);
      return;
    }
    if (isAliveMsg(msg) || isMembershipRequest(msg) || isMembershipResponse(msg)) {
      if (msg.content?.$case === "memReq") {
        const self = msg.content.value.selfInformation;
        let claimed: Uint8Array | undefined;
        try {
          const inner = self === undefined ? undefined : SignedGossipMessage.fromEnvelope(self);
          const c = inner?.message.content;
          claimed = c?.$case === "aliveMsg" ? c.value.membership?.pkiId : undefined;
        } catch {
          claimed = undefined;
        }
        if (claimed === undefined || !bytesEqual(claimed, m.connectionInfo.id)) {
          this.#reject("SPOOFED_MEMBERSHIP_REQUEST", m, "membership request whose self information is not the sender's", true);
          return;
        }
      }
      for (const h of this.#discoveryHandlers) h(m);
      return;
    }
    if (isPullMsg(msg) && getPullMsgType(msg) === PullMsgType.IDENTITY_MSG) {
      this.#certStore.handleMessage(m);
    }
  }

  /** Fabric's lookupChannelForMsg: StateInfo and its pull request by MAC, the rest by name. */
  #channelForMessage(m: ReceivedMessage): GossipChannel | undefined {
    const msg = m.message.message;
    if (isStateInfoPullRequestMsg(msg) && msg.content?.$case === "stateInfoPullReq") {
      return this.#channelByMAC(msg.content.value.channelMAC, m.connectionInfo.id);
    }
    return this.#channelForGossipMessage(m.message);
  }

  #channelForGossipMessage(sgm: SignedGossipMessage): GossipChannel | undefined {
    const c = sgm.message.content;
    if (c?.$case === "stateInfo") return this.#channelByMAC(c.value.channelMAC, c.value.pkiId);
    return this.#channels.get(fromUtf8(sgm.message.channel));
  }

  #channelByMAC(mac: Uint8Array, pkiId: PKIidType): GossipChannel | undefined {
    for (const [name, gc] of this.#channels) if (bytesEqual(generateMAC(pkiId, name), mac)) return gc;
    return undefined;
  }

  #validateStateInfo(sgm: SignedGossipMessage): boolean {
    const c = sgm.message.content;
    return c?.$case === "stateInfo" && this.#verifiedBy(c.value.pkiId, sgm);
  }

  #validateLeadership(sgm: SignedGossipMessage): boolean {
    const c = sgm.message.content;
    return c?.$case === "leadershipMsg" && c.value.pkiId.byteLength > 0 && this.#verifiedBy(c.value.pkiId, sgm);
  }

  /** Whether `sgm` is signed by the identity we hold for `pkiId`. */
  #verifiedBy(pkiId: PKIidType, sgm: SignedGossipMessage): boolean {
    const identity = this.#idMapper.get(pkiId);
    if (identity === undefined) return false;
    try {
      sgm.verify(identity, (id, sig, data) => this.#c.mcs.verify(id, sig, data));
      return true;
    } catch {
      return false;
    }
  }

  // ------------------------------------------------------------------ sending

  #gossipBatch(batch: EmittedMessage[]): void {
    if (this.#stopped) return;
    // One batch is routed synchronously against one membership view, lent by discovery: no copy per batch
    // (it was O(members) allocations), nor at the view's next change.
    this.#discovery.readMembership((members) =>
      routeBatch(batch, {
        selfOrg: this.#selfOrg,
        propagatePeerNum: this.#o.propagatePeerNum,
        random: this.#c.random,
        logger: this.#log,
        membership: () => members,
        orgOf: (p) => this.#orgOf(p),
        hasExternalEndpoint: (p) => this.#hasExternalEndpoint(p),
        channel: (id) => this.#channels.get(id),
        channelOfStateInfo: (sgm) => this.#channelForGossipMessage(sgm),
        send: (msg, peers) => {
          if (peers.length > 0) this.#comm.send(msg, ...peers);
        },
        ...(this.#preferDirect(members) ? { heardDirectly: (m: NetworkMember) => this.#discovery.heardDirectly(m.pkiId) } : {}),
      }),
    );
  }

  /**
   * Whether routing prefers members heard from directly now: only while members known only second-hand
   * outnumber the others more than SECOND_HAND_RATIO to 1 (a liar's invented members; a peer that just
   * joined). Otherwise Fabric's uniform choice: biasing a settled network's gossip toward part of it slows
   * membership (a fanout of 2 over long-tail links took 56 s instead of 21 s to converge). Recounted at
   * most every PREFERENCE_RECOUNT_MS (an O(members) walk).
   */
  #preferDirect(members: readonly NetworkMember[]): boolean {
    if (this.#o.preferDirectMembers === false) return false;
    const now = this.#c.clock.monotonic();
    // At once when the view grew by a quarter (a response of invented members lands in slices, turn by turn).
    const grew = members.length > this.#preferCountedSize + Math.max(8, this.#preferCountedSize / 4);
    if (grew || now - this.#preferCountedAt >= PREFERENCE_RECOUNT_MS) {
      this.#preferCountedAt = now;
      this.#preferCountedSize = members.length;
      let direct = 0;
      for (const m of members) if (this.#discovery.heardDirectly(m.pkiId)) direct++;
      this.#preferActive = members.length - direct > SECOND_HAND_RATIO * Math.max(1, direct);
    }
    return this.#preferActive;
  }

  #scheduleSync(): void {
    if (this.#stopped) return;
    this.#syncTimer = this.#c.clock.setTimeout(() => {
      this.#discovery.initiateSync(this.#o.pullPeerNum);
      this.#scheduleSync();
    }, this.#o.pullIntervalMs);
  }

  /**
   * startupSync (ours): at start a peer knows only what its bootstrap and anchor peers knew when it asked,
   * and Fabric's first sync and alive message come after pullInterval and aliveTimeInterval. These early
   * syncs ask a member of each org known (only that org's peers, or our org-mates, may tell us of its
   * members: the disclosure policy), and the first STARTUP_ALIVES also gossip our alive message, so that
   * peers that started before us learn of us. Each also publishes our channels' StateInfo if it changed.
   */
  #scheduleStartupSync(step: number): void {
    const atMs = STARTUP_SYNC_AT_MS[step];
    if (this.#stopped || atMs === undefined || atMs >= this.#o.pullIntervalMs) return;
    const sinceLast = atMs - (STARTUP_SYNC_AT_MS[step - 1] ?? 0);
    this.#startupSyncTimer = this.#c.clock.setTimeout(() => {
      this.#startupSyncTimer = undefined;
      this.#discovery.initiateSync(0, { eachOrg: true, withAlive: step < STARTUP_ALIVES });
      // Our StateInfo too (it waits for publishStateInfoInterval otherwise): a joined peer is a channel member to others once they
      // hold it. Not before our alive messages went out: peers refuse a StateInfo whose sender's identity they lack. And again,
      // unchanged, at some later syncs, for those who lacked it then (a push reaches about 80 % of peers with a fanout of 2).
      if (step >= STARTUP_ALIVES) {
        const orAgain = STARTUP_STATE_INFO_AGAIN_AT_MS.includes(atMs);
        for (const gc of this.#channels.values()) gc.publishStateInfoIfChanged({ orAgain });
      }
      this.#scheduleStartupSync(step + 1);
    }, sinceLast);
  }

  #connectToBootstrapPeers(): void {
    for (const endpoint of this.#o.bootstrapPeers) {
      const identifier: Identifier = async () => {
        const identity = await this.#comm.handshake({ endpoint, pkiId: EMPTY });
        const sameOrg = bytesEqual(this.#selfOrg, this.#c.securityAdvisor.orgByPeerIdentity(identity));
        if (!sameOrg) throw new GossipNodeError("BOOTSTRAP_OTHER_ORG", `${endpoint} isn't in our organization, cannot be a bootstrap peer`);
        return { id: this.#c.mcs.getPKIidOfCert(identity), selfOrg: true };
      };
      this.#discovery.connect({ endpoint, internalEndpoint: endpoint, pkiId: EMPTY, metadata: EMPTY }, identifier);
    }
  }

  #learnAnchorPeers(channel: string, org: OrgIdentityType, anchors: { host: string; port: number }[]): void {
    const self = { endpoint: this.#o.externalEndpoint, internal: this.#o.internalEndpoint };
    for (const ap of anchors) {
      if (ap.host === "" || ap.port === 0) {
        this.#log.warn("got an invalid anchor peer", { channel, host: ap.host, port: ap.port });
        continue;
      }
      const endpoint = `${ap.host}:${ap.port}`;
      if (endpoint === self.endpoint || endpoint === self.internal) continue;
      const inOurOrg = bytesEqual(this.#selfOrg, org);
      if (!inOurOrg && self.endpoint === "") {
        this.#log.info("anchor peer of another org, and we have no external endpoint: skipping", { channel, endpoint });
        continue;
      }
      const identifier: Identifier = async () => {
        const identity = await this.#comm.handshake({ endpoint, pkiId: EMPTY });
        const anchorInMyOrg = bytesEqual(this.#selfOrg, this.#c.securityAdvisor.orgByPeerIdentity(identity));
        if (inOurOrg && !anchorInMyOrg) throw new GossipNodeError("ANCHOR_ORG_MISMATCH", `anchor peer ${endpoint} isn't in our org, but is claimed to be`);
        return { id: this.#c.mcs.getPKIidOfCert(identity), selfOrg: anchorInMyOrg };
      };
      this.#discovery.connect({ endpoint, internalEndpoint: endpoint, pkiId: EMPTY, metadata: EMPTY }, identifier);
    }
  }

  // ------------------------------------------------------------------ adapters

  #discoveryComm(): CommService {
    return {
      gossip: (msg) => {
        if (!this.#stopped) this.#emitter.add({ msg, filter: SEND_TO_ALL });
      },
      forward: (m) => {
        if (!this.#stopped) this.#emitter.add({ msg: m.message, filter: notSender(m) });
      },
      sendToPeer: (peer, msg) => {
        if (this.#stopped) return;
        const remote = { endpoint: preferredEndpoint(peer), pkiId: peer.pkiId };
        const c = msg.message.content;
        if (c?.$case === "memReq" && peer.pkiId.byteLength > 0 && c.value.selfInformation !== undefined) {
          // Apply the disclosure policy's envelope filter to our own alive message in the request.
          const self = SignedGossipMessage.fromEnvelope(c.value.selfInformation);
          const filtered = this.#disclosurePolicy(peer).envelopeFilter(self);
          this.#comm.send(SignedGossipMessage.noopSign({ ...msg.message, content: { $case: "memReq", value: { ...c.value, selfInformation: filtered } } }), remote);
          return;
        }
        this.#comm.send(msg, remote);
      },
      ping: async (peer) => {
        try {
          await this.#comm.probe({ endpoint: preferredEndpoint(peer), pkiId: peer.pkiId });
          return true;
        } catch {
          return false;
        }
      },
      accept: (handler) => {
        this.#discoveryHandlers.add(handler);
        return () => this.#discoveryHandlers.delete(handler);
      },
      onPresumedDead: (listener) => this.#comm.onPresumedDead(listener),
      onIdentitySwitch: (listener) => this.#comm.onIdentitySwitch(listener),
      closeConn: (peer) => this.#comm.closeConn({ endpoint: preferredEndpoint(peer), pkiId: peer.pkiId }),
      reportMisbehaviour: (pkiId, code) => this.#comm.reportMisbehaviour(pkiId, code),
    };
  }

  /** Fabric's disclosurePolicy: which alive messages a remote peer may learn, and without secrets outside our org. */
  readonly #disclosurePolicy: DisclosurePolicy = (remote) => {
    const remoteOrg = this.#orgOf(remote.pkiId);
    if (remoteOrg.byteLength === 0) {
      return { sieve: () => false, envelopeFilter: (m) => m.envelope };
    }
    const sameOrgAsUs = bytesEqual(this.#selfOrg, remoteOrg);
    return {
      sieve: (m) => {
        const c = m.message.content;
        if (c?.$case !== "aliveMsg" || c.value.membership === undefined) return false;
        const org = this.#orgOf(c.value.membership.pkiId);
        if (org.byteLength === 0) return false;
        const fromRemoteOrg = bytesEqual(remoteOrg, org);
        const fromMyOrg = bytesEqual(this.#selfOrg, org);
        if (!(fromRemoteOrg || fromMyOrg)) return false;
        return fromRemoteOrg || (c.value.membership.endpoint !== "" && remote.endpoint !== "");
      },
      envelopeFilter: (m) => (sameOrgAsUs ? m.envelope : { ...m.envelope, secretEnvelope: undefined }),
    };
  };

  #channelAdapter() {
    return {
      sign: (msg: GossipMessage) => SignedGossipMessage.sign(msg, (b) => this.#c.mcs.sign(b)),
      gossip: (msg: SignedGossipMessage) => {
        if (this.#stopped) return;
        if (isStateInfoMsg(msg.message)) this.#stateInfoStore.add(msg);
        this.#emitter.add({ msg, filter: SEND_TO_ALL });
      },
      forward: (m: ReceivedMessage) => {
        if (!this.#stopped) this.#emitter.add({ msg: m.message, filter: notSender(m) });
      },
      deMultiplex: (msg: SignedGossipMessage) => {
        for (const s of this.#subscribers) {
          try {
            if (s.acceptor(msg.message)) s.handler(msg.message);
          } catch (err) {
            this.#log.error("subscriber failed", { error: errorMessage(err) });
          }
        }
      },
      getMembership: () => this.#discovery.getMembership(),
      isAlive: (pkiId: PKIidType) => this.#discovery.isAlive(pkiId),
      lookup: (pkiId: PKIidType) => this.#discovery.lookup(pkiId),
      send: (msg: SignedGossipMessage, ...peers: RemotePeer[]) => this.#comm.send(msg, ...peers),
      validateStateInfoMessage: (msg: SignedGossipMessage) => this.#validateStateInfo(msg),
      getOrgOfPeer: (pkiId: PKIidType) => this.#orgOf(pkiId),
      getIdentityByPKIID: (pkiId: PKIidType) => this.#idMapper.get(pkiId),
    };
  }

  /** Which identities a pull requester may learn (Fabric's sameOrgOrOurOrgPullFilter). */
  #identityEgressFilter(hello: ReceivedMessage): (item: string) => boolean {
    const peersOrg = this.#c.securityAdvisor.orgByPeerIdentity(hello.connectionInfo.identity);
    if (peersOrg.byteLength === 0) return () => false;
    if (bytesEqual(this.#selfOrg, peersOrg)) return () => true;
    return (item) => {
      // Items are the hex of PKI-IDs we hold identities of: the mapper's array (stable) over a new one.
      const pkiId = this.#idMapper.pkiIdOf(item as PkiHex) ?? Uint8Array.from(Buffer.from(item, "hex"));
      const org = this.#orgOf(pkiId);
      if (org.byteLength === 0 || !this.#hasExternalEndpoint(pkiId)) return false;
      return bytesEqual(org, this.#selfOrg) || bytesEqual(org, peersOrg);
    };
  }

  // ------------------------------------------------------------------ helpers

  /**
   * Fabric's getOrgOfPeer (the advisor's org of idMapper.Get(pkiId)). The mapper stored the advisor's
   * answer with the identity: routing asks this for every member it considers, and deserializing
   * the identity each time was a tenth of a large simulation's time.
   */
  #orgOf(pkiId: PKIidType): OrgIdentityType {
    return this.#idMapper.orgOf(pkiId) ?? EMPTY;
  }

  #hasExternalEndpoint(pkiId: PKIidType): boolean {
    if (bytesEqual(pkiId, this.#pkiId)) return this.#o.externalEndpoint !== "";
    return (this.#discovery.endpointOf(pkiId) ?? "") !== "";
  }

  #putIdentity(pkiId: PKIidType, identity: PeerIdentityType): void {
    try {
      this.#idMapper.put(pkiId, identity);
    } catch (err) {
      this.#log.debug("identity not stored", { pkiId: pkiHex(pkiId), error: errorMessage(err) });
    }
  }

  /** `misbehaviour`: no honest peer sends such a message; comm counts it against the sender. */
  #reject(reason: string, m: ReceivedMessage, detail: string, misbehaviour = false): void {
    this.#metrics.rejected.inc({ reason });
    if (misbehaviour) this.#comm.reportMisbehaviour(m.connectionInfo.id, reason);
    this.#events.emit({ kind: "message-rejected", component: "node", code: reason });
    this.#warn.warn(`${reason} ${pkiHex(m.connectionInfo.id)}`, `dropping a message: ${detail}`, { reason, from: m.connectionInfo.endpoint });
  }
}

function notSender(m: ReceivedMessage): (pkiId: PKIidType) => boolean {
  const sender = m.connectionInfo.id;
  return (p) => !bytesEqual(p, sender);
}

/** Creates a gossip node (Fabric's gossip.New). */
export function createGossipNode(
  components: GossipNodeComponents,
  options: Partial<GossipNodeOptions> & Pick<GossipNodeOptions, "internalEndpoint">,
): GossipNode {
  return new GossipNodeImpl(components, options);
}
