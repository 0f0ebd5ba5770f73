import { ChannelError } from "./errors.js";
import { BLOCK_EXPIRATION_PULL_INTERVALS, type ChannelConfig, DEFAULT_CHANNEL_CONFIG, STATE_INFO_SWEEP_PULL_INTERVALS } from "./interface.js";

const POSITIVE_DURATIONS = [
  "publishStateInfoIntervalMs",
  "pullIntervalMs",
  "requestStateInfoIntervalMs",
  "blockExpirationIntervalMs",
  "stateInfoCacheSweepIntervalMs",
  "timeForMembershipTrackerMs",
  "leaderMsgExpirationTimeoutMs",
] as const satisfies readonly (keyof ChannelConfig)[];

const NON_NEGATIVE_DURATIONS = ["digestWaitTimeMs", "requestWaitTimeMs", "responseWaitTimeMs"] as const satisfies readonly (keyof ChannelConfig)[];

/**
 * Fills in Fabric's defaults and checks the result. As in chanstate.go's `GetConf`, the block store
 * TTL and the StateInfo sweep period are derived from `pullIntervalMs` (x100 and x5) unless given.
 * Throws ChannelError INVALID_OPTIONS naming the key.
 */
export function resolveChannelConfig(partial: Partial<ChannelConfig> = {}): ChannelConfig {
  const pullIntervalMs = partial.pullIntervalMs ?? DEFAULT_CHANNEL_CONFIG.pullIntervalMs;
  const config: ChannelConfig = {
    ...DEFAULT_CHANNEL_CONFIG,
    blockExpirationIntervalMs: pullIntervalMs * BLOCK_EXPIRATION_PULL_INTERVALS,
    stateInfoCacheSweepIntervalMs: pullIntervalMs * STATE_INFO_SWEEP_PULL_INTERVALS,
    ...stripUndefined(partial),
  };
  for (const key of POSITIVE_DURATIONS) {
    const value = config[key];
    if (!Number.isFinite(value) || value <= 0) {
      throw new ChannelError("INVALID_OPTIONS", `channel config ${key} must be a positive number of milliseconds, got ${String(value)}`);
    }
  }
  for (const key of NON_NEGATIVE_DURATIONS) {
    const value = config[key];
    if (!Number.isFinite(value) || value < 0) {
      throw new ChannelError("INVALID_OPTIONS", `channel config ${key} must be a non-negative number of milliseconds, got ${String(value)}`);
    }
  }
  const blockPull = config.blockPullIntervalMs;
  if (blockPull !== undefined && (!Number.isFinite(blockPull) || blockPull < 0)) {
    throw new ChannelError("INVALID_OPTIONS", `channel config blockPullIntervalMs must be 0 (off) or a positive number of milliseconds, got ${String(blockPull)}`);
  }
  if (!Number.isSafeInteger(config.maxBlockCountToStore) || config.maxBlockCountToStore < 0) {
    throw new ChannelError("INVALID_OPTIONS", `channel config maxBlockCountToStore must be a non-negative integer, got ${String(config.maxBlockCountToStore)}`);
  }
  if (!Number.isSafeInteger(config.pullPeerNum) || config.pullPeerNum < 0) {
    throw new ChannelError("INVALID_OPTIONS", `channel config pullPeerNum must be a non-negative integer, got ${String(config.pullPeerNum)}`);
  }
  return config;
}

function stripUndefined(partial: Partial<ChannelConfig>): Partial<ChannelConfig> {
  const out: Partial<ChannelConfig> = {};
  for (const [key, value] of Object.entries(partial) as [keyof ChannelConfig, number | undefined][]) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}
