import type { PeerIdentityType, Signer, Verifier } from "../api/index.js";
import { Envelope, GossipMessage, Secret, type SecretEnvelope } from "../protos/gen/gossip/message.pb.js";
import { startsBuffer } from "../util/index.js";
import { countEnvelopeFields, countPayloadFields, type FieldCount, MAX_DECODED_FIELDS } from "./decode-budget.js";
import { MessageError } from "./errors.js";

/**
 * Frames up to this size are decoded without the walk: a field of the gossip messages takes at least
 * two bytes on the wire (its tag and at least one byte of value or length; they have no packed
 * repeated numbers), so decoding such a frame cannot visit more than
 * MAX_DECODED_FIELDS fields. Malformed wire among them is refused by the decoder itself (the same
 * MALFORMED_MESSAGE). The walk cost about 3 % of a simulation's time, where every frame is small.
 */
const WALK_ABOVE_BYTES = 2 * MAX_DECODED_FIELDS;

/** Refuses, before decoding, wire whose decoding would visit too many fields or fail. */
function checkFieldCount(c: FieldCount, what: string, byteLength: number): void {
  if (c.count > MAX_DECODED_FIELDS) {
    throw new MessageError("TOO_MANY_FIELDS", `cannot decode ${what} (${byteLength} bytes): more than ${MAX_DECODED_FIELDS} fields (repeated elements)`);
  }
  if (c.malformed) throw new MessageError("MALFORMED_MESSAGE", `cannot decode ${what} (${byteLength} bytes): malformed protobuf wire format`);
}

const EMPTY = new Uint8Array(0);

/**
 * Decodes a payload and points its empty bytes fields at one shared empty array. The generated
 * decoder gives every absent bytes field a fresh `new Uint8Array(0)` (and a present empty one a
 * view): about 180 bytes of heap each. Alive, StateInfo and identity messages are kept by every
 * peer for every member (the simulator holds N x N of them), and most of their optional bytes
 * fields are empty; sharing those cut an alive message from about 1,260 to 720 bytes of heap.
 * A zero-length array cannot be written, so sharing it is invisible to readers.
 */
function decodeMessage(payload: Uint8Array): GossipMessage {
  const m = GossipMessage.decode(payload);
  if (m.channel.byteLength === 0) m.channel = EMPTY;
  const c = m.content;
  switch (c?.$case) {
    case "aliveMsg": {
      const v = c.value;
      if (v.identity.byteLength === 0) v.identity = EMPTY;
      if (v.membership !== undefined && v.membership.metadata.byteLength === 0) v.membership.metadata = EMPTY;
      break;
    }
    case "peerIdentity":
      if (c.value.metadata.byteLength === 0) c.value.metadata = EMPTY;
      break;
    case "stateInfo":
      if (c.value.channelMAC.byteLength === 0) c.value.channelMAC = EMPTY;
      break;
    default:
      break;
  }
  replacePkiId(m, ownArray);
  return m;
}

/**
 * Points the PKI-ID field of an alive, StateInfo, leadership or identity message at `replace(pkiId)`, an
 * array with the same bytes. For decoding only, before anyone else sees the message (the decoder's copy out
 * of the frame; the simulator's one array per PKI-ID for the run).
 */
export function replacePkiId(m: GossipMessage, replace: (pkiId: Uint8Array) => Uint8Array): void {
  const c = m.content;
  switch (c?.$case) {
    case "aliveMsg":
      if (c.value.membership !== undefined) c.value.membership.pkiId = replace(c.value.membership.pkiId);
      return;
    case "stateInfo":
    case "leadershipMsg":
    case "peerIdentity":
      c.value.pkiId = replace(c.value.pkiId);
      return;
    default:
      return;
  }
}

/**
 * A PKI-ID as an array of its own rather than a view of the frame. The lookups by PKI-ID remember only such
 * arrays (pkiKey, PkiIdMemo: a view would pin its frame), and held messages are asked about again and again:
 * each membership response reads the org of every held alive message's signer, each StateInfo snapshot that of
 * every held StateInfo message's. 32 bytes copied once per decoded message.
 */
function ownArray(pkiId: Uint8Array): Uint8Array {
  // new Uint8Array, not slice(): a Buffer's slice is a view.
  return pkiId.byteLength === 0 || startsBuffer(pkiId) ? pkiId : new Uint8Array(pkiId);
}

/**
 * Fabric's `protoext.SignedGossipMessage`: an envelope and the GossipMessage its payload holds.
 * The envelope's bytes are kept once known (received, or encoded once), so a received message is
 * forwarded and served byte for byte, never re-encoded.
 */
export class SignedGossipMessage {
  #bytes: Uint8Array | undefined;
  #withoutSecret: SignedGossipMessage | undefined;
  #internalEndpoint: string | undefined;
  #partition: string | undefined;

  private constructor(
    readonly envelope: Envelope,
    readonly message: GossipMessage,
    bytes: Uint8Array | undefined,
  ) {
    this.#bytes = bytes;
  }

  /** Decodes an envelope as received from the wire; its bytes are kept as they came. */
  static fromEnvelopeBytes(bytes: Uint8Array): SignedGossipMessage {
    if (bytes.byteLength > WALK_ABOVE_BYTES) checkFieldCount(countEnvelopeFields(bytes), "gossip envelope", bytes.byteLength);
    let envelope: Envelope;
    let message: GossipMessage;
    try {
      envelope = Envelope.decode(bytes);
      message = decodeMessage(envelope.payload);
    } catch (err) {
      throw new MessageError("MALFORMED_MESSAGE", `cannot decode gossip envelope (${bytes.byteLength} bytes): ${(err as Error).message}`, { cause: err });
    }
    return new SignedGossipMessage(envelope, message, bytes);
  }

  /** Wraps an already-decoded envelope (e.g. one inside a MembershipResponse or DataUpdate). */
  static fromEnvelope(envelope: Envelope): SignedGossipMessage {
    if (envelope.payload.byteLength > WALK_ABOVE_BYTES) checkFieldCount(countPayloadFields(envelope.payload), "gossip payload", envelope.payload.byteLength);
    let message: GossipMessage;
    try {
      message = decodeMessage(envelope.payload);
    } catch (err) {
      throw new MessageError("MALFORMED_MESSAGE", `cannot decode gossip payload: ${(err as Error).message}`, { cause: err });
    }
    return new SignedGossipMessage(envelope, message, undefined);
  }

  /**
   * Fabric's `Sign`: marshals `message` into the payload and signs exactly those bytes. An existing
   * secret envelope is kept (it is signed on its own).
   */
  static sign(message: GossipMessage, signer: Signer, secretEnvelope?: SecretEnvelope): SignedGossipMessage {
    const payload = GossipMessage.encode(message).finish();
    const signature = signer(payload);
    return new SignedGossipMessage({ payload, signature, secretEnvelope }, message, undefined);
  }

  /** Fabric's `NoopSign`: the payload with an empty signature. */
  static noopSign(message: GossipMessage): SignedGossipMessage {
    const payload = GossipMessage.encode(message).finish();
    return new SignedGossipMessage({ payload, signature: EMPTY, secretEnvelope: undefined }, message, undefined);
  }

  /** The envelope's bytes: as received, or encoded once and cached. */
  get bytes(): Uint8Array {
    if (this.#bytes === undefined) this.#bytes = Envelope.encode(this.envelope).finish();
    return this.#bytes;
  }

  /** Size of the envelope on the wire. */
  get size(): number {
    return this.bytes.byteLength;
  }

  /** True when the envelope carries a signature. */
  isSigned(): boolean {
    return this.envelope.signature.byteLength > 0;
  }

  /** Fabric's `SignSecret`: a copy of this message with `secret` signed into its secret envelope. */
  withSecret(secret: Secret, signer: Signer): SignedGossipMessage {
    const payload = Secret.encode(secret).finish();
    const secretEnvelope: SecretEnvelope = { payload, signature: signer(payload) };
    return new SignedGossipMessage({ ...this.envelope, secretEnvelope }, this.message, undefined);
  }

  /**
   * A copy without the secret envelope, as sent to peers of other orgs. The outer signature stays
   * valid because the secret is signed separately.
   */
  withoutSecret(): SignedGossipMessage {
    if (this.envelope.secretEnvelope === undefined) return this;
    // The same copy every time: a message routed again (or, in the simulator, one decoded message
    // routed by every peer it reaches) is not stripped and encoded anew.
    this.#withoutSecret ??= new SignedGossipMessage({ ...this.envelope, secretEnvelope: undefined }, this.message, undefined);
    return this.#withoutSecret;
  }

  /** The internal endpoint in the secret envelope, or "" (Fabric's `InternalEndpoint`). */
  internalEndpoint(): string {
    // Read once: discovery asks for it at each step of handling an alive message.
    this.#internalEndpoint ??= this.#readInternalEndpoint();
    return this.#internalEndpoint;
  }

  /**
   * `compute(this)`, computed once: the message-store partition key (see gossipMessagePartition). A message
   * is checked against the stores of every peer it reaches, and in the simulator those peers share it.
   */
  partition(compute: (msg: SignedGossipMessage) => string): string {
    this.#partition ??= compute(this);
    return this.#partition;
  }

  #readInternalEndpoint(): string {
    const se = this.envelope.secretEnvelope;
    if (se === undefined) return "";
    try {
      const secret = Secret.decode(se.payload);
      return secret.content?.$case === "internalEndpoint" ? secret.content.value : "";
    } catch {
      return "";
    }
  }

  /**
   * Fabric's `Verify`: the payload and signature must be non-empty and verify with `identity`; a
   * secret envelope, if present, must verify with the same identity. Throws MessageError.
   */
  verify(identity: PeerIdentityType, verifier: Verifier): void {
    const { payload, signature, secretEnvelope } = this.envelope;
    if (payload.byteLength === 0) throw new MessageError("EMPTY_PAYLOAD", "signed message has an empty payload");
    if (signature.byteLength === 0) throw new MessageError("EMPTY_SIGNATURE", "signed message has an empty signature");
    try {
      verifier(identity, signature, payload);
    } catch (err) {
      throw new MessageError("BAD_SIGNATURE", `message signature does not verify: ${(err as Error).message}`, { cause: err });
    }
    if (secretEnvelope === undefined) return;
    if (secretEnvelope.payload.byteLength === 0 || secretEnvelope.signature.byteLength === 0) {
      throw new MessageError("BAD_SECRET", "secret envelope has an empty payload or signature");
    }
    try {
      verifier(identity, secretEnvelope.signature, secretEnvelope.payload);
    } catch (err) {
      throw new MessageError("BAD_SECRET", `secret envelope signature does not verify: ${(err as Error).message}`, { cause: err });
    }
  }
}
