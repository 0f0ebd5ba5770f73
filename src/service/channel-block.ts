import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ChannelConfig, channelConfigFromBlock, decodeBlock, mspOrgMaterialOf } from "../channelconfig/index.js";
import { openBlockStore } from "../ledger/index.js";
import type { Logger } from "../logging/index.js";
import { blockDataHash } from "../crypto/index.js";
import { Block, ChannelHeader, Envelope, Payload } from "../protos/gen/common/common.pb.js";
import { bytesEqual, errorMessage } from "../util/index.js";
import { type ChannelDefinition, ChannelDefinitionError } from "./channel-definition.js";
import { GossipServiceError } from "./errors.js";

/** A channel to join from its genesis block: what the block's config says, and the block to start the ledger with. */
export interface ChannelJoinBlock {
  def: ChannelDefinition;
  /** The serialized block (block 0), appended as it is to an empty ledger. */
  block: Uint8Array;
  config: ChannelConfig;
}

/**
 * What a peer learns from a channel's genesis block (Fabric's `peer channel join -b`): the member
 * orgs with the MSPs the block defines and their anchor peers, the orderer orgs and the endpoints
 * the Deliver client uses. The block is trusted, as Fabric trusts it, but must be block 0 of its
 * channel with a matching data hash.
 * @throws ChannelDefinitionError INVALID_CHANNEL_DEFINITION naming what is wrong (not a config
 *   block, no orderer org or endpoint, an MSP without X.509 material).
 */
export function channelJoinBlockOf(bytes: Uint8Array, source = "the block"): ChannelJoinBlock {
  const bad = (why: string, cause?: unknown): ChannelDefinitionError =>
    new ChannelDefinitionError("INVALID_CHANNEL_DEFINITION", `${source}: ${why}`, cause === undefined ? undefined : { cause });
  let config: ChannelConfig;
  try {
    config = channelConfigFromBlock(decodeBlock(bytes));
    checkJoinBlock(config.channelId, bytes);
  } catch (err) {
    throw bad(errorMessage(err), err);
  }
  try {
    return { def: channelDefinitionOf(config), block: bytes, config };
  } catch (err) {
    throw bad(errorMessage(err), err);
  }
}

/**
 * What a channel's configuration tells a peer: the member orgs with their MSPs and anchor peers, the
 * orderer orgs and the endpoints its Deliver client uses.
 * @throws ChannelDefinitionError INVALID_CHANNEL_DEFINITION (no orderer org or endpoint, no
 *   application org); ChannelConfigError MALFORMED_MSP (an MSP without X.509 material).
 */
export function channelDefinitionOf(config: ChannelConfig): ChannelDefinition {
  const bad = (why: string): ChannelDefinitionError => new ChannelDefinitionError("INVALID_CHANNEL_DEFINITION", `channel ${config.channelId} ${why}`);
  const [orderer, ...others] = config.ordererOrgs;
  if (orderer === undefined) throw bad("has no orderer org");
  if (config.ordererEndpoints.length === 0) throw bad("names no orderer endpoint");
  if (config.applicationOrgs.length === 0) throw bad("has no application org");
  return {
    name: config.channelId,
    orgs: config.applicationOrgs.map((o) => ({
      mspId: o.mspId,
      mspDir: "",
      msp: mspOrgMaterialOf(o.msp),
      anchorPeers: o.anchorPeers.map((a) => (a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`)),
    })),
    orderer: {
      mspId: orderer.mspId,
      mspDir: "",
      msp: mspOrgMaterialOf(orderer.msp),
      endpoints: [...config.ordererEndpoints],
      ...(others.length > 0 ? { otherOrgs: others.map((o) => ({ mspId: o.mspId, msp: mspOrgMaterialOf(o.msp) })) } : {}),
    },
  };
}

/** {@link channelJoinBlockOf} of a block file (`--channel-block FILE`). */
export async function loadChannelJoinBlock(path: string): Promise<ChannelJoinBlock> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    throw new ChannelDefinitionError("CHANNEL_DEFINITION_READ", `cannot read the channel block ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return channelJoinBlockOf(bytes, path);
}

/**
 * The channels whose ledgers are in `ledgerDir` (one folder each), from their genesis blocks: what a
 * restarted peer rejoins without being told (Fabric's peer reopens every ledger it has). Channels in
 * `skip` are left out (given again on the command line). A ledger that cannot be read, or whose
 * block 0 is no channel genesis block (a channel joined from a YAML definition), is left alone with a
 * warning.
 */
export async function storedChannelBlocks(ledgerDir: string, skip: ReadonlySet<string>, logger: Logger): Promise<ChannelJoinBlock[]> {
  let names: string[];
  try {
    names = (await readdir(ledgerDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new ChannelDefinitionError("CHANNEL_DEFINITION_READ", `cannot list the ledgers in ${ledgerDir}: ${errorMessage(err)}`, { cause: err });
  }
  const out: ChannelJoinBlock[] = [];
  for (const name of names.sort()) {
    if (skip.has(name)) continue;
    try {
      const store = await openBlockStore(join(ledgerDir, name));
      let genesis: Uint8Array | undefined;
      try {
        if (store.height() > 0n) genesis = await store.getBlockBytes(0n);
      } finally {
        await store.close();
      }
      if (genesis === undefined) continue;
      const joined = channelJoinBlockOf(genesis, `the ledger of ${name}`);
      if (joined.def.name !== name) throw new Error(`its genesis block is of channel ${joined.def.name}`);
      out.push(joined);
    } catch (err) {
      logger.warn("a stored ledger is not rejoined", { channel: name, err: errorMessage(err) });
    }
  }
  return out;
}

/**
 * The join block is trusted, as Fabric's `peer channel join` trusts it: its signatures are not
 * checked (a configtxgen genesis block carries none). It must still be block 0 of this channel,
 * whole (its data hash in the header).
 * @throws GossipServiceError BAD_GENESIS_BLOCK naming what is wrong.
 */
export function checkJoinBlock(channel: string, bytes: Uint8Array): void {
  const bad = (why: string): GossipServiceError => new GossipServiceError("BAD_GENESIS_BLOCK", `channel ${channel}: the genesis block ${why}`);
  let block: Block;
  try {
    block = Block.decode(bytes);
  } catch (err) {
    throw bad(`is not a common.Block: ${errorMessage(err)}`);
  }
  const header = block.header;
  if (header === undefined) throw bad("has no header");
  if (header.number !== 0n) throw bad(`is block ${header.number}, not block 0`);
  if (!bytesEqual(header.dataHash, blockDataHash(block.data))) throw bad("has a data hash that does not match its data (truncated or altered)");
  const first = block.data?.data[0];
  if (first === undefined) throw bad("has no transaction");
  let channelId: string;
  try {
    const payload = Payload.decode(Envelope.decode(first).payload);
    channelId = ChannelHeader.decode(payload.header?.channelHeader ?? new Uint8Array(0)).channelId;
  } catch (err) {
    throw bad(`carries an undecodable envelope: ${errorMessage(err)}`);
  }
  if (channelId !== channel) throw bad(`is of channel ${JSON.stringify(channelId)}`);
}
