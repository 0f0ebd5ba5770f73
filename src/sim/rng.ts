import { createHash } from "node:crypto";
import { SeededRandom } from "../util/index.js";

/**
 * One seed, many independent random streams: each part of a run (a peer, the network, the block
 * source, a fault schedule) takes its own stream by a stable label, so adding a draw in one part
 * never shifts the numbers another part sees. A stream's seed is the first 8 bytes of
 * SHA-256("<seed>/<label>").
 */
export class RandomTree {
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed;
  }

  /** The stream named `label` (a new generator each call, starting from the same state). */
  stream(label: string): SeededRandom {
    return new SeededRandom(this.seedOf(label));
  }

  /** The 64-bit seed of the stream named `label`. */
  seedOf(label: string): bigint {
    const d = createHash("sha256").update(`${this.seed}/${label}`).digest();
    return d.readBigUInt64BE(0);
  }

  /** `n` bytes derived from `label` (for keys and serial numbers). */
  bytes(label: string, n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    for (let i = 0; filled < n; i++) {
      const d = createHash("sha256").update(`${this.seed}/${label}/${i}`).digest();
      out.set(d.subarray(0, Math.min(d.length, n - filled)), filled);
      filled += d.length;
    }
    return out;
  }
}

/** Fills `out` with bytes from `rng` (32 bits at a time). */
export function fillRandom(rng: SeededRandom, out: Uint8Array): Uint8Array {
  for (let i = 0; i < out.length; i += 4) {
    const v = rng.next32();
    out[i] = v & 0xff;
    if (i + 1 < out.length) out[i + 1] = (v >>> 8) & 0xff;
    if (i + 2 < out.length) out[i + 2] = (v >>> 16) & 0xff;
    if (i + 3 < out.length) out[i + 3] = (v >>> 24) & 0xff;
  }
  return out;
}
