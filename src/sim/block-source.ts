import { type BlockSigner, blockDataHash, blockHeaderHash, createBlockSignatureMetadata, NONCE_SIZE } from "../crypto/index.js";
import { createSignedEnvelope } from "../deliver/index.js";
import { BLOCK_METADATA_ENTRIES } from "../orderer/index.js";
import { Block, type BlockHeader, Envelope, HeaderType, LastConfig, Metadata, OrdererBlockMetadata } from "../protos/gen/common/common.pb.js";
import type { Clock, SeededRandom } from "../util/index.js";
import { fillRandom } from "./rng.js";

/** One block as the ordering service cut it. */
export interface SourceBlock {
  seq: number;
  block: Block;
  /** Its serialization (what the deliver client hands on and gossip carries). */
  bytes: Uint8Array;
  /** SHA-256 of the header (the next block's previous_hash). */
  hash: Uint8Array;
  /** Virtual ms (monotonic) when it was created. */
  createdAt: number;
}

interface ChannelChain {
  name: string;
  blocks: SourceBlock[];
  waiters: Array<() => void>;
  /** Sequence numbers with a conflicting variant (the fork test hook), and the variants built. */
  forked: Set<number>;
  forks: Map<number, SourceBlock>;
}

/**
 * The ordering service of a simulation: per channel a chain of Fabric-format blocks (header,
 * data = one signed envelope naming the channel and padded to the requested block size,
 * SIGNATURES metadata signed by the orderer identity, LAST_CONFIG), as Fabric's BlockWriter makes
 * them (orderer/buildBlock, with the nonce drawn from the seed so blocks are reproducible). Deliver
 * streams read from it as a leader's deliver client would.
 */
export class BlockSource {
  readonly #signer: BlockSigner;
  readonly #clock: Clock;
  readonly #rng: SeededRandom;
  readonly #blockBytes: number;
  readonly #chains = new Map<string, ChannelChain>();
  #overhead: number | undefined;

  /**
   * @param genesis a channel's own block 0 (a configtx genesis block, for channels whose peers follow a
   *   channel configuration); the others get a padded block 0 like every other block.
   */
  constructor(channels: readonly string[], signer: BlockSigner, clock: Clock, rng: SeededRandom, blockBytes: number, genesis?: ReadonlyMap<string, Block>) {
    this.#signer = signer;
    this.#clock = clock;
    this.#rng = rng;
    this.#blockBytes = blockBytes;
    for (const name of channels) {
      const chain: ChannelChain = { name, blocks: [], waiters: [], forked: new Set(), forks: new Map() };
      this.#chains.set(name, chain);
      const own = genesis?.get(name);
      if (own === undefined || own.header === undefined) {
        chain.blocks.push(this.#build(chain, 0, new Uint8Array(0), 0));
      } else {
        chain.blocks.push({ seq: 0, block: own, bytes: Block.encode(own).finish(), hash: blockHeaderHash(own.header), createdAt: this.#clock.monotonic() });
      }
    }
  }

  #chain(channel: string): ChannelChain {
    const c = this.#chains.get(channel);
    if (c === undefined) throw new Error(`block source: unknown channel ${channel}`);
    return c;
  }

  #build(chain: ChannelChain, seq: number, previousHash: Uint8Array, padding: number, variant = 0, envelopes?: readonly Uint8Array[]): SourceBlock {
    const nonce = (): Uint8Array => fillRandom(this.#rng, new Uint8Array(NONCE_SIZE));
    let blockData: { data: Uint8Array[] };
    if (envelopes === undefined) {
      // Payload bytes: cheap, deterministic, and different per block and variant.
      const data = new Uint8Array(padding);
      data.fill((seq * 7 + variant * 13 + 1) & 0xff);
      if (data.length >= 8) new DataView(data.buffer).setUint32(0, seq);
      const env = createSignedEnvelope(this.#signer, chain.name, seq === 0 ? HeaderType.CONFIG : HeaderType.ENDORSER_TRANSACTION, data, {
        clock: this.#clock,
        nonce: nonce(),
      });
      blockData = { data: [Envelope.encode(env).finish()] };
    } else {
      blockData = { data: [...envelopes] };
    }
    const header: BlockHeader = { number: BigInt(seq), previousHash, dataHash: blockDataHash(blockData) };
    const value = OrdererBlockMetadata.encode({ lastConfig: { index: 0n }, consenterMetadata: new Uint8Array(0) }).finish();
    const metadata: Uint8Array[] = [];
    for (let i = 0; i < BLOCK_METADATA_ENTRIES; i++) metadata.push(new Uint8Array(0));
    metadata[0] = createBlockSignatureMetadata(header, [this.#signer], { value, nonce: nonce() });
    metadata[1] = Metadata.encode({ value: LastConfig.encode({ index: 0n }).finish(), signatures: [] }).finish();
    const block: Block = { header, data: blockData, metadata: { metadata } };
    const bytes = Block.encode(block).finish();
    return { seq, block, bytes, hash: blockHeaderHash(header), createdAt: this.#clock.monotonic() };
  }

  /** Payload padding that makes a block about `blockBytes` long. */
  #padding(chain: ChannelChain): number {
    if (this.#overhead === undefined) {
      const probe = this.#build(chain, 1, new Uint8Array(32), 0);
      this.#overhead = probe.bytes.length;
    }
    return Math.max(0, this.#blockBytes - this.#overhead - 8);
  }

  /**
   * Cuts the next block of `channel` and wakes the deliver streams waiting for it. `envelopes`: the
   * transactions the block holds (serialized envelopes, as clients broadcast them); absent: one
   * padded envelope making a block of about `blockBytes`.
   */
  cut(channel: string, envelopes?: readonly Uint8Array[]): SourceBlock {
    const chain = this.#chain(channel);
    const prev = chain.blocks[chain.blocks.length - 1]!;
    const b = this.#build(chain, chain.blocks.length, prev.hash, envelopes === undefined ? this.#padding(chain) : 0, 0, envelopes);
    chain.blocks.push(b);
    const waiters = chain.waiters.splice(0);
    for (const w of waiters) w();
    return b;
  }

  /**
   * Makes block `seq` (not yet cut) conflict for some readers: `blockFor(..., forked = true)`
   * then returns a different block with the same number and previous hash (an equivocating orderer).
   */
  prepareFork(channel: string, seq: number): void {
    this.#chain(channel).forked.add(seq);
  }

  /** Block `seq` of `channel`, or undefined if not cut yet; `forked` readers get the conflicting one. */
  blockFor(channel: string, seq: number, forked = false): SourceBlock | undefined {
    const chain = this.#chain(channel);
    const b = chain.blocks[seq];
    if (b === undefined || !forked || !chain.forked.has(seq)) return b;
    let alt = chain.forks.get(seq);
    if (alt === undefined) {
      alt = this.#build(chain, seq, b.block.header!.previousHash, this.#padding(chain), 1);
      alt.createdAt = b.createdAt;
      chain.forks.set(seq, alt);
    }
    return alt;
  }

  /** The canonical block `seq` of `channel`. */
  block(channel: string, seq: number): SourceBlock | undefined {
    return this.#chain(channel).blocks[seq];
  }

  /** The genesis block of `channel`. */
  genesis(channel: string): SourceBlock {
    return this.#chain(channel).blocks[0]!;
  }

  /** Blocks of `channel` cut so far, genesis included (the chain height). */
  height(channel: string): number {
    return this.#chain(channel).blocks.length;
  }

  /** Resolves when the next block of `channel` is cut, or when `signal` aborts. */
  next(channel: string, signal: AbortSignal): Promise<void> {
    const chain = this.#chain(channel);
    return new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        signal.removeEventListener("abort", done);
        const i = chain.waiters.indexOf(done);
        if (i >= 0) chain.waiters.splice(i, 1);
        resolve();
      };
      chain.waiters.push(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
