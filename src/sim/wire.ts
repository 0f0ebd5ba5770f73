/**
 * Reads the message type and channel of a gossip frame (a serialized Envelope holding a serialized
 * GossipMessage) without decoding it: a few varints from the front of the bytes. The simulator does
 * this for every frame, so it must cost next to nothing.
 */

/** Names of GossipMessage content fields by field number (message.proto `oneof content`). */
const TYPE_NAMES: Readonly<Record<number, string>> = {
  5: "alive",
  6: "memReq",
  7: "memRes",
  8: "data",
  9: "hello",
  10: "digest",
  11: "request",
  12: "update",
  13: "empty",
  14: "conn",
  15: "stateInfo",
  16: "stateSnapshot",
  17: "stateInfoPullReq",
  18: "stateRequest",
  19: "stateResponse",
  20: "leadership",
  21: "peerIdentity",
  22: "ack",
  23: "pvtReq",
  24: "pvtRes",
};

/**
 * Types counted after "other", so that the indices above (part of every trace hash) stay as they were when
 * they were added: 25 is the endorsement-time PrivateDataMessage.
 */
const LATE_TYPE_NAMES: Readonly<Record<number, string>> = {
  25: "pvtData",
};

/** Every type name, in field order, then "other" for frames that do not parse, then the late types. */
export const FRAME_TYPES: readonly string[] = [...Object.values(TYPE_NAMES), "other", ...Object.values(LATE_TYPE_NAMES)];
const OTHER = Object.keys(TYPE_NAMES).length;
const INDEX_OF_FIELD: Readonly<Record<number, number>> = Object.fromEntries([
  ...Object.keys(TYPE_NAMES).map((k, i) => [Number(k), i]),
  ...Object.keys(LATE_TYPE_NAMES).map((k, i) => [Number(k), OTHER + 1 + i]),
]);

/** Type index (into FRAME_TYPES) of the data-carrying types checked for eligibility. */
export const DATA_TYPE = FRAME_TYPES.indexOf("data");
export const UPDATE_TYPE = FRAME_TYPES.indexOf("update");
export const STATE_RESPONSE_TYPE = FRAME_TYPES.indexOf("stateResponse");
/** Type index of the handshake's ConnEstablish. */
export const CONN_TYPE = FRAME_TYPES.indexOf("conn");

/** What {@link scanFrame} found: the type index and where the channel bytes are (length 0: none). */
export interface FrameInfo {
  type: number;
  channelStart: number;
  channelEnd: number;
}

/** Where the last {@link varint} read ended, or -1 when it ran past the end (a module scratch: no tuple per read). */
let varintEnd = -1;

/** Reads a varint at `pos` and returns its value, leaving the next position in `varintEnd` (-1 past the end). */
function varint(b: Uint8Array, pos: number, end: number): number {
  let v = 0;
  let mul = 1;
  for (let i = pos; i < end && i < pos + 10; i++) {
    const x = b[i]!;
    v += (x & 0x7f) * mul;
    if ((x & 0x80) === 0) {
      varintEnd = i + 1;
      return v;
    }
    mul *= 128;
  }
  varintEnd = -1;
  return -1;
}

/** Skips a field of `wireType` at `pos`; returns the next position or -1. */
function skip(b: Uint8Array, wireType: number, pos: number, end: number): number {
  switch (wireType) {
    case 0:
      varint(b, pos, end);
      return varintEnd;
    case 1:
      return pos + 8 <= end ? pos + 8 : -1;
    case 2: {
      const len = varint(b, pos, end);
      const p = varintEnd;
      return p < 0 || p + len > end ? -1 : p + len;
    }
    case 5:
      return pos + 4 <= end ? pos + 4 : -1;
    default:
      return -1;
  }
}

/** The type and channel of a frame; `out` is filled and returned (no allocation per frame). */
export function scanFrame(b: Uint8Array, out: FrameInfo): FrameInfo {
  out.type = OTHER;
  out.channelStart = 0;
  out.channelEnd = 0;
  // Envelope: find field 1 (payload), length-delimited.
  let pos = 0;
  let start = -1;
  let end = -1;
  while (pos >= 0 && pos < b.length) {
    const key = varint(b, pos, b.length);
    const p = varintEnd;
    if (p < 0) return out;
    if (key >>> 3 === 1 && (key & 7) === 2) {
      const len = varint(b, p, b.length);
      const q = varintEnd;
      if (q < 0 || q + len > b.length) return out;
      start = q;
      end = q + len;
      break;
    }
    pos = skip(b, key & 7, p, b.length);
  }
  if (start < 0) return out;
  // GossipMessage: fields 1-3 (nonce, channel, tag), then the content field.
  pos = start;
  while (pos >= 0 && pos < end) {
    const key = varint(b, pos, end);
    const p = varintEnd;
    if (p < 0) return out;
    const field = key >>> 3;
    if (field === 2 && (key & 7) === 2) {
      const len = varint(b, p, end);
      const q = varintEnd;
      if (q < 0 || q + len > end) return out;
      out.channelStart = q;
      out.channelEnd = q + len;
      pos = q + len;
      continue;
    }
    const idx = INDEX_OF_FIELD[field];
    if (idx !== undefined) {
      out.type = idx;
      return out;
    }
    pos = skip(b, key & 7, p, end);
  }
  return out;
}
