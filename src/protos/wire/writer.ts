/**
 * The protobuf binary writer the generated codecs in `src/protos/gen` use instead of
 * `@bufbuild/protobuf/wire`'s `BinaryWriter` (proto/generate.sh rewrites their import).
 *
 * Why: bufbuild's writer writes into one growing buffer, so every nested message longer than 127
 * bytes is shifted with copyWithin when join() learns its length, the buffer is regrown (copied) as
 * it doubles, and finish() copies it once more. A gossip block travels as bytes nested two levels
 * deep inside GossipMessage, which is nested in an Envelope, so it was copied several times per send.
 *
 * This writer works as protobufjs's does: every call appends an operation to a list and adds its
 * encoded size to a running length; fork() reserves a length operation and join() fills it in, so
 * nothing is copied until finish() allocates the exact output once and writes everything into it.
 * Bytes values are referenced, not copied, until finish(): callers must not mutate them in between
 * (generated code never does; encode(...).finish() is one expression).
 *
 * It has exactly the subset of bufbuild's API that ts-proto's output calls (tsc fails on the
 * generated code if a new .proto needs more), and writes byte-identical output
 * (test/unit/protoext/writer.property.test.ts).
 */

// Operation codes. Each op consumes values from `nums` and/or `refs` in order, as noted.
/** nums: one unsigned 32-bit value. */
const OP_VARINT32 = 0;
/** nums: low and high unsigned 32-bit halves of a 64-bit value whose high half is not zero. */
const OP_VARINT64 = 1;
/** refs: a Uint8Array, written with its length prefix. */
const OP_BYTES = 2;
/** refs: a string of only ASCII characters, written with its length prefix. */
const OP_ASCII = 3;
/** refs: a string with non-ASCII characters; nums: its UTF-8 length. Written with its length prefix. */
const OP_UTF8 = 4;

const UINT64_MAX = 0xffff_ffff_ffff_ffffn;
const INT64_MIN = -0x8000_0000_0000_0000n;
const INT64_MAX = 0x7fff_ffff_ffff_ffffn;
const UINT32_MASK = 0xffff_ffffn;

/** Below this many bytes a plain loop copies faster than TypedArray.set (which crosses into C++). */
const SMALL_COPY = 32;

const textEncoder = new TextEncoder();

/**
 * Outputs up to this size are carved from a shared slab: allocating a fresh ArrayBuffer of about a
 * kilobyte costs ~0.7 us in Node 20 (zeroed off-heap memory plus GC bookkeeping), more than
 * encoding the message. Node's own Buffer pool makes the same trade (8 KiB slabs, values < 4 KiB).
 * The cost: a retained output keeps its slab (at most SLAB_SIZE bytes) alive, and its `.buffer` is
 * the whole slab, so use `byteOffset`/`byteLength` with it (as with any subarray or Node Buffer).
 */
const POOL_MAX = 4096;
const SLAB_SIZE = 32 * 1024;
let slab = new ArrayBuffer(SLAB_SIZE);
let slabOffset = 0;

function allocate(size: number): Uint8Array {
  if (size > POOL_MAX) return new Uint8Array(size);
  if (slabOffset + size > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabOffset = 0;
  }
  const out = new Uint8Array(slab, slabOffset, size);
  // Keep every output 8-byte aligned within the slab.
  slabOffset = (slabOffset + size + 7) & ~7;
  return out;
}

/** Bytes of `value` as an unsigned varint; `value` is a uint32. */
function varint32Size(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  if (value < 0x1000_0000) return 4;
  return 5;
}

/** Bytes of a varint whose high 32 bits `hi` are not zero. */
function varint64HighSize(hi: number): number {
  if (hi < 0x8) return 5;
  if (hi < 0x400) return 6;
  if (hi < 0x2_0000) return 7;
  if (hi < 0x100_0000) return 8;
  if (hi < 0x8000_0000) return 9;
  return 10;
}

/** UTF-8 length of `s` as TextEncoder encodes it (a lone surrogate becomes U+FFFD, 3 bytes). */
function utf8Length(s: string, from: number): number {
  let len = from;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) len += 1;
    else if (c < 0x800) len += 2;
    else if ((c & 0xfc00) === 0xd800 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      i++;
      len += 4;
    } else len += 3;
  }
  return len;
}

/** A drop-in for the part of `@bufbuild/protobuf/wire`'s BinaryWriter that generated code uses. */
export class BinaryWriter {
  #kinds: number[] = [];
  #nums: number[] = [];
  #refs: (Uint8Array | string)[] = [];
  /** Pairs (index in #nums of the fork's length, running length at fork()). */
  #forks: number[] = [];
  #len = 0;

  /** Returns everything written as one Uint8Array (see `allocate` for where it lives) and resets this writer. */
  finish(): Uint8Array {
    if (this.#forks.length !== 0) throw new Error("invalid state, fork() without join()");
    const out = allocate(this.#len);
    const kinds = this.#kinds;
    const nums = this.#nums;
    const refs = this.#refs;
    let pos = 0;
    let n = 0;
    let r = 0;
    for (let i = 0; i < kinds.length; i++) {
      switch (kinds[i]) {
        case OP_VARINT32: {
          let v = nums[n++]!;
          while (v > 0x7f) {
            out[pos++] = (v & 0x7f) | 0x80;
            v >>>= 7;
          }
          out[pos++] = v;
          break;
        }
        case OP_VARINT64: {
          let lo = nums[n++]!;
          let hi = nums[n++]!;
          while (hi !== 0) {
            out[pos++] = (lo & 0x7f) | 0x80;
            lo = ((lo >>> 7) | (hi << 25)) >>> 0;
            hi >>>= 7;
          }
          while (lo > 0x7f) {
            out[pos++] = (lo & 0x7f) | 0x80;
            lo >>>= 7;
          }
          out[pos++] = lo;
          break;
        }
        case OP_BYTES: {
          const b = refs[r++] as Uint8Array;
          let v = b.length;
          while (v > 0x7f) {
            out[pos++] = (v & 0x7f) | 0x80;
            v >>>= 7;
          }
          out[pos++] = v;
          if (b.length > SMALL_COPY) {
            out.set(b, pos);
            pos += b.length;
          } else {
            for (let j = 0; j < b.length; j++) out[pos++] = b[j]!;
          }
          break;
        }
        case OP_ASCII: {
          const s = refs[r++] as string;
          let v = s.length;
          while (v > 0x7f) {
            out[pos++] = (v & 0x7f) | 0x80;
            v >>>= 7;
          }
          out[pos++] = v;
          if (s.length > SMALL_COPY) {
            textEncoder.encodeInto(s, out.subarray(pos, pos + s.length));
            pos += s.length;
          } else {
            for (let j = 0; j < s.length; j++) out[pos++] = s.charCodeAt(j);
          }
          break;
        }
        case OP_UTF8: {
          const s = refs[r++] as string;
          const len = nums[n++]!;
          let v = len;
          while (v > 0x7f) {
            out[pos++] = (v & 0x7f) | 0x80;
            v >>>= 7;
          }
          out[pos++] = v;
          textEncoder.encodeInto(s, out.subarray(pos, pos + len));
          pos += len;
          break;
        }
      }
    }
    // A size/write mismatch would be a bug here, and silent corruption on the wire: refuse it.
    if (pos !== out.length) throw new Error(`protobuf writer wrote ${pos} bytes, expected ${out.length}`);
    this.#kinds = [];
    this.#nums = [];
    this.#refs = [];
    this.#len = 0;
    return out;
  }

  /** Starts a length-delimited value (a nested message); close it with join(). */
  fork(): this {
    this.#forks.push(this.#nums.length, this.#len);
    this.#kinds.push(OP_VARINT32);
    this.#nums.push(0);
    return this;
  }

  /** Ends the innermost fork: its length prefix becomes known; nothing is copied. */
  join(): this {
    const forks = this.#forks;
    if (forks.length === 0) throw new Error("invalid state, fork stack empty");
    const lenAtFork = forks.pop()!;
    const at = forks.pop()!;
    const payload = this.#len - lenAtFork;
    this.#nums[at] = payload;
    this.#len += varint32Size(payload);
    return this;
  }

  /** An unsigned 32-bit varint (also how generated code writes tags and lengths). */
  uint32(value: number): this {
    if (value >>> 0 !== value) throw new Error(`invalid uint32: ${value}`);
    this.#kinds.push(OP_VARINT32);
    this.#nums.push(value);
    this.#len += varint32Size(value);
    return this;
  }

  /** A signed 32-bit varint: a negative value is sign-extended to 64 bits (10 bytes). */
  int32(value: number): this {
    if ((value | 0) !== value) throw new Error(`invalid int32: ${value}`);
    if (value >= 0) {
      this.#kinds.push(OP_VARINT32);
      this.#nums.push(value);
      this.#len += varint32Size(value);
    } else {
      this.#kinds.push(OP_VARINT64);
      this.#nums.push(value >>> 0, 0xffff_ffff);
      this.#len += 10;
    }
    return this;
  }

  /** A bool as a one-byte varint. */
  bool(value: boolean): this {
    this.#kinds.push(OP_VARINT32);
    this.#nums.push(value ? 1 : 0);
    this.#len += 1;
    return this;
  }

  /** Length-delimited bytes; `value` is referenced until finish(). */
  bytes(value: Uint8Array): this {
    this.#kinds.push(OP_BYTES);
    this.#refs.push(value);
    this.#len += varint32Size(value.length) + value.length;
    return this;
  }

  /** A length-delimited UTF-8 string. */
  string(value: string): this {
    // Size the common ASCII case with a cheap scan; fall back to a full UTF-8 count at the first non-ASCII unit.
    let i = 0;
    const n = value.length;
    while (i < n && value.charCodeAt(i) < 0x80) i++;
    if (i === n) {
      this.#kinds.push(OP_ASCII);
      this.#refs.push(value);
      this.#len += varint32Size(n) + n;
    } else {
      const len = utf8Length(value, i);
      this.#kinds.push(OP_UTF8);
      this.#refs.push(value);
      this.#nums.push(len);
      this.#len += varint32Size(len) + len;
    }
    return this;
  }

  /** An unsigned 64-bit varint; bigint is what generated code passes (forceLong=bigint). */
  uint64(value: bigint | number | string): this {
    if (typeof value === "number" && value >>> 0 === value) return this.uint32(value);
    const v = typeof value === "bigint" ? value : toBigInt(value, "uint64");
    if (v < 0n || v > UINT64_MAX) throw new Error(`invalid uint64: ${value}`);
    return this.#varint64(v);
  }

  /** A signed 64-bit varint (two's complement, so negative values take 10 bytes). */
  int64(value: bigint | number | string): this {
    const v = typeof value === "bigint" ? value : toBigInt(value, "int64");
    if (v < INT64_MIN || v > INT64_MAX) throw new Error(`invalid int64: ${value}`);
    return this.#varint64(v < 0n ? BigInt.asUintN(64, v) : v);
  }

  /** `v` is in [0, 2^64). */
  #varint64(v: bigint): this {
    if (v <= UINT32_MASK) {
      const small = Number(v);
      this.#kinds.push(OP_VARINT32);
      this.#nums.push(small);
      this.#len += varint32Size(small);
      return this;
    }
    const hi = Number(v >> 32n);
    this.#kinds.push(OP_VARINT64);
    this.#nums.push(Number(v & UINT32_MASK), hi);
    this.#len += varint64HighSize(hi);
    return this;
  }
}

function toBigInt(value: number | string, type: string): bigint {
  try {
    return BigInt(value);
  } catch {
    throw new Error(`invalid ${type}: ${value}`);
  }
}
