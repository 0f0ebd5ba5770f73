import { once } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { peerCertHash } from "../comm/grpc/index.js";
import { openBlockStore } from "../ledger/index.js";
import type { Logger } from "../logging/index.js";
import { type Block, Status } from "../protos/gen/common/common.pb.js";
import { BroadcastResponse, DeliverResponse } from "../protos/gen/orderer/ab.pb.js";
import { errorMessage } from "../util/index.js";
import { checkAccess } from "./access.js";
import { type BatchOptions, OrdererChain } from "./chain.js";
import { evaluateSeek, statusOf, streamBlocks } from "./deliver.js";
import { parseEnvelope } from "./envelope.js";
import { OrdererError } from "./errors.js";
import { createOrdererMetrics, type OrdererMetrics } from "./metrics.js";
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_BATCH_TIMEOUT_MS,
  DEFAULT_MAX_BLOCK_BYTES,
  ORDERER_MAX_MESSAGE_SIZE,
  type Orderer,
  type OrdererComponents,
  type OrdererOptions,
} from "./interface.js";
import { ATOMIC_BROADCAST_SERVICE } from "./service.js";

const SHUTDOWN_GRACE_MS = 1_000;

function statusBytes(status: Status): Uint8Array {
  return DeliverResponse.encode({ Type: { $case: "status", value: status } }).finish();
}

/**
 * A small ordering service: Fabric's `orderer.AtomicBroadcast` (Broadcast and Deliver) over
 * one solo-like chain per channel, with Fabric-format signed blocks persisted in a block store.
 */
export function createOrderer(options: OrdererOptions, components: OrdererComponents): Orderer {
  return new OrdererImpl(options, components);
}

class OrdererImpl implements Orderer {
  readonly #opts: OrdererOptions;
  readonly #c: OrdererComponents;
  readonly #log: Logger;
  readonly #metrics: OrdererMetrics | undefined;
  readonly #batch: BatchOptions;
  readonly #chains = new Map<string, OrdererChain>();
  readonly #members = new Map<string, ReadonlySet<string>>();
  readonly #active = new Set<AbortController>();
  #server: grpc.Server | undefined;
  #address: string;
  #state: "new" | "starting" | "running" | "stopped" = "new";

  constructor(options: OrdererOptions, components: OrdererComponents) {
    this.#opts = options;
    this.#c = components;
    this.#log = components.logger.child("orderer");
    this.#metrics = components.metrics === undefined ? undefined : createOrdererMetrics(components.metrics);
    this.#address = options.listen;
    this.#batch = {
      batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
      batchTimeoutMs: options.batchTimeoutMs ?? DEFAULT_BATCH_TIMEOUT_MS,
      maxBlockBytes: options.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES,
    };
    if (!Number.isInteger(this.#batch.batchSize) || this.#batch.batchSize < 1) {
      throw new OrdererError("CONFIG", `batchSize must be a positive integer, got ${this.#batch.batchSize}`);
    }
    if (!(this.#batch.batchTimeoutMs > 0)) throw new OrdererError("CONFIG", `batchTimeoutMs must be positive, got ${this.#batch.batchTimeoutMs}`);
    if (!(this.#batch.maxBlockBytes > 0)) throw new OrdererError("CONFIG", `maxBlockBytes must be positive, got ${this.#batch.maxBlockBytes}`);
    for (const ch of options.channels) {
      if (this.#members.has(ch.name)) throw new OrdererError("CONFIG", `channel ${ch.name} is configured twice`);
      if (ch.name === "") throw new OrdererError("CONFIG", "a channel name must not be empty");
      this.#members.set(ch.name, new Set([...ch.memberOrgs, components.signer.mspId]));
    }
  }

  get address(): string {
    return this.#address;
  }

  height(channel: string): bigint | undefined {
    return this.#chains.get(channel)?.store.height();
  }

  async waitForHeight(channel: string, height: bigint, signal?: AbortSignal): Promise<void> {
    const chain = this.#chains.get(channel);
    if (chain === undefined) throw new OrdererError("NOT_FOUND", `channel ${JSON.stringify(channel)} not found`);
    await chain.store.waitForHeight(height, signal);
  }

  async start(): Promise<void> {
    if (this.#state !== "new") throw new OrdererError("CONFIG", `start() called on an orderer that is ${this.#state}`);
    this.#state = "starting";
    const onBlock = this.#c.onBlock;
    const metrics = this.#metrics;
    // Encoding the block to report its size costs a serialization: only when someone listens.
    const onCut =
      onBlock === undefined && metrics === undefined
        ? undefined
        : (channel: string, block: Block, bytes: number): void => {
            const header = block.header;
            if (metrics !== undefined && header !== undefined) {
              metrics.height.set({ channel }, Number(header.number) + 1);
              metrics.blocksCut.inc({ channel });
              metrics.txsOrdered.inc({ channel }, block.data?.data.length ?? 0);
            }
            onBlock?.(channel, block, bytes);
          };
    try {
      for (const ch of this.#opts.channels) {
        const store = await openBlockStore(ch.dir, {}, { logger: this.#log.child("orderer.ledger", { channel: ch.name }) });
        try {
          const chain = await OrdererChain.open(ch.name, this.#batch, {
            store,
            signer: this.#c.signer,
            clock: this.#c.clock,
            logger: this.#log.child("orderer.chain", { channel: ch.name }),
            ...(onCut === undefined ? {} : { onCut: (block: Block, bytes: number) => onCut(ch.name, block, bytes) }),
          });
          this.#chains.set(ch.name, chain);
          this.#metrics?.height.set({ channel: ch.name }, Number(store.height()));
        } catch (err) {
          await store.close();
          throw err;
        }
      }
      const server = new grpc.Server({
        "grpc.max_receive_message_length": ORDERER_MAX_MESSAGE_SIZE,
        "grpc.max_send_message_length": ORDERER_MAX_MESSAGE_SIZE,
        "grpc.keepalive_permit_without_calls": 1,
      });
      server.addService(ATOMIC_BROADCAST_SERVICE, {
        Broadcast: (call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>) => this.#broadcast(call),
        Deliver: (call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>) => this.#deliver(call),
      });
      const tls = this.#opts.tls;
      const creds = tls
        ? grpc.ServerCredentials.createSsl(
            tls.rootCAs === undefined ? null : Buffer.from(tls.rootCAs),
            [{ private_key: Buffer.from(tls.key), cert_chain: Buffer.from(tls.cert) }],
            tls.rootCAs !== undefined,
          )
        : grpc.ServerCredentials.createInsecure();
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(this.#opts.listen, creds, (err, p) => (err ? reject(err) : resolve(p)));
      });
      this.#server = server;
      this.#address = `${this.#opts.listen.slice(0, this.#opts.listen.lastIndexOf(":"))}:${port}`;
      this.#state = "running";
      this.#log.info("ordering service listening", { address: this.#address, tls: tls !== undefined, channels: [...this.#chains.keys()] });
    } catch (err) {
      await this.#closeChains();
      this.#state = "stopped";
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (this.#state === "stopped" || this.#state === "new") {
      this.#state = "stopped";
      return;
    }
    this.#state = "stopped";
    for (const ac of this.#active) ac.abort(new OrdererError("SERVICE_UNAVAILABLE", "the orderer is stopping"));
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        const timer = this.#c.clock.setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          timer.cancel();
          resolve();
        });
      });
    }
    await this.#closeChains();
    this.#log.info("ordering service stopped");
  }

  async #closeChains(): Promise<void> {
    for (const chain of this.#chains.values()) {
      try {
        await chain.close();
      } finally {
        await chain.store.close();
      }
    }
    this.#chains.clear();
  }

  /** Broadcast: every request is one Envelope, answered by one BroadcastResponse in order. */
  #broadcast(call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>): void {
    call.on("data", (bytes: Uint8Array) => {
      const res = this.#order(bytes);
      if (res.status !== Status.SUCCESS) this.#log.debug("broadcast rejected", { status: Status[res.status], info: res.info });
      call.write(BroadcastResponse.encode(res).finish());
    });
    call.on("end", () => call.end());
    call.on("error", (err) => this.#log.debug("broadcast stream error", { err: errorMessage(err) }));
  }

  #order(bytes: Uint8Array): BroadcastResponse {
    try {
      if (this.#state !== "running") throw new OrdererError("SERVICE_UNAVAILABLE", "the orderer is not running");
      const parsed = parseEnvelope(bytes);
      const channel = parsed.channelHeader.channelId;
      const chain = this.#chains.get(channel);
      const members = this.#members.get(channel);
      if (chain === undefined || members === undefined) throw new OrdererError("NOT_FOUND", `channel ${JSON.stringify(channel)} not found`);
      checkAccess(parsed, this.#c.verifier, channel, members);
      chain.order(bytes);
      return { status: Status.SUCCESS, info: "" };
    } catch (err) {
      return { status: statusOf(err), info: errorMessage(err) };
    }
  }

  /** Deliver: each request is a signed SeekInfo envelope, served fully (blocks, then a status) before the next. */
  #deliver(call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>): void {
    // With client certificates required, every request must be bound to this connection's certificate.
    const clientCertHash = this.#opts.tls?.rootCAs !== undefined ? (peerCertHash(call) ?? new Uint8Array(0)) : undefined;
    const ac = new AbortController();
    this.#active.add(ac);
    const queue: Uint8Array[] = [];
    let ended = false;
    let running = false;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#active.delete(ac);
      call.end();
    };
    const send = async (bytes: Uint8Array): Promise<void> => {
      if (!call.write(bytes)) await once(call, "drain", { signal: ac.signal });
    };
    const pump = async (): Promise<void> => {
      if (running) return;
      running = true;
      try {
        for (let req = queue.shift(); req !== undefined && !ac.signal.aborted; req = queue.shift()) {
          let status: Status;
          try {
            const range = evaluateSeek(req, {
              chain: (name) => (this.#state === "running" ? this.#chains.get(name) : undefined),
              readers: (name) => this.#members.get(name),
              verifier: this.#c.verifier,
              clientCertHash,
            });
            status = await streamBlocks(range, send, ac.signal);
          } catch (err) {
            if (ac.signal.aborted) break;
            status = statusOf(err);
            this.#log.debug("deliver request refused", { status: Status[status], err: errorMessage(err) });
          }
          await send(statusBytes(status));
        }
      } catch (err) {
        this.#log.debug("deliver stream failed", { err: errorMessage(err) });
        ac.abort(err);
      } finally {
        running = false;
      }
      if (ended || ac.signal.aborted) finish();
    };
    call.on("data", (bytes: Uint8Array) => {
      queue.push(bytes);
      void pump();
    });
    call.on("end", () => {
      ended = true;
      void pump();
    });
    call.on("cancelled", () => {
      ac.abort(new OrdererError("RPC_FAILED", "the client cancelled"));
      finish();
    });
    call.on("error", (err) => {
      this.#log.debug("deliver stream error", { err: errorMessage(err) });
      ac.abort(err);
      finish();
    });
  }
}
