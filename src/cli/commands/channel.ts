import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { type BlockInspection, ChannelConfigError, inspectBlock } from "../../channelconfig/index.js";
import { type ChannelStatusView, splitHostPort } from "../../service/index.js";
import { errorMessage, GossipError } from "../../util/index.js";
import { fetchChannelStatus } from "../network/index.js";

/** Why `channel inspect` could not read its file: READ_FAILED (the file) or BAD_BLOCK (its bytes, with the channelconfig code in the message). */
export type ChannelCommandErrorCode = "READ_FAILED" | "BAD_BLOCK" | "JOIN_FAILED";

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
  channel
    .command("join")
    .description("join a running peer to the channel of a genesis block (Fabric's peer channel join -b), through its admin endpoint")
    .requiredOption("--admin <host:port>", "the peer's admin endpoint (peer start --admin)", checkedAdmin)
    .requiredOption("--block <file>", "the channel's genesis block (configtxgen's output, or block 0 as peer channel fetch writes it)")
    .option("--json", "print the joined channel's status as JSON")
    .action(async (opts: { admin: string; block: string; json?: boolean }) => {
      const status = await joinChannel(opts.admin, opts.block);
      process.stdout.write(opts.json ? `${JSON.stringify(status)}\n` : `joined channel ${status.channel} at height ${status.height}\n`);
    });
  channel
    .command("list")
    .description("the channels a running peer has joined (Fabric's peer channel list)")
    .requiredOption("--admin <host:port>", "the peer's admin endpoint", checkedAdmin)
    .option("--json", "print JSON: each channel with its height, last block hash and leadership")
    .action(async (opts: { admin: string; json?: boolean }) => {
      const channels = await fetchChannelStatus(opts.admin);
      process.stdout.write(opts.json ? `${JSON.stringify({ channels })}\n` : `Channels peers has joined:\n${channels.map((c) => `${c.channel}\n`).join("")}`);
    });
}

function checkedAdmin(value: string): string {
  splitHostPort(value);
  return value;
}

/**
 * Sends a genesis block to a peer's `POST /v1/channels/join` and gives the joined channel's status.
 * @throws ChannelCommandError READ_FAILED (the file), JOIN_FAILED (the peer's answer, with its reason)
 */
export async function joinChannel(admin: string, file: string): Promise<ChannelStatusView> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ChannelCommandError("READ_FAILED", `${file}: cannot read the block file (${errorMessage(err)})`, { cause: err });
  }
  let res: Response;
  try {
    res = await fetch(`http://${admin}/v1/channels/join`, { method: "POST", body: bytes, headers: { "content-type": "application/octet-stream" }, signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    throw new ChannelCommandError("JOIN_FAILED", `${admin}: the peer's admin endpoint did not answer (${errorMessage(err)})`, { cause: err });
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const why = typeof body["error"] === "string" ? body["error"] : `HTTP ${res.status}`;
    throw new ChannelCommandError("JOIN_FAILED", `${admin} refused to join from ${file}: ${why}`);
  }
  return body as unknown as ChannelStatusView;
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
