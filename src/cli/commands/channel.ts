import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { type BlockInspection, ChannelConfigError, inspectBlock } from "../../channelconfig/index.js";
import { GossipError } from "../../util/index.js";

/** Why `channel inspect` could not read its file: READ_FAILED (the file) or BAD_BLOCK (its bytes, with the channelconfig code in the message). */
export type ChannelCommandErrorCode = "READ_FAILED" | "BAD_BLOCK";

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
