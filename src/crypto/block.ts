import { createHash, randomBytes } from "node:crypto";
import {
  type BlockData,
  type BlockHeader,
  ChannelHeader,
  Envelope,
  Metadata,
  Payload,
  SignatureHeader,
} from "../protos/gen/common/common.pb.js";
import { bigintToBytes, derOctetString, derSequence, derUnsignedInteger } from "./der.js";
import { CryptoError } from "./errors.js";

/** Fabric's `protoutil.BlockDataHash`: SHA-256 over the concatenation of `data.data` entries. */
export function blockDataHash(data: BlockData | undefined): Uint8Array {
  const h = createHash("sha256");
  for (const d of data?.data ?? []) h.update(d);
  return new Uint8Array(h.digest());
}

/**
 * Fabric's `protoutil.BlockHeaderBytes`: Go's asn1.Marshal of
 * `struct { Number *big.Int; PreviousHash []byte; DataHash []byte }`, i.e. DER
 * `SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash }`.
 */
export function blockHeaderBytes(header: BlockHeader): Uint8Array {
  return derSequence(
    derUnsignedInteger(bigintToBytes(header.number)),
    derOctetString(header.previousHash),
    derOctetString(header.dataHash),
  );
}

/** Fabric's `protoutil.BlockHeaderHash`: SHA-256 of the header's DER bytes; a block's hash and its successor's previous_hash. */
export function blockHeaderHash(header: BlockHeader): Uint8Array {
  return new Uint8Array(createHash("sha256").update(blockHeaderBytes(header)).digest());
}

/** Fabric's `protoutil.GetChannelIDFromBlock`: the channel header's channel_id of the first envelope. */
export function channelIdOfBlock(data: BlockData | undefined): string {
  const first = data?.data[0];
  if (first === undefined) throw new CryptoError("BAD_BLOCK", "failed to retrieve channel id - block is empty");
  try {
    const env = Envelope.decode(first);
    const payload = Payload.decode(env.payload);
    if (payload.header === undefined) throw new CryptoError("BAD_BLOCK", "failed to retrieve channel id - payload header is empty");
    return ChannelHeader.decode(payload.header.channelHeader).channelId;
  } catch (err) {
    if (err instanceof CryptoError) throw err;
    throw new CryptoError("BAD_BLOCK", "failed to retrieve channel id: the first data entry is not an Envelope with a channel header", {
      cause: err,
    });
  }
}

/** What signs blocks: a serialized identity and its signing function. */
export interface BlockSigner {
  readonly serialized: Uint8Array;
  sign(msg: Uint8Array): Uint8Array;
}

/** Fabric's signature-header nonce length (`crypto.NonceSize`). */
export const NONCE_SIZE = 24;

/**
 * The SIGNATURES metadata (`Metadata` bytes for `block.metadata.metadata[0]`) as an orderer writes it:
 * one `MetadataSignature{signature_header = SignatureHeader{creator, nonce}, signature}` where the
 * signature is over `value || signature_header || BlockHeaderBytes(header)`.
 * @param value Metadata.value; Fabric v2 orderers put an encoded OrdererBlockMetadata there.
 */
export function createBlockSignatureMetadata(
  header: BlockHeader,
  signers: readonly BlockSigner[],
  opts: { value?: Uint8Array; nonce?: Uint8Array } = {},
): Uint8Array {
  const value = opts.value ?? new Uint8Array(0);
  const headerBytes = blockHeaderBytes(header);
  const signatures = signers.map((s) => {
    const signatureHeader = SignatureHeader.encode({ creator: s.serialized, nonce: opts.nonce ?? randomBytes(NONCE_SIZE) }).finish();
    return { signatureHeader, signature: s.sign(concatBytes(value, signatureHeader, headerBytes)) };
  });
  return Metadata.encode({ value, signatures }).finish();
}

/** Concatenation of byte arrays (Fabric's `util.ConcatenateBytes`). */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.byteLength;
  }
  return out;
}
