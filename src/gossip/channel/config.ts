import { ChannelError } from "./errors.js";
import { BLOCK_EXPIRATION_PULL_INTERVALS, type ChannelConfig, DEFAULT_CHANNEL_CONFIG, STATE_INFO_SWEEP_PULL_INTERVALS } from "./interface.js";

/**
 * The periods of the channel's own repeating timers. Config validates every channel setting
 * (peer.gossip.publishStateInfoInterval, requestStateInfoInterval, pullInterval, membershipTrackerInterval,
 * maxBlockCountToStore, ...); these are checked again because tests build channels by hand and a
 * period of 0 would re-arm forever at the same instant. pullIntervalMs and the store TTLs are
 * guarded where their timers live (the pull engine, the message store).
 */
const TIMER_PERIODS = [
  "publishStateInfoIntervalMs",
  "requestStateInfoIntervalMs",
  "stateInfoCacheSweepIntervalMs",
  "timeForMembershipTrackerMs",
] as const satisfies readonly (keyof ChannelConfig)[];

/**
 * Fills in Fabric's defaults and guards the timer periods (see TIMER_PERIODS). As in chanstate.go's
 * `GetConf`, the block store TTL and the StateInfo sweep period are derived from `pullIntervalMs`
 * (x100 and x5) unless given.
 * Throws ChannelError INVALID_OPTIONS naming the key when a timer period is not positive.
 */
export function resolveChannelConfig(partial: Partial<ChannelConfig> = {}): ChannelConfig {
  const pullIntervalMs = partial.pullIntervalMs ?? DEFAULT_CHANNEL_CONFIG.pullIntervalMs;
  const config: ChannelConfig = {
    ...DEFAULT_CHANNEL_CONFIG,
    blockExpirationIntervalMs: pullIntervalMs * BLOCK_EXPIRATION_PULL_INTERVALS,
    stateInfoCacheSweepIntervalMs: pullIntervalMs * STATE_INFO_SWEEP_PULL_INTERVALS,
    ...stripUndefined(partial),
  };
  for (const key of TIMER_PERIODS) {
    if (!(config[key] > 0)) throw new ChannelError("INVALID_OPTIONS", `channel config ${key} must be a positive number of milliseconds, got ${String(config[key])}`);
  }
  return config;
}

function stripUndefined(partial: Partial<ChannelConfig>): Partial<ChannelConfig> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(partial)) {
    if (value !== undefined) out[key] = value;
  }
  return out as Partial<ChannelConfig>;
}
