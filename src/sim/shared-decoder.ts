import { type PkiHex, pkiHex } from "../api/index.js";
import type { FrameDecoder } from "../comm/index.js";
import { replacePkiId, SignedGossipMessage } from "../protoext/index.js";

/**
 * Decodes a frame once for every peer it reaches. The simulator's network hands on the very bytes a
 * peer wrote (frames are not copied), and a peer forwards a message as the bytes it received, so one
 * alive or StateInfo message is the same array on every hop: with N peers each receiving it about
 * twice, one decode instead of 2N. The peers then share the decoded message, which nothing writes
 * after decoding (as they already share the frame's bytes).
 *
 * Its PKI-ID field is also pointed at one array per PKI-ID for the whole run instead of one per decoded
 * message: the peers' caches keyed by array identity (pkiKey, the identity mapper, discovery) then find
 * it at once instead of by its hex key.
 *
 * A frame that does not decode is not remembered: each peer that receives it gets the decoder's error.
 */
export class SharedFrameDecoder {
  readonly #decoded = new WeakMap<Uint8Array, SignedGossipMessage>();
  readonly #pkiIds = new Map<PkiHex, Uint8Array>();
  #decodes = 0;
  #hits = 0;

  /** The decoder to give each peer's comm (CommComponents.decodeFrame). */
  readonly decode: FrameDecoder = (bytes) => {
    const known = this.#decoded.get(bytes);
    if (known !== undefined) {
      this.#hits++;
      return known;
    }
    const msg = SignedGossipMessage.fromEnvelopeBytes(bytes);
    this.#decodes++;
    replacePkiId(msg.message, this.#shared);
    this.#decoded.set(bytes, msg);
    return msg;
  };

  /** Frames decoded, and frames given a message decoded before. */
  stats(): { decodes: number; hits: number } {
    return { decodes: this.#decodes, hits: this.#hits };
  }

  /** The run's array for these bytes: the first one decoded (already an array of its own, not a view of its frame). */
  readonly #shared = (pkiId: Uint8Array): Uint8Array => {
    if (pkiId.byteLength === 0) return pkiId;
    const key = pkiHex(pkiId);
    const shared = this.#pkiIds.get(key);
    if (shared !== undefined) return shared;
    this.#pkiIds.set(key, pkiId);
    return pkiId;
  };
}
