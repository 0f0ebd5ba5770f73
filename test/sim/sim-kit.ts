import { defaultGossipConfig } from "../../src/config/index.js";
import { type SimOptions, Simulator, simOptions } from "../../src/sim/index.js";

/** A small, fast simulation: 12 peers in 2 orgs, 10 blocks of 4 KB, fast crypto, short warm-up. */
export function smallOptions(overrides: Partial<SimOptions> = {}): SimOptions {
  const gossip = defaultGossipConfig();
  return simOptions({
    gossip,
    seed: 1,
    peers: 12,
    orgs: 2,
    blocks: 10,
    blockBytes: 4 * 1024,
    blockIntervalMs: 500,
    warmupMs: 20_000,
    crypto: "fast",
    ...overrides,
  });
}

/** Runs a simulation and returns it with its result. */
export async function runSim(options: SimOptions): Promise<{ sim: Simulator; result: Awaited<ReturnType<Simulator["run"]>> }> {
  const sim = new Simulator(options);
  const result = await sim.run();
  return { sim, result };
}
