import type { PeerEventSink, MessageCryptoService, PeerIdentityType, RemotePeer } from "../api/index.js";
import type { RequestBudget } from "../comm/index.js";
import type { MetricsProvider } from "../metrics/index.js";
import type { NetworkMember } from "../discovery/index.js";
import type { Logger } from "../logging/index.js";
import type { ReceivedMessage } from "../protoext/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import type { GossipMessage, Payload, PvtDataPayload } from "../protos/gen/gossip/message.pb.js";
import type { Clock, Random } from "../util/index.js";

/**
 * What the state provider needs from the gossip node (Fabric's `state.GossipAdapter`). A
 * `GossipNode` satisfies it as it is.
 */
export interface StateGossipAdapter {
  /** Subscribes to what channels hand to local consumers (blocks of the channel, after VerifyBlock). */
  accept(acceptor: (msg: GossipMessage) => boolean, handler: (msg: GossipMessage) => void): () => void;
  /** Subscribes to raw received messages (state requests and responses). */
  acceptPassThrough(acceptor: (msg: ReceivedMessage) => boolean, handler: (msg: ReceivedMessage) => void): () => void;
  /** Sends a message (NoopSigned) point to point. */
  send(msg: GossipMessage, ...peers: RemotePeer[]): void;
  /** The channel's members, with their StateInfo properties (ledger height). */
  peersOfChannel(channel: string): NetworkMember[];
  /** Publishes our ledger height in the channel's StateInfo. */
  updateLedgerHeight(height: bigint, channel: string): void;
}

/** Who asks for blocks, as the handshake established it (Fabric's `protoutil.SignedData` of the connection). */
export interface StateRequester {
  identity: PeerIdentityType;
  /** The handshake's signed bytes and signature; undefined on connections without them (in-memory tests). */
  signedData: Uint8Array | undefined;
  signature: Uint8Array | undefined;
}

/**
 * What the state provider needs from the ledger: Fabric's `ledgerResources` as the privdata
 * coordinator implements it. The block store (ledger/) and, later, the private data coordinator
 * (privdata/) sit behind it.
 */
export interface LedgerAdapter {
  /** Blocks held: the number of the next block to commit. At least 1 (the genesis block). */
  height(): bigint;
  /**
   * Commits the next block (its number equals `height()`) with the private data that came with it
   * (Fabric's `StoreBlock`). A rejection halts the channel's commit loop (Fabric panics).
   */
  commitBlock(block: Block, pvtData?: PvtDataPayload[]): Promise<void>;
  /** The blocks numbered `from` to `to` inclusive that the ledger holds, in order; missing ones are left out. */
  getBlocks(from: bigint, to: bigint): Promise<Block[]>;
  /**
   * The private data of block `seqNum` that `requester` may read, for a state response (Fabric's
   * `GetPvtDataAndBlockByNum` filtered by the requester's signed data). Absent: blocks travel
   * without private data.
   */
  pvtDataFor?(seqNum: bigint, requester: StateRequester): Promise<PvtDataPayload[] | undefined>;
}

/** What the state provider is built from. */
export interface StateProviderComponents {
  gossip: StateGossipAdapter;
  ledger: LedgerAdapter;
  /**
   * Block verification for state responses; with `verifyByChannel`, senders of state messages must
   * also pass the channel's Readers policy through their handshake signature, as in Fabric.
   */
  mcs: Pick<MessageCryptoService, "verifyBlock"> & Partial<Pick<MessageCryptoService, "verifyByChannel">>;
  clock: Clock;
  random: Random;
  logger: Logger;
  metrics: MetricsProvider;
  /** Where refused blocks are told. Default: nowhere. */
  events?: PeerEventSink;
}

/** Fabric's `StateConfig` (`gossip/state/config.go`) plus the service flags that affect state. */
export interface StateProviderOptions {
  /** `peer.gossip.state.enabled`: run anti-entropy (pull missing blocks from peers). Serving is always on. */
  enabled: boolean;
  /** `peer.gossip.state.checkInterval`: anti-entropy period. */
  checkIntervalMs: number;
  /** `peer.gossip.state.responseTimeout`: wait for a state response. */
  responseTimeoutMs: number;
  /** `peer.gossip.state.batchSize`: blocks per request beyond the first; also the serving limit (end - start <= batchSize). */
  batchSize: number;
  /** `peer.gossip.state.maxRetries`: resends of one batch request. */
  maxRetries: number;
  /** `peer.gossip.state.blockBufferSize`: re-ordering window; blocking adds wait above twice this. */
  blockBufferSize: number;
  /** `peer.gossip.state.channelSize`: queued state requests beyond which requests are dropped. */
  channelSize: number;
  /** `peer.gossip.nonBlockingCommitMode`: `addPayload` from the deliver client does not wait (it may drop). */
  nonBlockingCommitMode: boolean;
  /** `peer.gossip.useLeaderElection` and `orgLeader`: only for the straggler warning. */
  useLeaderElection: boolean;
  orgLeader: boolean;
  /**
   * The transport's message size limit (comm's `maxMessageSize`; default DEFAULT_MAX_STATE_RESPONSE_BYTES): a
   * state response carries the requested blocks from the first up to what fits, and the requester asks again
   * from the next (as it does after any short response). Fabric sends them all, and the transport refuses it.
   */
  maxMessageBytes?: number;
  /**
   * Ours (Fabric serves every request its channelSize queue takes): state requests one peer may have
   * served per second, with a burst. Excess requests are dropped and counted; the requester retries
   * after its responseTimeout as after any lost response. Default DEFAULT_STATE_REQUEST_BUDGET.
   */
  requestBudget?: RequestBudget;
  /**
   * Ours (`peer.gossip.state.gapFillDelay`; 0 or absent: off, as in Fabric): when gossip brought blocks past
   * a missing one and the gap is still there this long after, an anti-entropy round starts then instead of
   * at the next checkInterval. Without it a peer that caught up to the heights StateInfo reported (up to
   * publishStateInfoInterval old) buffers the pushes after the gap and waits for the next round, falling
   * behind again meanwhile: at 10 blocks/s it stayed ~2 s behind for good. Needs `enabled`.
   */
  gapFillDelayMs?: number;
}

/** 50 requests (500 blocks at batchSize 10) a second per requester, 100 at once: far above a catching-up peer's pace. */
export const DEFAULT_STATE_REQUEST_BUDGET: Readonly<RequestBudget> = Object.freeze({ perSecond: 50, burst: 100 });

/** Fabric's default gRPC send limit (100 MiB), which a state response must fit. */
export const DEFAULT_MAX_STATE_RESPONSE_BYTES = 100 * 1024 * 1024;
/** Room for what wraps a state response's payloads (Envelope, GossipMessage with channel and nonce). */
export const STATE_RESPONSE_OVERHEAD_BYTES = 1024;

/** Fabric's defaults (`gossip/state/config.go`, `gossip/service/config.go`). */
export const DEFAULT_STATE_PROVIDER_OPTIONS: Readonly<StateProviderOptions> = Object.freeze({
  enabled: false,
  checkIntervalMs: 10_000,
  responseTimeoutMs: 3_000,
  batchSize: 10,
  maxRetries: 3,
  blockBufferSize: 20,
  channelSize: 100,
  gapFillDelayMs: 0,
  nonBlockingCommitMode: false,
  useLeaderElection: false,
  orgLeader: false,
});

/** Fabric's `enqueueRetryInterval`: the step of a blocking add waiting for room in the buffer. */
export const ENQUEUE_RETRY_INTERVAL_MS = 100;
/** Fabric's `stragglerWarningThreshold`: blocks ahead of our height that make us a straggler. */
export const STRAGGLER_WARNING_THRESHOLD = 100n;

/** Fabric's `GossipStateProvider`: one per channel. */
export interface StateProvider {
  /** The channel. */
  readonly channel: string;
  /**
   * Adds a block from the deliver client (Fabric's `AddPayload`). Unless nonBlockingCommitMode, it
   * waits while the buffer holds more than twice blockBufferSize; otherwise a block too far ahead
   * rejects with `BUFFER_FULL`. Rejects with `STOPPED` once stopped.
   */
  addPayload(payload: Payload): Promise<void>;
  /** The ledger height as the provider last committed (or found at start). */
  height(): bigint;
  /** Payloads waiting in the re-ordering buffer. */
  bufferSize(): number;
  /** Why the commit loop halted (a commit failed), or undefined while it runs. */
  haltedReason(): Error | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}
