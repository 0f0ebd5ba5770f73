import { blockHeaderHash } from "../crypto/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import type { LedgerAdapter } from "../state/index.js";
import { bytesEqual } from "../util/bytes.js";
import type { BlockSource } from "./block-source.js";

/** Told of every commit before it is stored; a throw refuses it (the state provider then halts). */
export type CommitHook = (block: Block, headerHash: Uint8Array) => void;

/**
 * A peer's ledger of one channel in memory, surviving the peer's crash and restart. It keeps each
 * committed block's header hash; the block itself only when it differs from the ordering
 * service's (a fork), since a thousand peers cannot each hold their own copy of every block:
 * state transfer serves the shared canonical block object instead.
 */
export class MemoryLedger implements LedgerAdapter {
  readonly channel: string;
  readonly #source: BlockSource;
  readonly #hashes: Uint8Array[] = [];
  readonly #own = new Map<number, Block>();
  #onCommit: CommitHook | undefined;

  constructor(channel: string, source: BlockSource) {
    this.channel = channel;
    this.#source = source;
    this.#hashes.push(source.genesis(channel).hash);
  }

  /** Sets who hears of commits (the simulator: invariants, metrics, trace). */
  onCommit(hook: CommitHook): void {
    this.#onCommit = hook;
  }

  height(): bigint {
    return BigInt(this.#hashes.length);
  }

  /** Header hash of block `seq`, or undefined. */
  hashAt(seq: number): Uint8Array | undefined {
    return this.#hashes[seq];
  }

  async commitBlock(block: Block): Promise<void> {
    const header = block.header;
    if (header === undefined) throw new Error(`ledger ${this.channel}: block without header`);
    const hash = blockHeaderHash(header);
    this.#onCommit?.(block, hash);
    const seq = Number(header.number);
    if (seq !== this.#hashes.length) throw new Error(`ledger ${this.channel}: block ${seq} committed at height ${this.#hashes.length}`);
    this.#hashes.push(hash);
    const canonical = this.#source.block(this.channel, seq);
    if (canonical === undefined || !bytesEqual(canonical.hash, hash)) this.#own.set(seq, block);
  }

  async getBlocks(from: bigint, to: bigint): Promise<Block[]> {
    const out: Block[] = [];
    const end = Math.min(Number(to), this.#hashes.length - 1);
    for (let seq = Number(from); seq <= end; seq++) {
      const own = this.#own.get(seq);
      const b = own ?? this.#source.block(this.channel, seq)?.block;
      if (b !== undefined) out.push(b);
    }
    return out;
  }
}
