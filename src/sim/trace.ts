import { createHash, type Hash } from "node:crypto";

const RECORD_FRAME = 1;
const RECORD_COMMIT = 2;
const RECORD_EVENT = 3;
const BUFFER_BYTES = 64 * 1024;

/**
 * A running SHA-256 over the event trace of a run: every delivered frame (time, from, to, size,
 * type) and every commit (time, peer, channel, block number, first bytes of the block hash), plus
 * fault events. Records are packed into a buffer that is hashed when full, so a frame costs a few
 * stores. The same seed and options give the same hash; any divergence in what happened, or when,
 * changes it.
 */
export class TraceHasher {
  readonly #hash: Hash = createHash("sha256");
  readonly #buf = Buffer.alloc(BUFFER_BYTES);
  #pos = 0;
  #records = 0;
  #digest: string | undefined;

  /** Records hashed so far. */
  get records(): number {
    return this.#records;
  }

  #room(n: number): void {
    if (this.#digest !== undefined) throw new Error("trace hash already finished");
    if (this.#pos + n > BUFFER_BYTES) {
      this.#hash.update(this.#buf.subarray(0, this.#pos));
      this.#pos = 0;
    }
    this.#records++;
  }

  /** A frame delivered at virtual `timeMs` from peer index `from` to `to`. */
  frame(timeMs: number, from: number, to: number, size: number, type: number): void {
    this.#room(22);
    const b = this.#buf;
    let p = this.#pos;
    b[p++] = RECORD_FRAME;
    b.writeDoubleLE(timeMs, p);
    p += 8;
    b.writeUInt32LE(from >>> 0, p);
    p += 4;
    b.writeUInt32LE(to >>> 0, p);
    p += 4;
    b.writeUInt32LE(size >>> 0, p);
    p += 4;
    b[p++] = type & 0xff;
    this.#pos = p;
  }

  /** Peer `peer` committed block `seq` of channel index `channel` with header hash `hash`. */
  commit(timeMs: number, peer: number, channel: number, seq: number, hash: Uint8Array): void {
    this.#room(29);
    const b = this.#buf;
    let p = this.#pos;
    b[p++] = RECORD_COMMIT;
    b.writeDoubleLE(timeMs, p);
    p += 8;
    b.writeUInt32LE(peer >>> 0, p);
    p += 4;
    b.writeUInt32LE(channel >>> 0, p);
    p += 4;
    b.writeUInt32LE(seq >>> 0, p);
    p += 4;
    for (let i = 0; i < 8; i++) b[p++] = hash[i] ?? 0;
    this.#pos = p;
  }

  /** A simulator event (fault, crash, leadership change) as text. */
  event(timeMs: number, text: string): void {
    const bytes = Buffer.from(text, "utf8");
    this.#room(13 + bytes.length);
    const b = this.#buf;
    let p = this.#pos;
    b[p++] = RECORD_EVENT;
    b.writeDoubleLE(timeMs, p);
    p += 8;
    b.writeUInt32LE(bytes.length, p);
    p += 4;
    if (bytes.length > BUFFER_BYTES - 13) {
      this.#hash.update(b.subarray(0, p));
      this.#hash.update(bytes);
      this.#pos = 0;
      return;
    }
    bytes.copy(b, p);
    this.#pos = p + bytes.length;
  }

  /** The hex digest; no record may follow. */
  digest(): string {
    if (this.#digest === undefined) {
      this.#hash.update(this.#buf.subarray(0, this.#pos));
      this.#digest = this.#hash.digest("hex");
    }
    return this.#digest;
  }
}
