import { createHash, randomBytes } from "node:crypto";
import { NONCE_SIZE } from "../crypto/block.js";
import { type ChannelHeader, ChannelHeader as ChannelHeaderCodec, Envelope, HeaderType, Payload, SignatureHeader } from "../protos/gen/common/common.pb.js";
import { SeekInfo, SeekInfo_SeekBehavior, SeekInfo_SeekErrorResponse, type SeekPosition } from "../protos/gen/orderer/ab.pb.js";
import { toHex } from "../util/bytes.js";
import type { Clock } from "../util/clock.js";
import { SystemClock } from "../util/system-clock.js";
import { OrdererError } from "./errors.js";
import { SEEK_MAX } from "./interface.js";

/** What signs an envelope: a serialized identity (msp.SerializedIdentity bytes) and its signing function. */
export interface EnvelopeSigner {
  readonly serialized: Uint8Array;
  sign(msg: Uint8Array): Uint8Array;
}

/** Options of `createSignedEnvelope`. */
export interface SignedEnvelopeOptions {
  /** For the channel header timestamp. Default: the system clock. */
  clock?: Clock;
  /** Default: 24 random bytes. */
  nonce?: Uint8Array;
  /** Default: Fabric's ComputeTxID, hex(SHA-256(nonce || creator)). */
  txId?: string;
  epoch?: bigint;
  tlsCertHash?: Uint8Array;
}

/** Fabric's `protoutil.ComputeTxID`: hex SHA-256 of nonce || creator. */
export function computeTxId(nonce: Uint8Array, creator: Uint8Array): string {
  return toHex(new Uint8Array(createHash("sha256").update(nonce).update(creator).digest()));
}

/**
 * Fabric's `protoutil.CreateSignedEnvelope`: Payload{Header{ChannelHeader{type, channel_id, tx_id,
 * timestamp}, SignatureHeader{creator, nonce}}, data}, signed by `signer` over the payload bytes.
 */
export function createSignedEnvelope(
  signer: EnvelopeSigner,
  channel: string,
  type: HeaderType | number,
  data: Uint8Array,
  opts: SignedEnvelopeOptions = {},
): Envelope {
  const nonce = opts.nonce ?? new Uint8Array(randomBytes(NONCE_SIZE));
  const clock = opts.clock ?? new SystemClock();
  const channelHeader = ChannelHeaderCodec.encode({
    type,
    version: 0,
    timestamp: new Date(clock.now()),
    channelId: channel,
    txId: opts.txId ?? computeTxId(nonce, signer.serialized),
    epoch: opts.epoch ?? 0n,
    extension: new Uint8Array(0),
    tlsCertHash: opts.tlsCertHash ?? new Uint8Array(0),
  }).finish();
  const signatureHeader = SignatureHeader.encode({ creator: signer.serialized, nonce }).finish();
  const payload = Payload.encode({ header: { channelHeader, signatureHeader }, data }).finish();
  return { payload, signature: signer.sign(payload) };
}

/** Where a SeekInfo starts or stops. A number is `SeekSpecified`; `SEEK_MAX` as stop follows forever. */
export type SeekTarget = "oldest" | "newest" | bigint;

function seekPosition(t: SeekTarget): SeekPosition {
  if (t === "oldest") return { Type: { $case: "oldest", value: {} } };
  if (t === "newest") return { Type: { $case: "newest", value: {} } };
  return { Type: { $case: "specified", value: { number: t } } };
}

/** A signed DELIVER_SEEK_INFO envelope, as Fabric's deliver clients send. Default: oldest to forever, blocking. */
export function createSeekInfoEnvelope(
  signer: EnvelopeSigner,
  channel: string,
  seek: { start?: SeekTarget; stop?: SeekTarget; behavior?: "block" | "fail" } = {},
  opts: SignedEnvelopeOptions = {},
): Envelope {
  const info = SeekInfo.encode({
    start: seekPosition(seek.start ?? "oldest"),
    stop: seekPosition(seek.stop ?? SEEK_MAX),
    behavior: seek.behavior === "fail" ? SeekInfo_SeekBehavior.FAIL_IF_NOT_READY : SeekInfo_SeekBehavior.BLOCK_UNTIL_READY,
    errorResponse: SeekInfo_SeekErrorResponse.STRICT,
  }).finish();
  return createSignedEnvelope(signer, channel, HeaderType.DELIVER_SEEK_INFO, info, opts);
}

/** An envelope taken apart. */
export interface ParsedEnvelope {
  envelope: Envelope;
  payload: Payload;
  channelHeader: ChannelHeader;
  signatureHeader: SignatureHeader;
}

/** Decodes envelope, payload, channel header and signature header. Throws OrdererError BAD_REQUEST. */
export function parseEnvelope(bytes: Uint8Array): ParsedEnvelope {
  let envelope: Envelope;
  let payload: Payload;
  try {
    envelope = Envelope.decode(bytes);
    payload = Payload.decode(envelope.payload);
  } catch (err) {
    throw new OrdererError("BAD_REQUEST", "the message is not an Envelope with a Payload", { cause: err });
  }
  if (payload.header === undefined) throw new OrdererError("BAD_REQUEST", "the envelope's payload has no header");
  let channelHeader: ChannelHeader;
  let signatureHeader: SignatureHeader;
  try {
    channelHeader = ChannelHeaderCodec.decode(payload.header.channelHeader);
    signatureHeader = SignatureHeader.decode(payload.header.signatureHeader);
  } catch (err) {
    throw new OrdererError("BAD_REQUEST", "the payload header's channel header or signature header does not decode", { cause: err });
  }
  if (signatureHeader.creator.byteLength === 0) throw new OrdererError("BAD_REQUEST", "the signature header has no creator");
  return { envelope, payload, channelHeader, signatureHeader };
}
