import type { SigningIdentity } from "../crypto/index.js";
import type { Logger } from "../logging/index.js";
import type { MetricsProvider } from "../metrics/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import type { Clock } from "../util/index.js";

/** Fabric's sample configtx.yaml `BatchSize.MaxMessageCount` in our default: messages per block. */
export const DEFAULT_BATCH_SIZE = 10;
/** Fabric's sample configtx.yaml `BatchTimeout` (2s): a pending batch is cut at most this long after its first message. */
export const DEFAULT_BATCH_TIMEOUT_MS = 2_000;
/** Fabric's `BatchSize.AbsoluteMaxBytes` default (10 MiB): larger envelopes are rejected; a batch is cut before it would exceed it. */
export const DEFAULT_MAX_BLOCK_BYTES = 10 * 1024 * 1024;
/** gRPC message limit of the orderer service (Fabric's 100 MiB). */
export const ORDERER_MAX_MESSAGE_SIZE = 100 * 1024 * 1024;
/**
 * The largest batch in bytes (AbsoluteMaxBytes): a block (envelopes plus header and metadata) must still fit in
 * one gRPC message of the Deliver service. A channel configured with more is served with this.
 */
export const MAX_BATCH_BYTES = ORDERER_MAX_MESSAGE_SIZE - 1024 * 1024;
/** SeekSpecified number meaning "follow forever" (math.MaxUint64). */
export const SEEK_MAX = 0xffff_ffff_ffff_ffffn;

/** Server TLS; with `rootCAs` client certificates from those CAs are required (mutual TLS). */
export interface OrdererTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** TLS CA certificates (PEM) of the clients; when set, a client certificate is required. */
  rootCAs?: string | Buffer;
}

/**
 * Options of `createOrderer`. Durations in ms. The batch settings of a channel come from its configuration
 * (the Orderer group's BatchSize and BatchTimeout); `batchSize`, `batchTimeoutMs` and `maxBlockBytes`, when
 * given, win over the configuration of every channel.
 */
export interface OrdererOptions {
  /** "host:port"; port 0 picks a free port (see `Orderer.address`). */
  listen: string;
  tls?: OrdererTlsOptions;
  /**
   * Where the chains live: one block store per channel in `<dir>/<channel>`. Every channel stored there is
   * served again at start, without its genesis block being given.
   */
  dir: string;
  /**
   * Genesis blocks of the channels to serve (serialized common.Block, or decoded), as configtxgen or
   * `channel genesis` makes them: block 0 is stored unchanged. A channel already stored under `dir` must
   * have this same block 0. Default: none (only the stored channels).
   */
  channels?: readonly (Uint8Array | Block)[];
  /** Max messages per block (BatchSize.MaxMessageCount). Default: the channel's configuration. */
  batchSize?: number;
  /** A pending batch is cut this long after its first message (BatchTimeout). Default: the channel's configuration. */
  batchTimeoutMs?: number;
  /**
   * Max envelope bytes in a block (BatchSize.AbsoluteMaxBytes; PreferredMaxBytes is lowered to it). Default: the
   * channel's configuration.
   */
  maxBlockBytes?: number;
}

/** What the orderer uses from its host. */
export interface OrdererComponents {
  /**
   * Signs blocks (SIGNATURES metadata): the orderer's local MSP identity. Its MSP must be an orderer org of
   * every channel. Requesters are checked by each channel's MSPs, from its configuration.
   */
  signer: SigningIdentity;
  clock: Clock;
  logger: Logger;
  /** Where the orderer metrics (chain height, blocks cut, envelopes ordered) are created; none recorded when absent. */
  metrics?: MetricsProvider;
  /**
   * Called once per block cut from broadcast envelopes, after the block is persisted, in block
   * order; `bytes` is the size of the serialized block as stored. Not called for the genesis block a
   * new channel starts with. Exceptions are logged and otherwise ignored.
   */
  onBlock?: (channel: string, block: Block, bytes: number) => void;
}

/** A running ordering service: Fabric's `orderer.AtomicBroadcast` (solo-like, one process). */
export interface Orderer {
  /** "host:port" actually bound; valid after start(). */
  readonly address: string;
  start(): Promise<void>;
  /** Stops serving, cuts the pending batches, waits for their blocks to be written, closes the stores. Idempotent. */
  stop(): Promise<void>;
  /** The channels served (given and stored), sorted; valid after start(). */
  channels(): string[];
  /** Committed height of a channel, undefined if unknown. */
  height(channel: string): bigint | undefined;
  /** Resolves once `channel` has committed `height` blocks. */
  waitForHeight(channel: string, height: bigint, signal?: AbortSignal): Promise<void>;
}
