import type { MemberDeathCause } from "../api/index.js";
import type { GossipConfig } from "../config/index.js";
import type { GossipServiceOptions } from "../service/index.js";

/** peer.gossip.pvtData.* as the gossip service takes them. */
export type SimPvtDataSettings = NonNullable<GossipServiceOptions["pvtData"]>;

/** One-way link latency: fixed, uniform in a range, or long-tailed (log-normal by median and p99). */
export type LatencySpec =
  | { kind: "fixed"; ms: number }
  | { kind: "uniform"; minMs: number; maxMs: number }
  | { kind: "longtail"; medianMs: number; p99Ms: number };

/** The link model every frame goes through (src/comm/memory's frame fate). */
export interface LinkOptions {
  latency: LatencySpec;
  /** Probability that a frame is lost. */
  loss: number;
  /** Probability that a frame arrives twice (the copy a little later). */
  duplicate: number;
  /** Probability that a frame may overtake earlier ones: it gets up to `reorderWindowMs` extra delay, out of order. */
  reorder: number;
  reorderWindowMs: number;
  /** Per-peer uplink in bytes per second (sends are serialised); undefined: unlimited. */
  uplinkBytesPerSec: number | undefined;
}

/** How a partition treats open streams: see MemoryNetwork's PartitionMode. */
export type CutMode = "break" | "blackhole";

/**
 * A scheduled partition. "orgs": every org is cut from the others. "half": a random half of the
 * peers from the other half. "isolate": the named peers from everyone. "split": the named peers
 * (together) from the rest. "oneway": the named peers receive nothing, while what they send still
 * arrives (an asymmetric partition; always blackhole: open streams stay open). "swizzle":
 * swizzle-clog (as FoundationDB's simulator): a random quarter of the peers is isolated one by one
 * every `stepMs`, and after `forMs` healed one by one in random order.
 */
export interface PartitionSpec {
  kind: "orgs" | "half" | "isolate" | "split" | "oneway" | "swizzle";
  atMs: number;
  forMs: number;
  peers?: string[];
  stepMs?: number;
  mode: CutMode;
}

/**
 * A scheduled crash: `target` is a peer name ("p3"), "leader" (the current leader of the first
 * channel in org 1, or its first peer) or "random" (`count` random running peers). The peer stops
 * at `atMs` (its connections break); it restarts with its ledger after `downMs`, or never.
 */
export interface CrashSpec {
  target: string;
  count: number;
  atMs: number;
  downMs: number | undefined;
}

/**
 * A scheduled twin (a misconfigured second process with a peer's identity): at `atMs` a process starts with
 * peer `of`'s identity (its PKI-ID) at another endpoint (`<of>-twin<k>:7051`, k its index in
 * `SimOptions.twins`), bootstrapping to `of`'s bootstrap peers; it stops after `forMs` (its host goes down),
 * or runs to the end when undefined. It runs membership only (no channel): a duplicate identity is
 * discovery's concern, and a twin in the channels would need a ledger of its own.
 */
export interface TwinSpec {
  of: string;
  atMs: number;
  forMs: number | undefined;
}

/** How blocks reach each org: an elected leader per org and channel, or peer 0 of each org as static leader. */
export type LeaderModeOption = "election" | "static";

/** Everything a run is made of. Plain data; one seed and these options reproduce a run exactly. */
export interface SimOptions {
  seed: number;
  peers: number;
  orgs: number;
  channels: number;
  /** Blocks per channel the block source creates. */
  blocks: number;
  /** Serialized size of each block. */
  blockBytes: number;
  blockIntervalMs: number;
  /** Virtual time before the first block (membership and election settle). */
  warmupMs: number;
  /**
   * Length of the run in virtual ms. Undefined: warm-up + blocks x interval + drainMs, ending as
   * soon as every running peer has committed every block.
   */
  durationMs: number | undefined;
  /** Extra virtual time after the last block, when durationMs is not given. */
  drainMs: number;
  link: LinkOptions;
  partitions: PartitionSpec[];
  crashes: CrashSpec[];
  /** Second processes with a peer's identity (absent: none). */
  twins?: TwinSpec[];
  /** Each peer's wall clock is off by a uniform offset in [-clockSkewMs, +clockSkewMs]. */
  clockSkewMs: number;
  /** "real": ECDSA P-256 MSP identities (seeded keys, deterministic signatures); "fast": the development MCS with orgs. */
  crypto: "real" | "fast";
  leaderMode: LeaderModeOption;
  /** peer.gossip.* (config/loadGossipConfig). */
  gossip: GossipConfig;
  /** Peers (by index) that run another peer.gossip config than `gossip`: a mixed network, such as Fabric's defaults beside the tuned set. */
  gossipByPeer?: Readonly<Record<number, GossipConfig>>;
  /** Sampling period of heights and membership for the report. */
  sampleIntervalMs: number;
  /** Recent events kept for a violation report. */
  historySize: number;
  /** Test hook: deliver a conflicting block `seq` to the leaders of org `org` (an equivocating orderer). */
  forkAt?: { seq: number; org: number };
  /**
   * Whether the peers share what they decode of a frame that reaches several of them (SharedFrameDecoder;
   * default true). False decodes it at each, as real peers do: the run's trace is the same either way.
   */
  shareDecodedFrames?: boolean;
  /**
   * Private data on channel `ch0` (`simulate --private-data`; real crypto only): the channel starts from a
   * configtx genesis block, its first transaction defines a chaincode with two collections, and a share of
   * the later transactions write private data, distributed by their endorser before they are ordered.
   * Undefined: no private data (blocks are padded envelopes, as always).
   */
  privateData?: SimPrivateDataOptions;
}

/** How a run with private data writes it (see docs/SIMULATION.md, Private data). */
export interface SimPrivateDataOptions {
  /** Probability that a block interval starts a transaction writing private data (else the block gets a public one). */
  share: number;
  /** blockToLive of the collection of the first two orgs (`collOrg12`); `collOrg1` keeps its data forever. */
  shortBlockToLive: number;
  /** requiredPeerCount and maximumPeerCount of both collections. */
  requiredPeerCount: number;
  maximumPeerCount: number;
  /** Endorsement attempts per transaction (a client tries another endorser when distribution fails). */
  endorsementAttempts: number;
  /** peer.gossip.pvtData.* of every peer, over the service's defaults (core.yaml's: pullRetryThreshold 60 s, pushAckTimeout 3 s, ...). */
  pvtData: SimPvtDataSettings;
}

export const DEFAULT_PRIVATE_DATA: Readonly<SimPrivateDataOptions> = Object.freeze<SimPrivateDataOptions>({
  share: 0.5,
  shortBlockToLive: 3,
  requiredPeerCount: 1,
  maximumPeerCount: 2,
  endorsementAttempts: 3,
  pvtData: {},
});

/**
 * Private data figures of a run. `written`: private write sets (transaction x collection) in cut blocks.
 * Over (running peer at the end, write set of a block it committed) pairs: `committed` an eligible peer
 * holds it; `missing` it lacks it and has it recorded missing; `purged` its blockToLive has passed there
 * (the store dropped it, or never got it); `leaked` a peer of an org outside the collection holds it
 * (transient or private data store; always 0 in a run that passes). `distributionFailed`: endorsements whose
 * distribution failed; `abandoned`: transactions never ordered because every attempt failed.
 */
export interface PrivateDataFigures {
  written: number;
  committed: number;
  missing: number;
  leaked: number;
  purged: number;
  distributionFailed: number;
  abandoned: number;
}

export const DEFAULT_SEED = 7;
export const DEFAULT_PEERS = 100;
export const DEFAULT_ORGS = 4;
export const DEFAULT_CHANNELS = 1;
export const DEFAULT_BLOCKS = 200;
export const DEFAULT_BLOCK_BYTES = 100 * 1024;
export const DEFAULT_BLOCK_INTERVAL_MS = 500;
/** Election start-up (15 s grace) plus a declaration round. */
export const DEFAULT_WARMUP_MS = 25_000;
export const DEFAULT_DRAIN_MS = 30_000;
export const DEFAULT_SAMPLE_INTERVAL_MS = 1_000;
export const DEFAULT_HISTORY_SIZE = 40;
export const DEFAULT_LINK: Readonly<LinkOptions> = Object.freeze<LinkOptions>({
  latency: { kind: "uniform", minMs: 10, maxMs: 50 },
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderWindowMs: 50,
  uplinkBytesPerSec: undefined,
});

/** Dissemination latency figures in virtual ms, over the deliveries that happened. */
export interface LatencyFigures {
  p50: number;
  p99: number;
  max: number;
  /** How many (peer, block) commits the figures cover: commits that never happened are not in them. */
  deliveries: number;
}

/** Per-message-type traffic: bytes each peer sent per second of virtual time, on average. */
export type TrafficByType = Record<string, number>;

/** The figures of a run (what `--json` prints). */
export interface SimReport {
  seed: number;
  peers: number;
  orgs: number;
  channels: number;
  /** Blocks created per channel. */
  blocks: number;
  blockBytes: number;
  crypto: "real" | "fast";
  leaderMode: LeaderModeOption;
  virtualSeconds: number;
  /** Block creation to commit at each peer that committed it, leaders included (`deliveries` of them). */
  latencyMs: LatencyFigures;
  /** Block copies received (push and pull, duplicates included) per block per reached non-leader peer. */
  redundancy: number;
  /** Share of first arrivals at non-leader peers by push (DataMessage). */
  pushShare: number;
  /** ... by pull (DataUpdate). */
  pullShare: number;
  /** ... by state transfer (RemoteStateResponse). */
  stateShare: number;
  /** Bytes sent per peer per virtual second, all types. */
  bytesPerPeerPerSec: number;
  /** The same by message type (alive, data, hello, digest, request, update, stateInfo, ...). */
  bytesPerPeerPerSecByType: TrafficByType;
  /** Virtual seconds until every running peer saw every other (undefined: never). */
  membershipConvergenceSeconds: number | undefined;
  /** Peers declared dead while running and not cut off from the declarer (see docs/SIMULATION.md). */
  falseDeaths: number;
  /** All death declarations. */
  deathDeclarations: number;
  /** Leadership moves: become-leader events beyond the first per channel and org. */
  leaderChanges: number;
  /** (peer, channel, block) commits expected of running peers that did not happen by the end. */
  missingCommits: number;
  commits: number;
  /** Frames delivered. */
  frames: number;
  traceHash: string;
  wallSeconds: number;
  /** Present in runs with private data. */
  privateData?: PrivateDataFigures;
}

/**
 * Something that happened in a run, at virtual `atMs` since its start (Simulator.onEvent): a peer
 * started, crashed or restarted; a partition (or one swizzle clog) began or healed, with the peers
 * on each side (`sides`; for "oneway", the peers that receive nothing); discovery at `peer`
 * declared `target` (last known at `endpoint`) dead, `cause` "expired" ("Haven't heard from peer") or
 * "presumed-dead" (comm could not reach it); `peer` became or stopped being the leader of
 * `channel`; `peer` committed block `seq` of `channel`; twin `peer` (of peer `of`, at `endpoint`) started or
 * stopped; `peer` (a peer or a twin) reported a duplicate identity: `target`'s identity in use at `endpoint`
 * (a "duplicate-identity" event).
 */
export type SimEvent =
  | { kind: "start" | "crash" | "restart"; atMs: number; peer: string }
  | { kind: "partition" | "heal"; atMs: number; label: string; sides: string[][] }
  | { kind: "death"; atMs: number; peer: string; target: string; endpoint: string; cause: MemberDeathCause }
  | { kind: "leader"; atMs: number; peer: string; channel: string; isLeader: boolean }
  | { kind: "commit"; atMs: number; peer: string; channel: string; seq: number }
  | { kind: "twin-start" | "twin-stop"; atMs: number; peer: string; of: string; endpoint: string }
  | { kind: "duplicate-identity"; atMs: number; peer: string; target: string; endpoint: string }
  | PvtSimEvent;

/**
 * Private data runs: `peer` (the endorser) distributed transaction `txId`'s write set of `collection`
 * (attempt 1, 2, ...; `error` the distributor's error code when it failed), or the transaction was
 * ordered into block `seq` at index `txIndex` ("pvt-ordered").
 */
export type PvtSimEvent =
  | { kind: "pvt-endorsed"; atMs: number; peer: string; channel: string; txId: string; collection: string; attempt: number; ok: boolean; error?: string }
  | { kind: "pvt-ordered"; atMs: number; channel: string; txId: string; collection: string; seq: number; txIndex: number };

/** Time series for the HTML report. */
export interface SimSeries {
  /** Every dissemination latency (virtual ms), for the CDF. */
  latencies: number[];
  /** Sample times (virtual s). */
  sampleTimes: number[];
  /** heights[peer][sample] of channel 0. */
  heights: number[][];
  /** Alive view size per peer at each sample: min, median, max. */
  membership: { min: number; median: number; max: number }[];
  /** Bytes sent per type per sample interval (all peers). */
  trafficByType: Record<string, number[]>;
  peerNames: string[];
}

/** What `Simulator.run` returns. */
export interface SimResult {
  report: SimReport;
  series: SimSeries;
}

/** Takes the defaults for what is not given; `gossip` must be a full, validated config. */
export function simOptions(partial: Partial<SimOptions> & { gossip: GossipConfig }): SimOptions {
  return {
    seed: DEFAULT_SEED,
    peers: DEFAULT_PEERS,
    orgs: DEFAULT_ORGS,
    channels: DEFAULT_CHANNELS,
    blocks: DEFAULT_BLOCKS,
    blockBytes: DEFAULT_BLOCK_BYTES,
    blockIntervalMs: DEFAULT_BLOCK_INTERVAL_MS,
    warmupMs: DEFAULT_WARMUP_MS,
    durationMs: undefined,
    drainMs: DEFAULT_DRAIN_MS,
    link: { ...DEFAULT_LINK },
    partitions: [],
    crashes: [],
    clockSkewMs: 0,
    crypto: "real",
    leaderMode: "election",
    sampleIntervalMs: DEFAULT_SAMPLE_INTERVAL_MS,
    historySize: DEFAULT_HISTORY_SIZE,
    ...partial,
  };
}
