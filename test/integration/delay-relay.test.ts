import assert from "node:assert/strict";
import { connect, createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { DelayRelay, type LinkDelay } from "../utils/delay-relay.js";
import { freePort } from "../utils/net.js";

/** The relay that stands in for netem's delay in the namespace lab (test/utils/netns.ts). */
describe("DelayRelay", () => {
  let echo: Server;
  let echoPort: number;
  before(async () => {
    echo = createServer((s) => s.pipe(s));
    echoPort = await freePort();
    await new Promise<void>((r) => echo.listen(echoPort, "127.0.0.1", r));
  });
  after(() => new Promise<void>((r) => echo.close(() => r())));

  /** Runs `body` with a relay to the echo server at `delay`, given the relay's port; stops the relay after. */
  async function throughRelay(delay: LinkDelay, body: (port: number) => Promise<void>): Promise<void> {
    const port = await freePort();
    const relay = new DelayRelay({ host: "127.0.0.1", port }, { host: "127.0.0.1", port: echoPort }, delay);
    await relay.start();
    try {
      await body(port);
    } finally {
      await relay.stop();
    }
  }

  it("delays each direction by at least the link's delay less its jitter, and keeps the bytes in order", async () => {
    await throughRelay({ oneWayMs: 40, jitterMs: 30 }, async (port) => {
      const socket = connect({ host: "127.0.0.1", port });
      await new Promise<void>((r) => socket.once("connect", r));
      const sent: Buffer[] = [];
      let received = Buffer.alloc(0);
      let firstEchoMs: number | undefined;
      const t0 = performance.now();
      const all = new Promise<void>((resolve) =>
        socket.on("data", (c: Buffer) => {
          firstEchoMs ??= performance.now() - t0;
          received = Buffer.concat([received, c]);
          if (received.length === 200 * 4) resolve();
        }),
      );
      for (let i = 0; i < 200; i++) {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(i);
        sent.push(b);
        socket.write(b);
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      await all;
      // Jitter draws differ chunk by chunk, yet nothing overtakes what was sent before it.
      assert.deepEqual(received, Buffer.concat(sent));
      assert.ok(firstEchoMs! >= 2 * (40 - 30), `the first echo came back after ${firstEchoMs} ms, before two one-way delays less their jitter`);
      socket.destroy();
    });
  });

  it("passes a half-close on after the delay, behind what was written before it", async () => {
    await throughRelay({ oneWayMs: 5, jitterMs: 0 }, async (port) => {
      const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
      await new Promise<void>((r) => socket.once("connect", r));
      let echoed = "";
      socket.on("data", (c: Buffer) => {
        echoed += c.toString();
      });
      const closed = new Promise<void>((r) => socket.once("close", () => r()));
      socket.end("bye");
      await closed;
      assert.equal(echoed, "bye", "what was written before the half-close came back before the close");
    });
  });

  it("counts the connections it accepts, and stop() closes them", async () => {
    const port = await freePort();
    const relay = new DelayRelay({ host: "127.0.0.1", port }, { host: "127.0.0.1", port: echoPort }, { oneWayMs: 0, jitterMs: 0 });
    await relay.start();
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((r) => socket.once("connect", r));
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.on("error", () => {});
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(relay.accepted, 1);
    await relay.stop();
    await closed;
  });
});
