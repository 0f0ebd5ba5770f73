import { Command, Option } from "commander";
import { parseLogSpec } from "../logging/index.js";
import { FABRIC_GOSSIP_VERSION } from "../util/index.js";
import {
  registerChannel,
  registerCommPeer,
  registerCrypto,
  registerDoctor,
  registerNetwork,
  registerOrderer,
  registerPeer,
  registerPeers,
  registerPvtdata,
  registerSimulate,
  registerTx,
} from "./commands/index.js";

const program = new Command();
program
  .name("fabric-gossip")
  .description("Hyperledger Fabric's peer gossip service, in TypeScript")
  .version(FABRIC_GOSSIP_VERSION)
  .addOption(new Option("--log-spec <spec>", "FABRIC_LOGGING_SPEC-style log levels, e.g. warn:gossip.comm=debug").env("FABRIC_LOGGING_SPEC"))
  // One line after an error, not the whole help: the useful line stays visible.
  .showHelpAfterError("(run with --help for usage)")
  .hook("preAction", (_, action) => {
    // A bad spec is refused before anything starts, naming where it came from.
    const spec = (action.optsWithGlobals() as { logSpec?: string }).logSpec;
    if (spec === undefined) return;
    try {
      parseLogSpec(spec);
    } catch (err) {
      const from = process.env["FABRIC_LOGGING_SPEC"] === spec ? "FABRIC_LOGGING_SPEC" : "--log-spec";
      throw new Error(`${from}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });

registerChannel(program);
registerCrypto(program);
registerDoctor(program);
registerCommPeer(program);
registerNetwork(program);
registerOrderer(program);
registerPeer(program);
registerPeers(program);
registerPvtdata(program);
registerSimulate(program);
registerTx(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`fabric-gossip: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
