import { createHash } from "node:crypto";
import { type BlockSigner, blockDataHash, blockHeaderBytes, createBlockSignatureMetadata } from "../crypto/index.js";
import type { BlockStore } from "../ledger/index.js";
import type { Logger } from "../logging/index.js";
import { Block, type BlockHeader, LastConfig, Metadata, OrdererBlockMetadata } from "../protos/gen/common/common.pb.js";
import { type Clock, type TimerHandle, bytesEqual, errorMessage } from "../util/index.js";
import { OrdererError } from "./errors.js";

/** Number of `block.metadata.metadata` entries: `len(common.BlockMetadataIndex_name)` (SIGNATURES..COMMIT_HASH), as Fabric's protoutil.NewBlock makes. */
export const BLOCK_METADATA_ENTRIES = 5;

/** Batch limits of a channel (its Orderer group's BatchSize and BatchTimeout). */
export interface BatchOptions {
  /** BatchSize.MaxMessageCount. */
  batchSize: number;
  /** BatchTimeout. */
  batchTimeoutMs: number;
  /** BatchSize.AbsoluteMaxBytes: a larger envelope is refused. */
  maxBlockBytes: number;
  /** BatchSize.PreferredMaxBytes: a batch is cut before it would grow past it. Default `maxBlockBytes`. */
  preferredMaxBytes?: number;
}

/** What a channel chain uses. */
export interface ChainComponents {
  store: BlockStore;
  signer: BlockSigner;
  clock: Clock;
  logger: Logger;
  /** Called after each cut block (not the genesis block) is persisted, in order, with its serialized size. */
  onCut?: (block: Block, bytes: number) => void;
}

function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(b).digest());
}

function blockHeaderHashOf(block: Block): Uint8Array {
  if (block.header === undefined) throw new OrdererError("CONFIG", "a genesis block without a header");
  return sha256(blockHeaderBytes(block.header));
}

/**
 * Builds a Fabric-format block: header {number, previous_hash, data_hash}, data = the envelopes,
 * and metadata as a v2 orderer's BlockWriter writes it: SIGNATURES (value = OrdererBlockMetadata
 * {last_config}, one signature by `signer`), LAST_CONFIG (Metadata{value = LastConfig}), and empty
 * TRANSACTIONS_FILTER, ORDERER and COMMIT_HASH entries.
 */
export function buildBlock(number: bigint, previousHash: Uint8Array, envelopes: readonly Uint8Array[], signer: BlockSigner, lastConfig = 0n): Block {
  const data = { data: [...envelopes] };
  const header: BlockHeader = { number, previousHash, dataHash: blockDataHash(data) };
  const value = OrdererBlockMetadata.encode({ lastConfig: { index: lastConfig }, consenterMetadata: new Uint8Array(0) }).finish();
  const metadata: Uint8Array[] = [];
  for (let i = 0; i < BLOCK_METADATA_ENTRIES; i++) metadata.push(new Uint8Array(0));
  metadata[0] = createBlockSignatureMetadata(header, [signer], { value });
  metadata[1] = Metadata.encode({ value: LastConfig.encode({ index: lastConfig }).finish(), signatures: [] }).finish();
  return { header, data, metadata: { metadata } };
}

/**
 * One channel of the ordering service: Fabric's solo chain with its blockcutter and BlockWriter.
 * Envelopes accumulate; a batch is cut when it holds `batchSize` messages, when the next message
 * would make it larger than `preferredMaxBytes` (a message larger than that goes alone in its own
 * block), or `batchTimeoutMs` after its first message. Blocks are numbered and chained in memory at
 * cut time and appended to the store in order. Every block's LAST_CONFIG is 0: the chain takes no
 * config updates, so the genesis block stays the configuration in force.
 */
export class OrdererChain {
  readonly name: string;
  readonly store: BlockStore;
  readonly #opts: BatchOptions;
  readonly #signer: BlockSigner;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #onCut: ((block: Block, bytes: number) => void) | undefined;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #timer: TimerHandle | undefined;
  #nextNumber: bigint;
  #previousHash: Uint8Array;
  #lastAppend: Promise<void> = Promise.resolve();
  #failed: Error | undefined;
  #closed = false;

  private constructor(name: string, opts: BatchOptions, c: ChainComponents) {
    this.name = name;
    this.store = c.store;
    this.#opts = opts;
    this.#signer = c.signer;
    this.#clock = c.clock;
    this.#log = c.logger;
    this.#onCut = c.onCut;
    this.#nextNumber = c.store.height();
    this.#previousHash = c.store.lastBlockHash();
  }

  /**
   * Opens the chain over its store. An empty store gets `genesis` (the serialized genesis block) as block 0,
   * unchanged; a store that has blocks must start with that same block (same header hash) when `genesis` is given.
   * @throws OrdererError CONFIG for an empty store without a genesis block or a stored block 0 that differs;
   *   LedgerError when the genesis block cannot be stored
   */
  static async open(name: string, opts: BatchOptions, c: ChainComponents, genesis?: Uint8Array): Promise<OrdererChain> {
    if (c.store.height() === 0n) {
      if (genesis === undefined) throw new OrdererError("CONFIG", `channel ${name}: the block store ${c.store.dir} is empty and no genesis block was given`);
      await c.store.append(genesis);
      c.logger.info("stored the genesis block", { channel: name });
    } else if (genesis !== undefined) {
      const stored = blockHeaderHashOf(Block.decode(await c.store.getBlockBytes(0n)));
      const given = blockHeaderHashOf(Block.decode(genesis));
      if (!bytesEqual(stored, given)) {
        throw new OrdererError(
          "CONFIG",
          `channel ${name}: the genesis block given is not block 0 of the chain stored in ${c.store.dir} (header hash ${Buffer.from(given).toString("hex")}, stored ${Buffer.from(stored).toString("hex")}); a channel keeps its genesis block`,
        );
      }
    }
    return new OrdererChain(name, opts, c);
  }

  /** Messages waiting for the next cut. */
  pendingCount(): number {
    return this.#pending.length;
  }

  /** Enqueues one envelope (serialized). Throws OrdererError when the chain is closed or failed, or the envelope is too large. */
  order(env: Uint8Array): void {
    if (this.#closed) throw new OrdererError("SERVICE_UNAVAILABLE", `channel ${this.name} is stopped`);
    if (this.#failed) throw new OrdererError("SERVICE_UNAVAILABLE", `channel ${this.name} failed to write a block: ${this.#failed.message}`);
    if (env.byteLength > this.#opts.maxBlockBytes) {
      throw new OrdererError("BAD_REQUEST", `message payload is ${env.byteLength} bytes and exceeds maximum allowed ${this.#opts.maxBlockBytes} bytes`);
    }
    // Fabric's blockcutter: a message over PreferredMaxBytes is a batch of its own; one that would push the
    // pending batch over it cuts that batch first.
    const preferred = this.#opts.preferredMaxBytes ?? this.#opts.maxBlockBytes;
    if (this.#pending.length > 0 && (env.byteLength > preferred || this.#pendingBytes + env.byteLength > preferred)) this.cut();
    this.#pending.push(env);
    this.#pendingBytes += env.byteLength;
    if (this.#pending.length >= this.#opts.batchSize || env.byteLength > preferred) {
      this.cut();
    } else if (this.#timer === undefined) {
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        this.cut();
      }, this.#opts.batchTimeoutMs);
    }
  }

  /** Cuts the pending batch into a block now (nothing if empty). */
  cut(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#write(batch);
  }

  #write(batch: Uint8Array[]): void {
    const block = buildBlock(this.#nextNumber, this.#previousHash, batch, this.#signer);
    const header = block.header as BlockHeader;
    this.#nextNumber++;
    this.#previousHash = sha256(blockHeaderBytes(header));
    const onCut = this.#onCut;
    const append = this.store.append(block);
    // Appends commit in order, so the callbacks run in block order too.
    if (onCut !== undefined) {
      void append.then(
        () => this.#reportCut(onCut, block),
        () => {}, // the failure is handled below
      );
    }
    this.#lastAppend = append.catch((err: unknown) => {
      if (this.#failed === undefined) this.#failed = err instanceof Error ? err : new Error(String(err));
      this.#log.error("writing a block failed; the channel accepts no more messages", { channel: this.name, block: header.number.toString(), err: errorMessage(err) });
    });
    this.#log.debug("cut block", { channel: this.name, block: header.number.toString(), txs: batch.length });
  }

  #reportCut(onCut: (block: Block, bytes: number) => void, block: Block): void {
    try {
      onCut(block, Block.encode(block).finish().byteLength);
    } catch (err) {
      this.#log.warn("the block callback failed", { channel: this.name, block: block.header?.number.toString(), err: errorMessage(err) });
    }
  }

  /** Resolves when every block cut so far is committed (or failed). */
  flushed(): Promise<void> {
    return this.#lastAppend;
  }

  /** Cuts the pending batch, waits for every block to be written, and refuses further messages. Does not close the store. */
  async close(): Promise<void> {
    if (this.#closed) return this.#lastAppend;
    this.cut();
    this.#closed = true;
    await this.#lastAppend;
  }
}
