/**
 * A bound on what decoding a gossip envelope costs, checked before decoding. Not in Fabric.
 *
 * Every field the generated decoder visits becomes JavaScript objects: an element of a repeated
 * message field (an Envelope in a MembershipResponse) costs about 220 bytes of heap and 4 µs, an
 * empty `bytes` element about 60 bytes. The wire needs 2 bytes for either, so a 2 MB frame of empty
 * envelopes took 440 MB of heap and 3.8 s of event loop, and one near the 100 MiB limit exhausts the
 * heap. Honest messages keep their bulk in opaque `bytes` fields (blocks, identities, payloads
 * decoded later, one by one), so they visit few fields: about four per member in a membership
 * response or state-info snapshot. The walk below counts the fields the decoder would visit,
 * following the schema of the gossip messages, and gives up at the limit without allocating.
 */

/** Sub-message fields of a message, by field number; every other field is a leaf (one visit). */
interface WireSchema {
  readonly [field: number]: WireSchema | "opaque";
}

/**
 * Fields decoded at most this many in one envelope (with its payload): ~30,000 members in one
 * membership response, far beyond a Fabric network, and ~30 MB of heap at worst.
 */
export const MAX_DECODED_FIELDS = 131_072;

const LEAF: WireSchema = {};
const PEER_TIME: WireSchema = LEAF;
const SECRET_ENVELOPE: WireSchema = LEAF;
/** An Envelope: payload and signature are bytes, decoded later (when at all). */
const ENVELOPE: WireSchema = { 3: SECRET_ENVELOPE };
const PAYLOAD: WireSchema = LEAF;
const PVT_DATA_DIGEST: WireSchema = LEAF;

/** GossipMessage and the content messages of its oneof (fabric-protos gossip/message.proto). */
const GOSSIP_MESSAGE: WireSchema = {
  5: { 1: LEAF, 2: PEER_TIME }, // AliveMessage: Member, PeerTime
  6: { 1: ENVELOPE }, // MembershipRequest
  7: { 1: ENVELOPE, 2: ENVELOPE }, // MembershipResponse
  8: { 1: PAYLOAD }, // DataMessage
  9: LEAF, // GossipHello
  10: LEAF, // DataDigest
  11: LEAF, // DataRequest
  12: { 2: ENVELOPE }, // DataUpdate
  13: LEAF, // Empty
  14: LEAF, // ConnEstablish
  15: { 2: PEER_TIME, 5: { 3: LEAF } }, // StateInfo: PeerTime, Properties{Chaincode}
  16: { 1: ENVELOPE }, // StateInfoSnapshot
  17: LEAF, // StateInfoPullRequest
  18: LEAF, // RemoteStateRequest
  19: { 1: PAYLOAD }, // RemoteStateResponse
  20: { 2: PEER_TIME }, // LeadershipMessage
  21: LEAF, // PeerIdentity
  22: LEAF, // Acknowledgement
  23: { 1: PVT_DATA_DIGEST }, // RemotePvtDataRequest
  24: { 1: { 1: PVT_DATA_DIGEST } }, // RemotePvtDataResponse{PvtDataElement{PvtDataDigest}}
  // PrivateDataMessage{PrivatePayload{collection_configs}}: collection configurations nest policies
  // of their own; every length-delimited field there is counted as if it were a message.
  25: { 1: { 6: "opaque" } },
};

/** The walk's verdict: fields counted, and whether the wire is malformed (the decoder would fail too). */
export interface FieldCount {
  /** Fields visited; stops at `limit + 1`. */
  count: number;
  malformed: boolean;
}

/** Thrown inside the walk: over the limit, or malformed. */
class Stop extends Error {}

/**
 * The number of fields decoding `bytes` as an Envelope and its payload as a GossipMessage visits
 * (SignedGossipMessage.fromEnvelopeBytes), counted until it exceeds `limit`. The walk reads the
 * wire as the generated decoders do (the last payload wins, a zero or end-group tag ends a message,
 * a sub-message may end early and its parent reads on from there), so it never counts fewer fields
 * than they visit.
 */
export function countEnvelopeFields(bytes: Uint8Array, limit: number = MAX_DECODED_FIELDS): FieldCount {
  const w = new Walker(bytes, limit, 0);
  const outer = w.run(ENVELOPE, true);
  if (outer.malformed || outer.count > limit || w.payload === undefined) return outer;
  return new Walker(bytes.subarray(w.payload[0], w.payload[1]), limit, outer.count).run(GOSSIP_MESSAGE, false);
}

/** The same for a payload alone, decoded as a GossipMessage (SignedGossipMessage.fromEnvelope). */
export function countPayloadFields(payload: Uint8Array, limit: number = MAX_DECODED_FIELDS): FieldCount {
  return new Walker(payload, limit, 0).run(GOSSIP_MESSAGE, false);
}

/** The generated decoders refuse to nest deeper; so does @bufbuild's skip of groups. */
const MAX_DEPTH = 100;

class Walker {
  #pos = 0;
  #malformed = false;
  /** The last Envelope.payload seen at the top level: [start, end). */
  payload: [number, number] | undefined;

  constructor(
    private readonly buf: Uint8Array,
    private readonly limit: number,
    private count: number,
  ) {}

  run(schema: WireSchema, envelope: boolean): FieldCount {
    try {
      this.#message(this.buf.byteLength, schema, 0, envelope);
    } catch (err) {
      if (!(err instanceof Stop)) throw err;
    }
    return { count: this.count, malformed: this.#malformed };
  }

  #bad(): never {
    this.#malformed = true;
    throw new Stop();
  }

  #visit(): void {
    if (++this.count > this.limit) throw new Stop();
  }

  /** One message read as a generated `decode(reader, length)` reads it, up to `end`. */
  #message(end: number, schema: WireSchema | "opaque", depth: number, envelope: boolean): void {
    if (depth >= MAX_DEPTH) this.#bad();
    while (this.#pos < end) {
      const tag = this.#uint32();
      if ((tag & 7) === 4 || tag === 0) return;
      this.#visit();
      const field = tag >>> 3;
      const wireType = tag & 7;
      const sub = schema === "opaque" ? "opaque" : schema[field];
      if (wireType === 2 && sub !== undefined) {
        const len = this.#uint32();
        const to = this.#pos + len;
        if (to > this.buf.byteLength) this.#bad();
        if (sub === "opaque") this.#opaque(to, depth);
        else this.#message(to, sub, depth + 1, false);
      } else if (wireType === 2) {
        const len = this.#uint32();
        const from = this.#pos;
        this.#pos += len;
        if (this.#pos > this.buf.byteLength) this.#bad();
        if (envelope && field === 1) this.payload = [from, this.#pos];
      } else {
        this.#skip(wireType, undefined, depth);
      }
    }
  }

  /** A region of messages not modelled here: each length-delimited field counted as a message if it parses as one. */
  #opaque(to: number, depth: number): void {
    try {
      this.#message(to, "opaque", depth + 1, false);
    } catch (err) {
      // Over the limit stays over; a string that is no message counted what it parsed (more, never less).
      if (!(err instanceof Stop) || this.count > this.limit) throw err;
      this.#malformed = false;
    }
    this.#pos = to;
  }

  /** @bufbuild's BinaryReader.skip. */
  #skip(wireType: number, fieldNo: number | undefined, depth: number): void {
    switch (wireType) {
      case 0:
        while (this.#byte() & 0x80) {
          // a varint of any length, as skip() reads it
        }
        break;
      case 1:
        this.#pos += 8;
        break;
      case 5:
        this.#pos += 4;
        break;
      case 3:
        if (depth >= MAX_DEPTH) this.#bad();
        for (;;) {
          const tag = this.#uint32();
          const fn = tag >>> 3;
          const wt = tag & 7;
          if (fn <= 0 || wt > 5) this.#bad();
          if (wt === 4) {
            if (fieldNo !== undefined && fn !== fieldNo) this.#bad();
            break;
          }
          this.#visit();
          if (wt === 2) {
            this.#pos += this.#uint32();
            if (this.#pos > this.buf.byteLength) this.#bad();
          } else this.#skip(wt, fn, depth + 1);
        }
        break;
      default:
        this.#bad();
    }
    if (this.#pos > this.buf.byteLength) this.#bad();
  }

  #byte(): number {
    if (this.#pos >= this.buf.byteLength) this.#bad();
    return this.buf[this.#pos++]!;
  }

  /** @bufbuild's varint32read: the low 32 bits of a varint of at most 10 bytes. */
  #uint32(): number {
    let result = 0;
    for (let i = 0; i < 10; i++) {
      const b = this.#byte();
      if (i < 4) result |= (b & 0x7f) << (7 * i);
      else if (i === 4) result |= (b & 0x0f) << 28;
      if ((b & 0x80) === 0) return result >>> 0;
    }
    return this.#bad();
  }
}
