import type { RemotePeer } from "../api/index.js";
import { type NetworkMember, preferredEndpoint } from "../discovery/index.js";
import { TokenBuckets } from "../comm/index.js";
import { type Logger, RateLimitedLog } from "../logging/index.js";
import type { ReceivedMessage } from "../protoext/index.js";
import { Block } from "../protos/gen/common/common.pb.js";
import {
  type GossipMessage,
  GossipMessage_Tag,
  type Payload,
  PvtDataPayload,
  type RemoteStateRequest,
} from "../protos/gen/gossip/message.pb.js";
import { type TimerHandle, bytesEqual, errorMessage, utf8 } from "../util/index.js";
import { StateError } from "./errors.js";
import {
  DEFAULT_MAX_STATE_RESPONSE_BYTES,
  DEFAULT_STATE_PROVIDER_OPTIONS,
  DEFAULT_STATE_REQUEST_BUDGET,
  ENQUEUE_RETRY_INTERVAL_MS,
  STATE_RESPONSE_OVERHEAD_BYTES,
  STRAGGLER_WARNING_THRESHOLD,
  type StateProvider,
  type StateProviderComponents,
  type StateProviderOptions,
  type StateRequester,
} from "./interface.js";
import { type StateMetrics, type StateRejectReason, createStateMetrics } from "./metrics.js";
import { PayloadsBuffer } from "./payloads-buffer.js";

/** Why a payload was not buffered by a non-blocking add. */
export type AddOutcome =
  /** Stored in the buffer. */
  | "buffered"
  /** Already held, or below the next expected sequence. */
  | "ignored"
  /** Too far ahead of the ledger height (seq - height >= blockBufferSize), or behind it. */
  | "rejected";

/** A pending wait for a state response. */
interface ResponseWaiter {
  deliver(msg: ReceivedMessage): void;
  cancel(): void;
}

/** A decoded payload ready to commit, or why it cannot be. */
type Decoded = { ok: true; block: Block; pvtData: PvtDataPayload[] | undefined } | { ok: false; reason: string };

/**
 * Fabric's `GossipStateProviderImpl` (`gossip/state/state.go`) for one channel: blocks from gossip
 * and from the deliver client go to a re-ordering buffer and are committed strictly in order from
 * the ledger height; after each commit the height is published in StateInfo. Anti-entropy pulls
 * missing blocks from peers with a greater height; state requests from channel members are served.
 */
export class StateProviderImpl implements StateProvider {
  readonly channel: string;
  readonly #c: StateProviderComponents;
  readonly #o: StateProviderOptions;
  readonly #log: Logger;
  readonly #rl: RateLimitedLog;
  readonly #metrics: StateMetrics;
  readonly #channelBytes: Uint8Array;
  readonly #abort = new AbortController();
  readonly #tasks = new Set<Promise<void>>();
  readonly #unsubscribe: Array<() => void> = [];
  readonly #requestQueue: ReceivedMessage[] = [];
  /** Per-requester budget of served state requests (not in Fabric). */
  readonly #requestBudget: TokenBuckets;

  #buffer: PayloadsBuffer | undefined;
  #started = false;
  #stopped = false;
  #halted: Error | undefined;
  #draining: Promise<void> | undefined;
  #serving: Promise<void> | undefined;
  #antiEntropyTimer: TimerHandle | undefined;
  /** Armed while gossip left a gap in the buffer (gapFillDelayMs). */
  #gapTimer: TimerHandle | undefined;
  /** The highest block number gossip brought (its block verified), buffered or not: it exists. */
  #seenByGossip = 0n;
  /** Fabric's `stateTransferActive`: responses are taken only while a transfer runs. */
  #transferActive = false;
  /** An anti-entropy round is in flight (timer's or triggered). */
  #roundRunning = false;
  #waiter: ResponseWaiter | undefined;

  constructor(channel: string, components: StateProviderComponents, options: Partial<StateProviderOptions> = {}) {
    this.channel = channel;
    this.#c = components;
    this.#o = { ...DEFAULT_STATE_PROVIDER_OPTIONS, ...options };
    validateOptions(this.#o);
    this.#log = components.logger.child("gossip.state", { channel });
    this.#rl = new RateLimitedLog(this.#log, components.clock);
    this.#metrics = createStateMetrics(components.metrics);
    this.#requestBudget = new TokenBuckets(components.clock, this.#o.requestBudget ?? DEFAULT_STATE_REQUEST_BUDGET);
    this.#channelBytes = utf8(channel);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    if (this.#stopped) throw new StateError("STOPPED", `the state provider of channel ${this.channel} was stopped; create a new one`);
    const height = this.#c.ledger.height();
    if (height === 0n) {
      throw new StateError(
        "ZERO_HEIGHT",
        `the ledger of channel ${this.channel} has height 0; it must hold at least the genesis block before state starts`,
      );
    }
    this.#started = true;
    this.#buffer = new PayloadsBuffer(height, {
      onReady: () => this.#kickCommit(),
      onSizeChange: (size) => this.#metrics.payloadBufferSize.set({ channel: this.channel }, size),
    });
    this.#log.info("starting state provider", { height: height.toString(), next: height.toString() });
    this.#c.gossip.updateLedgerHeight(height, this.channel);
    this.#unsubscribe.push(
      this.#c.gossip.accept(
        (msg) => msg.content?.$case === "dataMsg" && bytesEqual(msg.channel, this.#channelBytes),
        (msg) => this.#onGossipBlock(msg),
      ),
      this.#c.gossip.acceptPassThrough(
        (msg) => this.#acceptDirect(msg),
        (msg) => this.#onDirectMessage(msg),
      ),
    );
    if (this.#o.enabled) this.#scheduleAntiEntropy();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abort.abort(new StateError("STOPPED", `the state provider of channel ${this.channel} stopped`));
    this.#antiEntropyTimer?.cancel();
    this.#antiEntropyTimer = undefined;
    this.#gapTimer?.cancel();
    this.#gapTimer = undefined;
    this.#waiter?.cancel();
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#requestQueue.length = 0;
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  height(): bigint {
    return this.#c.ledger.height();
  }

  bufferSize(): number {
    return this.#buffer?.size() ?? 0;
  }

  haltedReason(): Error | undefined {
    return this.#halted;
  }

  async addPayload(payload: Payload): Promise<void> {
    this.#assertRunning();
    if (!this.#o.nonBlockingCommitMode) {
      await this.#addBlocking(payload);
      return;
    }
    const outcome = this.#addNonBlocking(payload);
    if (outcome === "rejected") {
      throw new StateError(
        "BUFFER_FULL",
        `ledger height of channel ${this.channel} is at ${this.#c.ledger.height()}; cannot enqueue block ${payload.seqNum} (blockBufferSize ${this.#o.blockBufferSize})`,
      );
    }
  }

  // --- buffering -------------------------------------------------------------------------------

  /** Fabric's `addPayload(payload, NonBlocking)`: gossip-received blocks. */
  #addNonBlocking(payload: Payload): AddOutcome {
    const buffer = this.#buffer!;
    const height = this.#c.ledger.height();
    const seq = payload.seqNum;
    // Fabric computes seq - height in uint64: a sequence below the height wraps and is rejected too.
    if (seq < height || seq - height >= BigInt(this.#o.blockBufferSize)) {
      if (this.#isStraggler(height, seq)) {
        this.#rl.warn(
          "straggler",
          "this peer is far behind the channel and state transfer is disabled: it cannot catch up unless it is the leader; enable peer.gossip.state.enabled or make it the org leader",
          { height: height.toString(), received: seq.toString() },
        );
      }
      return "rejected";
    }
    return buffer.push(payload) ? "buffered" : "ignored";
  }

  /** Fabric's `addPayload(payload, Blocking)`: waits while the buffer holds more than twice blockBufferSize. */
  async #addBlocking(payload: Payload): Promise<void> {
    const buffer = this.#buffer!;
    while (buffer.size() > this.#o.blockBufferSize * 2) {
      try {
        await this.#c.clock.sleep(ENQUEUE_RETRY_INTERVAL_MS, this.#abort.signal);
      } catch {
        throw new StateError("STOPPED", `the state provider of channel ${this.channel} stopped while block ${payload.seqNum} waited for room`);
      }
    }
    buffer.push(payload);
  }

  /** Fabric's `straggler`: far behind, no state transfer, and not a static leader. */
  #isStraggler(height: bigint, seq: bigint): boolean {
    const peerNotLeader = this.#o.useLeaderElection || !this.#o.orgLeader;
    return !this.#o.enabled && height + STRAGGLER_WARNING_THRESHOLD < seq && peerNotLeader;
  }

  #onGossipBlock(msg: GossipMessage): void {
    if (this.#stopped || msg.content?.$case !== "dataMsg") return;
    const payload = msg.content.value.payload;
    if (payload === undefined) return;
    if (payload.seqNum > this.#seenByGossip) this.#seenByGossip = payload.seqNum;
    const outcome = this.#addNonBlocking(payload);
    if (outcome === "buffered") this.#watchGap();
    if (outcome === "rejected") {
      // Ours: a peer that fell blockBufferSize behind drops every pushed block; waiting checkInterval
      // for the next anti-entropy round (to heights StateInfo reported up to publishStateInfoInterval
      // ago) can leave it behind for good at high block rates. It catches up at once instead.
      if (this.#o.enabled && payload.seqNum > this.#c.ledger.height()) this.#antiEntropyNow();
      this.#rl.warn("gossip-block-rejected", "block received from gossip was not added to the payload buffer: too far from the ledger height", {
        seq: payload.seqNum.toString(),
        height: this.#c.ledger.height().toString(),
        blockBufferSize: this.#o.blockBufferSize,
      });
    }
  }

  // --- commit ----------------------------------------------------------------------------------

  /** Starts the commit loop unless it runs (Fabric's `deliverPayloads` woken by `Ready()`). */
  #kickCommit(): void {
    if (this.#draining !== undefined || this.#stopped || this.#halted !== undefined) return;
    const task = this.#spawn("commit", () => this.#drain());
    this.#draining = task;
    void task.then(() => {
      this.#draining = undefined;
      if (this.#buffer?.isReady()) this.#kickCommit();
    });
  }

  async #drain(): Promise<void> {
    // Never commit inside the push that signalled ready.
    await Promise.resolve();
    const buffer = this.#buffer!;
    for (;;) {
      if (this.#stopped || this.#halted !== undefined) return;
      const payload = buffer.pop();
      if (payload === undefined) return;
      const decoded = decodePayload(payload);
      if (!decoded.ok) {
        this.#countRejected("malformed");
        this.#log.error("dropping a block that cannot be committed", { seq: payload.seqNum.toString(), reason: decoded.reason });
        // Expect the dropped sequence again, so a good copy (anti-entropy) can fill it.
        buffer.reset(this.#c.ledger.height());
        continue;
      }
      await this.#commitBlock(decoded.block, decoded.pvtData);
    }
  }

  /** Fabric's `commitBlock`: store, then publish the height and record the metrics. */
  async #commitBlock(block: Block, pvtData: PvtDataPayload[] | undefined): Promise<void> {
    const started = this.#c.clock.monotonic();
    try {
      await this.#c.ledger.commitBlock(block, pvtData);
    } catch (err) {
      this.#halted = err instanceof Error ? err : new Error(String(err));
      this.#log.error("cannot commit block to the ledger; chain processing halted", {
        block: block.header!.number.toString(),
        error: errorMessage(err),
      });
      return;
    }
    const seconds = (this.#c.clock.monotonic() - started) / 1000;
    this.#metrics.commitDuration.observe({ channel: this.channel }, seconds);
    const height = block.header!.number + 1n;
    this.#c.gossip.updateLedgerHeight(height, this.channel);
    this.#metrics.height.set({ channel: this.channel }, Number(height));
    this.#log.debug("committed block", { block: block.header!.number.toString(), txs: block.data!.data.length });
  }

  // --- direct messages -------------------------------------------------------------------------

  /**
   * The pass-through acceptor: state messages of this channel from channel members. Fabric checks
   * the channel's Readers policy against the sender's handshake signature; that check runs here
   * when the MCS offers `verifyByChannel`, on top of membership in the channel.
   */
  #acceptDirect(msg: ReceivedMessage): boolean {
    const gm = msg.message.message;
    const kind = gm.content?.$case;
    if (kind !== "stateRequest" && kind !== "stateResponse") return false;
    if (!bytesEqual(gm.channel, this.#channelBytes)) return false;
    // The budget comes first: the Readers check below costs a signature verification, and one
    // requester's flood must not make us spend it on every request we would drop anyway.
    if (kind === "stateRequest" && !this.#takeRequestBudget(msg)) return false;
    const sender = msg.connectionInfo;
    const member = this.#c.gossip.peersOfChannel(this.channel).some((m) => bytesEqual(m.pkiId, sender.id));
    if (!member) {
      this.#rl.warn(`not-member:${sender.endpoint}`, "ignoring a state message from a peer that is not a member of the channel", {
        endpoint: sender.endpoint,
        kind,
      });
      return false;
    }
    const verifyByChannel = this.#c.mcs.verifyByChannel;
    if (verifyByChannel !== undefined) {
      const auth = sender.auth;
      try {
        if (auth === undefined) throw new Error("the connection carries no handshake signature");
        verifyByChannel.call(this.#c.mcs, this.channel, sender.identity, auth.signature, auth.signedData);
      } catch (err) {
        this.#rl.warn(`unauthorized:${sender.endpoint}`, "got an unauthorized state message", {
          endpoint: sender.endpoint,
          error: errorMessage(err),
        });
        return false;
      }
    }
    return true;
  }

  /**
   * One requester cannot keep the server busy for everyone: over its budget (keyed by the PKI-ID its
   * connection authenticated), a request is dropped and counted. Not in Fabric.
   */
  #takeRequestBudget(msg: ReceivedMessage): boolean {
    const requester = msg.connectionInfo;
    const requesterKey = Buffer.from(requester.id).toString("hex");
    if (this.#requestBudget.take(requesterKey)) return true;
    this.#metrics.requestsDropped.inc({ channel: this.channel, reason: "budget" });
    this.#rl.warn(`request-budget:${requesterKey}`, "dropping a state request: the requester is over its request budget", {
      endpoint: requester.endpoint,
    });
    return false;
  }

  /** Fabric's `directMessage`. */
  #onDirectMessage(msg: ReceivedMessage): void {
    if (this.#stopped) return;
    const kind = msg.message.message.content?.$case;
    if (kind === "stateRequest") {
      // (The requester's budget was taken by the acceptor.)
      // Fabric's request channel holds channelSize requests; extra ones are dropped.
      if (this.#requestQueue.length >= this.#o.channelSize) {
        this.#metrics.requestsDropped.inc({ channel: this.channel, reason: "backlog" });
        this.#rl.warn("request-backlog", "dropping a state request: too many queued", { queued: this.#requestQueue.length });
        return;
      }
      this.#requestQueue.push(msg);
      this.#kickServe();
    } else if (kind === "stateResponse") {
      // Only while a transfer is active and waiting; otherwise there is no reason to process it.
      if (this.#transferActive) this.#waiter?.deliver(msg);
    }
  }

  #kickServe(): void {
    if (this.#serving !== undefined || this.#stopped) return;
    const task = this.#spawn("serve", async () => {
      for (let msg = this.#requestQueue.shift(); msg !== undefined; msg = this.#requestQueue.shift()) {
        if (this.#stopped) return;
        await this.#handleStateRequest(msg);
      }
    });
    this.#serving = task;
    void task.then(() => {
      this.#serving = undefined;
      if (this.#requestQueue.length > 0) this.#kickServe();
    });
  }

  /** Fabric's `handleStateRequest`: blocks start..min(end, height-1), with the private data the requester may read. */
  async #handleStateRequest(msg: ReceivedMessage): Promise<void> {
    const gm = msg.message.message;
    if (gm.content?.$case !== "stateRequest") return;
    const request = gm.content.value;
    const invalid = validateStateRequest(request, BigInt(this.#o.batchSize));
    if (invalid !== undefined) {
      this.#rl.warn(`bad-request:${msg.connectionInfo.endpoint}`, `state request validation failed, ${invalid}; ignoring it`, {
        endpoint: msg.connectionInfo.endpoint,
      });
      return;
    }
    const height = this.#c.ledger.height();
    if (height <= request.endSeqNum) {
      this.#log.debug("state request reaches beyond our ledger", {
        start: request.startSeqNum.toString(),
        end: request.endSeqNum.toString(),
        height: height.toString(),
      });
    }
    const end = request.endSeqNum < height - 1n ? request.endSeqNum : height - 1n;
    const payloads: Payload[] = [];
    if (request.startSeqNum <= end) {
      let blocks: Block[] = [];
      try {
        blocks = await this.#c.ledger.getBlocks(request.startSeqNum, end);
      } catch (err) {
        this.#log.error("cannot read blocks from the ledger for a state request", { error: errorMessage(err) });
      }
      const requester: StateRequester = {
        identity: msg.connectionInfo.identity,
        signedData: msg.connectionInfo.auth?.signedData,
        signature: msg.connectionInfo.auth?.signature,
      };
      const budget = (this.#o.maxMessageBytes ?? DEFAULT_MAX_STATE_RESPONSE_BYTES) - STATE_RESPONSE_OVERHEAD_BYTES;
      let size = 0;
      for (const block of blocks) {
        const seqNum = block.header?.number;
        if (seqNum === undefined) continue;
        let privateData: Uint8Array[] = [];
        if (this.#c.ledger.pvtDataFor !== undefined) {
          try {
            const pvt = await this.#c.ledger.pvtDataFor(seqNum, requester);
            privateData = (pvt ?? []).map((p) => PvtDataPayload.encode(p).finish());
          } catch (err) {
            this.#log.error("cannot read private data for a state request; skipping the block", {
              seq: seqNum.toString(),
              error: errorMessage(err),
            });
            continue;
          }
        }
        const payload: Payload = { seqNum, data: Block.encode(block).finish(), privateData };
        // Field tags, length prefixes and seq_num: at most 6 bytes per length-delimited field, 11 for the number.
        const payloadSize = payload.data.byteLength + privateData.reduce((n, p) => n + p.byteLength + 6, 0) + 6 + 11 + 6;
        if (size + payloadSize > budget) {
          // Contiguous from the start only: the requester continues after the greatest block it got.
          this.#rl.warn("response-trimmed", "a state response would exceed the message size limit: sending the blocks that fit", {
            start: request.startSeqNum.toString(),
            sent: payloads.length,
            limit: budget + STATE_RESPONSE_OVERHEAD_BYTES,
          });
          break;
        }
        size += payloadSize;
        payloads.push(payload);
      }
    }
    // Nothing fits (a single block above the limit): no answer; an empty one would be refused as malformed anyway.
    if (payloads.length === 0 && request.startSeqNum <= end) return;
    if (this.#stopped) return;
    msg.respond({
      // The request's nonce, so the requester can match the response.
      nonce: gm.nonce,
      tag: GossipMessage_Tag.CHAN_OR_ORG,
      channel: this.#channelBytes,
      content: { $case: "stateResponse", value: { payloads } },
    });
  }

  // --- anti-entropy ----------------------------------------------------------------------------

  #scheduleAntiEntropy(): void {
    if (this.#stopped) return;
    this.#antiEntropyTimer = this.#c.clock.setTimeout(() => {
      this.#antiEntropyTimer = undefined;
      const task = this.#spawn("anti-entropy", () => this.#antiEntropyOnce());
      void task.then(() => this.#scheduleAntiEntropy());
    }, this.#o.checkIntervalMs);
  }

  /**
   * Ours (gapFillDelayMs): gossip left blocks held past one that has not arrived; if that gap is still there
   * gapFillDelayMs later, an anti-entropy round starts (unless one runs). A gap from blocks out of order
   * closes in milliseconds; one from a push lost (or dropped while a round ran) waited for checkInterval.
   */
  #watchGap(): void {
    if (!this.#o.enabled || !this.#fillsGaps() || this.#gapTimer !== undefined || !this.#hasGap()) return;
    this.#gapTimer = this.#c.clock.setTimeout(() => {
      this.#gapTimer = undefined;
      if (this.#hasGap()) this.#antiEntropyNow();
    }, this.#o.gapFillDelayMs ?? 0);
  }

  /** Blocks are held past one that has not arrived. */
  #hasGap(): boolean {
    const buffer = this.#buffer;
    return buffer !== undefined && buffer.size() > 0 && !buffer.isReady();
  }

  /** An anti-entropy round now, unless one runs. */
  #antiEntropyNow(): void {
    if (this.#roundRunning || this.#stopped) return;
    void this.#spawn("anti-entropy", () => this.#antiEntropyOnce());
  }

  /** One round at a time, whether the timer or a dropped block started it. */
  async #antiEntropyOnce(): Promise<void> {
    if (this.#roundRunning) return;
    this.#roundRunning = true;
    try {
      await this.#antiEntropyRound();
    } finally {
      this.#roundRunning = false;
    }
  }

  /** One anti-entropy round (Fabric's `antiEntropy` loop body). */
  async #antiEntropyRound(): Promise<void> {
    const ours = this.#c.ledger.height();
    if (ours === 0n) {
      this.#log.error("ledger reported height 0, which should be impossible");
      return;
    }
    const max = this.#maxAvailableLedgerHeight();
    // Ours, with gapFillDelayMs: what gossip brought exists, though StateInfo (up to publishStateInfoInterval
    // old) may not say so yet. At 10 blocks/s StateInfo lags 40 blocks, twice blockBufferSize: a round to
    // StateInfo's heights ended behind the pushes again, which were dropped while it ran, for good.
    const target = this.#fillsGaps() && this.#seenByGossip + 1n > max ? this.#seenByGossip + 1n : max;
    if (ours >= target) return;
    await this.#requestBlocksInRange(ours, target - 1n);
  }

  #fillsGaps(): boolean {
    return (this.#o.gapFillDelayMs ?? 0) > 0;
  }

  #maxAvailableLedgerHeight(): bigint {
    let max = 0n;
    for (const p of this.#c.gossip.peersOfChannel(this.channel)) {
      const h = p.properties?.ledgerHeight;
      if (h !== undefined && h > max) max = h;
    }
    return max;
  }

  /**
   * Fabric's `requestBlocksInRange`: batches [prev, min(end, prev + batchSize)], each sent to one
   * random peer whose height is at least the batch end, resent up to maxRetries times. As in Fabric,
   * a response with another nonce, or one that fails verification, counts as a failed try.
   */
  async #requestBlocksInRange(start: bigint, end: bigint): Promise<void> {
    this.#transferActive = true;
    try {
      const batch = BigInt(this.#o.batchSize);
      for (let prev = start; prev <= end; ) {
        const next = end < prev + batch ? end : prev + batch;
        const request = this.#stateRequestMessage(prev, next);
        let tries = 0;
        let received = false;
        while (!received) {
          if (this.#stopped) return;
          if (tries > this.#o.maxRetries) {
            this.#log.warn("could not get blocks from peers; giving up until the next anti-entropy round", {
              start: prev.toString(),
              end: next.toString(),
              tries,
            });
            return;
          }
          const peer = this.#selectPeerToRequestFrom(next);
          if (peer === undefined) {
            this.#log.warn("no peer to ask for missing blocks", { start: prev.toString(), end: next.toString() });
            return;
          }
          this.#log.debug("state transfer request", { peer: peer.endpoint, start: prev.toString(), end: next.toString() });
          this.#c.gossip.send(request, peer);
          tries++;
          const response = await this.#awaitResponse();
          if (response === undefined) continue;
          if (response.message.message.nonce !== request.nonce) continue;
          const index = await this.#handleStateResponse(response);
          if (typeof index === "string") {
            this.#rl.warn("bad-response", `could not process a state response: ${index}`, {
              start: prev.toString(),
              end: next.toString(),
            });
            continue;
          }
          prev = index + 1n;
          received = true;
        }
      }
    } finally {
      this.#transferActive = false;
    }
  }

  #stateRequestMessage(start: bigint, end: bigint): GossipMessage {
    return {
      nonce: this.#c.random.uint64(),
      tag: GossipMessage_Tag.CHAN_OR_ORG,
      channel: this.#channelBytes,
      content: { $case: "stateRequest", value: { startSeqNum: start, endSeqNum: end } },
    };
  }

  /** Fabric's `selectPeerToRequestFrom`: a random channel peer whose height is at least `height`. */
  #selectPeerToRequestFrom(height: bigint): RemotePeer | undefined {
    const members = this.#c.gossip.peersOfChannel(this.channel);
    let peers = members.filter((m: NetworkMember) => m.properties !== undefined && m.properties.ledgerHeight >= height);
    if (peers.length === 0 && this.#fillsGaps()) {
      // Blocks gossip brought beyond every height StateInfo reports: the peers reporting the highest have
      // them most likely, their reports being the oldest news of them (a state response carries the
      // blocks a peer has of the range; one without any counts as a failed try).
      let best = 0n;
      for (const m of members) if ((m.properties?.ledgerHeight ?? 0n) > best) best = m.properties?.ledgerHeight ?? 0n;
      peers = best > 0n ? members.filter((m) => m.properties?.ledgerHeight === best) : [];
    }
    if (peers.length === 0) return undefined;
    const chosen = peers[this.#c.random.int(peers.length)]!;
    return { endpoint: preferredEndpoint(chosen), pkiId: chosen.pkiId };
  }

  /** Resolves with the next state response delivered, or undefined after responseTimeout (or on stop). */
  #awaitResponse(): Promise<ReceivedMessage | undefined> {
    return new Promise((resolve) => {
      const timer = this.#c.clock.setTimeout(() => {
        this.#waiter = undefined;
        resolve(undefined);
      }, this.#o.responseTimeoutMs);
      this.#waiter = {
        deliver: (msg) => {
          timer.cancel();
          this.#waiter = undefined;
          resolve(msg);
        },
        cancel: () => {
          timer.cancel();
          this.#waiter = undefined;
          resolve(undefined);
        },
      };
    });
  }

  /**
   * Fabric's `handleStateResponse`: every payload must decode and pass VerifyBlock; each is added in
   * blocking mode. Returns the greatest sequence received, or why the response is unusable.
   */
  async #handleStateResponse(msg: ReceivedMessage): Promise<bigint | string> {
    const content = msg.message.message.content;
    if (content?.$case !== "stateResponse") return "not a state response";
    const payloads = content.value.payloads;
    if (payloads.length === 0) return "the response holds no payload";
    let max = 0n;
    for (const payload of payloads) {
      let block: Block;
      try {
        block = Block.decode(payload.data);
      } catch (err) {
        this.#countRejected("malformed");
        return `payload ${payload.seqNum} is not a block: ${errorMessage(err)}`;
      }
      try {
        this.#c.mcs.verifyBlock(this.channel, payload.seqNum, block);
      } catch (err) {
        this.#countRejected("verify_failed");
        return `block ${payload.seqNum} failed verification: ${errorMessage(err)}`;
      }
      if (payload.seqNum > max) max = payload.seqNum;
      try {
        await this.#addBlocking(payload);
      } catch (err) {
        return errorMessage(err);
      }
    }
    return max;
  }

  // --- helpers ---------------------------------------------------------------------------------

  #countRejected(reason: StateRejectReason): void {
    this.#metrics.rejected.inc({ channel: this.channel, reason });
    this.#c.events?.emit({ kind: "message-rejected", component: "state", code: reason });
  }

  /** Runs a background task that never rejects and that stop() awaits. */
  #spawn(name: string, fn: () => Promise<void>): Promise<void> {
    const task = fn().catch((err: unknown) => {
      this.#log.error("state task failed", { task: name, error: errorMessage(err) });
    });
    this.#tasks.add(task);
    void task.then(() => this.#tasks.delete(task));
    return task;
  }

  #assertRunning(): void {
    if (this.#stopped) throw new StateError("STOPPED", `the state provider of channel ${this.channel} is stopped`);
    if (!this.#started) throw new StateError("STOPPED", `the state provider of channel ${this.channel} is not started; call start() first`);
  }
}

/** Fabric's `stateRequestValidator.validate`: undefined when valid, otherwise why not. */
export function validateStateRequest(request: RemoteStateRequest, batchSize: bigint): string | undefined {
  if (request.startSeqNum > request.endSeqNum) {
    return `invalid sequence interval [${request.startSeqNum}...${request.endSeqNum})`;
  }
  if (request.endSeqNum > batchSize + request.startSeqNum) {
    return `requesting blocks range [${request.startSeqNum}-${request.endSeqNum}) greater than configured allowed (${batchSize}) batching size for anti-entropy`;
  }
  return undefined;
}

/** Unmarshals a payload's block and private data; a block needs a header and data (as in Fabric). */
function decodePayload(payload: Payload): Decoded {
  let block: Block;
  try {
    block = Block.decode(payload.data);
  } catch (err) {
    return { ok: false, reason: `not a block: ${errorMessage(err)}` };
  }
  if (block.header === undefined || block.data === undefined) {
    return { ok: false, reason: "the block has no header or no data" };
  }
  if (block.header.number !== payload.seqNum) {
    return { ok: false, reason: `the block is number ${block.header.number}, the payload says ${payload.seqNum}` };
  }
  let pvtData: PvtDataPayload[] | undefined;
  if (payload.privateData.length > 0) {
    try {
      pvtData = payload.privateData.map((b) => PvtDataPayload.decode(b));
    } catch (err) {
      return { ok: false, reason: `private data does not decode: ${errorMessage(err)}` };
    }
  }
  return { ok: true, block, pvtData };
}

/**
 * Config validates every state option (peer.gossip.state.*: checkInterval, responseTimeout, batchSize,
 * blockBufferSize and channelSize above 0, maxRetries 0 or more). The anti-entropy period is checked
 * again because tests build providers by hand and a period of 0 would re-arm forever at one instant.
 */
function validateOptions(o: StateProviderOptions): void {
  if (!(o.checkIntervalMs > 0)) {
    throw new StateError("INVALID_OPTIONS", `state option checkIntervalMs must be a positive number, got ${String(o.checkIntervalMs)}`);
  }
}

/** Creates the state provider of `channel` (Fabric's `NewGossipStateProvider`); call start() to run it. */
export function createStateProvider(
  channel: string,
  components: StateProviderComponents,
  options: Partial<StateProviderOptions> = {},
): StateProvider {
  return new StateProviderImpl(channel, components, options);
}
