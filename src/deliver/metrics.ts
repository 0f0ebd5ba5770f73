import { Counter, type Registry } from "../metrics/index.js";

/** Blocks from the ordering service that were not passed on, by channel and reason. */
export const DELIVER_BLOCKS_REJECTED_METRIC = "deliver_blocks_rejected";
/** Reconnections to the ordering service (after an error, a bad block or a status), by channel. */
export const DELIVER_RECONNECTS_METRIC = "deliver_reconnects";
/** Blocks from the ordering service that were verified and passed on, by channel. */
export const DELIVER_BLOCKS_RECEIVED_METRIC = "deliver_blocks_received";

/** Why a block from the ordering service was rejected (the `reason` label). */
export type RejectReason =
  /** The DeliverResponse or its block could not be decoded, or the block has no header. */
  | "malformed"
  /** The block number is not the next one expected on this stream. */
  | "unexpected_number"
  /** MessageCryptoService.verifyBlock refused it (data hash, orderer signature, channel). */
  | "verify_failed"
  /** previous_hash is not the hash of the previous block's header. */
  | "hash_chain";

/** The deliver client's metrics; every channel of a peer shares them, labelled by channel. */
export interface DeliverMetrics {
  rejected: Counter<"channel" | "reason">;
  reconnects: Counter<"channel">;
  received: Counter<"channel">;
}

function counterOn<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [registry] });
}

/** The deliver metrics on `registry`, created once per registry and shared by its channels. */
export function createDeliverMetrics(registry: Registry): DeliverMetrics {
  return {
    rejected: counterOn(registry, DELIVER_BLOCKS_REJECTED_METRIC, "Blocks from the ordering service rejected, by reason", ["channel", "reason"]),
    reconnects: counterOn(registry, DELIVER_RECONNECTS_METRIC, "Reconnections to the ordering service", ["channel"]),
    received: counterOn(registry, DELIVER_BLOCKS_RECEIVED_METRIC, "Blocks from the ordering service verified and passed on", ["channel"]),
  };
}
