/** Deterministic simulation of a Fabric gossip network: virtual time, in-memory network with faults, invariants, reports. */
export * from "./interface.js";
export { SimError, SimInvariantError, type SimErrorCode, type SimHistoryEvent } from "./errors.js";
export { Simulator, validateOptions, SIM_EPOCH_MS, type FrameShaper } from "./simulator.js";
export { RandomTree } from "./rng.js";
export { LatencySampler, LinkModel, validateLatency, validateLink } from "./network-model.js";
export { TraceHasher } from "./trace.js";
export { InvariantChecker } from "./invariants.js";
export { BlockSource, type SourceBlock } from "./block-source.js";
export { MemoryLedger } from "./ledger.js";
export { SimPeer, SkewedClock, type SimChannel, type SimPeerSpec, type SimPeerStatus } from "./peer.js";
export {
  DeterministicP256Key,
  DeterministicSigningIdentity,
  SimDevCrypto,
  fastCryptoSuite,
  realCryptoSuite,
  simMspId,
  type SimCryptoSuite,
  type SimPeerCrypto,
} from "./crypto.js";
export { FRAME_TYPES, scanFrame, type FrameInfo } from "./wire.js";
export { parseBandwidth, parseByteSize, parseCrashSpec, parseLatency, parsePartitionSpec, parseProbability, parseRate } from "./parse.js";
export { renderHtmlReport, type ReportOptions, type ReportRun } from "./report-html.js";
export {
  checkTargets,
  simVerdict,
  type SimVerdict,
  FABRIC_DEFAULTS,
  type GossipPreset,
  type GossipSettings,
  parsePresetName,
  PRESET_NAMES,
  PRESETS,
  type PresetName,
  presetGossipConfig,
  type TargetCheck,
  type TargetFigures,
  targetFigures,
  TUNED,
  TUNED_TARGETS,
} from "./presets.js";
export { simulate, type SimulateOptions } from "./simulate.js";
