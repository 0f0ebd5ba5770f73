import type { Logger } from "../logging/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import { Envelope, Status } from "../protos/gen/common/common.pb.js";
import { bytesEqual, errorMessage } from "../util/index.js";
import { DeliverError } from "./errors.js";
import { createGrpcDeliverConnector } from "./grpc-connector.js";
import {
  DEFAULT_DELIVER_CLIENT_OPTIONS,
  type DeliverClient,
  type DeliverClientComponents,
  type DeliverClientOptions,
  type DeliverConnector,
  type DeliverStream,
} from "./interface.js";
import { createDeliverMetrics, type DeliverMetrics, type RejectReason } from "./metrics.js";
import { blockHeaderHash } from "../crypto/index.js";
import { createSeekInfoEnvelope, MAX_UINT64 } from "./envelope.js";
import { decodeDeliverResponse } from "./seek-info.js";

/** Header hashes of recently accepted blocks kept for the hash-chain check across reconnections. */
export const RECENT_HASHES = 256;

/** How one stream ended. */
type StreamEnd =
  | { kind: "stopped" }
  | { kind: "rejected"; reason: RejectReason; detail: string }
  | { kind: "failed"; detail: string };

/**
 * Fabric's `blocksprovider.Deliverer` (CFT) for one channel: asks a random orderer for blocks from
 * the ledger height with a signed SeekInfo, checks each block (expected number, MCS verifyBlock,
 * hash chain) and hands it on with backpressure; on a status, a stream error or a bad block it
 * reconnects to another orderer after an exponential backoff, and after reconnectTotalTimeThreshold
 * without a block an elected leader gives up.
 */
export class DeliverClientImpl implements DeliverClient {
  readonly channel: string;
  readonly #c: DeliverClientComponents;
  readonly #o: DeliverClientOptions;
  readonly #log: Logger;
  readonly #metrics: DeliverMetrics | undefined;
  readonly #connector: DeliverConnector;
  readonly #hashes = new Map<bigint, Uint8Array>();
  #endpoints: string[];
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #stream: DeliverStream | undefined;
  #endpoint: string | undefined;
  #gaveUp = false;
  #staticWarned = false;
  #refreshed = false;

  constructor(components: DeliverClientComponents, options: Partial<DeliverClientOptions> = {}) {
    const o: DeliverClientOptions = { ...DEFAULT_DELIVER_CLIENT_OPTIONS, ...options };
    validate(components, o);
    this.channel = components.channel;
    this.#c = components;
    this.#o = o;
    this.#endpoints = [...components.endpoints];
    this.#log = components.logger.child("deliveryClient", { channel: components.channel });
    this.#metrics = components.metrics !== undefined ? createDeliverMetrics(components.metrics) : undefined;
    this.#connector =
      components.connector ?? createGrpcDeliverConnector({ tls: components.tls, clock: components.clock, maxMessageSize: o.maxMessageSize });
  }

  /** Starts pulling blocks; idempotent while running. After a give-up it starts afresh (a leader again). */
  async start(): Promise<void> {
    if (this.#loop !== undefined && this.#gaveUp) await this.stop();
    if (this.#loop !== undefined) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#gaveUp = false;
    this.#loop = this.#run(abort.signal).catch((err: unknown) => {
      this.#log.error("deliver loop failed", { error: errorMessage(err) });
    });
  }

  async stop(): Promise<void> {
    const loop = this.#loop;
    if (loop === undefined) return;
    this.#abort?.abort(new DeliverError("STOPPED", "deliver client is stopped"));
    this.#stream?.close();
    await loop;
    this.#loop = undefined;
    this.#abort = undefined;
  }

  updateEndpoints(endpoints: readonly string[]): void {
    if (endpoints.length === 0) throw new DeliverError("INVALID_OPTIONS", "updateEndpoints needs at least one orderer endpoint");
    this.#endpoints = [...endpoints];
    // Fabric's endpoint.Refreshed: leave an orderer that is no longer listed, without counting a failure.
    const current = this.#endpoint;
    if (current !== undefined && !endpoints.includes(current) && this.#stream !== undefined) {
      this.#refreshed = true;
      this.#stream.close();
    }
  }

  gaveUp(): boolean {
    return this.#gaveUp;
  }

  currentEndpoint(): string | undefined {
    return this.#endpoint;
  }

  /** The wait before reconnection attempt number `failures` (1-based). */
  backoffMs(failures: number): number {
    const o = this.#o;
    const exp = o.initialBackoffMs * o.backoffMultiplier ** Math.max(0, failures - 1);
    const spread = o.backoffJitter > 0 ? 1 - o.backoffJitter / 2 + o.backoffJitter * this.#c.random.float() : 1;
    return Math.max(0, Math.min(exp * spread, o.reconnectBackoffThresholdMs));
  }

  async #run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let outageStart: number | undefined;
    let avoid: string | undefined;
    const clock = this.#c.clock;
    while (!signal.aborted) {
      if (failures > 0) {
        const delay = this.backoffMs(failures);
        outageStart ??= clock.monotonic();
        if (clock.monotonic() - outageStart + delay > this.#o.reconnectTotalTimeThresholdMs) {
          if (this.#o.yieldLeadership) {
            this.#log.warn("attempted to retry block delivery for more than peer.deliveryclient.reconnectTotalTimeThreshold, giving up", {
              thresholdMs: this.#o.reconnectTotalTimeThresholdMs,
            });
            this.#gaveUp = true;
            this.#endpoint = undefined;
            try {
              this.#c.onGiveUp?.();
            } catch (err) {
              this.#log.error("onGiveUp failed", { error: errorMessage(err) });
            }
            return;
          }
          if (!this.#staticWarned) {
            this.#staticWarned = true;
            this.#log.warn("peer is a static leader, ignoring peer.deliveryclient.reconnectTotalTimeThreshold");
          }
        }
        this.#log.warn("disconnected from ordering service, reconnecting", { inMs: Math.round(delay), failures });
        this.#metrics?.reconnects.inc({ channel: this.channel });
        try {
          await clock.sleep(delay, signal);
        } catch {
          return;
        }
      }
      const endpoint = this.#pickEndpoint(avoid);
      let height: bigint;
      let envelope: Uint8Array;
      try {
        height = this.#c.ledgerHeight();
        const seek = createSeekInfoEnvelope(this.#c.signer, this.channel, { start: height, stop: MAX_UINT64 }, {
          clock,
          random: this.#c.random,
          tlsCertHash: this.#connector.tlsCertHash,
        });
        envelope = Envelope.encode(seek).finish();
      } catch (err) {
        // Fabric returns from DeliverBlocks here: something is critically wrong locally.
        this.#log.error("cannot read the ledger height or sign the SeekInfo; delivery stops", { error: errorMessage(err) });
        return;
      }
      let stream: DeliverStream;
      try {
        stream = await this.#connector.open(endpoint, envelope, this.#o.connTimeoutMs, signal);
      } catch (err) {
        if (signal.aborted) return;
        this.#log.warn("could not connect to ordering service", { endpoint, error: errorMessage(err) });
        failures++;
        avoid = endpoint;
        continue;
      }
      if (signal.aborted) {
        stream.close();
        return;
      }
      this.#stream = stream;
      this.#endpoint = endpoint;
      this.#refreshed = false;
      this.#log.info("pulling next blocks from ordering service", { endpoint, nextBlock: height.toString() });
      const end = await this.#consume(stream, height, signal, () => {
        failures = 0;
        outageStart = undefined;
      });
      stream.close();
      this.#stream = undefined;
      this.#endpoint = undefined;
      if (end.kind === "stopped" || signal.aborted) return;
      if (this.#refreshed) {
        this.#refreshed = false;
        this.#log.info("ordering endpoints have been refreshed, reconnecting using the updated endpoints", { endpoint });
        avoid = undefined;
        continue;
      }
      if (end.kind === "rejected") {
        this.#metrics?.rejected.inc({ channel: this.channel, reason: end.reason });
        this.#c.events?.emit({ kind: "message-rejected", component: "deliver", code: end.reason });
        this.#log.warn("rejected a block from the ordering service; failing over to another orderer", {
          endpoint,
          reason: end.reason,
          detail: end.detail,
        });
      } else {
        this.#log.warn("deliver stream ended", { endpoint, detail: end.detail });
      }
      failures++;
      avoid = endpoint;
    }
  }

  /** A random endpoint, other than `avoid` when there is a choice (rotation after a failure). */
  #pickEndpoint(avoid: string | undefined): string {
    const all = this.#endpoints;
    const candidates = all.length > 1 && avoid !== undefined ? all.filter((e) => e !== avoid) : all;
    const pool = candidates.length > 0 ? candidates : all;
    return pool[this.#c.random.int(pool.length)]!;
  }

  async #consume(stream: DeliverStream, start: bigint, signal: AbortSignal, onProgress: () => void): Promise<StreamEnd> {
    let expected = start;
    try {
      for await (const raw of stream) {
        if (signal.aborted) return { kind: "stopped" };
        const msg = decodeDeliverResponse(raw);
        if (msg.kind === "malformed") return { kind: "rejected", reason: "malformed", detail: msg.error };
        if (msg.kind === "status") {
          const name = Status[msg.status] ?? String(msg.status);
          return {
            kind: "failed",
            detail: msg.status === Status.SUCCESS ? "received success for a seek that should never complete" : `received bad status ${name} from orderer`,
          };
        }
        const rejection = await this.#check(msg.block, expected);
        if (signal.aborted) return { kind: "stopped" };
        if (rejection !== undefined) return rejection;
        const ok = await this.#handOn(msg.block, msg.bytes, signal);
        if (ok !== undefined) return ok;
        expected++;
        onProgress();
      }
    } catch (err) {
      if (signal.aborted) return { kind: "stopped" };
      return { kind: "failed", detail: `error reading from deliver stream: ${errorMessage(err)}` };
    }
    return signal.aborted ? { kind: "stopped" } : { kind: "failed", detail: "orderer hung up without sending status" };
  }

  /** Why `block` must not be passed on, or undefined when it may. */
  async #check(block: Block, expected: bigint): Promise<StreamEnd | undefined> {
    const header = block.header;
    if (header === undefined) return { kind: "rejected", reason: "malformed", detail: "block without a header" };
    if (header.number !== expected) {
      return { kind: "rejected", reason: "unexpected_number", detail: `expected block [${expected}], got [${header.number}]` };
    }
    try {
      this.#c.mcs.verifyBlock(this.channel, header.number, block);
    } catch (err) {
      return { kind: "rejected", reason: "verify_failed", detail: `block [${header.number}] could not be verified: ${errorMessage(err)}` };
    }
    if (header.number > 0n) {
      const prev = await this.#hashOf(header.number - 1n);
      if (prev !== undefined && !bytesEqual(prev, header.previousHash)) {
        return {
          kind: "rejected",
          reason: "hash_chain",
          detail: `block [${header.number}] previous_hash does not match the hash of block [${header.number - 1n}]`,
        };
      }
    }
    return undefined;
  }

  async #hashOf(n: bigint): Promise<Uint8Array | undefined> {
    const known = this.#hashes.get(n);
    if (known !== undefined) return known;
    try {
      return (await this.#c.blockHashAt?.(n)) ?? undefined;
    } catch (err) {
      this.#log.debug("cannot read a block hash from the ledger", { block: n.toString(), error: errorMessage(err) });
      return undefined;
    }
  }

  /** Remembers the block's hash and awaits onBlock (abandoned, not cancelled, by stop()). */
  async #handOn(block: Block, bytes: Uint8Array, signal: AbortSignal): Promise<StreamEnd | undefined> {
    const header = block.header!;
    const hash = blockHeaderHash(header);
    const prior = this.#hashes.get(header.number);
    if (prior === undefined || !bytesEqual(prior, hash)) {
      this.#hashes.delete(header.number);
      this.#hashes.set(header.number, hash);
      while (this.#hashes.size > RECENT_HASHES) {
        const oldest = this.#hashes.keys().next().value;
        if (oldest === undefined) break;
        this.#hashes.delete(oldest);
      }
    }
    const added = this.#c.onBlock(block, bytes);
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<"stopped">((resolve) => {
      onAbort = () => resolve("stopped");
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      const r = await Promise.race([added.then(() => "added" as const), stopped]);
      if (r === "stopped") {
        added.catch(() => {});
        return { kind: "stopped" };
      }
    } catch (err) {
      if (signal.aborted) return { kind: "stopped" };
      // The block was not taken: forget its hash so a re-delivery is checked against the ledger again.
      this.#hashes.delete(header.number);
      return { kind: "failed", detail: `block [${header.number}] was not added: ${errorMessage(err)}` };
    } finally {
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    }
    this.#metrics?.received.inc({ channel: this.channel });
    if (this.#o.blockGossipEnabled && this.#c.gossip !== undefined) {
      try {
        this.#c.gossip(block, bytes);
      } catch (err) {
        this.#log.warn("gossiping a block failed", { block: header.number.toString(), error: errorMessage(err) });
      }
    }
    return undefined;
  }
}

/**
 * Config validates peer.deliveryclient.* (connTimeout, reconnectTotalTimeThreshold,
 * reConnectBackoffThreshold above 0); the backoff shape and message size are the service's constants.
 * What stays: the client needs an orderer to dial, and a wait between reconnections that is above 0,
 * or a refusing orderer would be redialled forever at one instant (tests build clients by hand).
 */
function validate(c: DeliverClientComponents, o: DeliverClientOptions): void {
  if (c.endpoints.length === 0) throw new DeliverError("INVALID_OPTIONS", `deliver client for channel ${c.channel} needs at least one orderer endpoint`);
  if (!(o.initialBackoffMs > 0 && o.backoffMultiplier >= 1 && o.backoffJitter >= 0 && o.backoffJitter <= 1 && o.reconnectBackoffThresholdMs > 0)) {
    throw new DeliverError(
      "INVALID_OPTIONS",
      `the reconnection wait must stay above 0: initialBackoffMs > 0 (got ${o.initialBackoffMs}), backoffMultiplier >= 1 (got ${o.backoffMultiplier}), backoffJitter within [0, 1] (got ${o.backoffJitter}), reconnectBackoffThresholdMs > 0 (got ${o.reconnectBackoffThresholdMs})`,
    );
  }
}

/** Makes the leader's Deliver client for one channel (Fabric's `deliverServiceImpl.StartDeliverForChannel`). */
export function createDeliverClient(components: DeliverClientComponents, options: Partial<DeliverClientOptions> = {}): DeliverClient {
  return new DeliverClientImpl(components, options);
}
