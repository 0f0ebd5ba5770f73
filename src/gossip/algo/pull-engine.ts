import { type Logger, silentLogger } from "../../logging/index.js";
import { type Clock, errorMessage, type Random, type TimerHandle } from "../../util/index.js";
import { PullEngineError } from "./errors.js";
import {
  DEFAULT_DIGEST_WAIT_TIME_MS,
  DEFAULT_REQUEST_WAIT_TIME_MS,
  DEFAULT_RESPONSE_WAIT_TIME_MS,
  type DigestFilter,
  type PullAdapter,
  type PullEngine,
  type PullEngineComponents,
  type PullEngineConfig,
  type PullEngineOptions,
} from "./interface.js";

const acceptAll = (): ((item: string) => boolean) => () => true;

/** Fabric's `algo.PullEngine` (gossip/gossip/algo/pull.go), driven by an injected clock and random source. */
export class PullEngineImpl<C> implements PullEngine<C> {
  readonly #adapter: PullAdapter<C>;
  readonly #filter: DigestFilter<C>;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #logger: Logger;
  readonly #pullIntervalMs: number;
  readonly #config: PullEngineConfig;

  readonly #state = new Set<string>();
  /** Item -> the peers whose digest listed it in this round (each peer once). */
  #item2owners = new Map<string, string[]>();
  #peers2nonces = new Map<string, bigint>();
  #nonces2peers = new Map<bigint, string>();
  /** Nonces of the hellos we sent in this round. */
  readonly #outgoingNonces = new Set<bigint>();
  /** followRtt: when each recent hello was sent (monotonic ms), by nonce; bounded. */
  readonly #helloSentAt = new Map<bigint, number>();
  /** followRtt: the round trips measured from hello to digest. */
  readonly #rtt = new RoundTrips();
  /** followRtt: nonces of this round whose digest came; items requested and not yet received. */
  readonly #answered = new Set<bigint>();
  readonly #awaited = new Set<string>();
  /** followRtt: the timer ending the current phase, cancelled when the phase completes early. */
  #phaseTimer: (() => void) | undefined;
  /** Nonces of hellos we received within the last `requestWaitTimeMs`. */
  readonly #incomingNonces = new Set<bigint>();
  #acceptingDigests = false;
  #acceptingResponses = false;
  /** triggerPull() came during a round: start another when it ends. */
  #triggerPending = false;

  #running = false;
  #pullTimer: TimerHandle | undefined;
  /** One-shot timers (phase ends, nonce expiries, deferred responses) not yet fired. */
  readonly #timers = new Set<TimerHandle>();

  constructor(adapter: PullAdapter<C>, options: PullEngineOptions, components: PullEngineComponents, filter?: DigestFilter<C>) {
    this.#adapter = adapter;
    this.#filter = filter ?? acceptAll;
    this.#clock = components.clock;
    this.#random = components.random;
    this.#logger = components.logger ?? silentLogger;
    this.#pullIntervalMs = options.pullIntervalMs;
    this.#config = {
      digestWaitTimeMs: options.digestWaitTimeMs ?? DEFAULT_DIGEST_WAIT_TIME_MS,
      requestWaitTimeMs: options.requestWaitTimeMs ?? DEFAULT_REQUEST_WAIT_TIME_MS,
      responseWaitTimeMs: options.responseWaitTimeMs ?? DEFAULT_RESPONSE_WAIT_TIME_MS,
      followRtt: options.followRtt === true,
    };
    // Config validates every timing (peer.gossip.pullInterval, digestWaitTime, ...). This one stays:
    // tests and harnesses build engines by hand, and a round timer of 0 ms would re-arm forever at
    // the same instant (a virtual clock never advances past it).
    if (!(this.#pullIntervalMs > 0)) {
      throw new PullEngineError("INVALID_OPTIONS", `pullIntervalMs must be a positive number of milliseconds, got ${String(options.pullIntervalMs)}`);
    }
  }

  get acceptingDigests(): boolean {
    return this.#acceptingDigests;
  }

  get acceptingResponses(): boolean {
    return this.#acceptingResponses;
  }

  start(): Promise<void> {
    if (!this.#running) {
      this.#running = true;
      this.#schedulePull();
    }
    return Promise.resolve();
  }

  stop(): Promise<void> {
    if (this.#running) {
      this.#running = false;
      this.#pullTimer?.cancel();
      this.#pullTimer = undefined;
      for (const timer of this.#timers) timer.cancel();
      this.#timers.clear();
      this.#acceptingDigests = false;
      this.#triggerPending = false;
      this.#phaseTimer = undefined;
      this.#endPull();
      this.#incomingNonces.clear();
    }
    return Promise.resolve();
  }

  triggerPull(): void {
    if (!this.#running) return;
    if (this.#acceptingDigests || this.#acceptingResponses) {
      this.#triggerPending = true;
      return;
    }
    this.#startTriggeredRound();
  }

  /** A round out of the periodic schedule; the schedule restarts from now. */
  #startTriggeredRound(): void {
    this.#triggerPending = false;
    this.#pullTimer?.cancel();
    this.#schedulePull();
    this.#initiatePull();
  }

  add(...items: string[]): void {
    for (const item of items) this.#state.add(item);
  }

  remove(...items: string[]): void {
    for (const item of items) this.#state.delete(item);
  }

  has(item: string): boolean {
    return this.#state.has(item);
  }

  state(): string[] {
    return [...this.#state];
  }

  onHello(nonce: bigint, context: C): void {
    if (!this.#running) return;
    this.#incomingNonces.add(nonce);
    // As in Fabric, the first expiry of a nonce removes it even if the same nonce came again since.
    this.#after(this.#requestWaitMs(), () => {
      this.#incomingNonces.delete(nonce);
    });
    const digest = this.#guard("apply the digest filter", [], () => {
      const pass = this.#filter(context);
      return [...this.#state].filter((item) => pass(item));
    });
    if (digest.length === 0) return;
    this.#guard("send a digest", undefined, () => this.#adapter.sendDigest(digest, nonce, context));
  }

  onDigest(digest: string[], nonce: bigint, _context: C): void {
    if (this.#config.followRtt === true) {
      // Timed even when late: a digest after the wait is what tells the wait was too short.
      const sentAt = this.#helloSentAt.get(nonce);
      if (sentAt !== undefined) {
        this.#helloSentAt.delete(nonce);
        this.#rtt.add(this.#clock.monotonic() - sentAt);
      }
    }
    if (!this.#running || !this.#acceptingDigests || !this.#outgoingNonces.has(nonce)) return;
    const peer = this.#nonces2peers.get(nonce);
    if (peer === undefined) return;
    for (const item of digest) {
      if (this.#state.has(item)) continue;
      const owners = this.#item2owners.get(item);
      if (owners === undefined) this.#item2owners.set(item, [peer]);
      // Fabric appends the peer once per digest; a peer that repeats its digest gains no extra weight here.
      else if (!owners.includes(peer)) owners.push(peer);
    }
    if (this.#config.followRtt === true) {
      // Most of the peers asked have answered: the slowest one (a long-tail link) no longer holds up the
      // round. What the majority lack is rare, and the next round asks others.
      this.#answered.add(nonce);
      if (this.#answered.size >= Math.floor(this.#outgoingNonces.size / 2) + 1) this.#endPhaseNow();
    }
  }

  onReq(items: string[], nonce: bigint, context: C): void {
    if (!this.#running || !this.#incomingNonces.has(nonce)) return;
    const toSend = this.#guard("apply the digest filter", [], () => {
      const pass = this.#filter(context);
      const out = new Set<string>();
      for (const item of items) {
        if (this.#state.has(item) && pass(item)) out.add(item);
      }
      return [...out];
    });
    if (toSend.length === 0) return;
    // Fabric answers from a new goroutine; a zero-delay timer keeps the answer off the caller's stack.
    this.#after(0, () => this.#guard("send a response", undefined, () => this.#adapter.sendRes(toSend, context, nonce)));
  }

  onRes(items: string[], nonce: bigint): boolean {
    if (!this.#running || !this.#outgoingNonces.has(nonce) || !this.#acceptingResponses) return false;
    this.add(...items);
    if (this.#config.followRtt === true && this.#awaited.size > 0) {
      for (const item of items) this.#awaited.delete(item);
      // Everything requested came: the round is over.
      if (this.#awaited.size === 0) this.#endPhaseNow();
    }
    return true;
  }

  /** followRtt: runs the current phase's end now instead of at its timer. */
  #endPhaseNow(): void {
    const end = this.#phaseTimer;
    this.#phaseTimer = undefined;
    end?.();
  }

  /** Schedules the next round; periodic work is a chain of timeouts. */
  #schedulePull(): void {
    this.#pullTimer = this.#clock.setTimeout(() => {
      this.#pullTimer = undefined;
      if (!this.#running) return;
      if (this.#config.followRtt === true && (this.#acceptingDigests || this.#acceptingResponses)) {
        // A round that outlasts the interval: the next starts when it ends (rounds never overlap).
        this.#triggerPending = true;
        return;
      }
      this.#schedulePull();
      this.#initiatePull();
    }, this.#intervalMs());
  }

  // followRtt (not in Fabric): the configured waits are floors; a wait covers the measured round trips
  // (their 90th percentile) with a margin. Without samples, or with followRtt off, the configured values.

  #digestWaitMs(): number {
    const c = this.#config.digestWaitTimeMs;
    return this.#config.followRtt === true ? Math.max(c, Math.ceil(1.5 * this.#rtt.high() + 2)) : c;
  }

  #responseWaitMs(): number {
    const c = this.#config.responseWaitTimeMs;
    // A response carries the items (blocks): twice the round trip of a small digest.
    return this.#config.followRtt === true ? Math.max(c, Math.ceil(2 * this.#rtt.high() + 5)) : c;
  }

  #requestWaitMs(): number {
    const c = this.#config.requestWaitTimeMs;
    // The initiator's request comes a digest wait and half a round trip after its hello.
    return this.#config.followRtt === true ? Math.max(c, this.#digestWaitMs() + Math.ceil(2 * this.#rtt.high())) : c;
  }

  #intervalMs(): number {
    return this.#pullIntervalMs;
  }

  /** Phase 1: hello to every selected peer with a fresh nonce, then collect digests. */
  #initiatePull(): void {
    this.#acceptingDigests = true;
    const peers = this.#guard("select peers", [], () => this.#adapter.selectPeers());
    for (const peer of peers) {
      const nonce = this.#newNonce();
      this.#outgoingNonces.add(nonce);
      this.#nonces2peers.set(nonce, peer);
      this.#peers2nonces.set(peer, nonce);
      if (this.#config.followRtt === true) {
        if (this.#helloSentAt.size >= MAX_TIMED_HELLOS) this.#helloSentAt.delete(this.#helloSentAt.keys().next().value!);
        this.#helloSentAt.set(nonce, this.#clock.monotonic());
      }
      this.#guard("send a hello", undefined, () => this.#adapter.hello(peer, nonce));
    }
    if (this.#config.followRtt === true) {
      this.#answered.clear();
      this.#phase(this.#digestWaitMs(), () => this.#processIncomingDigests());
      if (peers.length === 0) this.#endPhaseNow();
    } else this.#after(this.#digestWaitMs(), () => this.#processIncomingDigests());
  }

  /** Phase 3: stop collecting digests, request each missing item from one random owner, collect responses. */
  #processIncomingDigests(): void {
    this.#acceptingDigests = false;
    const requests = new Map<string, string[]>();
    for (const [item, owners] of this.#item2owners) {
      const source = owners[this.#random.int(owners.length)]!;
      const list = requests.get(source);
      if (list === undefined) requests.set(source, [item]);
      else list.push(item);
    }
    this.#acceptingResponses = true;
    for (const [dest, items] of requests) {
      const nonce = this.#peers2nonces.get(dest);
      if (nonce === undefined) continue;
      this.#guard("send a request", undefined, () => this.#adapter.sendReq(dest, items, nonce));
    }
    const end = (): void => {
      this.#endPull();
      if (this.#triggerPending) this.#startTriggeredRound();
    };
    if (this.#config.followRtt === true) {
      this.#awaited.clear();
      for (const items of requests.values()) for (const item of items) this.#awaited.add(item);
      this.#phase(this.#responseWaitMs(), end);
      if (this.#awaited.size === 0) this.#endPhaseNow();
    } else this.#after(this.#responseWaitMs(), end);
  }

  /** Ends the round: no more responses, and the round's nonces and owners are forgotten. */
  #endPull(): void {
    this.#acceptingResponses = false;
    this.#outgoingNonces.clear();
    this.#item2owners = new Map();
    this.#peers2nonces = new Map();
    this.#nonces2peers = new Map();
  }

  /** A random nonce not already used by an outgoing hello of this round. */
  #newNonce(): bigint {
    for (;;) {
      const nonce = this.#random.uint64();
      if (!this.#outgoingNonces.has(nonce)) return nonce;
    }
  }

  /** followRtt: a phase's end after `ms`, or earlier through #endPhaseNow (once either way). */
  #phase(ms: number, fn: () => void): void {
    let done = false;
    const handle = this.#clock.setTimeout(() => {
      this.#timers.delete(handle);
      run();
    }, ms);
    this.#timers.add(handle);
    const run = (): void => {
      if (done) return;
      done = true;
      if (this.#phaseTimer === run) this.#phaseTimer = undefined;
      handle.cancel();
      this.#timers.delete(handle);
      if (this.#running) fn();
    };
    this.#phaseTimer = run;
  }

  /** A tracked one-shot timer, cancelled by stop(). */
  #after(ms: number, fn: () => void): void {
    const timer: { handle?: TimerHandle } = {};
    timer.handle = this.#clock.setTimeout(() => {
      if (timer.handle !== undefined) this.#timers.delete(timer.handle);
      if (this.#running) fn();
    }, ms);
    this.#timers.add(timer.handle);
  }

  /** Runs adapter or filter code; an exception is logged and `fallback` returned, never rethrown. */
  #guard<T>(what: string, fallback: T, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      this.#logger.error(`pull engine failed to ${what}`, { error: errorMessage(err) });
      return fallback;
    }
  }
}

/** Hellos whose send time is kept for timing their digests (followRtt). */
const MAX_TIMED_HELLOS = 256;
/** Round trips remembered (followRtt). */
const RTT_SAMPLES = 32;

/** The last RTT_SAMPLES round trips (ms) and their 90th percentile. */
class RoundTrips {
  readonly #samples: number[] = [];
  #next = 0;
  #high: number | undefined = 0;

  add(ms: number): void {
    if (this.#samples.length < RTT_SAMPLES) this.#samples.push(ms);
    else this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % RTT_SAMPLES;
    this.#high = undefined;
  }

  /** The 90th percentile of the samples; 0 without any. */
  high(): number {
    if (this.#high === undefined) {
      const sorted = [...this.#samples].sort((a, b) => a - b);
      this.#high = sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(0.9 * sorted.length))]!;
    }
    return this.#high;
  }
}

/** Creates a pull engine (Fabric's `NewPullEngineWithFilter`); call start() to begin pull rounds. */
export function createPullEngine<C>(
  adapter: PullAdapter<C>,
  options: PullEngineOptions,
  components: PullEngineComponents,
  filter?: DigestFilter<C>,
): PullEngine<C> {
  return new PullEngineImpl(adapter, options, components, filter);
}
