import * as grpc from "@grpc/grpc-js";
import { ATOMIC_BROADCAST_SERVICE } from "../../src/orderer/index.js";
import { deliverResponseOf, parseSeek } from "../../src/sim/orderer.js";

/**
 * An ordering service that serves a fixed chain of block files over Deliver, as far as
 * `release` allows: a stand-in for a real orderer when a test replays blocks a real network made.
 * Each Deliver request streams from its start block on and then waits (BLOCK_UNTIL_READY).
 */
export class StaticDeliverServer {
  readonly #blocks: readonly Uint8Array[];
  readonly #server = new grpc.Server();
  readonly #streams = new Set<{ next: number; call: grpc.ServerDuplexStream<Uint8Array, Uint8Array> }>();
  #released = 0;
  /** Deliver requests received (their start blocks). */
  readonly seeks: number[] = [];

  constructor(blocks: readonly Uint8Array[]) {
    this.#blocks = blocks;
    this.#server.addService(ATOMIC_BROADCAST_SERVICE, {
      Broadcast: (call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>) => call.end(),
      Deliver: (call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>) => {
        call.on("data", (req: Uint8Array) => {
          const { start } = parseSeek(req);
          this.seeks.push(start);
          const s = { next: start, call };
          this.#streams.add(s);
          this.#pump(s);
        });
        const drop = (): void => {
          for (const s of this.#streams) if (s.call === call) this.#streams.delete(s);
        };
        call.on("end", () => {
          drop();
          call.end();
        });
        call.on("error", drop);
        call.on("cancelled", drop);
      },
    });
  }

  /** Listens on `address` ("127.0.0.1:port"), plaintext unless `credentials` say otherwise (a TLS orderer). */
  listen(address: string, credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.bindAsync(address, credentials, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Serves blocks up to number `upTo` - 1 (the height). */
  release(upTo: number): void {
    this.#released = Math.min(upTo, this.#blocks.length);
    for (const s of this.#streams) this.#pump(s);
  }

  #pump(s: { next: number; call: grpc.ServerDuplexStream<Uint8Array, Uint8Array> }): void {
    while (s.next < this.#released) {
      s.call.write(deliverResponseOf(this.#blocks[s.next]!));
      s.next++;
    }
  }

  stop(): Promise<void> {
    for (const s of this.#streams) s.call.end();
    this.#streams.clear();
    return new Promise((resolve) => this.#server.tryShutdown(() => resolve()));
  }
}
