/** Percentiles of a set of latencies in milliseconds; null when there is no sample. */
export interface LatencySummary {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/** Block times remembered for matching commits; older blocks are forgotten first. */
const MAX_TRACKED_BLOCKS = 100_000;
/** Samples kept per peer for percentiles (the most recent); count and max stay exact. */
const MAX_SAMPLES_PER_PEER = 20_000;

/** The nearest-rank percentile `p` (0..1] of ascending `sorted`; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}

/** Summary of unsorted samples. */
export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.length === 0 ? null : sorted[sorted.length - 1]! };
}

class PeerSamples {
  readonly ring: number[] = [];
  next = 0;
  count = 0;
  max = Number.NEGATIVE_INFINITY;

  add(ms: number): void {
    this.count++;
    if (ms > this.max) this.max = ms;
    if (this.ring.length < MAX_SAMPLES_PER_PEER) this.ring.push(ms);
    else {
      this.ring[this.next] = ms;
      this.next = (this.next + 1) % MAX_SAMPLES_PER_PEER;
    }
  }
}

/**
 * Commit latency: for each block, the time from the orderer cutting it (its `block` event) to each
 * peer committing it (the peer's `commit` event). Both times come from the same machine's clock.
 * Either event may arrive first (they come over different pipes); a commit waits for its block's time.
 * The genesis block (number 0) is not counted: no orderer cut it during the run.
 */
export class CommitLatency {
  readonly #blockTimes = new Map<number, number>();
  readonly #pending = new Map<number, { peer: string; time: number }[]>();
  readonly #peers = new Map<string, PeerSamples>();

  /** The orderer cut block `number` at `time` (epoch ms). */
  recordBlock(number: number, time: number): void {
    if (number < 1) return;
    this.#blockTimes.set(number, time);
    if (this.#blockTimes.size > MAX_TRACKED_BLOCKS) {
      const oldest = this.#blockTimes.keys().next().value;
      if (oldest !== undefined) this.#blockTimes.delete(oldest);
    }
    const waiting = this.#pending.get(number);
    if (waiting !== undefined) {
      this.#pending.delete(number);
      for (const c of waiting) this.#sample(c.peer, c.time - time);
    }
  }

  /** `peer` committed block `number` at `time` (epoch ms). */
  recordCommit(peer: string, number: number, time: number): void {
    if (number < 1) return;
    const cut = this.#blockTimes.get(number);
    if (cut !== undefined) {
      this.#sample(peer, time - cut);
      return;
    }
    let waiting = this.#pending.get(number);
    if (waiting === undefined) {
      if (this.#pending.size >= MAX_TRACKED_BLOCKS) return;
      waiting = [];
      this.#pending.set(number, waiting);
    }
    waiting.push({ peer, time });
  }

  /** Every peer's samples together, or one peer's. */
  summary(peer?: string): LatencySummary {
    const sets = peer === undefined ? [...this.#peers.values()] : [this.#peers.get(peer)].filter((s): s is PeerSamples => s !== undefined);
    const all = sets.flatMap((s) => s.ring);
    const base = summarize(all);
    const count = sets.reduce((n, s) => n + s.count, 0);
    const max = sets.reduce((m, s) => Math.max(m, s.max), Number.NEGATIVE_INFINITY);
    return { ...base, count, max: count === 0 ? null : max };
  }

  #sample(peer: string, ms: number): void {
    let s = this.#peers.get(peer);
    if (s === undefined) {
      s = new PeerSamples();
      this.#peers.set(peer, s);
    }
    s.add(ms);
  }
}
