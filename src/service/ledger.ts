import { join } from "node:path";
import type { SignedData } from "../channelconfig/index.js";
import { blockHeaderHash } from "../crypto/index.js";
import { type BlockStoreOptions, openBlockStore } from "../ledger/index.js";
import type { Logger } from "../logging/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import type { PvtDataPayload } from "../protos/gen/gossip/message.pb.js";
import type { LedgerAdapter, StateRequester } from "../state/index.js";

/**
 * One channel's ledger as the gossip service uses it: what the block store offers, and what the
 * simulator's in-memory ledger offers too, so both peers run the same service code.
 */
export interface ChannelLedger {
  /** Blocks held: the number of the next block to append. */
  height(): bigint;
  /** SHA-256 of the last block's header (Fabric's `CurrentBlockHash`). */
  lastBlockHash(): Uint8Array;
  /** Appends the next block: the genesis block of an empty ledger (bytes), then what state commits. */
  append(block: Block | Uint8Array): Promise<void>;
  getBlock(n: bigint): Promise<Block>;
  /** Blocks `from` up to `to` exclusive (to the height when absent), in order. */
  iterate(from: bigint, to?: bigint): AsyncIterableIterator<Block>;
  close(): Promise<void>;
}

/** Opens the ledger of a channel (Fabric's `ledgermgmt`). */
export interface LedgerProvider {
  open(channel: string): Promise<ChannelLedger>;
}

/** Crash-safe block stores, one per channel in `<rootDir>/<channel>`. */
export function blockStoreLedgers(rootDir: string, options: BlockStoreOptions = {}, logger?: Logger): LedgerProvider {
  return {
    open: (channel) => openBlockStore(join(rootDir, channel), options, logger === undefined ? {} : { logger: logger.child("ledger", { channel }) }),
  };
}

/**
 * The channel's private data commit path (the privdata handler): a block goes through it to the block store
 * with its private data, and state responses read the private data a requester may have from it.
 */
export interface StatePvtDataPath {
  /** Commits the next block with the private data that came with it (Fabric's coordinator `StoreBlock`). */
  commitBlock(block: Block, pvtData: readonly PvtDataPayload[] | undefined): Promise<unknown>;
  /** The private data of block `seqNum` the requester's signed data may read (Fabric's `GetPvtDataAndBlockByNum`). */
  pvtDataFor(seqNum: bigint, requester: SignedData | undefined): Promise<PvtDataPayload[]>;
}

/**
 * The ledger as the state provider sees it (Fabric's `ledgerResources` of the coordinator). With `pvt`,
 * blocks commit through the private data coordinator and state responses carry the private data the
 * requester may read; without, blocks are appended as they are and travel without private data.
 * `onCommit` hears each block once it is stored.
 */
export function stateLedgerOf(
  ledger: ChannelLedger,
  onCommit?: (block: Block, headerHash: Uint8Array, commitMs: number) => void,
  pvt?: StatePvtDataPath,
  now: () => number = () => 0,
): LedgerAdapter {
  return {
    height: () => ledger.height(),
    commitBlock: async (block, pvtData) => {
      const started = now();
      if (pvt === undefined) await ledger.append(block);
      else await pvt.commitBlock(block, pvtData);
      if (onCommit !== undefined && block.header !== undefined) onCommit(block, ledger.lastBlockHash(), now() - started);
    },
    getBlocks: async (from, to) => {
      const out: Block[] = [];
      const end = to + 1n < ledger.height() ? to + 1n : ledger.height();
      if (from >= end) return out;
      for await (const b of ledger.iterate(from, end)) out.push(b);
      return out;
    },
    ...(pvt === undefined
      ? {}
      : {
          pvtDataFor: (seqNum: bigint, requester: StateRequester) =>
            pvt.pvtDataFor(
              seqNum,
              requester.signedData === undefined || requester.signature === undefined
                ? undefined
                : { data: requester.signedData, signature: requester.signature, identity: requester.identity },
            ),
        }),
  };
}

/** SHA-256 of block `n`'s header as the ledger holds it, or undefined above the height. */
export async function blockHashAt(ledger: ChannelLedger, n: bigint): Promise<Uint8Array | undefined> {
  const h = ledger.height();
  if (n >= h) return undefined;
  if (n === h - 1n) return ledger.lastBlockHash();
  const b = await ledger.getBlock(n);
  return b.header === undefined ? undefined : blockHeaderHash(b.header);
}
