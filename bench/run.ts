/**
 * `npm run bench`: every benchmark, with the machine that produced the figures. Figures are
 * medians where a benchmark repeats; on a 2-core noisy machine compare ratios, not single runs.
 */
import { benchCodec } from "./codec.js";
import { benchCrypto } from "./crypto.js";
import { benchDissemination } from "./dissemination.js";
import { benchE2e } from "./e2e.js";
import { benchGossipHotPath } from "./gossip-hotpath.js";
import { benchLedger } from "./ledger.js";
import { machineLine, printFigures } from "./stats.js";
import { benchTransport } from "./transport.js";
import { benchVirtual100 } from "./virtual-100.js";

const only = process.argv.slice(2);

/** Virtual minutes of the real100 and fast400 runs. */
function simMinutes(): number {
  const m = Number(process.env.SIM_MINUTES ?? "10");
  if (!(m >= 0.5)) throw new Error(`SIM_MINUTES must be at least 0.5 (virtual minutes), got ${process.env.SIM_MINUTES}`);
  return m;
}
/** Benchmarks that run only when named. */
const ON_REQUEST = new Set(["real100", "fast400", "attacks", "fuzz", "sidebyside", "reliability", "tunedlinks", "partitions"]);
const benches: Record<string, () => Promise<Record<string, number | string>>> = {
  codec: () => benchCodec(),
  crypto: () => benchCrypto(),
  transport: () => benchTransport(),
  hotpath: () => benchGossipHotPath(),
  dissemination: () => benchDissemination(),
  virtual100: () => benchVirtual100(),
  ledger: () => benchLedger(),
  e2e: () => benchE2e(),
  simtuned: async () => (await import("./sim-tuned.js")).benchSimTuned(),
  // The tuned set over 1 ms, 10-50 ms and long-tail links, 50-200 peers, 1 KB and 1 MB blocks: about ten minutes, only when named.
  tunedlinks: async () => (await import("./sim-tuned.js")).benchSimTunedLinks(),
  // The simulator's speed (SIM_MINUTES virtual minutes, default 10; minutes of wall time): 100 peers with
  // real ECDSA, 400 peers with the fast crypto, 4 orgs, Fabric's defaults, a block every 2 s.
  real100: async () => (await import("./sim-measure.js")).measureSim("real100", simMinutes()),
  fast400: async () => (await import("./sim-measure.js")).measureSim("fast400", simMinutes()),
  privdata: async () => (await import("./privdata.js")).benchPrivdata(),
  // Real processes under attack, minutes long: only when asked for by name (`npm run bench -- attacks`).
  attacks: async () => (await import("./attacks.js")).benchAttacks(),
  // Clock skew, certificate expiry and renewal, churn on real processes, minutes long: only when named.
  reliability: async () => (await import("./reliability.js")).benchReliability(),
  // Partition and heal between real processes in network namespaces (RELIABILITY.md S3; Linux, root), minutes long.
  partitions: async () => (await import("./partitions.js")).benchPartitions(),
  // Malformed frames to a real peer (RELIABILITY.md S12), 10^6 by default (FUZZ_FRAMES, FUZZ_SEED): minutes long.
  fuzz: async () => (await import("./fuzz.js")).benchFuzz(),
  // Channel join/leave cycles and connection churn, resources back to baseline (RELIABILITY.md S21; LIFECYCLE_CYCLES, LIFECYCLE_CONNECTIONS).
  lifecycle: async () => (await import("./lifecycle.js")).benchLifecycle(),
  // Peers in 25 channels at steady state against 1 channel: churn, deaths, traffic (RELIABILITY.md S20; MANY_* variables).
  channels: async () => (await import("./many-channels.js")).benchManyChannels(),
  // Like for like with Fabric's Go gossip (docs/SIDE-BY-SIDE.md), about a minute per network size: only when asked for.
  sidebyside: async () => (await import("./sidebyside.js")).benchSideBySide(),
};

process.stdout.write(`fabric-gossip benchmarks on ${machineLine()}, ${new Date().toISOString()}\n`);
for (const [name, run] of Object.entries(benches)) {
  if (only.length > 0 ? !only.includes(name) : ON_REQUEST.has(name)) continue;
  process.stdout.write(`\n== ${name}\n`);
  printFigures(await run());
}
