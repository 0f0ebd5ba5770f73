import type { Command } from "commander";
import { existingCryptoMaterial, generateCryptoMaterial, removeCryptoMaterial } from "../../crypto/index.js";
import { GossipError } from "../../util/index.js";
import { nonNegativeIntFlag } from "../network/index.js";

interface GenerateOptions {
  orgs: string;
  peersPerOrg: string;
  users: string;
  out: string;
  orderer?: boolean;
  force?: boolean;
  json?: boolean;
}

/** `crypto generate` refused: OUTPUT_EXISTS (the output folder holds generated material already). */
export class CryptoCommandError extends GossipError {
  declare readonly code: "OUTPUT_EXISTS";

  constructor(code: "OUTPUT_EXISTS", message: string) {
    super(code, message);
  }
}

/**
 * Refuses an output folder that already holds a cryptogen layout, unless `force`, which removes that
 * layout first (so no org of the old run is left beside the new ones). New CAs would orphan every
 * certificate issued from the old ones, MSP folders and channel blocks made from them included.
 * @throws CryptoCommandError OUTPUT_EXISTS, one line naming the folder and what to do.
 */
export async function prepareCryptoOut(out: string, force: boolean): Promise<void> {
  const existing = await existingCryptoMaterial(out);
  if (existing.length === 0) return;
  if (force) {
    await removeCryptoMaterial(out);
    return;
  }
  const shown = existing.slice(0, 2).join(", ") + (existing.length > 2 ? `, ... (${existing.length} org folders)` : "");
  throw new CryptoCommandError(
    "OUTPUT_EXISTS",
    `--out ${out}: already holds generated crypto material (${shown}); generating again would make new CAs and every certificate issued from the old ones would stop verifying. Give another folder, or add --force to replace it`,
  );
}

/** `fabric-gossip crypto generate`: CAs, MSP folders and TLS material in cryptogen's layout. */
export function registerCrypto(program: Command): void {
  program
    .command("crypto")
    .description("crypto material for tests and local networks")
    .command("generate")
    .description(
      "generate CAs, MSP folders and TLS material for N orgs (the layout Fabric's cryptogen produces), with users/Admin@<org> (NodeOU admin) in every org and users/User1@<org> (NodeOU client, what `tx submit --msp` signs with) in peer orgs",
    )
    .option("--orgs <n>", "number of peer organizations", "2")
    .option("--peers-per-org <n>", "peers per organization", "2")
    .option("--users <n>", "client users per peer organization (User1@<org>, ...; cryptogen's Users Count); Admin@<org> is always written", "1")
    .requiredOption("--out <dir>", "output folder")
    .option("--orderer", "also generate an orderer organization")
    .option("--force", "replace the material already in --out (its peerOrganizations/ and ordererOrganizations/): new CAs, old certificates no longer verify")
    .option("--json", "print the generated layout as JSON")
    .action(async (opts: GenerateOptions) => {
      const orgs = positiveInt(opts.orgs, "--orgs");
      const peersPerOrg = positiveInt(opts.peersPerOrg, "--peers-per-org");
      const users = nonNegativeIntFlag(opts.users, "--users");
      await prepareCryptoOut(opts.out, opts.force === true);
      const summary = await generateCryptoMaterial({ orgs, peersPerOrg, users, out: opts.out, orderer: opts.orderer === true });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        return;
      }
      for (const org of summary.orgs) {
        process.stdout.write(`${org.mspId.padEnd(12)} ${org.dir}\n`);
        for (const n of [...org.nodes, ...(org.users ?? [])]) process.stdout.write(`  ${n.name.padEnd(28)} ${n.dir}\n`);
      }
    });
}

/** Parses a positive integer flag, naming the flag when it is not one. */
export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got "${value}"`);
  return n;
}
