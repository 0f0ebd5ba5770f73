/** Deterministic simulation of a Fabric gossip network: virtual time, in-memory network with faults, invariants, reports. */

export { BlockSource, type SourceBlock } from "./block-source.js";
export {
  DeterministicP256Key,
  DeterministicSigningIdentity,
  fastCryptoSuite,
  realCryptoSuite,
  type SimCryptoSuite,
  SimDevCrypto,
  type SimMspMaterial,
  type SimPeerCrypto,
  simMspId,
} from "./crypto.js";
export { SimError, type SimErrorCode, type SimHistoryEvent, SimInvariantError } from "./errors.js";
export * from "./interface.js";
export { InvariantChecker } from "./invariants.js";
export { MemoryLedger } from "./ledger.js";
export { LatencySampler, LinkModel, meanLatencyMs, validateLatency, validateLink } from "./network-model.js";
export { parseBandwidth, parseByteSize, parseCrashSpec, parseLatency, parsePartitionSpec, parseProbability, parseRate } from "./parse.js";
export { type SimChannel, SimPeer, type SimPeerSpec, type SimPeerStatus, SkewedClock } from "./peer.js";
export {
  checkTargets,
  FABRIC_DEFAULTS,
  type GossipPreset,
  type GossipSettings,
  PRESET_NAMES,
  PRESETS,
  type PresetName,
  parsePresetName,
  presetGossipConfig,
  type SimVerdict,
  simVerdict,
  type TargetCheck,
  type TargetFigures,
  TUNED,
  TUNED_TARGETS,
  targetFigures,
} from "./presets.js";
export {
  PrivateDataDriver,
  type PvtDriverHost,
  type PvtOutcome,
  type PvtOutcomeStatus,
  type PvtWriteSetTruth,
  SIM_COLL_ORG1,
  SIM_COLL_SHARED,
  SIM_PVT_CHAINCODE,
  simGenesisBlock,
} from "./privdata.js";
export { type ReportOptions, type ReportRun, type ReportScales, renderHtmlReport, reportScales } from "./report-html.js";
export { RandomTree } from "./rng.js";
export { SharedFrameDecoder } from "./shared-decoder.js";
export { type SimulateOptions, simulate } from "./simulate.js";
export { type FrameShaper, SIM_EPOCH_MS, Simulator, validateOptions } from "./simulator.js";
export { TraceHasher } from "./trace.js";
export { FRAME_TYPES, type FrameInfo, scanFrame } from "./wire.js";
