import type { LatencyFigures } from "./interface.js";
import { FRAME_TYPES } from "./wire.js";

/** How a block first reached a peer. */
export const HOW_NONE = 0;
export const HOW_PUSH = 1;
export const HOW_PULL = 2;
export const HOW_STATE = 3;
export const HOW_DELIVER = 4;

/** Per channel: one slot per (peer, block). */
interface ChannelTable {
  firstHow: Uint8Array;
  copies: Uint16Array;
  commitAt: Float64Array;
}

/**
 * What a run measures, in flat typed arrays indexed by (peer, block) so a thousand peers and
 * hundreds of blocks cost a few megabytes: first arrival and how it came, copies received, commit
 * time; bytes sent by message type; death declarations; leadership events.
 */
export class SimMetrics {
  readonly peers: number;
  readonly maxBlocks: number;
  readonly #tables: ChannelTable[];
  /** Bytes sent by type over the whole run, and within the current sample interval. */
  readonly bytesByType = new Float64Array(FRAME_TYPES.length);
  readonly intervalBytesByType = new Float64Array(FRAME_TYPES.length);
  /** Frames sent by type over the whole run (where the simulator's time goes). */
  readonly framesByType = new Float64Array(FRAME_TYPES.length);
  readonly bytesByPeer: Float64Array;
  framesDelivered = 0;
  deaths = 0;
  falseDeaths = 0;
  errors = 0;
  readonly firstErrors: string[] = [];
  /** Become-leader events per "channel/org". */
  readonly leaderEvents = new Map<string, number>();

  constructor(peers: number, channels: number, maxBlocks: number) {
    this.peers = peers;
    this.maxBlocks = maxBlocks;
    const slots = peers * (maxBlocks + 1);
    this.#tables = Array.from({ length: channels }, () => ({
      firstHow: new Uint8Array(slots),
      copies: new Uint16Array(slots),
      commitAt: new Float64Array(slots).fill(Number.NaN),
    }));
    this.bytesByPeer = new Float64Array(peers);
  }

  #slot(peer: number, seq: number): number {
    return peer * (this.maxBlocks + 1) + seq;
  }

  /** A copy of block `seq` reached `peer` by `how` (copies counted for push and pull). */
  arrived(channel: number, peer: number, seq: number, how: number): void {
    if (seq < 1 || seq > this.maxBlocks) return;
    const t = this.#tables[channel]!;
    const k = this.#slot(peer, seq);
    if (t.firstHow[k] === HOW_NONE) t.firstHow[k] = how;
    if ((how === HOW_PUSH || how === HOW_PULL) && t.copies[k]! < 0xffff) t.copies[k]! += 1;
  }

  /** `peer` committed block `seq` at virtual `atMs`. */
  committed(channel: number, peer: number, seq: number, atMs: number): void {
    if (seq < 1 || seq > this.maxBlocks) return;
    const t = this.#tables[channel]!;
    const k = this.#slot(peer, seq);
    if (Number.isNaN(t.commitAt[k]!)) t.commitAt[k] = atMs;
  }

  hasCommitted(channel: number, peer: number, seq: number): boolean {
    if (seq < 1 || seq > this.maxBlocks) return false;
    return !Number.isNaN(this.#tables[channel]!.commitAt[this.#slot(peer, seq)]!);
  }

  sent(peer: number, type: number, bytes: number): void {
    this.bytesByType[type]! += bytes;
    this.framesByType[type]! += 1;
    this.intervalBytesByType[type]! += bytes;
    if (peer >= 0) this.bytesByPeer[peer]! += bytes;
  }

  /** Latencies (commit time minus creation time) of every commit, and the figures over them. */
  latencies(createdAt: (channel: number, seq: number) => number | undefined): { all: number[]; figures: LatencyFigures } {
    const all: number[] = [];
    for (const [c, t] of this.#tables.entries()) {
      for (let p = 0; p < this.peers; p++) {
        for (let s = 1; s <= this.maxBlocks; s++) {
          const at = t.commitAt[this.#slot(p, s)]!;
          if (Number.isNaN(at)) continue;
          const created = createdAt(c, s);
          if (created !== undefined) all.push(at - created);
        }
      }
    }
    all.sort((a, b) => a - b);
    return { all, figures: { p50: quantile(all, 0.5), p99: quantile(all, 0.99), max: all.length === 0 ? 0 : all[all.length - 1]!, deliveries: all.length } };
  }

  /** Shares of first arrivals at non-leader peers, and copies per reached non-leader peer and block. */
  delivery(): { push: number; pull: number; state: number; redundancy: number } {
    let push = 0;
    let pull = 0;
    let state = 0;
    let copies = 0;
    for (const t of this.#tables) {
      for (let k = 0; k < t.firstHow.length; k++) {
        const how = t.firstHow[k]!;
        if (how === HOW_PUSH) push++;
        else if (how === HOW_PULL) pull++;
        else if (how === HOW_STATE) state++;
        else continue;
        copies += t.copies[k]!;
      }
    }
    const reached = push + pull + state;
    const share = (x: number): number => (reached === 0 ? 0 : x / reached);
    return { push: share(push), pull: share(pull), state: share(state), redundancy: reached === 0 ? 0 : copies / reached };
  }

  /** Commits recorded in all. */
  commits(): number {
    let n = 0;
    for (const t of this.#tables) for (const v of t.commitAt) if (!Number.isNaN(v)) n++;
    return n;
  }

  /** Leadership moves: become-leader events beyond the first per channel and org. */
  leaderChanges(): number {
    let n = 0;
    for (const v of this.leaderEvents.values()) n += Math.max(0, v - 1);
    return n;
  }
}

/** Value at quantile q (0..1) of sorted numbers; 0 for none. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
