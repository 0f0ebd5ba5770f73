import { BinaryReader, type WireType } from "@bufbuild/protobuf/wire";
import { Block, type Status } from "../protos/gen/common/common.pb.js";

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
