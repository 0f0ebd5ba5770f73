import {
  Block,
  ChannelHeader,
  type Envelope as EnvelopeMsg,
  Envelope,
  HeaderType,
  Payload,
} from "../protos/gen/common/common.pb.js";
import { type Config, ConfigEnvelope, type ConfigGroup } from "../protos/gen/common/configtx.pb.js";
import { ChannelConfigError } from "./errors.js";
import { errorMessage } from "../util/index.js";

/** The name Fabric gives the root group in config paths ("/Channel/Application/Readers"). */
export const ROOT_GROUP = "Channel";
/** Group keys of the channel group (Fabric's channelconfig constants). */
export const APPLICATION_GROUP = "Application";
export const ORDERER_GROUP = "Orderer";

/** What a block is, from its first envelope's channel header (Fabric's `protoutil.IsConfigBlock`). */
export type BlockKind = "config" | "data";

/**
 * Decodes a serialized common.Block; a block needs a header and data. The block number stays a bigint here.
 * @param what names the bytes in error messages, as a plural ("the bytes", "the file's bytes")
 * @throws ChannelConfigError MALFORMED_BLOCK
 */
export function decodeBlock(bytes: Uint8Array, what = "the bytes"): Block {
  let block: Block;
  try {
    block = Block.decode(bytes);
  } catch (err) {
    throw new ChannelConfigError("MALFORMED_BLOCK", `${what} are not a common.Block (${errorMessage(err)})`, { cause: err });
  }
  if (block.header === undefined) throw new ChannelConfigError("MALFORMED_BLOCK", `${what} hold a common.Block without a header`);
  if (block.data === undefined || block.data.data.length === 0) {
    throw new ChannelConfigError("MALFORMED_BLOCK", `${what} hold block [${block.header.number}], which has no data entries`);
  }
  return block;
}

/** The first envelope of a block, decoded down to its channel header. */
export interface FirstEnvelope {
  readonly envelope: EnvelopeMsg;
  readonly payload: Payload;
  readonly channelHeader: ChannelHeader;
}

/**
 * The first data entry of a block as Envelope, Payload and ChannelHeader.
 * @throws ChannelConfigError MALFORMED_BLOCK (no data), MALFORMED_ENVELOPE
 */
export function firstEnvelope(block: Block): FirstEnvelope {
  const n = block.header?.number ?? 0n;
  const first = block.data?.data[0];
  if (first === undefined) throw new ChannelConfigError("MALFORMED_BLOCK", `block [${n}] has no data entries`);
  let envelope: EnvelopeMsg;
  let payload: Payload;
  try {
    envelope = Envelope.decode(first);
    payload = Payload.decode(envelope.payload);
  } catch (err) {
    throw new ChannelConfigError("MALFORMED_ENVELOPE", `block [${n}]: the first data entry is not an Envelope with a Payload (${errorMessage(err)})`, { cause: err });
  }
  if (payload.header === undefined) throw new ChannelConfigError("MALFORMED_ENVELOPE", `block [${n}]: the first envelope's payload has no header`);
  let channelHeader: ChannelHeader;
  try {
    channelHeader = ChannelHeader.decode(payload.header.channelHeader);
  } catch (err) {
    throw new ChannelConfigError("MALFORMED_ENVELOPE", `block [${n}]: the first envelope's channel header does not decode (${errorMessage(err)})`, { cause: err });
  }
  return { envelope, payload, channelHeader };
}

/** "config" when the block's first envelope is of type CONFIG, as Fabric's `protoutil.IsConfigBlock` decides. */
export function blockKind(block: Block): BlockKind {
  return firstEnvelope(block).channelHeader.type === HeaderType.CONFIG ? "config" : "data";
}

/** The configuration a config block carries: its channel, its Config and the update that made it. */
export interface ConfigBlockContent {
  readonly channelId: string;
  readonly config: Config;
  /** The channel_group of `config`, never absent. */
  readonly channelGroup: ConfigGroup;
  /** ConfigEnvelope.last_update: the CONFIG_UPDATE envelope that produced this config (absent in a genesis block). */
  readonly lastUpdate: EnvelopeMsg | undefined;
}

/**
 * Fabric's `protoutil.ExtractEnvelope(block, 0)` then `configtx.UnmarshalConfigEnvelope`: the ConfigEnvelope of
 * a config block.
 * @throws ChannelConfigError MALFORMED_BLOCK, MALFORMED_ENVELOPE, NOT_CONFIG_BLOCK, MALFORMED_CONFIG
 */
export function configOfBlock(block: Block): ConfigBlockContent {
  const n = block.header?.number ?? 0n;
  const { payload, channelHeader } = firstEnvelope(block);
  if (channelHeader.type !== HeaderType.CONFIG) {
    throw new ChannelConfigError("NOT_CONFIG_BLOCK", `block [${n}] is not a config block: its first envelope has header type ${channelHeader.type}, not CONFIG (1)`);
  }
  let env: ConfigEnvelope;
  try {
    env = ConfigEnvelope.decode(payload.data);
  } catch (err) {
    throw new ChannelConfigError("MALFORMED_CONFIG", `block [${n}]: the payload data is not a ConfigEnvelope (${errorMessage(err)})`, { cause: err });
  }
  if (env.config === undefined) throw new ChannelConfigError("MALFORMED_CONFIG", `block [${n}]: the ConfigEnvelope has no config`);
  if (env.config.channelGroup === undefined) throw new ChannelConfigError("MALFORMED_CONFIG", `block [${n}]: the Config has no channel_group`);
  return { channelId: channelHeader.channelId, config: env.config, channelGroup: env.config.channelGroup, lastUpdate: env.lastUpdate };
}

/** The sub-group at `path` below `group` (e.g. ["Application", "Org1MSP"]), or undefined. */
export function groupAt(group: ConfigGroup, path: readonly string[]): ConfigGroup | undefined {
  let g: ConfigGroup | undefined = group;
  for (const name of path) {
    g = g !== undefined && Object.hasOwn(g.groups, name) ? g.groups[name] : undefined;
    if (g === undefined) return undefined;
  }
  return g;
}

/** The keys of a protobuf map in byte order, as Fabric's deterministic marshalling and configtxlator list them. */
export function sortedKeys(map: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(map).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A uint64 as a number, refused beyond 2^53 - 1 rather than rounded. */
export function toSafeNumber(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ChannelConfigError("NUMBER_TOO_LARGE", `${what} ${v} is beyond 2^53 - 1`);
  return Number(v);
}
