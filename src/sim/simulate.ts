import { type GossipConfig, loadGossipConfig } from "../config/index.js";
import { type SimOptions, type SimResult, simOptions } from "./interface.js";
import { type PresetName, presetGossipConfig } from "./presets.js";
import { Simulator } from "./simulator.js";

/** A simulation to run: any SimOptions (defaults for the rest), and the gossip settings or a preset. */
export type SimulateOptions = Partial<SimOptions> & {
  /** The peers' peer.gossip settings. Default: the preset's, else Fabric's defaults. */
  gossip?: GossipConfig;
  /** `fabric` or `tuned` (src/sim/presets.ts); ignored when `gossip` is given. */
  preset?: PresetName;
};

/**
 * Runs one deterministic simulation (what `fabric-gossip simulate` runs) and returns its report and
 * time series. The same options and seed give the same result, trace hash included.
 * @throws SimError INVALID_OPTIONS for options out of range; SimInvariantError when an invariant breaks.
 */
export function simulate(options: SimulateOptions = {}): Promise<SimResult> {
  const { preset, gossip, ...rest } = options;
  const config = gossip ?? (preset !== undefined ? presetGossipConfig(preset) : loadGossipConfig({}).config);
  return new Simulator(simOptions({ ...rest, gossip: config })).run();
}
