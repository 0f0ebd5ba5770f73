import { NO_EVENTS, type PeerEventSink, type OrgIdentityType, type PKIidType, pkiHex } from "../../api/index.js";
import type { NetworkMember } from "../../discovery/index.js";
import { type LogFields, type Logger, RateLimitedLog, silentLogger } from "../../logging/index.js";
import {
  createGossipMessageComparator,
  type GossipMessageOf,
  getPullMsgType,
  isChannelRestricted,
  isDataMsg,
  isDataUpdate,
  isLeadershipMsg,
  isPullMsg,
  isStateInfoMsg,
  isStateInfoPullRequestMsg,
  isStateInfoSnapshot,
  parseBlockDigest,
  peekStateInfoPkiId,
  type ReceivedMessage,
  SignedGossipMessage,
} from "../../protoext/index.js";
import { Block } from "../../protos/gen/common/common.pb.js";
import {
  type Chaincode,
  type DataDigest,
  type Envelope,
  type GossipMessage,
  GossipMessage_Tag,
  PullMsgType,
} from "../../protos/gen/gossip/message.pb.js";
import { bytesEqual, type Clock, errorMessage, fromUtf8, type Random, type TimerHandle, utf8 } from "../../util/index.js";
import { type RoutingFilter, selectPeers } from "../filter/index.js";
import { createMessageStore, type MessageStore } from "../msgstore/index.js";
import { createPullMediator, type PullMediator } from "../pull/index.js";
import { resolveChannelConfig } from "./config.js";
import { ChannelError, type ChannelRejectReason } from "./errors.js";
import {
  type ChannelAdapter,
  type ChannelConfig,
  type ChannelCryptoService,
  type GossipChannel,
  type GossipChannelComponents,
  type JoinChannelMessage,
  STATE_INFO_REFRESH_ROUNDS,
  type SubChannelSelectionCriteria,
} from "./interface.js";
import { generateMAC } from "./mac.js";
import { MembershipTracker } from "./membership-tracker.js";
import { type ChannelMetrics, createChannelMetrics } from "./metrics.js";
import { StateInfoCache, stateInfoOf } from "./state-info-cache.js";

const EMPTY = new Uint8Array(0);

type StateInfoMessage = GossipMessageOf<"stateInfo">;

/** The pull item ID of a block: its decimal sequence number; "" for anything else (as Fabric's `seqNumFromMsg`). */
function blockItemId(msg: SignedGossipMessage): string {
  const content = msg.message.content;
  if (content?.$case !== "dataMsg" || content.value.payload === undefined) return "";
  return content.value.payload.seqNum.toString(10);
}

/** Whether two envelopes carry the same signed payload (the secret envelope is not part of a StateInfo). */
function sameEnvelope(a: Envelope, b: Envelope): boolean {
  return bytesEqual(a.signature, b.signature) && bytesEqual(a.payload, b.payload);
}

function hexOrEmpty(bytes: Uint8Array): string {
  return bytes.byteLength === 0 ? "<none>" : pkiHex(bytes);
}

/**
 * Creates the per-channel state of a gossip node (Fabric's `channel.NewGossipChannel`). The initial
 * StateInfo (height 1) is signed here and `joinMsg` applied; nothing periodic runs before `start()`,
 * except the expiration checks of the block and leadership stores, which (as in Fabric) run from
 * creation until `stop()`. Throws when the initial StateInfo cannot be signed or the config is invalid.
 */
export function createGossipChannel(components: GossipChannelComponents, config: Partial<ChannelConfig> = {}): GossipChannel {
  return new GossipChannelImpl(components, resolveChannelConfig(config));
}

/** Fabric's `gossipChannel` (gossip/gossip/channel/channel.go). */
export class GossipChannelImpl implements GossipChannel {
  readonly channelId: string;
  readonly #channelBytes: Uint8Array;
  readonly #pkiId: PKIidType;
  readonly #selfOrg: OrgIdentityType;
  readonly #adapter: ChannelAdapter;
  readonly #mcs: ChannelCryptoService;
  readonly #clock: Clock;
  readonly #events: PeerEventSink;
  readonly #random: Random;
  readonly #logger: Logger;
  readonly #badInput: RateLimitedLog;
  readonly #metrics: ChannelMetrics;
  readonly #config: ChannelConfig;

  /** Channel object creation time in Unix ns: the inc_num of our StateInfo. */
  readonly #incTime: bigint;
  #lastSeqNum = 0n;
  #selfStateInfoMsg!: StateInfoMessage;
  #selfStateInfoSignedMsg!: SignedGossipMessage;
  #ledgerHeight = 0n;
  /** Fabric's `shouldGossipStateInfo`: our StateInfo changed since it was last published. */
  #dirty = false;
  /** Whether our StateInfo was ever gossiped (publishStateInfoIfChanged's orAgain resends only such). */
  #selfStateInfoGossiped = false;
  /** StateInfo pull rounds skipped in a row (stateInfoPullWhenMissing). */
  #stateInfoRoundsSkipped = 0;
  #leftChannel = false;
  #orgs: OrgIdentityType[] = [];
  #joinMsg: JoinChannelMessage | undefined;

  readonly #blocksPuller: PullMediator;
  readonly #blockMsgStore: MessageStore<SignedGossipMessage>;
  readonly #stateInfoCache: StateInfoCache;
  readonly #leaderMsgStore: MessageStore<SignedGossipMessage>;
  readonly #membershipTracker: MembershipTracker;
  readonly #stateInfoRequest: SignedGossipMessage;

  #publishTimer: TimerHandle | undefined;
  #requestTimer: TimerHandle | undefined;
  #started = false;
  #stopped = false;

  constructor(components: GossipChannelComponents, config: ChannelConfig) {
    this.channelId = components.channelId;
    this.#channelBytes = utf8(components.channelId);
    this.#pkiId = components.pkiId;
    this.#selfOrg = components.org;
    this.#adapter = components.adapter;
    this.#mcs = components.mcs;
    this.#events = components.events ?? NO_EVENTS;
    this.#clock = components.clock;
    this.#random = components.random;
    this.#config = config;
    this.#logger = (components.logger ?? silentLogger).child("gossip.channel", { channel: components.channelId });
    this.#badInput = new RateLimitedLog(this.#logger, components.clock);
    this.#metrics = createChannelMetrics(components.metrics);
    this.#incTime = components.clock.nowNs();

    this.#blocksPuller = this.#createBlockPuller();
    const removeFromPuller = (msg: SignedGossipMessage): void => {
      const id = blockItemId(msg);
      this.#logger.debug("removing block from the message store", { seq: id });
      this.#blocksPuller.remove(id);
    };
    this.#blockMsgStore = createMessageStore(createGossipMessageComparator(config.maxBlockCountToStore), removeFromPuller, {
      ttlMs: config.blockExpirationIntervalMs,
      clock: components.clock,
      onExpire: removeFromPuller,
      logger: this.#logger,
    });

    this.#stateInfoCache = new StateInfoCache({
      verify: (msg, orgs) => this.#verifyStateInfoMsg(msg, orgs),
      hasExpired: (msg) => this.#adapter.lookup(stateInfoOf(msg)?.pkiId ?? EMPTY) === undefined,
      clock: components.clock,
      sweepIntervalMs: config.stateInfoCacheSweepIntervalMs,
      logger: this.#logger,
    });

    // A plain StateInfo at creation, so that every field is populated; signed, not gossiped.
    this.#updateProperties(1n, [], false);
    const signed = this.#setupSignedStateInfoMessage();
    if (signed === undefined) {
      this.#blockMsgStore.stop();
      throw new ChannelError("SIGN_FAILED", `channel ${components.channelId}: cannot sign the initial StateInfo message; check the peer's signing identity`);
    }

    this.#leaderMsgStore = createMessageStore(createGossipMessageComparator(0), undefined, {
      ttlMs: config.leaderMsgExpirationTimeoutMs,
      clock: components.clock,
      logger: this.#logger,
    });

    this.#stateInfoRequest = SignedGossipMessage.noopSign({
      nonce: 0n,
      channel: EMPTY,
      tag: GossipMessage_Tag.CHAN_OR_ORG,
      content: { $case: "stateInfoPullReq", value: { channelMAC: generateMAC(this.#pkiId, this.channelId) } },
    });

    this.configureChannel(components.joinMsg);

    this.#membershipTracker = new MembershipTracker({
      getPeersToTrack: () => this.getPeers(),
      report: (line) => this.#logger.info(`[${this.channelId}] ${line}`),
      setTotal: (total) => this.#metrics.totalPeersKnown.set({ channel: this.channelId }, total),
      onError: (message) => this.#logger.error("membership tracker tick failed", { error: message }),
      clock: components.clock,
      intervalMs: config.timeForMembershipTrackerMs,
    });
  }

  // ---- lifecycle ----

  async start(): Promise<void> {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#schedulePublish();
    this.#scheduleRequest();
    this.#stateInfoCache.start();
    this.#membershipTracker.start();
    await this.#blocksPuller.start();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#publishTimer?.cancel();
    this.#publishTimer = undefined;
    this.#requestTimer?.cancel();
    this.#requestTimer = undefined;
    this.#membershipTracker.stop();
    this.#stateInfoCache.stop();
    this.#leaderMsgStore.stop();
    this.#blockMsgStore.stop();
    await this.#blocksPuller.stop();
  }

  #schedulePublish(): void {
    if (this.#stopped) return;
    this.#publishTimer = this.#clock.setTimeout(() => {
      this.#publishTimer = undefined;
      this.#guard("publish StateInfo", () => this.#publishStateInfo());
      this.#schedulePublish();
    }, this.#config.publishStateInfoIntervalMs);
  }

  #scheduleRequest(): void {
    if (this.#stopped) return;
    this.#requestTimer = this.#clock.setTimeout(() => {
      this.#requestTimer = undefined;
      this.#guard("request StateInfo", () => this.#requestStateInfo());
      this.#scheduleRequest();
    }, this.#config.requestStateInfoIntervalMs);
  }

  #guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#logger.error(`failed to ${what}`, { error: errorMessage(err) });
    }
  }

  // ---- our StateInfo ----

  self(): SignedGossipMessage {
    return this.#selfStateInfoSignedMsg;
  }

  updateLedgerHeight(height: bigint): void {
    const props = this.#selfStateInfoMsg.content.value.properties;
    this.#updateProperties(height, props?.chaincodes ?? [], props?.leftChannel ?? false);
    this.#dirty = true;
  }

  publishStateInfoIfChanged(options: { orAgain?: boolean } = {}): void {
    if (this.#stopped) return;
    this.#guard("publish StateInfo", () => {
      if (this.#dirty || options.orAgain !== true) {
        this.#publishStateInfo();
        return;
      }
      // Unchanged: the same signed message again (holders drop it as a duplicate), if it went out before.
      if (this.#selfStateInfoGossiped && this.#adapter.getMembership().length > 0) this.#adapter.gossip(this.#selfStateInfoSignedMsg);
    });
  }

  updateChaincodes(chaincodes: Chaincode[]): void {
    // Always published at once, even with nobody to send it to: the node needs it for discovery queries.
    const props = this.#selfStateInfoMsg.content.value.properties;
    this.#updateProperties(props?.ledgerHeight ?? 1n, chaincodes, props?.leftChannel ?? false);
    this.#dirty = true;
    this.#publishSignedStateInfoMessage();
  }

  leaveChannel(): void {
    this.#leftChannel = true;
    const props = this.#selfStateInfoMsg.content.value.properties;
    this.#updateProperties(props?.ledgerHeight ?? 0n, props?.chaincodes ?? [], true);
    this.#dirty = true;
  }

  /**
   * Rebuilds our StateInfo (Fabric's `updateProperties`). seq_num is the clock in Unix ns; departure
   * from Fabric: it is kept strictly increasing, so two rebuilds at the same virtual instant still
   * produce a newer message (time.Now() never repeats in Go, a virtual clock can).
   */
  #updateProperties(ledgerHeight: bigint, chaincodes: Chaincode[], leftChannel: boolean): void {
    const now = this.#clock.nowNs();
    const seqNum = now > this.#lastSeqNum ? now : this.#lastSeqNum + 1n;
    this.#lastSeqNum = seqNum;
    this.#selfStateInfoMsg = {
      nonce: 0n,
      channel: EMPTY,
      tag: GossipMessage_Tag.CHAN_OR_ORG,
      content: {
        $case: "stateInfo",
        value: {
          channelMAC: generateMAC(this.#pkiId, this.channelId),
          pkiId: this.#pkiId,
          timestamp: { incNum: this.#incTime, seqNum },
          properties: { ledgerHeight, leftChannel, chaincodes },
        },
      },
    };
    this.#ledgerHeight = ledgerHeight;
  }

  #setupSignedStateInfoMessage(): SignedGossipMessage | undefined {
    let signed: SignedGossipMessage;
    try {
      signed = this.#adapter.sign(this.#selfStateInfoMsg);
    } catch (err) {
      this.#logger.error("failed signing our StateInfo message", { error: errorMessage(err) });
      return undefined;
    }
    this.#selfStateInfoSignedMsg = signed;
    return signed;
  }

  #publishSignedStateInfoMessage(): void {
    const signed = this.#setupSignedStateInfoMessage();
    if (signed === undefined) return;
    this.#stateInfoCache.add(signed);
    if (this.#stopped) return;
    this.#selfStateInfoGossiped = true;
    this.#adapter.gossip(signed);
  }

  /** Fabric's `publishStateInfo`: only when our StateInfo changed and somebody can hear it. */
  #publishStateInfo(): void {
    if (!this.#dirty) return;
    if (this.#adapter.getMembership().length === 0) {
      this.#logger.debug("empty membership, no one to publish state info to");
      return;
    }
    this.#publishSignedStateInfoMessage();
    this.#dirty = false;
  }

  /**
   * Fabric's `requestStateInfo`: a StateInfoPullRequest to `pullPeerNum` random peers of channel orgs.
   * With stateInfoPullWhenMissing, to one member whose StateInfo we miss (it surely holds its own, and
   * its snapshot brings what it holds of the others), else to one random peer every
   * STATE_INFO_REFRESH_ROUNDS-th round.
   */
  #requestStateInfo(): void {
    let peerNum = this.#config.pullPeerNum;
    let pool = this.#adapter.getMembership();
    if (this.#config.stateInfoPullWhenMissing === true) {
      const missing = pool.filter((m) => this.isMemberInChan(m) && this.#stateInfoCache.msgById(m.pkiId) === undefined);
      // Nothing missing: a refresh now and then, in case a pushed update went astray.
      if (missing.length === 0 && ++this.#stateInfoRoundsSkipped < STATE_INFO_REFRESH_ROUNDS) return;
      peerNum = 1;
      if (missing.length > 0) pool = missing;
    }
    this.#stateInfoRoundsSkipped = 0;
    const peers = selectPeers(peerNum, pool, (m) => this.isMemberInChan(m), this.#random);
    if (peers.length === 0) return;
    this.#adapter.send(this.#stateInfoRequest, ...peers);
  }

  // ---- membership queries ----

  getPeers(): NetworkMember[] {
    const members: NetworkMember[] = [];
    if (this.#leftChannel) return members;
    for (const member of this.#adapter.getMembership()) {
      const stateInf = this.#peerStateInfo(member.pkiId);
      if (stateInf !== undefined) members.push({ ...member, properties: stateInfoOf(stateInf)?.properties, envelope: stateInf.envelope });
    }
    return members;
  }

  /** The StateInfo of an alive member that makes it one of `getPeers()`: eligible, and not left the channel. */
  #peerStateInfo(pkiId: PKIidType): SignedGossipMessage | undefined {
    if (!this.eligibleForChannel({ pkiId })) return undefined;
    const stateInf = this.#stateInfoCache.msgById(pkiId);
    return stateInf === undefined || stateInfoOf(stateInf)?.properties?.leftChannel === true ? undefined : stateInf;
  }

  /**
   * Whether `pkiId` is one of `getPeers()`, checked for it alone: the election asks this of the sender
   * of every leadership message, and the list costs O(members) lookups and copies.
   */
  hasPeer(pkiId: PKIidType): boolean {
    return !this.#leftChannel && this.#adapter.isAlive(pkiId) && this.#peerStateInfo(pkiId) !== undefined;
  }

  peerFilter(criteria: SubChannelSelectionCriteria): RoutingFilter<NetworkMember> {
    return (member) => {
      const peerIdentity = this.#adapter.getIdentityByPKIID(member.pkiId);
      if (peerIdentity === undefined || peerIdentity.byteLength === 0) return false;
      const stateInfo = this.#stateInfoCache.msgById(member.pkiId);
      if (stateInfo === undefined) return false;
      return criteria({
        message: stateInfo.envelope.payload,
        signature: stateInfo.envelope.signature,
        peerIdentity,
        peer: member,
        stateInfo,
      });
    };
  }

  isMemberInChan(member: Pick<NetworkMember, "pkiId">): boolean {
    const org = this.#adapter.getOrgOfPeer(member.pkiId);
    if (org.byteLength === 0) return false;
    return this.isOrgInChannel(org);
  }

  isOrgInChannel(org: OrgIdentityType): boolean {
    return this.#orgs.some((orgOfChan) => bytesEqual(orgOfChan, org));
  }

  eligibleForChannel(member: Pick<NetworkMember, "pkiId">): boolean {
    const peerIdentity = this.#adapter.getIdentityByPKIID(member.pkiId);
    if (peerIdentity === undefined || peerIdentity.byteLength === 0) {
      const peer = pkiHex(member.pkiId);
      this.#badInput.warn(`${peer}:NO_IDENTITY`, "identity for peer doesn't exist", { peer });
      return false;
    }
    return this.#stateInfoCache.msgById(member.pkiId) !== undefined;
  }

  #eligibleForChannelAndSameOrg(member: Pick<NetworkMember, "pkiId">): boolean {
    return this.eligibleForChannel(member) && bytesEqual(this.#adapter.getOrgOfPeer(member.pkiId), this.#selfOrg);
  }

  /** The block puller's membership (Fabric's `membershipFilter`): same-org peers eligible for the channel; none after leaving. */
  #pullMembership(): NetworkMember[] {
    if (this.#leftChannel) return [];
    return this.#adapter.getMembership().filter((m) => this.#eligibleForChannelAndSameOrg(m));
  }

  // ---- configuration ----

  configureChannel(joinMsg: JoinChannelMessage): void {
    const members = joinMsg.members();
    if (members.length === 0) {
      this.#logger.warn("received a join channel message with an empty set of members; ignored", { sequenceNumber: joinMsg.sequenceNumber });
      return;
    }
    if (this.#joinMsg === undefined) this.#joinMsg = joinMsg;
    if (this.#joinMsg.sequenceNumber > joinMsg.sequenceNumber) {
      this.#logger.warn("already have a more updated join channel message; ignored", {
        current: this.#joinMsg.sequenceNumber,
        received: joinMsg.sequenceNumber,
      });
      return;
    }
    this.#orgs = members;
    this.#joinMsg = joinMsg;
    this.#stateInfoCache.validate(members);
  }

  // ---- stores ----

  addToMsgStore(msg: SignedGossipMessage): void {
    const m = msg.message;
    if (isDataMsg(m)) {
      if (this.#blockMsgStore.add(msg)) {
        this.#logger.debug("adding block to the block puller", { seq: blockItemId(msg) });
        this.#blocksPuller.add(msg);
      }
    }
    if (isStateInfoMsg(m)) this.#stateInfoCache.add(msg);
  }

  /**
   * The StateInfo cache's admission check (Fabric's `verifyStateInfoMsg`): our own current message
   * passes; any other needs a known identity, an org in the channel (or in `orgs` when re-validating)
   * and the channel's Readers policy over the signature. Departure from Fabric, which lets every
   * message with our PKI-ID through: one that is not the message we signed is checked like a remote
   * one, or anybody could plant a newer "own" StateInfo that we would keep, forward and serve.
   */
  #verifyStateInfoMsg(msg: SignedGossipMessage, orgs?: readonly OrgIdentityType[]): boolean {
    const si = stateInfoOf(msg);
    if (si === undefined) return false;
    if (msg === this.#selfStateInfoSignedMsg) return true;
    const peer = hexOrEmpty(si.pkiId);
    const peerIdentity = this.#adapter.getIdentityByPKIID(si.pkiId);
    if (peerIdentity === undefined || peerIdentity.byteLength === 0) {
      this.#badInput.warn(`${peer}:NO_IDENTITY`, "identity for peer doesn't exist; StateInfo not accepted", { peer });
      return false;
    }
    const org = this.#adapter.getOrgOfPeer(si.pkiId);
    const inChannel = orgs === undefined || orgs.length === 0 ? this.isOrgInChannel(org) : orgs.some((o) => bytesEqual(o, org));
    if (!inChannel) {
      this.#badInput.warn(`${peer}:ORG_NOT_IN_CHANNEL`, "peer's organization isn't in the channel; StateInfo not accepted", {
        peer,
        org: fromUtf8(org),
      });
      return false;
    }
    try {
      this.#mcs.verifyByChannel(this.channelId, peerIdentity, msg.envelope.signature, msg.envelope.payload);
    } catch (err) {
      this.#badInput.warn(`${peer}:NOT_READER`, "peer isn't eligible for the channel; StateInfo not accepted", { peer, error: errorMessage(err) });
      return false;
    }
    return true;
  }

  // ---- incoming messages ----

  handleMessage(msg: ReceivedMessage): void {
    if (this.#stopped) return;
    try {
      this.#handleMessage(msg);
    } catch (err) {
      this.#logger.error("failed handling a channel message", {
        peer: hexOrEmpty(msg.connectionInfo.id),
        content: msg.message.message.content?.$case,
        error: errorMessage(err),
      });
    }
  }

  #reject(reason: ChannelRejectReason, sender: PKIidType, msg: string, fields: LogFields = {}, level: "warn" | "debug" = "warn"): void {
    this.#metrics.rejected.inc({ channel: this.channelId, reason });
    this.#events.emit({ kind: "message-rejected", component: "channel", code: reason });
    const peer = hexOrEmpty(sender);
    if (level === "debug") this.#logger.debug(msg, { peer, reason, ...fields });
    else this.#badInput.warn(`${peer}:${reason}`, msg, { peer, reason, ...fields });
  }

  #handleMessage(msg: ReceivedMessage): void {
    if (!this.#verifyMsg(msg)) return;
    const sender = msg.connectionInfo.id;
    const m = msg.message.message;
    if (!isChannelRestricted(m)) {
      this.#reject("NOT_CHANNEL_RESTRICTED", sender, "got a message that isn't a per-channel message; discarded", { content: m.content?.$case });
      return;
    }
    const orgId = this.#adapter.getOrgOfPeer(sender);
    if (orgId.byteLength === 0) {
      this.#reject("UNKNOWN_ORG", sender, "couldn't find the org identity of the peer", { endpoint: msg.connectionInfo.endpoint }, "debug");
      return;
    }
    if (!this.isOrgInChannel(orgId)) {
      this.#reject("ORG_NOT_IN_CHANNEL", sender, "message came from a peer whose org isn't eligible for the channel", {
        endpoint: msg.connectionInfo.endpoint,
        org: fromUtf8(orgId),
      });
      return;
    }

    if (isStateInfoPullRequestMsg(m)) {
      msg.respond(this.#createStateInfoSnapshot(orgId));
      return;
    }
    if (isStateInfoSnapshot(m)) {
      this.#handleStateInfoSnapshot(m, sender);
      return;
    }
    if (isDataMsg(m)) {
      this.#handleBlock(msg, m);
      return;
    }
    if (isStateInfoMsg(m)) {
      // Not newer than the one held (a duplicate, or our own coming back): nothing to verify or count.
      if (!this.#stateInfoCache.checkValid(msg.message)) return;
      // The cache verifies the signer's identity, org, Readers policy and signature (each logged there).
      if (this.#stateInfoCache.add(msg.message)) {
        this.#adapter.forward(msg);
        this.#adapter.deMultiplex(msg.message);
      } else {
        this.#reject("BAD_STATE_INFO", sender, "StateInfo message refused", { origin: hexOrEmpty(m.content.value.pkiId) }, "debug");
      }
      return;
    }
    if (isPullMsg(m) && getPullMsgType(m) === PullMsgType.BLOCK_MSG) {
      this.#handleBlockPull(msg, m);
      return;
    }
    if (isLeadershipMsg(m)) this.#handleLeadership(msg, m, orgId);
  }

  /** Fabric's `verifyMsg`: the sender is known, and the MAC (StateInfo, pull request) or the channel field is ours. */
  #verifyMsg(msg: ReceivedMessage): boolean {
    const sender = msg.connectionInfo.id;
    if (sender.byteLength === 0) {
      this.#reject("NO_PKI_ID", sender, "message has no PKI-ID");
      return false;
    }
    const m = msg.message.message;
    if (isStateInfoMsg(m)) {
      const si = m.content.value;
      if (!bytesEqual(generateMAC(si.pkiId, this.channelId), si.channelMAC)) {
        this.#reject("WRONG_MAC", sender, "StateInfo message contains a wrong channel MAC", { origin: hexOrEmpty(si.pkiId) });
        return false;
      }
      return true;
    }
    if (isStateInfoPullRequestMsg(m)) {
      if (!bytesEqual(generateMAC(sender, this.channelId), m.content.value.channelMAC)) {
        this.#reject("WRONG_MAC", sender, "StateInfo pull request contains a wrong channel MAC");
        return false;
      }
      return true;
    }
    if (!bytesEqual(m.channel, this.#channelBytes)) {
      this.#reject("WRONG_CHANNEL", sender, "message contains a wrong channel", { channel: fromUtf8(m.channel) });
      return false;
    }
    return true;
  }

  /** Push path of a block: dedupe before the costly verification, then store, make pullable, forward, demultiplex. */
  #handleBlock(msg: ReceivedMessage, m: GossipMessageOf<"dataMsg">): void {
    const sender = msg.connectionInfo.id;
    const payload = m.content.value.payload;
    if (payload === undefined) {
      this.#reject("EMPTY_PAYLOAD", sender, "block message has an empty payload");
      return;
    }
    // Would this block go into the message store if it was verified?
    if (!this.#blockMsgStore.checkValid(msg.message)) return;
    const failure = this.#verifyBlock(m);
    if (failure !== undefined) {
      this.#reject("BAD_BLOCK", sender, "failed verifying block", { seq: payload.seqNum.toString(10), error: failure });
      return;
    }
    if (!this.#blockMsgStore.add(msg.message)) return;
    this.#logger.debug("adding block to the block puller", { seq: payload.seqNum.toString(10) });
    this.#blocksPuller.add(msg.message);
    this.#adapter.forward(msg);
    this.#adapter.deMultiplex(msg.message);
    if ((this.#config.blockPullIntervalMs ?? 0) > 0 && this.#missingBelow(payload.seqNum)) {
      this.#logger.debug("pushed block reveals a gap; pulling now", { seq: payload.seqNum.toString(10), height: this.#ledgerHeight.toString(10) });
      this.#blocksPuller.triggerPull?.();
    }
  }

  /**
   * Gap trigger (opt-in, not in Fabric): whether a block a pull could still fetch is missing below
   * `seq`, i.e. one in [max(ledger height, seq - maxBlockCountToStore), seq) that we neither committed
   * nor hold. Older blocks are out of every peer's block store and are left to state transfer.
   */
  #missingBelow(seq: bigint): boolean {
    const window = seq - BigInt(this.#config.maxBlockCountToStore);
    for (let s = window > this.#ledgerHeight ? window : this.#ledgerHeight; s < seq; s++) {
      if (this.#blocksPuller.get(s.toString(10)) === undefined) return true;
    }
    return false;
  }

  /** Fabric's `verifyBlock`: a block with a payload whose data decodes as a common.Block that the MCS accepts. Returns why not, or undefined. */
  #verifyBlock(m: GossipMessage): string | undefined {
    if (!isDataMsg(m)) return `not a block but ${m.content?.$case ?? "no content"}`;
    const payload = m.content.value.payload;
    if (payload === undefined) return "empty payload";
    let block: Block;
    try {
      block = Block.decode(payload.data);
    } catch (err) {
      return `improperly encoded block: ${errorMessage(err)}`;
    }
    try {
      this.#mcs.verifyBlock(this.channelId, payload.seqNum, block);
    } catch (err) {
      return `fabricated block: ${errorMessage(err)}`;
    }
    return undefined;
  }

  #handleBlockPull(msg: ReceivedMessage, m: GossipMessageOf<"hello" | "dataDig" | "dataReq" | "dataUpdate">): void {
    const sender = msg.connectionInfo.id;
    if (this.#leftChannel) {
      this.#reject("LEFT_CHANNEL", sender, "received a block pull message but left the channel", { endpoint: msg.connectionInfo.endpoint }, "debug");
      return;
    }
    // Without the peer's StateInfo there is no way of validating its eligibility for the channel.
    if (this.#stateInfoCache.msgById(sender) === undefined) {
      this.#reject("NO_STATE_INFO", sender, "don't have the StateInfo message of the peer", { endpoint: msg.connectionInfo.endpoint }, "debug");
      return;
    }
    if (!this.#eligibleForChannelAndSameOrg({ pkiId: sender })) {
      this.#reject("NOT_ELIGIBLE", sender, "peer isn't eligible for pulling blocks of the channel", { endpoint: msg.connectionInfo.endpoint });
      return;
    }
    if (isDataUpdate(m)) {
      const filtered = this.#filterDataUpdate(msg, m);
      if (filtered === undefined) return;
      this.#blocksPuller.handleMessage(filtered);
      return;
    }
    this.#blocksPuller.handleMessage(msg);
  }

  /**
   * A pulled DataUpdate: every item must be a block of this channel; items the store would reject are
   * left out; each remaining block is verified, and one failure drops the whole update. The accepted
   * blocks go into the block store before the mediator consumes them. Returns the message to hand to
   * the mediator (the original when nothing was left out), or undefined when the update is dropped.
   */
  #filterDataUpdate(msg: ReceivedMessage, m: GossipMessageOf<"dataUpdate">): ReceivedMessage | undefined {
    const sender = msg.connectionInfo.id;
    const update = m.content.value;
    const candidates: { item: SignedGossipMessage; envelope: Envelope }[] = [];
    for (const [index, envelope] of update.data.entries()) {
      let item: SignedGossipMessage;
      try {
        item = SignedGossipMessage.fromEnvelope(envelope);
      } catch (err) {
        this.#reject("BAD_UPDATE", sender, "data update contains an invalid message; update dropped", { index, error: errorMessage(err) });
        return undefined;
      }
      if (!bytesEqual(item.message.channel, this.#channelBytes)) {
        this.#reject("BAD_UPDATE", sender, "data update contains an item of another channel; update dropped", {
          index,
          channel: fromUtf8(item.message.channel),
        });
        return undefined;
      }
      // Would this block go into the message store if it was verified?
      if (!this.#blockMsgStore.checkValid(item)) continue;
      const failure = this.#verifyBlock(item.message);
      if (failure !== undefined) {
        this.#reject("BAD_UPDATE", sender, "data update contains a block that fails verification; update dropped", { index, error: failure });
        return undefined;
      }
      candidates.push({ item, envelope });
    }
    const accepted: Envelope[] = [];
    for (const { item, envelope } of candidates) {
      // One that is not added is already held, or too far in the past.
      if (this.#blockMsgStore.add(item)) accepted.push(envelope);
    }
    if (accepted.length === update.data.length) return msg;
    const replaced = SignedGossipMessage.noopSign({ ...m, content: { $case: "dataUpdate", value: { ...update, data: accepted } } });
    return {
      message: replaced,
      connectionInfo: msg.connectionInfo,
      respond: (reply) => msg.respond(reply),
      ack: (err) => msg.ack(err),
    };
  }

  /** Fabric's `handleStateInfSnapshot`: one bad element drops the rest of the snapshot; forgotten peers are skipped. */
  #handleStateInfoSnapshot(m: GossipMessageOf<"stateSnapshot">, sender: PKIidType): void {
    for (const [index, envelope] of m.content.value.elements.entries()) {
      // The very message the cache holds (the common case: snapshots repeat what we have), found
      // before decoding the element: its PKI-ID read off the wire, then the whole envelope compared.
      // It passed every check below when it was added, and the cache drops what a policy change makes
      // invalid, so adding it again would change nothing: skip it.
      const peeked = peekStateInfoPkiId(envelope.payload);
      if (peeked !== undefined) {
        const held = this.#stateInfoCache.msgById(peeked);
        if (held !== undefined && sameEnvelope(held.envelope, envelope)) continue;
      }
      let stateInf: SignedGossipMessage;
      try {
        stateInf = SignedGossipMessage.fromEnvelope(envelope);
      } catch (err) {
        this.#reject("BAD_SNAPSHOT", sender, "StateInfo snapshot contains an invalid message", { index, error: errorMessage(err) });
        return;
      }
      const si = stateInfoOf(stateInf);
      if (si === undefined) {
        this.#reject("BAD_SNAPSHOT", sender, "element of StateInfo snapshot isn't a StateInfo message", {
          index,
          content: stateInf.message.content?.$case,
        });
        return;
      }
      // The same check when the wire walk did not find the PKI-ID (a decoder reads the last occurrence).
      const held = this.#stateInfoCache.msgById(si.pkiId);
      if (held !== undefined && sameEnvelope(held.envelope, envelope)) continue;
      const origin = hexOrEmpty(si.pkiId);
      const orgId = this.#adapter.getOrgOfPeer(si.pkiId);
      if (orgId.byteLength === 0) {
        this.#reject("BAD_SNAPSHOT", sender, "couldn't find the org identity of a peer in a StateInfo snapshot", { index, origin }, "debug");
        return;
      }
      if (!this.isOrgInChannel(orgId)) {
        this.#reject("BAD_SNAPSHOT", sender, "StateInfo snapshot has a peer of an org not in the channel", { index, origin, org: fromUtf8(orgId) });
        return;
      }
      if (!bytesEqual(si.channelMAC, generateMAC(si.pkiId, this.channelId))) {
        this.#reject("BAD_SNAPSHOT", sender, "StateInfo snapshot has a message with an invalid MAC", { index, origin });
        return;
      }
      if (!this.#adapter.validateStateInfoMessage(stateInf)) {
        this.#reject("BAD_SNAPSHOT", sender, "StateInfo snapshot has a message that fails validation", { index, origin });
        return;
      }
      // Skip StateInfo messages of peers that have expired from membership.
      if (this.#adapter.lookup(si.pkiId) === undefined) continue;
      this.#stateInfoCache.add(stateInf);
    }
  }

  /**
   * Fabric's `createStateInfoSnapshot`: everything for a requester of our org; for one of another org,
   * our own org's StateInfo only for peers that have an external endpoint.
   */
  #createStateInfoSnapshot(requestersOrg: OrgIdentityType): GossipMessage {
    const sameOrg = bytesEqual(this.#selfOrg, requestersOrg);
    const elements: Envelope[] = [];
    for (const msg of this.#stateInfoCache.get()) {
      const pkiId = stateInfoOf(msg)?.pkiId ?? EMPTY;
      const orgOfCurrentMsg = this.#adapter.getOrgOfPeer(pkiId);
      if (sameOrg || !bytesEqual(orgOfCurrentMsg, this.#selfOrg)) {
        elements.push(msg.envelope);
        continue;
      }
      const member = this.#adapter.lookup(pkiId);
      if (member === undefined || member.endpoint === "") continue;
      elements.push(msg.envelope);
    }
    return {
      nonce: 0n,
      channel: this.#channelBytes,
      tag: GossipMessage_Tag.CHAN_OR_ORG,
      content: { $case: "stateSnapshot", value: { elements } },
    };
  }

  /** Leadership messages: sender and creator both of our org; stored; demultiplexed if new; never forwarded. */
  #handleLeadership(msg: ReceivedMessage, m: GossipMessageOf<"leadershipMsg">, senderOrg: OrgIdentityType): void {
    const sender = msg.connectionInfo.id;
    if (!bytesEqual(this.#selfOrg, senderOrg)) {
      this.#reject("FOREIGN_LEADERSHIP", sender, "received a leadership message from a peer of a foreign organization", {
        endpoint: msg.connectionInfo.endpoint,
        org: fromUtf8(senderOrg),
      });
      return;
    }
    const creatorOrg = this.#adapter.getOrgOfPeer(m.content.value.pkiId);
    if (!bytesEqual(this.#selfOrg, creatorOrg)) {
      this.#reject("FOREIGN_LEADERSHIP", sender, "received a leadership message created by a foreign organization", {
        creator: hexOrEmpty(m.content.value.pkiId),
        org: fromUtf8(creatorOrg),
      });
      return;
    }
    if (this.#leaderMsgStore.add(msg.message)) this.#adapter.deMultiplex(msg.message);
  }

  // ---- block pull ----

  #createBlockPuller(): PullMediator {
    const config = this.#config;
    const blockPullMs = config.blockPullIntervalMs ?? 0;
    return createPullMediator(
      {
        id: `${this.channelId}/${pkiHex(this.#pkiId).slice(0, 16)}`,
        // The opt-in block pull interval (not in Fabric) replaces pullInterval for block rounds only.
        pullIntervalMs: blockPullMs > 0 ? blockPullMs : config.pullIntervalMs,
        channel: this.#channelBytes,
        peerCountToSelect: config.pullPeerNum,
        tag: GossipMessage_Tag.CHAN_AND_ORG,
        msgType: PullMsgType.BLOCK_MSG,
        pullEngine: {
          digestWaitTimeMs: config.digestWaitTimeMs,
          requestWaitTimeMs: config.requestWaitTimeMs,
          responseWaitTimeMs: config.responseWaitTimeMs,
          followRtt: config.pullWaitsFollowRtt === true,
        },
        ...(config.maxMessageBytes !== undefined ? { maxMessageBytes: config.maxMessageBytes } : {}),
      },
      {
        sender: (msg, ...peers) => this.#adapter.send(msg, ...peers),
        membership: () => this.#pullMembership(),
        idExtractor: (msg) => {
          const id = blockItemId(msg);
          if (id === "") this.#logger.warn("non-data block or block with no payload in the block puller");
          return id;
        },
        msgConsumer: (msg) => this.#adapter.deMultiplex(msg),
        ingressDigestFilter: (digest) => this.#filterDigest(digest),
      },
      { clock: this.#clock, random: this.#random, logger: this.#logger },
    );
  }

  /** Fabric's ingress digest filter: keep the digests of blocks at or above our ledger height. */
  #filterDigest(digest: DataDigest): DataDigest {
    const height = this.#ledgerHeight;
    const digests: Uint8Array[] = [];
    for (const d of digest.digests) {
      const seq = parseBlockDigest(d);
      if (seq === undefined) {
        this.#logger.warn("can't parse block digest", { digest: fromUtf8(d) });
        continue;
      }
      if (seq >= height) digests.push(d);
    }
    return { ...digest, digests };
  }
}
