import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ChannelConfig, channelConfigFromBlock, decodeBlock, mspOrgMaterialOf } from "../channelconfig/index.js";
import { openBlockStore } from "../ledger/index.js";
import type { Logger } from "../logging/index.js";
import { errorMessage } from "../util/index.js";
import { type ChannelDefinition, ChannelDefinitionError } from "./channel-definition.js";
import { checkJoinBlock } from "./gossip-service.js";

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
  const [orderer, ...others] = config.ordererOrgs;
  if (orderer === undefined) throw bad(`channel ${config.channelId} has no orderer org`);
  if (config.ordererEndpoints.length === 0) throw bad(`channel ${config.channelId} names no orderer endpoint`);
  if (config.applicationOrgs.length === 0) throw bad(`channel ${config.channelId} has no application org`);
  try {
    const def: ChannelDefinition = {
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
    return { def, block: bytes, config };
  } catch (err) {
    throw bad(errorMessage(err), err);
  }
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
