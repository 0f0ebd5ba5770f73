/**
 * gRPC's length-prefixed messages on an HTTP/2 stream: a flag byte (1: compressed), a 4-byte
 * big-endian length, then the message. Gossip never negotiates compression, so a compressed
 * message is refused.
 */
export const FRAME_HEADER_BYTES = 5;

/** One message as gRPC frames it: its 5-byte prefix and its bytes, in one buffer (one write). */
export function frameMessage(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + message.byteLength);
  frame[0] = 0;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, FRAME_HEADER_BYTES);
  return frame;
}

/** Why a stream's bytes are not gRPC messages we take. */
export class GrpcFrameError extends Error {
  constructor(
    readonly code: "COMPRESSED" | "TOO_LARGE",
    message: string,
  ) {
    super(message);
    this.name = "GrpcFrameError";
  }
}

/**
 * Cuts a stream's DATA chunks into messages. A message inside one chunk is handed on as a view of
 * it, unless the memory the chunk lives in is much larger than the message: Node's HTTP/2 hands DATA
 * chunks on as views of its 64 KiB socket reads, and a stored message would keep all of that alive.
 * A message over several chunks is joined once, when its last byte arrives.
 */
export class GrpcFrameReader {
  readonly #maxSize: number;
  readonly #onMessage: (message: Uint8Array) => void;
  /** Chunks of an incomplete frame, and their byte count. */
  #parts: Buffer[] = [];
  #partBytes = 0;
  /** The length of the frame being assembled, once its prefix is known (-1 before). */
  #need = -1;

  constructor(maxSize: number, onMessage: (message: Uint8Array) => void) {
    this.#maxSize = maxSize;
    this.#onMessage = onMessage;
  }

  /** Bytes held for a message not complete yet (0 between messages: a stream may end there). */
  get pendingBytes(): number {
    return this.#partBytes;
  }

  /** Takes one chunk; throws GrpcFrameError on a compressed or oversized message (the stream is then unusable). */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.#partBytes > 0) {
      this.#parts.push(chunk);
      this.#partBytes += chunk.byteLength;
      if (this.#need < 0 && this.#partBytes >= FRAME_HEADER_BYTES) this.#need = this.#frameLength(Buffer.concat(this.#parts, FRAME_HEADER_BYTES));
      if (this.#need < 0 || this.#partBytes < FRAME_HEADER_BYTES + this.#need) return;
      buf = Buffer.concat(this.#parts, this.#partBytes);
      this.#parts = [];
      this.#partBytes = 0;
      this.#need = -1;
    }
    let off = 0;
    const end = buf.byteLength;
    // What a view would keep alive: the whole allocation, not only this chunk of it.
    const held = buf.buffer.byteLength;
    while (end - off >= FRAME_HEADER_BYTES) {
      const len = this.#frameLength(buf.subarray(off, off + FRAME_HEADER_BYTES));
      const start = off + FRAME_HEADER_BYTES;
      if (end - start < len) break;
      off = start + len;
      this.#onMessage(len * 2 + 256 < held ? new Uint8Array(buf.subarray(start, off)) : new Uint8Array(buf.buffer, buf.byteOffset + start, len));
    }
    if (off < end) {
      const rest = buf.subarray(off);
      this.#parts.push(rest);
      this.#partBytes = rest.byteLength;
      if (rest.byteLength >= FRAME_HEADER_BYTES) this.#need = this.#frameLength(rest);
    }
  }

  #frameLength(prefix: Buffer): number {
    if (prefix[0] !== 0) throw new GrpcFrameError("COMPRESSED", `a compressed message (flag ${prefix[0]}) on a stream that negotiated no compression`);
    const len = prefix.readUInt32BE(1);
    if (len > this.#maxSize) throw new GrpcFrameError("TOO_LARGE", `a message of ${len} bytes, above the limit of ${this.#maxSize}`);
    return len;
  }
}
