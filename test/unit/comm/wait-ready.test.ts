import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as grpc from "@grpc/grpc-js";
import { closeClient, GrpcTransport, waitForReady } from "../../../src/comm/grpc/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { SystemClock } from "../../../src/util/index.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const options: grpc.ChannelOptions = { "grpc.use_local_subchannel_pool": 1 };

describe("waitForReady and closeClient", () => {
  it("a client closed while it waits is collected (grpc-js's own wait kept each closed channel for 30 minutes)", async () => {
    let collected = 0;
    const registry = new FinalizationRegistry<number>(() => {
      collected++;
    });
    const waits: Promise<string>[] = [];
    for (let i = 0; i < 40; i++) {
      // Nobody listens on port 1: the channel goes through connecting and backoff until closed.
      const client = new grpc.Client("127.0.0.1:1", grpc.credentials.createInsecure(), options);
      registry.register((client.getChannel() as unknown as { internalChannel: object }).internalChannel, i);
      waits.push(waitForReady(client, Date.now() + 10_000).then(() => "ready", (err: Error) => err.message));
      await sleep(5);
      closeClient(client);
    }
    assert.deepEqual(new Set(await Promise.all(waits)), new Set(["The channel has been closed"]));
    for (let i = 0; i < 10 && collected < 40; i++) {
      await sleep(200);
      gc();
    }
    await sleep(50);
    assert.ok(collected >= 36, `${collected} of 40 closed channels collected`);
  });

  it("resolves once the server answers, and rejects at the deadline with grpc-js's message", async () => {
    const transport = new GrpcTransport({ listenAddress: "127.0.0.1:0", logger: silentLogger, clock: new SystemClock() });
    await transport.listen(() => undefined);
    const up = new grpc.Client(transport.listenAddress, grpc.credentials.createInsecure(), options);
    const down = new grpc.Client("127.0.0.1:1", grpc.credentials.createInsecure(), options);
    try {
      await waitForReady(up, Date.now() + 5_000);
      await assert.rejects(waitForReady(down, Date.now() + 300), /Failed to connect before the deadline/);
    } finally {
      closeClient(up);
      closeClient(down);
      await transport.close();
    }
  });
});
