import * as grpc from "@grpc/grpc-js";
import { type ClientTlsMaterial, clientCredentials, passBytes, takeBytes } from "../../comm/grpc/index.js";
import { BROADCAST_PATH, ORDERER_MAX_MESSAGE_SIZE } from "../../orderer/index.js";
import type { TxSigner } from "../../privdata/index.js";
import { Status } from "../../protos/gen/common/common.pb.js";
import { BroadcastResponse } from "../../protos/gen/orderer/ab.pb.js";
import { errorMessage } from "../../util/index.js";
import { NetworkError } from "./errors.js";
import { publicTxSource, type TxSource } from "./feeder-sources.js";

/** Options of a `TxFeeder`. */
export interface TxFeederOptions {
  /** The orderer, "host:port". */
  endpoint: string;
  channel: string;
  /** The client who signs the transactions: an identity the channel's Writers policy admits (an org's User1). */
  signer: TxSigner;
  /**
   * The peers that endorse each transaction of the default source (one per org: their MSP folders' signing
   * identities). Default: the signer alone, a stand-in whose endorsements no endorsement policy accepts.
   */
  endorsers?: readonly TxSigner[];
  /**
   * Where the transactions come from. Default: `publicTxSource`, endorser transactions each writing one
   * public key with a `size`-byte value.
   */
  source?: TxSource;
  /** Transactions per second (> 0). */
  rate: number;
  /** Bytes of the value each transaction writes (headers, read-write set and signatures come on top). */
  size: number;
  /** TLS toward the orderer: its TLS CA, and our client certificate and key (PEM) for mutual TLS. Plaintext when absent. */
  tls?: ClientTlsMaterial;
  /** Send at most this many transactions in all, then stop sending (answers still count). Default: no limit. */
  limit?: number;
  /** Connection deadline. Default 10 s. */
  dialTimeoutMs?: number;
  /** Called after each answer of the orderer and each failed stream, with the totals (a caller waiting for its answers). */
  onChange?: (stats: FeederStats) => void;
}

/** What a feeder has done so far. */
export interface FeederStats {
  /** Envelopes written to Broadcast streams. */
  sent: number;
  /** BroadcastResponses with SUCCESS. */
  succeeded: number;
  /** BroadcastResponses with another status. */
  rejected: number;
  /** Sent on a stream that failed before answering. */
  lost: number;
  /** Transactions the source could not make (e.g. their private data was not distributed): never sent. */
  failed: number;
  /** The last refusal or stream failure. */
  lastError: string | undefined;
}

/** How often the feeder tops up to its rate. */
const TICK_MS = 20;
/** Wait after a failed stream before dialing again. */
const RECONNECT_MS = 1_000;
/** How long stop() waits for the answers to envelopes already sent. */
const DRAIN_TIMEOUT_MS = 10_000;
const DEFAULT_DIAL_TIMEOUT_MS = 10_000;

type BroadcastCall = grpc.ClientDuplexStream<Uint8Array, Uint8Array>;

/**
 * Feeds an orderer transactions at a steady rate over one long-lived `AtomicBroadcast.Broadcast`
 * stream (as an SDK's broadcast client does), each a real endorser transaction from its source (by
 * default one public write, endorsed by the given peers and signed by the client); counts the orderer's
 * answers. A failed stream is dialed again after a second. Stands in for the clients of a Fabric network;
 * CLI code, so it runs on real time.
 */
export class TxFeeder {
  readonly #o: TxFeederOptions;
  readonly #source: TxSource;
  #client: grpc.Client | undefined;
  #call: BroadcastCall | undefined;
  /** Sent on the current stream, not yet answered. */
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  /** Rate accounting restarts at each (re)connect: attempted (sent or failed) since `#baseTime`. */
  #baseTime = 0;
  #baseAttempted = 0;
  #attempted = 0;
  /** The tick building and sending, if any: the next waits for it, and stop() for its last transaction. */
  #pumping: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  readonly #stats: FeederStats = { sent: 0, succeeded: 0, rejected: 0, lost: 0, failed: 0, lastError: undefined };

  constructor(opts: TxFeederOptions) {
    if (!(opts.rate > 0) || !Number.isFinite(opts.rate)) throw new NetworkError("INVALID_OPTIONS", `tx rate must be a positive number, got ${opts.rate}`);
    if (!Number.isInteger(opts.size) || opts.size < 0) throw new NetworkError("INVALID_OPTIONS", `tx size must be a whole number of bytes, got ${opts.size}`);
    if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) throw new NetworkError("INVALID_OPTIONS", `tx limit must be a positive integer, got ${opts.limit}`);
    this.#o = opts;
    this.#source = opts.source ?? publicTxSource({ channel: opts.channel, client: opts.signer, endorsers: opts.endorsers ?? [opts.signer], size: opts.size });
  }

  get running(): boolean {
    return this.#running;
  }

  /** Whether the limit of transactions has been sent. */
  get done(): boolean {
    return this.#o.limit !== undefined && this.#stats.sent >= this.#o.limit;
  }

  stats(): FeederStats {
    return { ...this.#stats };
  }

  /**
   * Dials the orderer and starts feeding.
   * @throws NetworkError FEED_FAILED when the orderer cannot be reached.
   */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await this.#connect();
    } catch (err) {
      this.#running = false;
      throw err;
    }
    this.#schedule(0);
  }

  /** Stops feeding, waits (bounded) for the answers to what was sent, and closes the connection. Idempotent. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    // A transaction being made (its private data being distributed) finishes first; it is not sent.
    await this.#pumping;
    const call = this.#call;
    if (call !== undefined && this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const guard = setTimeout(resolve, DRAIN_TIMEOUT_MS);
        this.#drained = () => {
          clearTimeout(guard);
          resolve();
        };
      });
      this.#drained = undefined;
    }
    this.#closeStream();
  }

  async #connect(): Promise<void> {
    const { endpoint } = this.#o;
    const options: grpc.ChannelOptions = {
      "grpc.max_receive_message_length": ORDERER_MAX_MESSAGE_SIZE,
      "grpc.max_send_message_length": ORDERER_MAX_MESSAGE_SIZE,
      "grpc.use_local_subchannel_pool": 1,
    };
    const client = new grpc.Client(endpoint, clientCredentials(endpoint, this.#o.tls, options), options);
    const timeoutMs = this.#o.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
    try {
      await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      client.close();
      throw new NetworkError("FEED_FAILED", `cannot connect to the orderer ${endpoint} within ${timeoutMs} ms: ${errorMessage(err)}`, { cause: err });
    }
    if (!this.#running) {
      client.close();
      return;
    }
    const call = client.makeBidiStreamRequest<Uint8Array, Uint8Array>(BROADCAST_PATH, passBytes, takeBytes);
    this.#client = client;
    this.#call = call;
    this.#inFlight = 0;
    this.#baseTime = Date.now();
    this.#baseAttempted = this.#attempted;
    call.on("data", (bytes: Uint8Array) => this.#onResponse(bytes));
    call.on("error", (err: Error) => this.#onStreamEnd(call, `broadcast stream to ${endpoint} failed: ${err.message}`));
    call.on("end", () => this.#onStreamEnd(call, `the orderer ${endpoint} ended the broadcast stream`));
  }

  #onResponse(bytes: Uint8Array): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    let res: BroadcastResponse;
    try {
      res = BroadcastResponse.decode(bytes);
    } catch {
      this.#stats.rejected++;
      this.#stats.lastError = "an undecodable BroadcastResponse";
      return;
    }
    if (res.status === Status.SUCCESS) this.#stats.succeeded++;
    else {
      this.#stats.rejected++;
      this.#stats.lastError = `${Status[res.status] ?? res.status}: ${res.info}`;
    }
    if (this.#inFlight === 0) this.#drained?.();
    this.#changed();
  }

  #onStreamEnd(call: BroadcastCall, why: string): void {
    if (call !== this.#call) return;
    this.#stats.lost += this.#inFlight;
    if (this.#inFlight > 0 || this.#running) this.#stats.lastError = why;
    this.#inFlight = 0;
    this.#drained?.();
    this.#closeStream();
    this.#changed();
    if (this.#running) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.#reconnect();
      }, RECONNECT_MS);
    }
  }

  async #reconnect(): Promise<void> {
    if (!this.#running) return;
    try {
      await this.#connect();
      if (!this.done) this.#schedule(0);
    } catch (err) {
      this.#stats.lastError = errorMessage(err);
      if (this.#running) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          void this.#reconnect();
        }, RECONNECT_MS);
      }
    }
  }

  #changed(): void {
    try {
      this.#o.onChange?.(this.stats());
    } catch {
      // An observer's bug must not break the stream's handling.
    }
  }

  #closeStream(): void {
    const call = this.#call;
    this.#call = undefined;
    if (call !== undefined) {
      call.removeAllListeners("data");
      // A late error after we let go must not become an uncaught 'error' event.
      call.on("error", () => {});
      call.end();
    }
    this.#client?.close();
    this.#client = undefined;
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#tick();
    }, delayMs);
  }

  #tick(): void {
    if (this.#pumping !== undefined) return;
    this.#pumping = this.#pump()
      .catch((err: unknown) => {
        this.#stats.lastError = errorMessage(err);
      })
      .finally(() => {
        this.#pumping = undefined;
      });
  }

  /** Builds and writes what is due since the last (re)connect, one transaction at a time. */
  async #pump(): Promise<void> {
    const call = this.#call;
    if (!this.#running || call === undefined) return;
    const due = Math.floor(((Date.now() - this.#baseTime) * this.#o.rate) / 1000) - (this.#attempted - this.#baseAttempted);
    // After a stall, catch up by at most one second's worth rather than in one burst.
    let n = Math.min(due, Math.ceil(this.#o.rate));
    if (due > n) this.#baseAttempted += due - n;
    if (this.#o.limit !== undefined) n = Math.min(n, this.#o.limit - this.#stats.sent);
    let writable = true;
    for (let i = 0; i < n && writable; i++) {
      this.#attempted++;
      let env: Uint8Array;
      try {
        env = await this.#source.next();
      } catch (err) {
        this.#stats.failed++;
        this.#stats.lastError = errorMessage(err);
        continue;
      }
      // The stream may have ended while the transaction was built: it is lost with the stream.
      if (!this.#running || call !== this.#call) {
        this.#stats.lost++;
        this.#source.unsent?.(env);
        return;
      }
      writable = call.write(env);
      this.#stats.sent++;
      this.#inFlight++;
    }
    if (this.done) return; // the stream stays open for the answers
    if (!writable) call.once("drain", () => this.#schedule(0));
    else this.#schedule(TICK_MS);
  }
}
