import { createHash, randomBytes } from "node:crypto";
import { NONCE_SIZE } from "../crypto/index.js";
import { ChannelHeader, type Envelope, HeaderType, Payload, SignatureHeader } from "../protos/gen/common/common.pb.js";
import { SeekInfo, SeekInfo_SeekBehavior, SeekInfo_SeekErrorResponse, type SeekPosition } from "../protos/gen/orderer/ab.pb.js";
import { type Clock, type Random, SystemClock } from "../util/index.js";

/** Fabric's `math.MaxUint64` stop position: deliver for ever. */
export const MAX_UINT64 = (1n << 64n) - 1n;

/** What signs an envelope: a serialized identity (msp.SerializedIdentity bytes) and its signing function. */
export interface EnvelopeSigner {
  readonly serialized: Uint8Array;
  sign(msg: Uint8Array): Uint8Array;
}

/** Options of `createSignedEnvelope` and `createSeekInfoEnvelope`. */
export interface SignedEnvelopeOptions {
  /** For the channel header timestamp. Default: the system clock. */
  clock?: Clock;
  /** Where the nonce comes from when `nonce` is absent (the simulator's seeded source). Default: node:crypto. */
  random?: Random;
  /** Default: `NONCE_SIZE` random bytes. */
  nonce?: Uint8Array;
  /** Default: Fabric's ComputeTxID, hex(SHA-256(nonce || creator)). */
  txId?: string;
  epoch?: bigint;
  /** SHA-256 of our TLS client certificate: the orderer checks it against the connection's (TLS binding). */
  tlsCertHash?: Uint8Array | undefined;
}

/** A fresh `NONCE_SIZE`-byte nonce (Fabric's `crypto.GetRandomNonce`). */
export function randomNonce(random: Random): Uint8Array {
  const out = new Uint8Array(NONCE_SIZE);
  const view = new DataView(out.buffer);
  for (let i = 0; i < NONCE_SIZE; i += 8) view.setBigUint64(i, random.uint64());
  return out;
}

/** Fabric's `protoutil.ComputeTxID`: hex SHA-256 of nonce || creator. */
export function computeTxId(nonce: Uint8Array, creator: Uint8Array): string {
  return createHash("sha256").update(nonce).update(creator).digest("hex");
}

/**
 * Fabric's `protoutil.CreateSignedEnvelopeWithTLSBinding`: Payload{Header{ChannelHeader{type, version 0,
 * timestamp in whole seconds (MakeChannelHeader), channel_id, tx_id, epoch, tls_cert_hash},
 * SignatureHeader{creator, nonce}}, data}, signed by `signer` over the payload bytes.
 */
export function createSignedEnvelope(
  signer: EnvelopeSigner,
  channel: string,
  type: HeaderType | number,
  data: Uint8Array,
  opts: SignedEnvelopeOptions = {},
): Envelope {
  const nonce = opts.nonce ?? (opts.random !== undefined ? randomNonce(opts.random) : new Uint8Array(randomBytes(NONCE_SIZE)));
  const clock = opts.clock ?? new SystemClock();
  const channelHeader = ChannelHeader.encode({
    type,
    version: 0,
    timestamp: new Date(Math.floor(clock.now() / 1000) * 1000),
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

/** Where a SeekInfo starts or stops. A number is `SeekSpecified`; `MAX_UINT64` as stop follows forever. */
export type SeekTarget = "oldest" | "newest" | bigint;

function seekPosition(t: SeekTarget): SeekPosition {
  if (t === "oldest") return { Type: { $case: "oldest", value: {} } };
  if (t === "newest") return { Type: { $case: "newest", value: {} } };
  return { Type: { $case: "specified", value: { number: t } } };
}

/**
 * A signed DELIVER_SEEK_INFO envelope, as Fabric's deliver clients send (its blocksprovider's
 * `createSeekInfo`; the peer's leader asks from its ledger height to MaxUint64, BLOCK_UNTIL_READY).
 * Default: oldest to forever, blocking, STRICT error response.
 */
export function createSeekInfoEnvelope(
  signer: EnvelopeSigner,
  channel: string,
  seek: { start?: SeekTarget; stop?: SeekTarget; behavior?: "block" | "fail" } = {},
  opts: SignedEnvelopeOptions = {},
): Envelope {
  const info = SeekInfo.encode({
    start: seekPosition(seek.start ?? "oldest"),
    stop: seekPosition(seek.stop ?? MAX_UINT64),
    behavior: seek.behavior === "fail" ? SeekInfo_SeekBehavior.FAIL_IF_NOT_READY : SeekInfo_SeekBehavior.BLOCK_UNTIL_READY,
    errorResponse: SeekInfo_SeekErrorResponse.STRICT,
  }).finish();
  return createSignedEnvelope(signer, channel, HeaderType.DELIVER_SEEK_INFO, info, opts);
}
