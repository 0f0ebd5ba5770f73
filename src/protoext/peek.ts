/**
 * Reads one field out of a serialized GossipMessage without decoding it: a few varints from the front
 * of the bytes. A hint only: callers must confirm what they find (by comparing whole envelopes), since
 * the walk takes the first occurrence where a decoder takes the last.
 */

/** GossipMessage.state_info (oneof content) and StateInfo.pki_id (fabric-protos gossip/message.proto). */
const GOSSIP_MESSAGE_STATE_INFO = 15;
const STATE_INFO_PKI_ID = 3;
/** GossipMessage.alive_msg (oneof content), AliveMessage.membership and Member.pki_id. */
const GOSSIP_MESSAGE_ALIVE_MSG = 5;
const ALIVE_MESSAGE_MEMBERSHIP = 1;
const MEMBER_PKI_ID = 3;

/** Reads a varint at `pos`; stores its value in `out.value` and returns the next position, or -1. */
function readVarint(b: Uint8Array, pos: number, end: number, out: { value: number }): number {
  let v = 0;
  let mul = 1;
  for (let i = pos; i < end && i < pos + 10; i++) {
    const x = b[i]!;
    v += (x & 0x7f) * mul;
    if ((x & 0x80) === 0) {
      out.value = v;
      return i + 1;
    }
    mul *= 128;
  }
  return -1;
}

/** The start and end of length-delimited field `field` within [pos, end), or undefined. */
function findBytesField(b: Uint8Array, pos: number, end: number, field: number, v: { value: number }): [number, number] | undefined {
  while (pos >= 0 && pos < end) {
    pos = readVarint(b, pos, end, v);
    if (pos < 0) return undefined;
    const key = v.value;
    const wireType = key % 8;
    switch (wireType) {
      case 0:
        pos = readVarint(b, pos, end, v);
        break;
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2: {
        pos = readVarint(b, pos, end, v);
        if (pos < 0 || pos + v.value > end) return undefined;
        if (Math.floor(key / 8) === field) return [pos, pos + v.value];
        pos += v.value;
        break;
      }
      default:
        return undefined;
    }
  }
  return undefined;
}

/**
 * The PKI-ID bytes of the StateInfo in `payload` (a serialized GossipMessage), as a view into it, or
 * undefined when none is found. The snapshot handler uses it to find the message it already holds
 * for that peer before decoding the element.
 */
export function peekStateInfoPkiId(payload: Uint8Array): Uint8Array | undefined {
  const v = { value: 0 };
  const si = findBytesField(payload, 0, payload.byteLength, GOSSIP_MESSAGE_STATE_INFO, v);
  if (si === undefined) return undefined;
  const id = findBytesField(payload, si[0], si[1], STATE_INFO_PKI_ID, v);
  return id === undefined ? undefined : payload.subarray(id[0], id[1]);
}

/**
 * The PKI-ID bytes of the alive message in `payload` (a serialized GossipMessage), as a view into it,
 * or undefined when none is found. Discovery uses it to find the alive message it already stores for
 * that peer before decoding a membership response's entry.
 */
export function peekAlivePkiId(payload: Uint8Array): Uint8Array | undefined {
  const v = { value: 0 };
  const alive = findBytesField(payload, 0, payload.byteLength, GOSSIP_MESSAGE_ALIVE_MSG, v);
  if (alive === undefined) return undefined;
  const member = findBytesField(payload, alive[0], alive[1], ALIVE_MESSAGE_MEMBERSHIP, v);
  if (member === undefined) return undefined;
  const id = findBytesField(payload, member[0], member[1], MEMBER_PKI_ID, v);
  return id === undefined ? undefined : payload.subarray(id[0], id[1]);
}
