import type { Clock } from "../util/index.js";
import type { RequestBudget } from "./options.js";

/** How misbehaving peers are refused (CommOptions holds these; not in Fabric). */
export interface PeerGuardOptions {
  /** Offences one PKI-ID or address may commit per window; the next one gets it refused. */
  misbehaviourLimit: number;
  /** The window over which offences are counted. */
  misbehaviourWindowMs: number;
  /** How long a first offender is refused; doubled for each refusal it earned before. */
  refuseMs: number;
  /** The longest refusal. */
  maxRefuseMs: number;
}

/** Keys remembered at most; past it the least recently seen unrefused keys are dropped. */
const MAX_TRACKED_KEYS = 10_000;

interface Record {
  /** Monotonic ms of the offences within the window, oldest first (at most limit + 1). */
  offences: number[];
  /** Refusals earned so far (the doubling exponent). */
  refusals: number;
  /** Monotonic ms until which the key is refused (0: not refused). */
  refusedUntil: number;
  /** Monotonic ms of the last offence. */
  lastSeen: number;
}

/**
 * Counts offences (forged or invalid messages, malformed frames, failed handshake proofs) per key
 * (a PKI-ID or a remote address, as comm chooses) and refuses a key that commits more than
 * `misbehaviourLimit` in `misbehaviourWindowMs`: for `refuseMs`, doubled for each earlier refusal,
 * at most `maxRefuseMs`. A key's history is forgotten once it has been quiet for twice
 * `maxRefuseMs`. Memory is bounded by MAX_TRACKED_KEYS. Pure bookkeeping on an injected clock.
 */
export class PeerGuard {
  readonly #clock: Clock;
  readonly #o: PeerGuardOptions;
  readonly #records = new Map<string, Record>();

  constructor(clock: Clock, options: PeerGuardOptions) {
    this.#clock = clock;
    this.#o = options;
  }

  /**
   * Records one offence by `key`. Returns how long the key is now refused, in ms, when this offence
   * crossed the limit; 0 when it did not (or the key was refused already).
   */
  offend(key: string): number {
    const now = this.#clock.monotonic();
    let r = this.#records.get(key);
    if (r !== undefined && r.refusedUntil <= now && now - r.lastSeen > 2 * this.#o.maxRefuseMs) {
      this.#records.delete(key);
      r = undefined;
    }
    if (r === undefined) {
      this.#makeRoom();
      r = { offences: [], refusals: 0, refusedUntil: 0, lastSeen: now };
      this.#records.set(key, r);
    } else {
      // Refresh its place: the map's order is least recently seen first.
      this.#records.delete(key);
      this.#records.set(key, r);
    }
    r.lastSeen = now;
    if (r.refusedUntil > now) return 0;
    const since = now - this.#o.misbehaviourWindowMs;
    while (r.offences.length > 0 && r.offences[0]! <= since) r.offences.shift();
    r.offences.push(now);
    if (r.offences.length <= this.#o.misbehaviourLimit) return 0;
    r.offences = [];
    const ms = Math.min(this.#o.maxRefuseMs, this.#o.refuseMs * 2 ** r.refusals);
    r.refusals++;
    r.refusedUntil = now + ms;
    return ms;
  }

  /**
   * Refuses `key` for `ms` at once (the address of a refused peer), unless it is refused longer
   * already. Returns the refusal's length, or 0 when it changed nothing.
   */
  refuse(key: string, ms: number): number {
    const now = this.#clock.monotonic();
    let r = this.#records.get(key);
    if (r === undefined) {
      this.#makeRoom();
      r = { offences: [], refusals: 0, refusedUntil: 0, lastSeen: now };
      this.#records.set(key, r);
    }
    r.lastSeen = now;
    if (r.refusedUntil >= now + ms) return 0;
    r.refusedUntil = now + ms;
    r.refusals++;
    return ms;
  }

  /** Remaining ms for which `key` is refused, or 0. */
  refusedFor(key: string): number {
    const r = this.#records.get(key);
    if (r === undefined) return 0;
    return Math.max(0, r.refusedUntil - this.#clock.monotonic());
  }

  /** Keys refused at this moment (for tests and the admin view). */
  refusedKeys(): string[] {
    const now = this.#clock.monotonic();
    return [...this.#records].filter(([, r]) => r.refusedUntil > now).map(([k]) => k);
  }

  /** Keys tracked (bounded by MAX_TRACKED_KEYS). */
  get size(): number {
    return this.#records.size;
  }

  #makeRoom(): void {
    if (this.#records.size < MAX_TRACKED_KEYS) return;
    const now = this.#clock.monotonic();
    // Oldest first; a refused key is kept unless every key is refused.
    for (const [k, r] of this.#records) {
      if (r.refusedUntil <= now) {
        this.#records.delete(k);
        return;
      }
    }
    const first = this.#records.keys().next();
    if (first.done !== true) this.#records.delete(first.value);
  }
}

/** Keys (peers) whose buckets are remembered at most. */
const MAX_BUCKETS = 10_000;

/**
 * Per-key token buckets on an injected clock: `take(key)` spends one token of `key`'s bucket and
 * says whether there was one. Memory is bounded (the least recently used bucket is dropped, which
 * only ever gives that key a full bucket again).
 */
export class TokenBuckets {
  readonly #clock: Clock;
  readonly #spec: RequestBudget;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(clock: Clock, spec: RequestBudget) {
    this.#clock = clock;
    this.#spec = spec;
  }

  take(key: string): boolean {
    const now = this.#clock.monotonic();
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= MAX_BUCKETS) {
        const first = this.#buckets.keys().next();
        if (first.done !== true) this.#buckets.delete(first.value);
      }
      b = { tokens: this.#spec.burst, at: now };
    } else {
      this.#buckets.delete(key);
      b.tokens = Math.min(this.#spec.burst, b.tokens + ((now - b.at) * this.#spec.perSecond) / 1_000);
      b.at = now;
    }
    this.#buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Forgets `key`'s bucket (its peer left). */
  forget(key: string): void {
    this.#buckets.delete(key);
  }
}
