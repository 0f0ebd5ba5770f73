import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import {
  type BlockInspection,
  ChannelConfigError,
  type GenesisApplicationOrg,
  type GenesisMsp,
  type GenesisOptions,
  type GenesisOrdererOrg,
  createGenesisBlock,
  genesisMspOfFolder,
  inspectBlock,
} from "../../channelconfig/index.js";
import { Block } from "../../protos/gen/common/common.pb.js";
import { type ChannelDefinition, type ChannelStatusView, loadChannelDefinition, splitHostPort } from "../../service/index.js";
import { errorMessage, GossipError } from "../../util/index.js";
import {
  type AdminAnswer,
  type AdminEndpoint,
  type AdminTlsFlags,
  addAdminTlsOptions,
  adminEndpointOf,
  adminRequest,
  fetchChannelStatus,
  parseChannelStatus,
  repeatableFlag,
} from "../network/index.js";

/**
 * Why a channel command failed: READ_FAILED (the file), BAD_BLOCK (its bytes, with the channelconfig code in the
 * message), JOIN_FAILED (the peer refused), BAD_GENESIS_INPUT (a `channel genesis` flag or MSP folder).
 */
export type ChannelCommandErrorCode = "READ_FAILED" | "BAD_BLOCK" | "JOIN_FAILED" | "BAD_GENESIS_INPUT";

/** A block file that cannot be read or decoded; the message names the file and the cause. */
export class ChannelCommandError extends GossipError {
  declare readonly code: ChannelCommandErrorCode;

  constructor(code: ChannelCommandErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * What a block file says (the function behind `channel inspect`).
 * @throws ChannelCommandError naming the file: READ_FAILED, or BAD_BLOCK with the ChannelConfigError as cause
 */
export async function inspectBlockFile(file: string): Promise<BlockInspection> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ChannelCommandError("READ_FAILED", `${file}: cannot read the block file (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  try {
    return inspectBlock(bytes);
  } catch (err) {
    if (err instanceof ChannelConfigError) throw new ChannelCommandError("BAD_BLOCK", `${file}: ${err.code}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** `fabric-gossip channel ...`: channel blocks and configuration. */
export function registerChannel(program: Command): void {
  const channel = program.command("channel").description("channel blocks and their configuration");
  channel
    .command("inspect")
    .description("print what a block file (a common.Block, as `peer channel fetch` writes it) says: header, signers, and for a config block its orgs, orderers and policies")
    .argument("<file>", "the block file")
    .option("--json", "print JSON")
    .action(async (file: string, opts: { json?: boolean }) => {
      const info = await inspectBlockFile(file);
      process.stdout.write(opts.json ? `${JSON.stringify(info, null, 2)}\n` : formatInspection(info));
    });
  const join = channel
    .command("join")
    .description("join a running peer to the channel of a genesis block (Fabric's peer channel join -b), through its admin endpoint")
    .requiredOption("--admin <host:port>", "the peer's admin endpoint (peer start --admin; https://HOST:PORT with operations TLS, see --admin-tls-*)", checkedAdmin)
    .requiredOption("--block <file>", "the channel's genesis block (configtxgen's output, or block 0 as peer channel fetch writes it)")
    .option("--json", "print the joined channel's status as JSON");
  addAdminTlsOptions(join).action(async (opts: { admin: string; block: string; json?: boolean } & AdminTlsFlags) => {
    const status = await joinChannel(await adminEndpointOf(opts.admin, opts), opts.block);
    process.stdout.write(opts.json ? `${JSON.stringify(status)}\n` : `joined channel ${status.channel} at height ${status.height}\n`);
  });
  const list = channel
    .command("list")
    .description("the channels a running peer has joined (Fabric's peer channel list)")
    .requiredOption("--admin <host:port>", "the peer's admin endpoint (https://HOST:PORT with operations TLS, see --admin-tls-*)", checkedAdmin)
    .option("--json", "print JSON: each channel with its height, last block hash and leadership");
  addAdminTlsOptions(list).action(async (opts: { admin: string; json?: boolean } & AdminTlsFlags) => {
    const channels = await fetchChannelStatus(await adminEndpointOf(opts.admin, opts));
    process.stdout.write(opts.json ? `${JSON.stringify({ channels })}\n` : `Channels peers has joined:\n${channels.map((c) => `${c.channel}\n`).join("")}`);
  });
  channel
    .command("genesis")
    .description(
      "write a channel's genesis block as configtxgen makes it for a channel-participation profile (no system channel), from cryptogen-shaped MSP folders named by flags or by a YAML channel definition",
    )
    .option("--channel <name>", "the channel name (with --org and --orderer-org)")
    .option("--org <MSPID:MSPDIR[:HOST:PORT,...]>", "an application org: its MSP ID, its org MSP folder and its anchor peers (repeatable)", repeatableFlag, [])
    .option("--orderer-org <MSPID:MSPDIR:HOST:PORT[,HOST:PORT...]>", "an orderer org: its MSP ID, its org MSP folder and its endpoints (repeatable)", repeatableFlag, [])
    .option(
      "--channel-def <file>",
      "instead of --channel, --org and --orderer-org: a YAML channel definition (name; orgs with mspId, mspDir, anchorPeers; orderer with mspId, mspDir, endpoints; folders relative to the file)",
    )
    .option("--batch-timeout <duration>", "BatchTimeout (a Go duration)", "2s")
    .option("--max-message-count <n>", "BatchSize.MaxMessageCount", "10")
    .option("--absolute-max-bytes <n>", "BatchSize.AbsoluteMaxBytes", "103809024")
    .option("--preferred-max-bytes <n>", "BatchSize.PreferredMaxBytes", "524288")
    .requiredOption("--out <file>", "where to write the block (a serialized common.Block)")
    .action(async (opts: GenesisFlags) => {
      const bytes = Block.encode(await genesisBlockOfFlags(opts)).finish();
      await writeFile(opts.out, bytes);
      process.stdout.write(`wrote the genesis block of channel ${inspectBlock(bytes).channel} to ${opts.out}\n`);
    });
}

/** The flags of `channel genesis`: `channelDef`, or `channel` with `org` and `orderer-org`. */
export interface GenesisFlags {
  channel?: string;
  org: string[];
  ordererOrg: string[];
  /** A YAML channel definition (src/service/channel-definition.ts) naming the channel, its orgs and orderer org. */
  channelDef?: string;
  batchTimeout: string;
  maxMessageCount: string;
  absoluteMaxBytes: string;
  preferredMaxBytes: string;
  out: string;
}

/**
 * The genesis block `channel genesis` writes: each org's MSP read from its folder (see `genesisMspOfFolder`), the
 * orgs named by --org and --orderer-org or by a --channel-def file.
 * @throws ChannelCommandError BAD_GENESIS_INPUT naming the flag or folder, with the cause; READ_FAILED (the --channel-def file)
 */
export async function genesisBlockOfFlags(flags: GenesisFlags): Promise<Block> {
  if (flags.channelDef !== undefined) {
    const others = [flags.channel !== undefined ? "--channel" : "", flags.org.length > 0 ? "--org" : "", flags.ordererOrg.length > 0 ? "--orderer-org" : ""].filter((f) => f !== "");
    if (others.length > 0) {
      throw new ChannelCommandError("BAD_GENESIS_INPUT", `--channel-def excludes ${others.join(", ")}: the definition names the channel, its orgs and its orderer org; give one or the other`);
    }
    return genesisBlockOfOrgs(await genesisOrgsOfDefinition(flags.channelDef), flags);
  }
  const missing = [flags.channel === undefined ? "--channel" : "", flags.org.length === 0 ? "--org" : "", flags.ordererOrg.length === 0 ? "--orderer-org" : ""].filter((f) => f !== "");
  if (missing.length > 0) {
    throw new ChannelCommandError("BAD_GENESIS_INPUT", `missing ${missing.join(", ")}: give --channel, --org (repeatable) and --orderer-org (repeatable), or --channel-def FILE`);
  }
  const orgArg = async (arg: string, flag: string): Promise<{ msp: GenesisMsp; addresses: string[] }> => {
    // MSPID:MSPDIR[:addresses]; addresses are host:port, so the folder ends at the second colon.
    const first = arg.indexOf(":");
    const second = first < 0 ? -1 : arg.indexOf(":", first + 1);
    const mspId = first < 0 ? "" : arg.slice(0, first);
    const dir = first < 0 ? "" : arg.slice(first + 1, second < 0 ? undefined : second);
    if (mspId === "" || dir === "") throw new ChannelCommandError("BAD_GENESIS_INPUT", `${flag} ${JSON.stringify(arg)}: expected MSPID:MSPDIR[:HOST:PORT,...]`);
    const addresses = second < 0 ? [] : arg.slice(second + 1).split(",").filter((a) => a !== "");
    return { msp: await genesisMspOfFolderFlag(resolve(dir), mspId), addresses };
  };
  const applicationOrgs: GenesisApplicationOrg[] = [];
  for (const arg of flags.org) {
    const { msp, addresses } = await orgArg(arg, "--org");
    applicationOrgs.push({ ...msp, anchorPeers: addresses });
  }
  const ordererOrgs: GenesisOrdererOrg[] = [];
  for (const arg of flags.ordererOrg) {
    const { msp, addresses } = await orgArg(arg, "--orderer-org");
    if (addresses.length === 0) throw new ChannelCommandError("BAD_GENESIS_INPUT", `--orderer-org ${JSON.stringify(arg)}: no endpoint (MSPID:MSPDIR:HOST:PORT[,HOST:PORT...])`);
    ordererOrgs.push({ ...msp, endpoints: addresses });
  }
  return genesisBlockOfOrgs({ channel: flags.channel ?? "", applicationOrgs, ordererOrgs }, flags);
}

/** What a genesis block is made of, before the batch settings. */
type GenesisOrgs = Pick<GenesisOptions, "channel" | "applicationOrgs" | "ordererOrgs">;

/**
 * The channel and orgs of a YAML channel definition (the format peers once read with --channel-def), each org's
 * MSP read from its folder.
 * @throws ChannelCommandError READ_FAILED (the file), BAD_GENESIS_INPUT (a bad field or MSP folder)
 */
export async function genesisOrgsOfDefinition(file: string): Promise<GenesisOrgs> {
  let def: ChannelDefinition;
  try {
    def = await loadChannelDefinition(file);
  } catch (err) {
    const code = err instanceof GossipError && err.code === "CHANNEL_DEFINITION_READ" ? "READ_FAILED" : "BAD_GENESIS_INPUT";
    throw new ChannelCommandError(code, `--channel-def ${file}: ${errorMessage(err)}`, { cause: err });
  }
  const mspOf = async (dir: string, mspId: string): Promise<GenesisMsp> => {
    try {
      return await genesisMspOfFolder(dir, mspId);
    } catch (err) {
      throw new ChannelCommandError("BAD_GENESIS_INPUT", `--channel-def ${file}: ${mspId} (${dir}): ${errorMessage(err)}`, { cause: err });
    }
  };
  const applicationOrgs: GenesisApplicationOrg[] = [];
  for (const o of def.orgs) applicationOrgs.push({ ...(await mspOf(o.mspDir, o.mspId)), anchorPeers: [...o.anchorPeers] });
  const ordererOrgs: GenesisOrdererOrg[] = [{ ...(await mspOf(def.orderer.mspDir, def.orderer.mspId)), endpoints: [...def.orderer.endpoints] }];
  return { channel: def.name, applicationOrgs, ordererOrgs };
}

/**
 * The genesis block of these orgs with the batch settings of the flags.
 * @throws ChannelCommandError BAD_GENESIS_INPUT (a bad batch flag, or what createGenesisBlock refuses)
 */
function genesisBlockOfOrgs(orgs: GenesisOrgs, flags: GenesisFlags): Block {
  const int = (v: string, flag: string): number => {
    if (!/^\d+$/.test(v)) throw new ChannelCommandError("BAD_GENESIS_INPUT", `${flag} ${JSON.stringify(v)} is not a positive integer`);
    return Number(v);
  };
  const options: GenesisOptions = {
    ...orgs,
    batchTimeout: flags.batchTimeout,
    maxMessageCount: int(flags.maxMessageCount, "--max-message-count"),
    absoluteMaxBytes: int(flags.absoluteMaxBytes, "--absolute-max-bytes"),
    preferredMaxBytes: int(flags.preferredMaxBytes, "--preferred-max-bytes"),
  };
  try {
    return createGenesisBlock(options);
  } catch (err) {
    if (err instanceof ChannelConfigError) throw new ChannelCommandError("BAD_GENESIS_INPUT", `${err.code}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * An org's MSP from its folder (see channelconfig's `genesisMspOfFolder`).
 * @throws ChannelCommandError BAD_GENESIS_INPUT naming the folder
 */
export async function genesisMspOfFolderFlag(dir: string, mspId: string): Promise<GenesisMsp> {
  try {
    return await genesisMspOfFolder(dir, mspId);
  } catch (err) {
    throw new ChannelCommandError("BAD_GENESIS_INPUT", errorMessage(err), { cause: err });
  }
}

function checkedAdmin(value: string): string {
  splitHostPort(value.replace(/^https?:\/\//, "").replace(/\/$/, ""));
  return value;
}

/**
 * Sends a genesis block to a peer's `POST /v1/channels/join` and gives the joined channel's status.
 * @throws ChannelCommandError READ_FAILED (the file), JOIN_FAILED (the peer's answer, with its reason)
 */
export async function joinChannel(admin: string | AdminEndpoint, file: string): Promise<ChannelStatusView> {
  const label = typeof admin === "string" ? admin : admin.label;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ChannelCommandError("READ_FAILED", `${file}: cannot read the block file (${errorMessage(err)})`, { cause: err });
  }
  let res: AdminAnswer;
  try {
    res = await adminRequest(admin, "/v1/channels/join", { method: "POST", body: bytes, timeoutMs: 60_000 });
  } catch (err) {
    throw new ChannelCommandError("JOIN_FAILED", `${label}: the peer's admin endpoint did not answer (${errorMessage(err)})`, { cause: err });
  }
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(res.text) as Record<string, unknown>;
  } catch {
    // not JSON: the status says what happened
  }
  if (res.status < 200 || res.status > 299) {
    const why = typeof body["error"] === "string" ? body["error"] : `HTTP ${res.status}`;
    throw new ChannelCommandError("JOIN_FAILED", `${label} refused to join from ${file}: ${why}`);
  }
  return parseChannelStatus(body, label);
}

/** A short readable summary of an inspected block. */
export function formatInspection(b: BlockInspection): string {
  const lines = [
    `block ${b.number} of channel ${b.channel} (${b.kind}, ${b.txCount} ${b.txCount === 1 ? "envelope" : "envelopes"})`,
    `  hash          ${b.hash}`,
    `  previous hash ${b.previousHash || "(none: genesis)"}`,
    `  data hash     ${b.dataHash}${b.dataHashValid ? "" : "  (does NOT match the data)"}`,
    `  last config   ${b.lastConfig}`,
    `  signed by     ${b.signers.length === 0 ? "(no signature)" : b.signers.join(", ")}`,
  ];
  if (b.kind === "config") {
    lines.push(`  config sequence ${b.sequence}`);
    for (const o of b.orgs ?? []) {
      const revoked = o.revokedSerials.length === 0 ? "" : `, revoked ${o.revokedSerials.join(" ")}`;
      lines.push(`  org ${o.mspId}: anchors ${o.anchorPeers.join(", ") || "none"}; ${o.rootCerts} root CA, ${o.tlsRootCerts} TLS root CA${revoked}`);
    }
    if (b.orderer !== undefined) lines.push(`  orderer ${b.orderer.orgs.join(", ")} (${b.orderer.consensusType}): ${b.orderer.endpoints.join(", ") || "no endpoints"}`);
    if (b.capabilities !== undefined) {
      const c = b.capabilities;
      lines.push(`  capabilities channel ${c.channel.join(",") || "-"}, orderer ${c.orderer.join(",") || "-"}, application ${c.application.join(",") || "-"}`);
    }
    const key = ["/Channel/Orderer/BlockValidation", "/Channel/Application/Readers", "/Channel/Application/Writers"];
    for (const path of key) {
      const p = b.policies?.[path];
      if (p !== undefined) lines.push(`  policy ${path}: ${p.type}${p.rule === undefined ? "" : ` "${p.rule}"`}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
