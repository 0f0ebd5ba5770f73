import type { PeerEventSink } from "../api/index.js";
import type { Logger } from "../logging/index.js";
import type { MetricsProvider } from "../metrics/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import type { Clock, Random } from "../util/index.js";

/** One open Deliver stream: the raw `DeliverResponse` bytes as they arrive, in order. */
export interface DeliverStream extends AsyncIterable<Uint8Array> {
  /** Cancels the stream and releases its connection. Idempotent. */
  close(): void;
}

/**
 * Opens `AtomicBroadcast.Deliver` on an orderer and sends the signed SeekInfo envelope (Fabric's
 * `Dialer` + `DeliverStreamer` + the first `Send`). The gRPC one is `createGrpcDeliverConnector`;
 * unit tests pass a fake.
 */
export interface DeliverConnector {
  open(endpoint: string, seekEnvelope: Uint8Array, connTimeoutMs: number, signal: AbortSignal): Promise<DeliverStream>;
  /** SHA-256 of the client TLS certificate (the channel header's tls_cert_hash), undefined without TLS. */
  readonly tlsCertHash?: Uint8Array | undefined;
}

/** What signs the SeekInfo envelope (Fabric's `identity.SignerSerializer`); a `SigningIdentity` fits. */
export interface DeliverSigner {
  readonly serialized: Uint8Array;
  sign(msg: Uint8Array): Uint8Array;
}

/** PEM material to dial orderers over TLS (mutual when `cert` and `key` are given). */
export interface DeliverTlsOptions {
  /**
   * TLS CA certificates (PEM, concatenated) of the ordering service, or what gives them for an
   * endpoint at each (re)connection (the channel's orderer orgs' TLS CAs in its configuration in force).
   */
  rootCAs: string | Buffer | ((endpoint: string) => string | Buffer);
  /** Client certificate and key (Fabric's peer always presents one). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** TLS server name to expect instead of the endpoint's host. */
  serverNameOverride?: string;
}

/** What a deliver client is built from: the channel, its orderers, and the peer's services. */
export interface DeliverClientComponents {
  channel: string;
  /** Orderer endpoints, `host:port`. At least one. */
  endpoints: readonly string[];
  /** TLS toward the orderers; plaintext when absent. Ignored when `connector` is given. */
  tls?: DeliverTlsOptions;
  signer: DeliverSigner;
  /** Fabric's `BlockVerifier.VerifyBlock`: throws when the block is not acceptable. */
  mcs: { verifyBlock(channelId: string, seqNum: bigint, block: Block): void };
  /** The ledger height: the number of the next block to ask for. Read at every (re)connection. */
  ledgerHeight: () => bigint;
  /**
   * Hands a verified block on (e.g. `state.addPayload({seqNum, data: bytes})`). Awaited before the
   * next block is read (backpressure). A rejection counts as a stream failure: reconnect.
   */
  onBlock: (block: Block, bytes: Uint8Array) => Promise<void>;
  /** Gossips a block after onBlock when `blockGossipEnabled` (Fabric's `Gossip(DataMessage)`). */
  gossip?: (block: Block, bytes: Uint8Array) => void;
  /**
   * SHA-256 of the DER header of block `number` as the ledger holds it, to check the hash chain of
   * the first block of a stream; without it the first block after start is checked only by the MCS.
   */
  blockHashAt?: (number: bigint) => Promise<Uint8Array | undefined> | Uint8Array | undefined;
  /**
   * Called once when reconnection was attempted for longer than reconnectTotalTimeThreshold and
   * `yieldLeadership` is set: the elected leader yields (Fabric returns from DeliverBlocks).
   */
  onGiveUp?: () => void;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Where the deliver metrics are created; none recorded when absent. */
  metrics?: MetricsProvider;
  /** How to open Deliver streams; gRPC with `tls` when absent. */
  connector?: DeliverConnector;
  /** Where rejected blocks are told. Default: nowhere. */
  events?: PeerEventSink;
}

/** `peer.deliveryclient.*` and the backoff shape. */
export interface DeliverClientOptions {
  /** `peer.deliveryclient.reconnectBackoffThreshold`: the longest wait between reconnections. */
  reconnectBackoffThresholdMs: number;
  /**
   * `peer.deliveryclient.reconnectTotalTimeThreshold`: reconnecting without a block for longer than
   * this gives up (with `yieldLeadership`); a static leader only warns and keeps trying.
   */
  reconnectTotalTimeThresholdMs: number;
  /** `peer.deliveryclient.connTimeout`: dialing an orderer. */
  connTimeoutMs: number;
  /** First wait after a failure (Fabric: 100 ms). */
  initialBackoffMs: number;
  /** Growth of the wait per consecutive failure (Fabric's CFT deliverer: 1.2). */
  backoffMultiplier: number;
  /** Random spread of each wait, as a fraction: wait * (1 - jitter/2 + jitter * U[0,1)). 0 in Fabric. */
  backoffJitter: number;
  /** `peer.deliveryclient.blockGossipEnabled`: call `gossip` for each block. */
  blockGossipEnabled: boolean;
  /** True for an elected leader (it yields after reconnectTotalTimeThreshold); false for a static leader. */
  yieldLeadership: boolean;
  /** gRPC message limit (Fabric: 100 MiB). */
  maxMessageSize: number;
}

/** Fabric's defaults (`core/deliverservice/config.go`); backoff doubling with jitter as the project chose. */
export const DEFAULT_DELIVER_CLIENT_OPTIONS: Readonly<DeliverClientOptions> = Object.freeze({
  reconnectBackoffThresholdMs: 3_600_000,
  reconnectTotalTimeThresholdMs: 3_600_000,
  connTimeoutMs: 3_000,
  initialBackoffMs: 100,
  backoffMultiplier: 2,
  backoffJitter: 0.2,
  blockGossipEnabled: true,
  yieldLeadership: true,
  maxMessageSize: 100 * 1024 * 1024,
});

/** Fabric's `blocksprovider.Deliverer` for one channel: pulls blocks from the ordering service. */
export interface DeliverClient {
  readonly channel: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Replaces the orderer endpoints (a channel config update). When the orderer streaming now is no
   * longer listed, the client disconnects and reconnects at once (Fabric's `endpoint.Refreshed`).
   */
  updateEndpoints(endpoints: readonly string[]): void;
  /** Whether the client gave up after reconnectTotalTimeThreshold. */
  gaveUp(): boolean;
  /** The orderer currently streaming, if any. */
  currentEndpoint(): string | undefined;
}
