/**
 * The two gRPC transports of the gossip port against each other, on 127.0.0.1 in real time: grpc-js is an
 * independent gRPC implementation, so each direction checks that our own HTTP/2 gRPC keeps the wire
 * (framing, status in trailers, ping, mutual TLS and the certificate hashes the handshake binds), in
 * plaintext and with TLS. Then what only the http2 transport has to show: its answers to calls it does not
 * serve, and the message limit.
 */
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { after, describe, it } from "node:test";
import { createGossipTransport, GOSSIP_TRANSPORT_KINDS, type GossipTransport, type GossipTransportKind, type GrpcTlsOptions, Http2Transport } from "../../src/comm/grpc/index.js";
import { CommError, type RawStream } from "../../src/comm/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { SystemClock } from "../../src/util/index.js";
import { type GrpcHarnessCrypto, prepareGrpcHarnessCrypto } from "../utils/grpc-comm-harness.js";
import { eventually, freePort } from "../utils/net.js";

let material: Promise<GrpcHarnessCrypto> | undefined;
function tlsMaterial(): Promise<GrpcHarnessCrypto> {
  material ??= prepareGrpcHarnessCrypto({ orgs: 1, peersPerOrg: 2 });
  return material;
}
after(async () => {
  if (material !== undefined) await (await material).cleanup();
});

async function tlsOptions(i: number): Promise<GrpcTlsOptions> {
  const m = await tlsMaterial();
  const node = m.nodes[i]!;
  return { cert: node.tls.cert, key: node.tls.key, rootCAs: m.tlsRootCAs };
}

function transport(kind: GossipTransportKind, tls: GrpcTlsOptions | undefined, maxMessageSize?: number): GossipTransport {
  return createGossipTransport(kind, { listenAddress: "127.0.0.1:0", tls, logger: silentLogger, clock: new SystemClock(), ...(maxMessageSize !== undefined ? { maxMessageSize } : {}) });
}

/** What one side of a stream received, and how it ended. */
function record(stream: RawStream): { got: Uint8Array[]; closed: Promise<Error | undefined> } {
  const got: Uint8Array[] = [];
  stream.onData((b) => got.push(new Uint8Array(b)));
  return { got, closed: new Promise((resolve) => stream.onClose(resolve)) };
}

function payloads(): Uint8Array[] {
  return [0, 1, 300, 17_000, 1_100_000].map((n, i) => Uint8Array.from({ length: n }, (_, j) => (i * 7 + j * 13) & 0xff));
}

for (const tls of [false, true]) {
  for (const dialer of GOSSIP_TRANSPORT_KINDS) {
    for (const acceptor of GOSSIP_TRANSPORT_KINDS) {
      if (dialer === "grpc-js" && acceptor === "grpc-js") continue; // the comm suite's own case
      describe(`${dialer} dials ${acceptor}${tls ? ", mutual TLS" : ", plaintext"}`, () => {
        it("pings, then carries messages both ways in order and byte for byte, then ends cleanly on both sides", async (t) => {
          const server = transport(acceptor, tls ? await tlsOptions(0) : undefined);
          const client = transport(dialer, tls ? await tlsOptions(1) : undefined);
          t.after(async () => {
            await client.close();
            await server.close();
          });
          let accepted: ((s: { stream: RawStream; seen: ReturnType<typeof record> }) => void) | undefined;
          const acceptedStream = new Promise<{ stream: RawStream; seen: ReturnType<typeof record> }>((resolve) => (accepted = resolve));
          // Read from the start, as comm does: a large write waits for the reader (flow control).
          await server.listen((s) => accepted!({ stream: s, seen: record(s) }));
          await client.ping(server.listenAddress, 2_000, 2_000);
          const out = await client.dial(server.listenAddress, 2_000, 2_000);
          const mine = record(out);
          const msgs = payloads();
          for (const m of msgs) await out.write(m);
          const { stream: theirs, seen } = await acceptedStream;
          await eventually("the acceptor got every message", () => seen.got.length === msgs.length, 10_000, 10);
          assert.deepEqual(seen.got, msgs);
          for (const m of [...msgs].reverse()) await theirs.write(m);
          await eventually("the dialer got every message", () => mine.got.length === msgs.length, 10_000, 10);
          assert.deepEqual(mine.got, [...msgs].reverse());
          if (tls) {
            assert.deepEqual(theirs.remoteCertHash, client.tls.clientCertHash, "the acceptor sees the dialer's client certificate");
            assert.deepEqual(out.remoteCertHash, server.tls.serverCertHash, "the dialer sees the acceptor's server certificate");
          } else {
            assert.equal(theirs.remoteCertHash, undefined);
            assert.equal(out.remoteCertHash, undefined);
          }
          assert.match(theirs.remoteAddress, /^127\.0\.0\.1:\d+$/);
          // The dialer half-closes: the acceptor's side ends without an error, and so does the dialer's.
          out.closeWrite!();
          assert.equal(await seen.closed, undefined);
          assert.equal(await mine.closed, undefined);
        });

        // Only ours: grpc-js's server drops what comes after it sent its status, and calls the close a cancel.
        it("an acceptor's closeWrite ends its side after what it wrote, and still reads what the dialer sends until the dialer ends", { skip: acceptor !== "http2" }, async (t) => {
          const server = transport(acceptor, tls ? await tlsOptions(0) : undefined);
          const client = transport(dialer, tls ? await tlsOptions(1) : undefined);
          t.after(async () => {
            await client.close();
            await server.close();
          });
          const accepted: { stream: RawStream; seen: ReturnType<typeof record> }[] = [];
          await server.listen((s) => accepted.push({ stream: s, seen: record(s) }));
          const out = await client.dial(server.listenAddress, 2_000, 2_000);
          const mine = record(out);
          await out.write(Uint8Array.of(1));
          await eventually("accepted", () => accepted[0]?.seen.got.length === 1, 5_000, 10);
          const theirs = accepted[0]!;
          await theirs.stream.write(Uint8Array.of(9));
          theirs.stream.closeWrite!();
          // Sent before the dialer can have seen the acceptor's end: it must still arrive.
          await out.write(Uint8Array.of(2));
          assert.equal(await mine.closed, undefined, "the dialer's side ends cleanly on the acceptor's OK status");
          assert.deepEqual(mine.got, [Uint8Array.of(9)], "what the acceptor wrote before its end arrived");
          assert.equal(await theirs.seen.closed, undefined);
          assert.deepEqual(theirs.seen.got, [Uint8Array.of(1), Uint8Array.of(2)], "what the dialer sent after the acceptor's closeWrite arrived");
        });

        it("ends the acceptor's stream when the dialer closes it, and the dialer's when the acceptor does", { timeout: 10_000 }, async (t) => {
          const server = transport(acceptor, tls ? await tlsOptions(0) : undefined);
          const client = transport(dialer, tls ? await tlsOptions(1) : undefined);
          t.after(async () => {
            await client.close();
            await server.close();
          });
          // Each side reads, as comm's connections do (a grpc-js call that nobody reads never sees its end).
          const accepted: { closed: Promise<Error | undefined>; stream: RawStream }[] = [];
          await server.listen((s) => accepted.push({ stream: s, closed: record(s).closed }));
          const first = await client.dial(server.listenAddress, 2_000, 2_000);
          const firstEnd = record(first).closed;
          await first.write(Uint8Array.of(1));
          await eventually("accepted", () => accepted.length === 1, 5_000, 10);
          first.close();
          await accepted[0]!.closed;
          await firstEnd;
          const second = await client.dial(server.listenAddress, 2_000, 2_000);
          const secondEnd = record(second).closed;
          await second.write(Uint8Array.of(2));
          await eventually("accepted again", () => accepted.length === 2, 5_000, 10);
          accepted[1]!.stream.close();
          assert.equal(await secondEnd, undefined, "an OK status ends the dialer's stream without an error");
          await assert.rejects(second.write(Uint8Array.of(3)));
        });
      });
    }
  }
}

describe("http2 transport: dials that fail, and calls it does not serve", () => {
  it("fails a dial to a port nobody listens on, and a plaintext dial to a TLS server, with DIAL_FAILED or PING_FAILED", async (t) => {
    const tlsServer = transport("http2", await tlsOptions(0));
    const plain = transport("http2", undefined);
    t.after(async () => {
      await plain.close();
      await tlsServer.close();
    });
    await tlsServer.listen(() => assert.fail("no stream"));
    await assert.rejects(plain.dial("127.0.0.254:1", 500, 500), (e: unknown) => e instanceof CommError && e.code === "DIAL_FAILED");
    await assert.rejects(plain.dial(tlsServer.listenAddress, 1_000, 1_000), (e: unknown) => e instanceof CommError && (e.code === "DIAL_FAILED" || e.code === "PING_FAILED"));
  });

  it("tries a refused connection again within the dial timeout, as grpc's blocking dial: a peer listening a moment later is reached", async (t) => {
    const port = await freePort();
    const client = transport("http2", undefined);
    const late = new Http2Transport({ listenAddress: `127.0.0.1:${port}`, logger: silentLogger, clock: new SystemClock() });
    t.after(async () => {
      await client.close();
      await late.close();
    });
    const accepted: RawStream[] = [];
    const dialing = client.dial(`127.0.0.1:${port}`, 4_000, 2_000);
    await new Promise((r) => setTimeout(r, 300));
    await late.listen((s) => accepted.push(s));
    const stream = await dialing;
    await stream.write(Uint8Array.of(7));
    await eventually("the late listener got the stream", () => accepted.length === 1, 5_000, 10);
  });

  it("answers an unknown method and a non-gRPC request, and ends a stream whose message is above its limit with RESOURCE_EXHAUSTED", async (t) => {
    const server = new Http2Transport({ listenAddress: "127.0.0.1:0", logger: silentLogger, clock: new SystemClock(), maxMessageSize: 1_000 });
    const ends: (Error | undefined)[] = [];
    await server.listen((s) => {
      s.onData(() => undefined);
      s.onClose((e) => ends.push(e));
    });
    const session = http2.connect(`http://${server.listenAddress}`);
    session.on("error", () => undefined);
    t.after(async () => {
      session.destroy();
      await server.close();
    });
    const call = (path: string, contentType: string, body: Buffer): Promise<{ http: number; grpc: string | undefined }> =>
      new Promise((resolve) => {
        const req = session.request({ ":method": "POST", ":path": path, "content-type": contentType, te: "trailers" });
        let http = 0;
        let grpc: string | undefined;
        req.on("response", (h) => {
          http = Number(h[":status"]);
          if (h["grpc-status"] !== undefined) grpc = String(h["grpc-status"]);
        });
        req.on("trailers", (h) => {
          if (h["grpc-status"] !== undefined) grpc = String(h["grpc-status"]);
        });
        req.on("data", () => undefined);
        req.on("error", () => undefined);
        req.on("close", () => resolve({ http, grpc }));
        req.end(body);
      });
    const empty = Buffer.alloc(5);
    assert.deepEqual(await call("/gossip.Gossip/Nothing", "application/grpc", empty), { http: 200, grpc: "12" });
    assert.deepEqual(await call("/gossip.Gossip/Ping", "text/plain", empty), { http: 415, grpc: undefined });
    assert.deepEqual(await call("/gossip.Gossip/Ping", "application/grpc", empty), { http: 200, grpc: "0" });
    const big = Buffer.alloc(5 + 2_000);
    big.writeUInt32BE(2_000, 1);
    assert.deepEqual(await call("/gossip.Gossip/GossipStream", "application/grpc", big), { http: 200, grpc: "8" });
    await eventually("the stream ended", () => ends.length === 1, 5_000, 10);
    assert.match(String(ends[0]?.message), /2000 bytes, above the limit of 1000/);
  });
});
