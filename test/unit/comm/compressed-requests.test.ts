import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { createGossipTransport, GOSSIP_TRANSPORT_KINDS } from "../../../src/comm/grpc/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { SystemClock } from "../../../src/util/index.js";

/** One GossipStream call carrying `frame` with the given grpc-encoding: the status it ends with. */
function call(session: http2.ClientHttp2Session, frame: Buffer, encoding: string | undefined): Promise<string> {
  return new Promise((resolve) => {
    const headers: http2.OutgoingHttpHeaders = { ":method": "POST", ":path": "/gossip.Gossip/GossipStream", "content-type": "application/grpc", te: "trailers" };
    if (encoding !== undefined) headers["grpc-encoding"] = encoding;
    const req = session.request(headers);
    let status = "none";
    req.on("response", (h) => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    });
    req.on("trailers", (h) => {
      status = String(h["grpc-status"] ?? status);
    });
    req.on("data", () => undefined);
    req.on("error", () => undefined);
    req.on("close", () => resolve(status));
    req.end(frame);
  });
}

for (const kind of GOSSIP_TRANSPORT_KINDS) describe(`gRPC server (${kind}): compressed requests`, () => {
  it("answers gzip and deflate calls UNIMPLEMENTED without inflating them (eight 100 KB gzip bombs of 100 MiB each)", async () => {
    const transport = createGossipTransport(kind, { listenAddress: "127.0.0.1:0", logger: silentLogger, clock: new SystemClock() });
    let streams = 0;
    await transport.listen((s) => {
      streams++;
      s.onData(() => undefined);
      s.close();
    });
    const session = http2.connect(`http://${transport.listenAddress}`);
    session.on("error", () => undefined);
    try {
      const bomb = gzipSync(Buffer.alloc(100 * 1024 * 1024 + 1024), { level: 9 });
      const frame = Buffer.alloc(5 + bomb.byteLength);
      frame[0] = 1; // compressed
      frame.writeUInt32BE(bomb.byteLength, 1);
      bomb.copy(frame, 5);
      const rss0 = process.memoryUsage().rss;
      let peak = rss0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 5);
      const statuses = await Promise.all([...Array.from({ length: 8 }, () => call(session, frame, "gzip")), call(session, frame, "deflate")]);
      clearInterval(sampler);
      // Inflating them took ~100 MiB each, concurrently.
      assert.deepEqual(statuses, Array(9).fill("12"));
      assert.equal(streams, 0);
      assert.ok(peak - rss0 < 50 * 1024 * 1024, `RSS grew by ${((peak - rss0) / 2 ** 20).toFixed(0)} MiB`);
      // An uncompressed call still reaches comm.
      const plain = Buffer.from([0, 0, 0, 0, 2, 0x0a, 0x00]);
      await call(session, plain, undefined);
      assert.equal(streams, 1);
    } finally {
      session.destroy();
      await transport.close();
    }
  });
});
