import { Command, Option } from "commander";
import {
  registerChannel,
  registerCommPeer,
  registerCrypto,
  registerNetwork,
  registerOrderer,
  registerPeer,
  registerPeers,
  registerSimulate,
} from "./commands/index.js";

const program = new Command();
program
  .name("fabric-gossip")
  .description("Hyperledger Fabric's peer gossip service, in TypeScript")
  .version("0.1.0")
  .addOption(new Option("--log-spec <spec>", "FABRIC_LOGGING_SPEC-style log levels, e.g. warn:gossip.comm=debug").env("FABRIC_LOGGING_SPEC"))
  .showHelpAfterError();

registerChannel(program);
registerCrypto(program);
registerCommPeer(program);
registerNetwork(program);
registerOrderer(program);
registerPeer(program);
registerPeers(program);
registerSimulate(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`fabric-gossip: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
