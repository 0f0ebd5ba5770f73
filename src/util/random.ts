import { randomBytes } from "node:crypto";

/** Randomness as protocol code sees it: seeded in the simulator, from the OS otherwise. */
export interface Random {
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform 64-bit unsigned integer (nonces). */
  uint64(): bigint;
  /** `k` distinct indices from [0, n), in random order (Fabric's GetRandomIndices). */
  indices(k: number, n: number): number[];
  /** A new array with the items of `items` in random order. */
  shuffle<T>(items: readonly T[]): T[];
}

const MASK64 = (1n << 64n) - 1n;

/**
 * xoshiro128** seeded through splitmix64: fast, small state, and identical on every platform, so a
 * seed reproduces a simulation exactly.
 */
export class SeededRandom implements Random {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  constructor(seed: bigint | number) {
    let x = BigInt.asUintN(64, BigInt(seed));
    const next = (): bigint => {
      x = (x + 0x9e3779b97f4a7c15n) & MASK64;
      let z = x;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
      return z ^ (z >> 31n);
    };
    const a = next();
    const b = next();
    this.#s0 = Number(a & 0xffffffffn) | 0;
    this.#s1 = Number(a >> 32n) | 0;
    this.#s2 = Number(b & 0xffffffffn) | 0;
    this.#s3 = Number(b >> 32n) | 0;
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** Next 32 random bits as an unsigned integer. */
  next32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  float(): number {
    // 53 random bits, like Math.random's resolution.
    const hi = this.next32() >>> 5;
    const lo = this.next32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  uint64(): bigint {
    return (BigInt(this.next32()) << 32n) | BigInt(this.next32());
  }

  indices(k: number, n: number): number[] {
    return pickIndices(this, k, n);
  }

  shuffle<T>(items: readonly T[]): T[] {
    return shuffleWith(this, items);
  }
}

/** Randomness from the operating system, for real-time peers (nonces must not be guessable). */
export class SystemRandom implements Random {
  #pool = Buffer.alloc(0);
  #pos = 0;

  #take(bytes: number): Buffer {
    if (this.#pos + bytes > this.#pool.length) {
      this.#pool = randomBytes(4096);
      this.#pos = 0;
    }
    const out = this.#pool.subarray(this.#pos, this.#pos + bytes);
    this.#pos += bytes;
    return out;
  }

  float(): number {
    const b = this.#take(7);
    const hi = b.readUIntBE(0, 3) & 0x1fffff; // 21 bits
    const lo = b.readUInt32BE(3); // 32 bits
    return (hi * 4294967296 + lo) / 9007199254740992;
  }

  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  uint64(): bigint {
    return this.#take(8).readBigUInt64BE(0);
  }

  indices(k: number, n: number): number[] {
    return pickIndices(this, k, n);
  }

  shuffle<T>(items: readonly T[]): T[] {
    return shuffleWith(this, items);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function pickIndices(rng: Random, k: number, n: number): number[] {
  const count = Math.max(0, Math.min(k, n));
  // Partial Fisher-Yates over a sparse map: O(k) whatever n is.
  const swapped = new Map<number, number>();
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(n - i);
    const vj = swapped.get(j) ?? j;
    const vi = swapped.get(i) ?? i;
    swapped.set(j, vi);
    out.push(vj);
  }
  return out;
}

function shuffleWith<T>(rng: Random, items: readonly T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = out[i]!;
    out[i] = out[j]!;
    out[j] = tmp;
  }
  return out;
}
