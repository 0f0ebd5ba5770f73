/**
 * The protobuf binary reader the generated codecs in `src/protos/gen` use instead of
 * `@bufbuild/protobuf/wire`'s `BinaryReader` (proto/generate.sh rewrites their import).
 *
 * Why: bufbuild's reader builds a DataView over the input in its constructor (for fixed-width and
 * floating-point fields, which none of our messages has), and ts-proto's decoders add a
 * recursion-depth property to the reader after it is made, which changes the object's shape on every
 * top-level decode. A decode of a small gossip message paid more for that than for its fields. This
 * reader has the depth property from the start and no DataView.
 *
 * It has exactly the subset of bufbuild's API that ts-proto's output calls (tsc fails on the generated
 * code if a new .proto needs more), reads every input as bufbuild's does, and throws where it throws
 * (test/unit/protoext/reader.property.test.ts compares the two on valid and malformed bytes).
 */

/** The wire types of the protobuf encoding. */
const VARINT = 0;
const BIT64 = 1;
const LENGTH_DELIMITED = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const BIT32 = 5;

/** How deep nested groups may be skipped (bufbuild's default). */
const GROUP_DEPTH_LIMIT = 100;

/** Strings up to this many bytes are tried as ASCII first (bufbuild's limit for the same fast path). */
const ASCII_MAX_LENGTH = 32;

/** The last 64-bit varint read, as two 32-bit halves: read back as one 64-bit integer, as bufbuild's protoInt64 does. */
const int64View = new DataView(new ArrayBuffer(8));

/**
 * Node's latin1 decoder of a range of any Uint8Array (what Buffer#toString("latin1") calls): for ASCII the
 * same string, read without a view of the range. Looked up once; absent, ASCII goes through a view.
 */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

/** A leading U+FEFF in a protobuf string is text, not a byte-order mark (as bufbuild decodes). */
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

export class BinaryReader {
  /** The bytes being read. */
  readonly buf: Uint8Array;
  /** Where the next read starts. */
  pos = 0;
  /** The number of bytes readable (buf.length). */
  readonly len: number;
  /** Nesting depth of the generated decoders on this reader (they keep it here to bound recursion). */
  __tsProtoDecodeDepth = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.len = buf.length;
  }

  /** Reads a `uint32` varint: its low 32 bits, as an unsigned number. */
  uint32(): number {
    const buf = this.buf;
    let result = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const b = buf[this.pos++]!;
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        this.#assertBounds();
        return result;
      }
    }
    // The fifth byte gives the last 4 bits; up to five more bytes are read and dropped.
    let b = buf[this.pos++]!;
    result |= (b & 0x0f) << 28;
    for (let read = 5; (b & 0x80) !== 0 && read < 10; read++) b = buf[this.pos++]!;
    if ((b & 0x80) !== 0) throw new Error("invalid varint");
    this.#assertBounds();
    return result >>> 0;
  }

  /** Reads an `int32` varint. */
  int32(): number {
    return this.uint32() | 0;
  }

  /** Reads a `uint64` varint. */
  uint64(): bigint {
    this.#varint64();
    return int64View.getBigUint64(0, true);
  }

  /** Reads an `int64` varint. */
  int64(): bigint {
    this.#varint64();
    return int64View.getBigInt64(0, true);
  }

  /** Reads a `bool` varint: any non-zero value is true. */
  bool(): boolean {
    const b = this.buf[this.pos]!;
    if (b < 0x80) {
      this.pos++;
      return b !== 0;
    }
    this.#varint64();
    return int64View.getInt32(0, true) !== 0 || int64View.getInt32(4, true) !== 0;
  }

  /** Reads a length-delimited field as a view into the input (not a copy). */
  bytes(): Uint8Array {
    const len = this.uint32();
    const start = this.pos;
    this.pos += len;
    this.#assertBounds();
    return this.buf.subarray(start, start + len);
  }

  /** Reads a length-delimited field as UTF-8 text; invalid sequences become U+FFFD. */
  string(): string {
    const len = this.uint32();
    const start = this.pos;
    this.pos += len;
    this.#assertBounds();
    const buf = this.buf;
    if (len <= ASCII_MAX_LENGTH) {
      let ascii = true;
      for (let i = start; i < this.pos; i++) {
        if (buf[i]! > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        if (len === 0) return "";
        if (latin1Slice !== undefined) return latin1Slice.call(buf, start, this.pos);
        return String.fromCharCode.apply(null, buf.subarray(start, this.pos) as unknown as number[]);
      }
    }
    return utf8Decoder.decode(buf.subarray(start, this.pos));
  }

  /** Reads a tag, refusing field number 0, wire types above 5 and varints past 32 bits. */
  tag(): [number, number] {
    const start = this.pos;
    const tag = this.uint32();
    const read = this.pos - start;
    if (read > 5 || (read === 5 && this.buf[this.pos - 1]! > 0x0f)) throw new Error("illegal tag: varint overflows uint32");
    const fieldNo = tag >>> 3;
    const wireType = tag & 7;
    if (fieldNo <= 0 || wireType > 5) throw new Error(`illegal tag: field no ${fieldNo} wire type ${wireType}`);
    return [fieldNo, wireType];
  }

  /** Skips one field of `wireType` (a group up to its end tag) and returns its bytes. */
  skip(wireType: number, fieldNo?: number, depthLimit = GROUP_DEPTH_LIMIT): Uint8Array {
    const start = this.pos;
    switch (wireType) {
      case VARINT:
        while (this.buf[this.pos++]! & 0x80) {
          // a continuation byte
        }
        break;
      case BIT64:
        this.pos += 8;
        break;
      case BIT32:
        this.pos += 4;
        break;
      case LENGTH_DELIMITED: {
        const len = this.uint32();
        this.pos += len;
        break;
      }
      case START_GROUP:
        if (depthLimit <= 0) throw new Error("maximum recursion depth reached");
        for (;;) {
          const [fn, wt] = this.tag();
          if (wt === END_GROUP) {
            if (fieldNo !== undefined && fn !== fieldNo) throw new Error("invalid end group tag");
            break;
          }
          this.skip(wt, fn, depthLimit - 1);
        }
        break;
      default:
        throw new Error(`cant skip wire type ${wireType}`);
    }
    this.#assertBounds();
    return this.buf.subarray(start, this.pos);
  }

  #assertBounds(): void {
    if (this.pos > this.len) throw new RangeError("premature EOF");
  }

  /** Reads a varint of up to 64 bits into int64View (its two 32-bit halves, little-endian). */
  #varint64(): void {
    const buf = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const b = buf[pos++]!;
      lo |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        this.#done(pos, lo, hi);
        return;
      }
    }
    // Bits 28-34: four go to the low half, three to the high half.
    const middle = buf[pos++]!;
    lo |= (middle & 0x0f) << 28;
    hi = (middle & 0x70) >> 4;
    if ((middle & 0x80) === 0) {
      this.#done(pos, lo, hi);
      return;
    }
    for (let shift = 3; shift <= 31; shift += 7) {
      const b = buf[pos++]!;
      hi |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        this.#done(pos, lo, hi);
        return;
      }
    }
    throw new Error("invalid varint");
  }

  #done(pos: number, lo: number, hi: number): void {
    this.pos = pos;
    this.#assertBounds();
    int64View.setInt32(0, lo, true);
    int64View.setInt32(4, hi, true);
  }
}
