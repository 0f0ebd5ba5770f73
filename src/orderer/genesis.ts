import {
  BLOCK_VALIDATION_POLICY,
  type ChannelBundle,
  type ChannelConfig,
  ChannelConfigError,
  ChannelVerifyError,
  channelConfigFromBlock,
  createChannelBundle,
  decodeBlock,
} from "../channelconfig/index.js";
import { DurationError, parseDurationMs } from "../config/index.js";
import { blockHeaderHash, type SigningIdentity } from "../crypto/index.js";
import type { Logger } from "../logging/index.js";
import { Block } from "../protos/gen/common/common.pb.js";
import { type Clock, errorMessage } from "../util/index.js";
import type { BatchOptions } from "./chain.js";
import { OrdererError } from "./errors.js";
import { DEFAULT_BATCH_SIZE, DEFAULT_BATCH_TIMEOUT_MS, DEFAULT_MAX_BLOCK_BYTES, MAX_BATCH_BYTES } from "./interface.js";

/** A channel as its genesis block defines it, ready to serve. */
export interface GenesisChannel {
  readonly name: string;
  /** Block 0 exactly as given: it is stored unchanged. */
  readonly bytes: Uint8Array;
  readonly block: Block;
  /** SHA-256 of block 0's header: a stored chain must start with the same block. */
  readonly hash: Uint8Array;
  readonly config: ChannelConfig;
  /** The channel's MSPs and policies: Deliver and Broadcast requesters are checked against them. */
  readonly bundle: ChannelBundle;
  /** The Orderer group's BatchSize and BatchTimeout (before any override). */
  readonly batch: BatchOptions;
}

/** What reading a genesis block uses. */
export interface GenesisContext {
  /** The orderer's identity: its MSP must be one of the channel's orderer orgs and its signature must satisfy BlockValidation. */
  signer: SigningIdentity;
  clock: Clock;
  logger?: Logger;
}

function configError(what: string, err: unknown): OrdererError {
  return new OrdererError("CONFIG", `${what}: ${errorMessage(err)}`, { cause: err });
}

/**
 * Reads a channel's genesis block (serialized or decoded) as Fabric's orderer does when it joins a channel:
 * block 0 of one CONFIG envelope, whose configuration has an Orderer group naming this orderer's MSP among
 * its orgs; the channel's bundle (MSPs and policies) and batch settings come from it. Checks that a block
 * this orderer signs satisfies /Channel/Orderer/BlockValidation, or the channel's peers would refuse it.
 * @throws OrdererError CONFIG naming the cause (ORDERER_ORG in `reason` when the MSP is not an orderer org)
 */
export function readGenesisBlock(input: Uint8Array | Block, ctx: GenesisContext, what = "the genesis block"): GenesisChannel {
  let bytes: Uint8Array;
  let block: Block;
  let config: ChannelConfig;
  try {
    bytes = input instanceof Uint8Array ? input : Block.encode(input).finish();
    block = decodeBlock(bytes, what);
    config = channelConfigFromBlock(block);
  } catch (err) {
    if (err instanceof ChannelConfigError) throw configError(`${what} is not a channel's config block`, err);
    throw err;
  }
  const header = block.header!;
  if (header.number !== 0n) throw new OrdererError("CONFIG", `${what} is block [${header.number}] of channel ${config.channelId}, not a genesis block (block [0])`);
  const name = config.channelId;
  const ordererOrgs = config.ordererOrgs.map((o) => o.mspId);
  if (!ordererOrgs.includes(ctx.signer.mspId)) {
    throw new OrdererError(
      "ORDERER_ORG",
      `channel ${name}: the orderer's MSP ID ${ctx.signer.mspId} is not one of the channel's orderer orgs (${ordererOrgs.join(", ") || "none"}); the channel's peers would refuse its blocks`,
    );
  }
  let bundle: ChannelBundle;
  try {
    bundle = createChannelBundle(config, { clock: ctx.clock, ...(ctx.logger === undefined ? {} : { logger: ctx.logger }) });
  } catch (err) {
    // An unusable MSP or policy (ChannelMspError, PolicyError, CryptoError): the channel cannot be served.
    throw configError(`channel ${name}: the configuration cannot be used`, err);
  }
  // A probe signed as block signatures are: the orderer's identity must satisfy BlockValidation under this config.
  const probe = new TextEncoder().encode(`block validation probe of ${name}`);
  try {
    bundle.evaluatePolicy(BLOCK_VALIDATION_POLICY, [{ identity: ctx.signer.serialized, data: probe, signature: ctx.signer.sign(probe) }]);
  } catch (err) {
    const why = err instanceof ChannelVerifyError ? err.message : errorMessage(err);
    throw new OrdererError("ORDERER_ORG", `channel ${name}: blocks signed by this orderer (${ctx.signer.mspId}) would not satisfy ${BLOCK_VALIDATION_POLICY}: ${why}`, { cause: err });
  }
  return { name, bytes, block, hash: blockHeaderHash(header), config, bundle, batch: batchOf(config) };
}

/** BatchSize and BatchTimeout of the Orderer group, with our defaults where the config has none. */
function batchOf(config: ChannelConfig): BatchOptions {
  const bs = config.batchSize;
  const clamp = (n: number | undefined, fallback: number): number => (n === undefined || n < 1 ? fallback : Math.min(n, MAX_BATCH_BYTES));
  const maxBlockBytes = clamp(bs?.absoluteMaxBytes, DEFAULT_MAX_BLOCK_BYTES);
  let batchTimeoutMs = DEFAULT_BATCH_TIMEOUT_MS;
  if (config.batchTimeout !== undefined && config.batchTimeout !== "") {
    try {
      batchTimeoutMs = parseDurationMs(config.batchTimeout);
    } catch (err) {
      if (err instanceof DurationError) throw configError(`channel ${config.channelId}: BatchTimeout ${JSON.stringify(config.batchTimeout)}`, err);
      throw err;
    }
    if (!(batchTimeoutMs > 0)) throw new OrdererError("CONFIG", `channel ${config.channelId}: BatchTimeout ${JSON.stringify(config.batchTimeout)} is not positive`);
  }
  return {
    batchSize: bs !== undefined && bs.maxMessageCount > 0 ? bs.maxMessageCount : DEFAULT_BATCH_SIZE,
    batchTimeoutMs,
    maxBlockBytes,
    preferredMaxBytes: Math.min(clamp(bs?.preferredMaxBytes, maxBlockBytes), maxBlockBytes),
  };
}
