import type { ChannelConfigTracker } from "../channelconfig/index.js";
import type { Logger } from "../logging/index.js";
import { type CollectionStore, readBlockTransactions, validateBlockTransactions, withTransactionsFilter } from "../privdata/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import { errorMessage } from "../util/index.js";

/**
 * Fabric's committer-side validation for one channel (what a peer can check without world state, see
 * docs/PRIVDATA-TRANSACTIONS.md): before a block commits, each transaction gets its TxValidationCode under the
 * configuration in force and the chaincode definitions committed before it, and the block its TRANSACTIONS_FILTER.
 * Transaction IDs of committed blocks are kept in memory for the duplicate check (Fabric keeps them in the block
 * store's index); `committed` is also given every block of the chain as the channel opens.
 */
export class ChannelTxValidation {
  readonly #txIds = new Set<string>();
  readonly #tracker: () => ChannelConfigTracker | undefined;
  readonly #definitions: () => Pick<CollectionStore, "definition"> | undefined;
  readonly #log: Logger;
  /** The IDs of the block last validated, added once that block commits (a block that fails to commit adds none). */
  #pending: { number: bigint; txIds: string[] } | undefined;

  constructor(tracker: () => ChannelConfigTracker | undefined, definitions: () => Pick<CollectionStore, "definition"> | undefined, log: Logger) {
    this.#tracker = tracker;
    this.#definitions = definitions;
    this.#log = log;
  }

  /**
   * The block with its TRANSACTIONS_FILTER, or the block as it came when there is nothing to validate against
   * (a channel without configuration, the genesis block) or validation itself fails (logged; the block's
   * own flags then stand, as before validation existed).
   */
  validate(block: Block): Block {
    const tracker = this.#tracker();
    const definitions = this.#definitions();
    const number = block.header?.number;
    if (tracker === undefined || definitions === undefined || number === undefined || number === 0n) return block;
    try {
      const r = validateBlockTransactions(block, { bundle: tracker.bundle, definitions, hasTxId: (id) => this.#txIds.has(id) });
      this.#pending = { number, txIds: r.txs.map((t) => t.txId).filter((id) => id !== "") };
      return withTransactionsFilter(block, r.flags);
    } catch (err) {
      this.#log.error("cannot validate the block's transactions; committing it with its own flags", { block: number.toString(), err: errorMessage(err) });
      this.#pending = undefined;
      return block;
    }
  }

  /** The block committed: its transaction IDs now count as existing. */
  committed(block: Block): void {
    // Without a configuration nothing is validated, so no ID is needed (the simulator's channels).
    if (this.#tracker() === undefined) return;
    const number = block.header?.number;
    if (this.#pending !== undefined && this.#pending.number === number) {
      for (const id of this.#pending.txIds) this.#txIds.add(id);
      this.#pending = undefined;
      return;
    }
    this.#remember(block);
  }

  #remember(block: Block): void {
    for (const read of readBlockTransactions(block)) {
      const id = read.ok ? read.tx.txId : read.error.txId;
      if (id !== "") this.#txIds.add(id);
    }
  }
}
