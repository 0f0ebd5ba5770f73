import { blockHeaderHash } from "../crypto/index.js";
import { Block } from "../protos/gen/common/common.pb.js";
import type { ChannelLedger } from "../service/index.js";
import { bytesEqual } from "../util/index.js";
import type { BlockSource } from "./block-source.js";
import { SimError } from "./errors.js";

/**
 * A peer's ledger of one channel in memory, surviving the peer's crash and restart: the gossip
 * service opens it as it opens a block store. It keeps each committed block's header hash; the
 * block itself only when it differs from the ordering service's (a fork), since a thousand peers
 * cannot each hold their own copy of every block: state transfer serves the shared canonical block
 * object instead. It starts with the channel's genesis block.
 */
export class MemoryLedger implements ChannelLedger {
  readonly channel: string;
  readonly #source: BlockSource;
  readonly #hashes: Uint8Array[] = [];
  readonly #own = new Map<number, Block>();

  constructor(channel: string, source: BlockSource) {
    this.channel = channel;
    this.#source = source;
    this.#hashes.push(source.genesis(channel).hash);
  }

  height(): bigint {
    return BigInt(this.#hashes.length);
  }

  lastBlockHash(): Uint8Array {
    return this.#hashes[this.#hashes.length - 1]!;
  }

  /** Header hash of block `seq`, or undefined. */
  hashAt(seq: number): Uint8Array | undefined {
    return this.#hashes[seq];
  }

  async append(input: Block | Uint8Array): Promise<void> {
    const block = input instanceof Uint8Array ? Block.decode(input) : input;
    const header = block.header;
    if (header === undefined) throw new SimError("LEDGER", `ledger ${this.channel}: block without header`);
    const seq = Number(header.number);
    if (seq !== this.#hashes.length) throw new SimError("LEDGER", `ledger ${this.channel}: block ${seq} appended at height ${this.#hashes.length}`);
    const hash = blockHeaderHash(header);
    this.#hashes.push(hash);
    const canonical = this.#source.block(this.channel, seq);
    if (canonical === undefined || !bytesEqual(canonical.hash, hash)) this.#own.set(seq, block);
  }

  async getBlock(n: bigint): Promise<Block> {
    const seq = Number(n);
    const b = seq < this.#hashes.length ? (this.#own.get(seq) ?? this.#source.block(this.channel, seq)?.block) : undefined;
    if (b === undefined) throw new SimError("LEDGER", `ledger ${this.channel}: no block ${seq} (height ${this.#hashes.length})`);
    return b;
  }

  async *iterate(from: bigint, to?: bigint): AsyncIterableIterator<Block> {
    const end = Math.min(Number(to ?? this.height()), this.#hashes.length);
    for (let seq = Number(from); seq < end; seq++) {
      const b = this.#own.get(seq) ?? this.#source.block(this.channel, seq)?.block;
      if (b !== undefined) yield b;
    }
  }

  /** The ledger outlives the peer's incarnations: closing it keeps everything. */
  async close(): Promise<void> {}
}
