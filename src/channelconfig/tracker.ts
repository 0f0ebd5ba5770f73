import { blockDataHash } from "../crypto/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import { type ChannelBundle, type ChannelBundleOptions, ChannelVerifyError, createChannelBundle } from "./bundle.js";
import { channelConfigFromBlock } from "./channel-config.js";
import { blockKind } from "./configtx.js";
import { errorMessage } from "../util/index.js";

/**
 * The configuration in force on a channel as its blocks go by: what Fabric's peer keeps in its channel's
 * `channelconfig.Bundle` and replaces when it commits a config block. The configuration in force at block N is
 * that of the last config block before N; a config block is itself verified under the configuration before it.
 */
export interface ChannelConfigTracker {
  readonly channelId: string;
  /** The bundle in force for the next block. */
  readonly bundle: ChannelBundle;
  /** The number of the config block whose configuration is in force. */
  readonly configBlockNumber: bigint;
  /** The number of the next block `append` takes. */
  readonly height: bigint;
  /** Verifies a block under the configuration in force (see `ChannelBundle.verifyBlock`). Throws ChannelVerifyError. */
  verifyBlock(block: Block, seqNum?: bigint): void;
  /**
   * Takes the next block: it must be block `height` and verify under the configuration in force; a config
   * block's configuration then comes into force. Returns the new bundle for a config block, else undefined.
   * Nothing changes when it throws ChannelVerifyError (WRONG_SEQUENCE, the codes of verifyBlock,
   * BAD_CONFIG_BLOCK).
   */
  append(block: Block): ChannelBundle | undefined;
  /**
   * `append` without the verification, for a block already verified under the configuration in force
   * (a peer commits only blocks its MCS checked against this tracker's bundle). Throws ChannelVerifyError
   * WRONG_SEQUENCE, BAD_CONFIG_BLOCK; nothing changes when it throws.
   */
  advance(block: Block): ChannelBundle | undefined;
}

/** Options of a tracker: the bundle's, and where the chain stands. */
export interface ChannelConfigTrackerOptions extends ChannelBundleOptions {
  /**
   * The ledger height when resuming a channel from its last config block (a restart); by default the block
   * after the join block.
   */
  height?: bigint;
}

/**
 * Starts tracking a channel from its join block, trusted as Fabric trusts it: no signature is checked (a
 * configtxgen genesis block has none), only that it is a config block whose data hash matches. Throws
 * ChannelConfigError (not a config block, malformed), ChannelVerifyError MALFORMED_BLOCK / BAD_DATA_HASH /
 * WRONG_SEQUENCE, or what building its bundle throws (ChannelMspError, CryptoError, PolicyError).
 */
export function createChannelConfigTracker(joinBlock: Block, options: ChannelConfigTrackerOptions): ChannelConfigTracker {
  const header = joinBlock.header;
  if (header === undefined) throw new ChannelVerifyError("MALFORMED_BLOCK", "the join block has no header");
  if (Buffer.compare(blockDataHash(joinBlock.data), header.dataHash) !== 0) {
    throw new ChannelVerifyError("BAD_DATA_HASH", `join block [${header.number}]: header.data_hash is not SHA-256 of the block's data`);
  }
  const height = options.height ?? header.number + 1n;
  if (height <= header.number) {
    throw new ChannelVerifyError("WRONG_SEQUENCE", `a height of ${height} does not follow config block [${header.number}]`);
  }
  const bundle = createChannelBundle(channelConfigFromBlock(joinBlock), options);
  return new Tracker(bundle, header.number, height, options);
}

class Tracker implements ChannelConfigTracker {
  readonly channelId: string;
  #bundle: ChannelBundle;
  #configBlockNumber: bigint;
  #height: bigint;
  readonly #options: ChannelBundleOptions;

  constructor(bundle: ChannelBundle, configBlockNumber: bigint, height: bigint, options: ChannelBundleOptions) {
    this.channelId = bundle.channelId;
    this.#bundle = bundle;
    this.#configBlockNumber = configBlockNumber;
    this.#height = height;
    this.#options = options;
  }

  get bundle(): ChannelBundle {
    return this.#bundle;
  }

  get configBlockNumber(): bigint {
    return this.#configBlockNumber;
  }

  get height(): bigint {
    return this.#height;
  }

  verifyBlock(block: Block, seqNum?: bigint): void {
    this.#bundle.verifyBlock(block, seqNum);
  }

  append(block: Block): ChannelBundle | undefined {
    this.#expectNext(block);
    this.#bundle.verifyBlock(block, this.#height);
    return this.advance(block);
  }

  advance(block: Block): ChannelBundle | undefined {
    const n = this.#expectNext(block);
    if (blockKind(block) !== "config") {
      this.#height++;
      return undefined;
    }
    let next: ChannelBundle;
    try {
      const config = channelConfigFromBlock(block);
      // Fabric's configtx validator takes only the next sequence.
      const want = this.#bundle.config.sequence + 1n;
      if (config.sequence !== want) {
        throw new ChannelVerifyError("BAD_CONFIG_BLOCK", `its config has sequence ${config.sequence}, not ${want}`);
      }
      next = createChannelBundle(config, this.#options);
    } catch (err) {
      throw new ChannelVerifyError("BAD_CONFIG_BLOCK", `config block [${n}] on channel ${this.channelId} cannot be applied: ${errorMessage(err)}`, { cause: err });
    }
    this.#bundle = next;
    this.#configBlockNumber = this.#height;
    this.#height++;
    return next;
  }

  /** The block's number, when it is the next one. */
  #expectNext(block: Block): bigint {
    const n = block.header?.number;
    if (n === undefined) throw new ChannelVerifyError("MALFORMED_BLOCK", `a block on channel ${this.channelId} has no header`);
    if (n !== this.#height) throw new ChannelVerifyError("WRONG_SEQUENCE", `channel ${this.channelId} expects block [${this.#height}] next, not block [${n}]`);
    return n;
  }
}
