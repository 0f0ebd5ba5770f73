import { once } from "node:events";
import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { peerCertHash } from "../comm/grpc/index.js";
import { openBlockStore } from "../ledger/index.js";
import type { Logger } from "../logging/index.js";
import { type Block, HeaderType, Status } from "../protos/gen/common/common.pb.js";
import { BroadcastResponse, DeliverResponse } from "../protos/gen/orderer/ab.pb.js";
import { errorMessage } from "../util/index.js";
import { CHANNEL_WRITERS_POLICY, checkAccess } from "./access.js";
import { type BatchOptions, OrdererChain } from "./chain.js";
import { evaluateSeek, statusOf, streamBlocks } from "./deliver.js";
import { parseEnvelope } from "./envelope.js";
import { OrdererError } from "./errors.js";
import { type GenesisChannel, readGenesisBlock } from "./genesis.js";
import { createOrdererMetrics, type OrdererMetrics } from "./metrics.js";
import {
  MAX_BATCH_BYTES,
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

/** Envelope types that change a channel's configuration: this orderer takes none (Fabric's would process them). */
const CONFIG_TYPES: ReadonlySet<number> = new Set([HeaderType.CONFIG, HeaderType.CONFIG_UPDATE, HeaderType.ORDERER_TRANSACTION]);

/** Fabric's channel name rule, for the folders found under the orderer's dir. */
const CHANNEL_NAME = /^[a-z][a-z0-9.-]{0,248}$/;

/** A channel being served: its configuration and its chain. */
interface ServedChannel {
  genesis: GenesisChannel;
  chain: OrdererChain;
}

/**
 * A small ordering service: Fabric's `orderer.AtomicBroadcast` (Broadcast and Deliver) over
 * one solo-like chain per channel, each started from the channel's genesis block, with Fabric-format
 * signed blocks persisted in a block store. Requesters are checked as Fabric's orderer checks them:
 * Deliver against the channel's /Channel/Readers, Broadcast against /Channel/Writers, with the channel's
 * MSPs and policies from its configuration.
 * @throws OrdererError CONFIG / ORDERER_ORG for bad options or a genesis block this orderer cannot serve
 */
export function createOrderer(options: OrdererOptions, components: OrdererComponents): Orderer {
  return new OrdererImpl(options, components);
}

class OrdererImpl implements Orderer {
  readonly #opts: OrdererOptions;
  readonly #c: OrdererComponents;
  readonly #log: Logger;
  readonly #metrics: OrdererMetrics | undefined;
  readonly #overrides: Partial<BatchOptions>;
  /** The genesis blocks given, by channel. */
  readonly #given = new Map<string, GenesisChannel>();
  readonly #channels = new Map<string, ServedChannel>();
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
    const { batchSize, batchTimeoutMs, maxBlockBytes } = options;
    if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) throw new OrdererError("CONFIG", `batchSize must be a positive integer, got ${batchSize}`);
    if (batchTimeoutMs !== undefined && !(batchTimeoutMs > 0)) throw new OrdererError("CONFIG", `batchTimeoutMs must be positive, got ${batchTimeoutMs}`);
    if (maxBlockBytes !== undefined && !(maxBlockBytes > 0 && maxBlockBytes <= MAX_BATCH_BYTES)) {
      throw new OrdererError("CONFIG", `maxBlockBytes must be positive and at most ${MAX_BATCH_BYTES}, got ${maxBlockBytes}`);
    }
    this.#overrides = {
      ...(batchSize !== undefined ? { batchSize } : {}),
      ...(batchTimeoutMs !== undefined ? { batchTimeoutMs } : {}),
      ...(maxBlockBytes !== undefined ? { maxBlockBytes } : {}),
    };
    if (options.dir === "") throw new OrdererError("CONFIG", "dir must name the folder of the chains");
    (options.channels ?? []).forEach((input, i) => {
      const g = this.#readGenesis(input, `genesis block ${i + 1} of ${options.channels?.length}`);
      if (this.#given.has(g.name)) throw new OrdererError("CONFIG", `channel ${g.name} is given twice`);
      this.#given.set(g.name, g);
    });
  }

  #readGenesis(input: Uint8Array | Block, what: string): GenesisChannel {
    return readGenesisBlock(input, { signer: this.#c.signer, clock: this.#c.clock, logger: this.#log.child("orderer.channelconfig") }, what);
  }

  /** A channel's batch settings: its configuration's, with the options' overrides. */
  #batchOf(g: GenesisChannel): BatchOptions {
    const b = { ...g.batch, ...this.#overrides };
    return { ...b, preferredMaxBytes: Math.min(b.preferredMaxBytes ?? b.maxBlockBytes, b.maxBlockBytes) };
  }

  channels(): string[] {
    return [...this.#channels.keys()].sort();
  }

  get address(): string {
    return this.#address;
  }

  height(channel: string): bigint | undefined {
    return this.#channels.get(channel)?.chain.store.height();
  }

  async waitForHeight(channel: string, height: bigint, signal?: AbortSignal): Promise<void> {
    const chain = this.#channels.get(channel)?.chain;
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
      const root = resolve(this.#opts.dir);
      // The channels stored under dir come back; the given ones must agree with what is stored.
      const names = new Set<string>(this.#given.keys());
      const entries = await readdir(root, { withFileTypes: true }).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw err;
      });
      for (const e of entries) if (e.isDirectory() && CHANNEL_NAME.test(e.name)) names.add(e.name);
      for (const name of [...names].sort()) {
        const store = await openBlockStore(join(root, name), {}, { logger: this.#log.child("orderer.ledger", { channel: name }) });
        try {
          let genesis = this.#given.get(name);
          if (genesis === undefined) {
            if (store.height() === 0n) {
              // A folder without a chain (a start that failed before block 0 was written): nothing to serve.
              this.#log.warn("a channel folder holds no blocks and no genesis block was given for it; not served", { channel: name, dir: store.dir });
              await store.close();
              continue;
            }
            genesis = this.#readGenesis(await store.getBlockBytes(0n), `block 0 stored in ${store.dir}`);
            if (genesis.name !== name) throw new OrdererError("CONFIG", `${store.dir} holds the chain of channel ${genesis.name}, not ${name}`);
          }
          const chain = await OrdererChain.open(
            name,
            this.#batchOf(genesis),
            {
              store,
              signer: this.#c.signer,
              clock: this.#c.clock,
              logger: this.#log.child("orderer.chain", { channel: name }),
              ...(onCut === undefined ? {} : { onCut: (block: Block, bytes: number) => onCut(name, block, bytes) }),
            },
            this.#given.has(name) ? genesis.bytes : undefined,
          );
          this.#channels.set(name, { genesis, chain });
          this.#metrics?.height.set({ channel: name }, Number(store.height()));
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
      this.#log.info("ordering service listening", { address: this.#address, tls: tls !== undefined, channels: this.channels() });
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
    for (const { chain } of this.#channels.values()) {
      try {
        await chain.close();
      } finally {
        await chain.store.close();
      }
    }
    this.#channels.clear();
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
      const served = this.#channels.get(channel);
      if (served === undefined) throw new OrdererError("NOT_FOUND", `channel ${JSON.stringify(channel)} not found`);
      if (CONFIG_TYPES.has(parsed.channelHeader.type)) {
        throw new OrdererError("BAD_REQUEST", `channel ${channel}: a ${HeaderType[parsed.channelHeader.type] ?? parsed.channelHeader.type} envelope; this ordering service takes no config updates`);
      }
      checkAccess(parsed, served.genesis.bundle, CHANNEL_WRITERS_POLICY);
      served.chain.order(bytes);
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
              channel: (name) => {
                const served = this.#state === "running" ? this.#channels.get(name) : undefined;
                return served === undefined ? undefined : { chain: served.chain, bundle: served.genesis.bundle };
              },
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
