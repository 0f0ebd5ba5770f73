import type { Command } from "commander";
import { generateCryptoMaterial } from "../../crypto/index.js";

interface GenerateOptions {
  orgs: string;
  peersPerOrg: string;
  out: string;
  orderer?: boolean;
  json?: boolean;
}

/** `fabric-gossip crypto generate`: CAs, MSP folders and TLS material in cryptogen's layout. */
export function registerCrypto(program: Command): void {
  program
    .command("crypto")
    .description("crypto material for tests and local networks")
    .command("generate")
    .description("generate CAs, MSP folders and TLS material for N orgs (the layout Fabric's cryptogen produces)")
    .option("--orgs <n>", "number of peer organizations", "2")
    .option("--peers-per-org <n>", "peers per organization", "2")
    .requiredOption("--out <dir>", "output folder")
    .option("--orderer", "also generate an orderer organization")
    .option("--json", "print the generated layout as JSON")
    .action(async (opts: GenerateOptions) => {
      const orgs = positiveInt(opts.orgs, "--orgs");
      const peersPerOrg = positiveInt(opts.peersPerOrg, "--peers-per-org");
      const summary = await generateCryptoMaterial({ orgs, peersPerOrg, out: opts.out, orderer: opts.orderer === true });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        return;
      }
      for (const org of summary.orgs) {
        process.stdout.write(`${org.mspId.padEnd(12)} ${org.dir}\n`);
        for (const n of org.nodes) process.stdout.write(`  ${n.name.padEnd(28)} ${n.dir}\n`);
      }
    });
}

/** Parses a positive integer flag, naming the flag when it is not one. */
export function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got "${value}"`);
  return n;
}
