/**
 * `fabric-gossip simulate` without the rest of the CLI, for measuring the simulator (and for use
 * before src/cli/main.ts registers the command): node --import tsx bench/sim-cli.ts simulate [flags]
 */
import { Command } from "commander";
import { registerSimulate } from "../src/cli/commands/simulate.js";

const program = new Command();
program.name("fabric-gossip").showHelpAfterError();
registerSimulate(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`fabric-gossip: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
