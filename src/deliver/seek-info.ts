import { createHash } from "node:crypto";
import { BinaryReader, type WireType } from "@bufbuild/protobuf/wire";
import { blockHeaderBytes, NONCE_SIZE } from "../crypto/block.js";
import { Block, type BlockHeader, ChannelHeader, Envelope, HeaderType, Payload, SignatureHeader, type Status } from "../protos/gen/common/common.pb.js";
import { SeekInfo, SeekInfo_SeekBehavior } from "../protos/gen/orderer/ab.pb.js";
import type { Clock } from "../util/clock.js";
import type { Random } from "../util/random.js";
import type { DeliverSigner } from "./interface.js";

/** Fabric's `math.MaxUint64` stop position: deliver for ever. */
export const MAX_UINT64 = (1n << 64n) - 1n;

/** What the SeekInfo envelope is made from. */
export interface SeekEnvelopeInput {
  channel: string;
  /** First block to deliver (the ledger height). */
  start: bigint;
  signer: DeliverSigner;
  clock: Clock;
  random: Random;
  /** SHA-256 of our TLS client certificate, when TLS is on. */
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
 * The signed Deliver request (Fabric's `createSeekInfo` through
 * `protoutil.CreateSignedEnvelopeWithTLSBinding`): Payload{Header{ChannelHeader{DELIVER_SEEK_INFO,
 * version 0, timestamp in whole seconds, channel, tx id, epoch 0, tls_cert_hash},
 * SignatureHeader{creator, nonce}}, data = SeekInfo{start: specified(start), stop:
 * specified(MaxUint64), BLOCK_UNTIL_READY}}, signed over the payload bytes. Returns the encoded Envelope.
 */
export function createSeekInfoEnvelope(input: SeekEnvelopeInput): Uint8Array {
  const nonce = randomNonce(input.random);
  const creator = input.signer.serialized;
  const channelHeader = ChannelHeader.encode({
    type: HeaderType.DELIVER_SEEK_INFO,
    version: 0,
    // Fabric's MakeChannelHeader: Seconds = now, Nanos = 0.
    timestamp: new Date(Math.floor(input.clock.now() / 1000) * 1000),
    channelId: input.channel,
    txId: computeTxId(nonce, creator),
    epoch: 0n,
    extension: new Uint8Array(0),
    tlsCertHash: input.tlsCertHash ?? new Uint8Array(0),
  }).finish();
  const signatureHeader = SignatureHeader.encode({ creator, nonce }).finish();
  const data = SeekInfo.encode({
    start: { Type: { $case: "specified", value: { number: input.start } } },
    stop: { Type: { $case: "specified", value: { number: MAX_UINT64 } } },
    behavior: SeekInfo_SeekBehavior.BLOCK_UNTIL_READY,
    errorResponse: 0,
  }).finish();
  const payload = Payload.encode({ header: { channelHeader, signatureHeader }, data }).finish();
  return Envelope.encode({ payload, signature: input.signer.sign(payload) }).finish();
}

/** A decoded `DeliverResponse`. The block's bytes are those the orderer sent, never re-encoded. */
export type DeliverMessage =
  | { kind: "status"; status: Status }
  | { kind: "block"; block: Block; bytes: Uint8Array }
  | { kind: "malformed"; error: string };

/** Decodes `orderer.DeliverResponse` (oneof: status = 1, block = 2); never throws. */
export function decodeDeliverResponse(bytes: Uint8Array): DeliverMessage {
  try {
    const reader = new BinaryReader(bytes);
    let status: Status | undefined;
    let blockBytes: Uint8Array | undefined;
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const field = tag >>> 3;
      const wire = (tag & 7) as WireType;
      if (field === 1 && wire === 0) {
        status = reader.int32() as Status;
        blockBytes = undefined;
      } else if (field === 2 && wire === 2) {
        blockBytes = reader.bytes();
        status = undefined;
      } else {
        reader.skip(wire, field);
      }
    }
    if (blockBytes !== undefined) {
      const block = Block.decode(blockBytes);
      return { kind: "block", block, bytes: blockBytes };
    }
    if (status !== undefined) return { kind: "status", status };
    return { kind: "malformed", error: "DeliverResponse carries neither a status nor a block" };
  } catch (err) {
    return { kind: "malformed", error: `cannot decode DeliverResponse: ${(err as Error).message}` };
  }
}
