/**
 * The Comm compliance suite over MemoryTransport in virtual time (ManualClock), with the
 * development MCS (identity = endpoint bytes = PKI-ID): in plaintext, with simulated TLS
 * certificates (so the TLS binding of the handshake is exercised), and with latency and fail-fast
 * dials. Then the memory network's own behaviour: timing, ordering, TLS hashes, faults, cleanup.
 *
 * FABRIC_GOSSIP_REALTIME_SUITE=1 also runs the suite in real time over the memory transport (about
 * 15 s), which checks that the suite makes no virtual-time assumptions.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CommError } from "../../src/comm/errors.js";
import { type MemoryFrame, MemoryNetwork, type MemoryStream, MemoryTransport } from "../../src/comm/memory/index.js";
import type { RawStream } from "../../src/comm/transport.js";
import { ManualClock, utf8 } from "../../src/util/index.js";
import { createMemoryCommHarness, sha256, type Tracked, track } from "../utils/comm-harness.js";
import { commSuite } from "./comm.suite.js";

commSuite("memory transport", async () => createMemoryCommHarness());
commSuite("memory transport with simulated TLS", async () => createMemoryCommHarness({ tls: true }));
commSuite("memory transport with 5 ms latency and fail-fast dials", async () =>
  createMemoryCommHarness({ latency: () => 5, refusedDial: "immediate", tls: true }),
);
if (process.env["FABRIC_GOSSIP_REALTIME_SUITE"] === "1") {
  commSuite("memory transport in real time", async () => createMemoryCommHarness({ realTime: true, tls: true }));
}

// --- the memory network itself ------------------------------------------------------------------

const A = "a.example.com:7051";
const B = "b.example.com:7051";
const C = "c.example.com:7051";

interface Ends {
  received: Uint8Array[];
  closes: (Error | undefined)[];
}

function watch(stream: RawStream): Ends {
  const ends: Ends = { received: [], closes: [] };
  stream.onData((b) => ends.received.push(b));
  stream.onClose((err) => ends.closes.push(err));
  return ends;
}

/** A network with listening transports for each endpoint; accepted streams are collected. */
async function setup(
  endpoints: string[],
  opts: { latency?: (from: string, to: string, bytes: number) => number; refusedDial?: "timeout" | "immediate"; tls?: boolean } = {},
) {
  const clock = new ManualClock();
  const net = new MemoryNetwork(clock, opts.latency, { refusedDial: opts.refusedDial ?? "timeout" });
  const accepted = new Map<string, { stream: RawStream; ends: Ends }[]>();
  const transports = new Map<string, MemoryTransport>();
  for (const ep of endpoints) {
    const t = new MemoryTransport(net, {
      endpoint: ep,
      tls: opts.tls ? { serverCert: utf8(`server ${ep}`), clientCert: utf8(`client ${ep}`) } : undefined,
    });
    const list: { stream: RawStream; ends: Ends }[] = [];
    accepted.set(ep, list);
    await t.listen((stream) => list.push({ stream, ends: watch(stream) }));
    transports.set(ep, t);
  }
  const tr = (ep: string): MemoryTransport => transports.get(ep)!;
  const dial = async (from: string, to: string, dialMs = 3_000, pingMs = 2_000): Promise<MemoryStream> => {
    const p = track(tr(from).dial(to, dialMs, pingMs));
    await clock.advance(0);
    for (let i = 0; i < 100 && !p.settled; i++) await clock.advance(1);
    if (p.rejected) throw p.error;
    assert.ok(p.settled, "dial settled");
    return p.value!;
  };
  const closeAll = async (): Promise<void> => {
    for (const t of transports.values()) await t.close();
    assert.equal(clock.pendingTimers(), 0, "no timers left after every transport closed");
    assert.equal(net.openStreamCount(), 0, "no stream left open");
  };
  return { clock, net, tr, accepted, dial, closeAll };
}

function code(err: unknown): string {
  return err instanceof CommError ? err.code : `not a CommError: ${String(err)}`;
}

describe("MemoryNetwork and MemoryTransport", () => {
  it("delivers frames through the clock, after the latency, in order even when a later frame is faster", async () => {
    // Big frames are slow, small ones fast: the small one written second must still arrive second.
    const env = await setup([A, B], { latency: (_f, _t, bytes) => (bytes > 100 ? 50 : 10) });
    const s = await env.dial(A, B);
    const far = env.accepted.get(B)![0]!;
    const big = new Uint8Array(1_000).fill(1);
    const small = Uint8Array.from([2]);
    const t0 = env.clock.monotonic();
    await s.write(big);
    await s.write(small);
    assert.equal(far.ends.received.length, 0, "nothing arrives synchronously");
    await env.clock.advance(0);
    assert.equal(far.ends.received.length, 0, "nothing arrives before the latency");
    await env.clock.advanceTo(t0 + 49);
    assert.equal(far.ends.received.length, 0);
    await env.clock.advanceTo(t0 + 50);
    assert.deepEqual(far.ends.received, [big, small], "FIFO per direction: the fast frame waits for the slow one");
    await env.closeAll();
  });

  it("delivers with zero latency asynchronously, on the next clock tick", async () => {
    const env = await setup([A, B]);
    const s = await env.dial(A, B);
    const far = env.accepted.get(B)![0]!;
    const back = watch(s);
    await s.write(Uint8Array.from([1]));
    await far.stream.write(Uint8Array.from([2]));
    assert.equal(far.ends.received.length + back.received.length, 0);
    await env.clock.advance(0);
    assert.deepEqual(far.ends.received, [Uint8Array.from([1])]);
    assert.deepEqual(back.received, [Uint8Array.from([2])]);
    assert.equal(s.remoteAddress, B);
    assert.equal(far.stream.remoteAddress, A);
    await env.closeAll();
  });

  it("takes a connect and a ping round trip to dial", async () => {
    const env = await setup([A, B], { latency: () => 10 });
    const p = track(env.tr(A).dial(B, 3_000, 2_000));
    await env.clock.advance(39);
    assert.equal(p.settled, false, "not before two round trips");
    await env.clock.advance(1);
    assert.equal(p.settled, true);
    assert.equal(env.accepted.get(B)!.length, 1, "the listener got the stream");
    assert.equal(env.net.dialCount(A, B), 1);
    const ping = track(env.tr(A).ping(B, 3_000, 2_000));
    await env.clock.advance(40);
    assert.equal(ping.settled && !ping.rejected, true);
    assert.equal(env.net.dialCount(A, B), 1, "a ping is not a dial");
    assert.equal(env.accepted.get(B)!.length, 1, "a ping opens no stream");
    await env.closeAll();
  });

  it("fails a dial that the latency makes slower than the dial or ping timeout", async () => {
    const env = await setup([A, B], { latency: () => 400 });
    const slowDial = track(env.tr(A).dial(B, 500, 5_000));
    await env.clock.advance(499);
    assert.equal(slowDial.settled, false);
    await env.clock.advance(1);
    assert.equal(code(slowDial.error), "DIAL_FAILED");
    const slowPing = track(env.tr(A).ping(B, 1_000, 500));
    await env.clock.advance(800 + 499);
    assert.equal(slowPing.settled, false);
    await env.clock.advance(1);
    assert.equal(code(slowPing.error), "PING_FAILED");
    await env.closeAll();
  });

  it("fails a dial to an endpoint nobody serves after the dial timeout, as grpc.WithBlock does", async () => {
    const env = await setup([A]);
    const dial = track(env.tr(A).dial(C, 3_000, 2_000));
    const ping = track(env.tr(A).ping(C, 3_000, 2_000));
    await env.clock.advance(2_999);
    assert.equal(dial.settled || ping.settled, false);
    await env.clock.advance(1);
    assert.equal(code(dial.error), "DIAL_FAILED");
    assert.equal(code(ping.error), "DIAL_FAILED");
    await env.closeAll();
  });

  it("fails such a dial at once with refusedDial 'immediate'", async () => {
    const env = await setup([A], { refusedDial: "immediate" });
    const dial = track(env.tr(A).dial(C, 3_000, 2_000));
    assert.equal(dial.settled, false, "still asynchronous");
    await env.clock.advance(0);
    assert.equal(code(dial.error), "DIAL_FAILED");
    await env.closeAll();
  });

  it("reports certificate hashes like TLS: the listener sees the dialer's client certificate and the dialer the listener's server certificate", async () => {
    const env = await setup([A, B], { tls: true });
    const s = await env.dial(A, B);
    const far = env.accepted.get(B)![0]!;
    assert.deepEqual(far.stream.remoteCertHash, sha256(utf8(`client ${A}`)));
    assert.deepEqual(s.remoteCertHash, sha256(utf8(`server ${B}`)));
    assert.deepEqual(env.tr(A).tls, { serverCertHash: sha256(utf8(`server ${A}`)), clientCertHash: sha256(utf8(`client ${A}`)) });
    await env.closeAll();

    const plain = await setup([A, B]);
    const p = await plain.dial(A, B);
    assert.equal(p.remoteCertHash, undefined);
    assert.equal(plain.accepted.get(B)![0]!.stream.remoteCertHash, undefined);
    assert.deepEqual(plain.tr(A).tls, { serverCertHash: undefined, clientCertHash: undefined });
    await plain.closeAll();
  });

  it("lets a TLS dialer without a client certificate connect (the listener sees none), and refuses plaintext to a TLS server", async () => {
    const clock = new ManualClock();
    const net = new MemoryNetwork(clock, undefined, { refusedDial: "immediate" });
    const server = new MemoryTransport(net, { endpoint: A, tls: { serverCert: utf8("server A") } });
    const seen: RawStream[] = [];
    await server.listen((s) => seen.push(s));
    const noClientCert = new MemoryTransport(net, { endpoint: B, tls: { serverCert: utf8("server B") } });
    const plain = new MemoryTransport(net, { endpoint: C });
    const ok = track(noClientCert.dial(A, 1_000, 1_000));
    const refused = track(plain.dial(A, 1_000, 1_000));
    await clock.advance(0);
    assert.equal(ok.rejected, false);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.remoteCertHash, undefined);
    assert.equal(code(refused.error), "DIAL_FAILED");
    for (const t of [server, noClientCert, plain]) await t.close();
    assert.equal(clock.pendingTimers(), 0);
    assert.equal(net.openStreamCount(), 0);
  });

  it("closes cleanly: the remote end hears after the frames already in flight, with no error", async () => {
    const env = await setup([A, B], { latency: () => 5 });
    const s = await env.dial(A, B);
    const near = watch(s);
    const far = env.accepted.get(B)![0]!;
    await s.write(Uint8Array.from([1]));
    s.close();
    s.close();
    assert.deepEqual(near.closes, [undefined], "the closing end's handlers run at once, once");
    await assert.rejects(s.write(Uint8Array.from([2])), (e: unknown) => code(e) === "CONNECTION_CLOSED");
    await env.clock.advance(5);
    assert.deepEqual(far.ends.received, [Uint8Array.from([1])], "data written before close() arrives");
    assert.deepEqual(far.ends.closes, [undefined], "then the clean close");
    await assert.rejects(far.stream.write(Uint8Array.from([3])));
    assert.equal(env.net.openStreamCount(), 0);
    assert.equal(env.clock.pendingTimers(), 0);
    let late: (Error | undefined)[] = [];
    s.onClose((e) => {
      late = [e];
    });
    assert.deepEqual(late, [undefined], "onClose on a closed stream runs at once");
    await env.closeAll();
  });

  it("keeps frames that arrive before onData is set, and hands them over in order", async () => {
    const env = await setup([A]);
    const clock = env.clock;
    const late = new MemoryTransport(env.net, { endpoint: B });
    let accepted: RawStream | undefined;
    await late.listen((s) => {
      accepted = s;
    });
    const s = await env.dial(A, B);
    await s.write(Uint8Array.from([1]));
    await s.write(Uint8Array.from([2]));
    await clock.advance(0);
    const got: number[] = [];
    accepted!.onData((b) => got.push(b[0]!));
    assert.deepEqual(got, [], "not synchronously inside onData()");
    await s.write(Uint8Array.from([3]));
    await clock.advance(0);
    assert.deepEqual(got, [1, 2, 3]);
    await late.close();
    await env.closeAll();
  });

  it("setDown breaks open streams at both ends and refuses dials until the endpoint is back", async () => {
    const env = await setup([A, B, C], { refusedDial: "immediate" });
    const ab = watch(await env.dial(A, B));
    const cb = watch(await env.dial(C, B));
    const ac = watch(await env.dial(A, C));
    env.net.setDown(B, true);
    assert.equal(ab.closes.length, 1);
    assert.ok(ab.closes[0] instanceof Error, "a broken stream closes with an error");
    assert.equal(env.accepted.get(B)![0]!.ends.closes.length, 1);
    assert.equal(cb.closes.length, 1);
    assert.equal(ac.closes.length, 0, "streams not involving B are untouched");
    await assert.rejects(env.dial(A, B), (e: unknown) => code(e) === "DIAL_FAILED");
    await assert.rejects(env.dial(B, C), (e: unknown) => code(e) === "DIAL_FAILED", "a down host cannot dial out either");
    env.net.setDown(B, false);
    await env.dial(A, B);
    await env.closeAll();
  });

  it("partition 'break' resets streams between the two sides; dials across it time out until heal", async () => {
    const env = await setup([A, B, C]);
    const ab = watch(await env.dial(A, B));
    const ac = watch(await env.dial(A, C));
    env.net.partition(A, B);
    assert.equal(ab.closes.length, 1);
    assert.equal(ac.closes.length, 0);
    const across = track(env.tr(B).dial(A, 1_000, 1_000));
    await env.clock.advance(999);
    assert.equal(across.settled, false, "a partition drops packets: the dial waits for its timeout");
    await env.clock.advance(1);
    assert.equal(code(across.error), "DIAL_FAILED");
    env.net.heal(A, B);
    await env.dial(B, A);
    await env.closeAll();
  });

  it("partition 'blackhole' keeps streams open but loses every frame", async () => {
    const env = await setup([A, B]);
    const s = await env.dial(A, B);
    const far = env.accepted.get(B)![0]!;
    env.net.partition(A, B, "blackhole");
    await s.write(Uint8Array.from([1]));
    await env.clock.advance(100);
    assert.equal(far.ends.received.length, 0);
    assert.equal(far.ends.closes.length, 0, "nothing tells the other side");
    env.net.heal();
    await s.write(Uint8Array.from([2]));
    await env.clock.advance(0);
    assert.deepEqual(far.ends.received, [Uint8Array.from([2])]);
    await env.closeAll();
  });

  it("injects raw frames into open streams, and lets observers see every delivered frame", async () => {
    const env = await setup([A, B]);
    const frames: MemoryFrame[] = [];
    const stopObserving = env.net.observe((f) => frames.push(f));
    const s = await env.dial(A, B);
    const near = watch(s);
    const far = env.accepted.get(B)![0]!;
    assert.equal(env.net.inject(A, B, Uint8Array.from([0xff])), 1);
    assert.equal(env.net.inject(C, B, Uint8Array.from([0xff])), 0);
    env.net.injectInto(s, Uint8Array.from([0xee]));
    await env.clock.advance(0);
    assert.deepEqual(far.ends.received, [Uint8Array.from([0xff])]);
    assert.deepEqual(near.received, [Uint8Array.from([0xee])]);
    assert.deepEqual(
      frames.map((f) => [f.from, f.to, f.bytes[0]]),
      [
        [A, B, 0xff],
        [B, A, 0xee],
      ],
    );
    stopObserving();
    await s.write(Uint8Array.from([1]));
    await env.clock.advance(0);
    assert.equal(frames.length, 2);
    await env.closeAll();
  });

  it("close() rejects dials in progress, breaks its streams, stops listening, and leaves no timers", async () => {
    const env = await setup([A, B], { latency: () => 10 });
    const open = watch(await env.dial(A, B));
    const pending: Tracked<MemoryStream>[] = [track(env.tr(A).dial(B, 3_000, 2_000)), track(env.tr(A).dial(C, 3_000, 2_000))];
    await env.clock.advance(5);
    assert.ok(env.clock.pendingTimers() > 0);
    await env.tr(A).close();
    await env.tr(A).close();
    await env.clock.advance(0);
    for (const p of pending) assert.equal(code(p.error), "STOPPED");
    assert.equal(open.closes.length, 1);
    assert.equal(env.accepted.get(B)![0]!.ends.closes.length, 1, "the remote end breaks too");
    assert.equal(env.tr(A).pendingOperations(), 0);
    await assert.rejects(env.tr(A).dial(B, 1_000, 1_000), (e: unknown) => code(e) === "STOPPED");
    await assert.rejects(env.tr(A).listen(() => undefined), (e: unknown) => code(e) === "STOPPED");
    const toClosed = track(env.tr(B).dial(A, 1_000, 1_000));
    await env.clock.advance(1_000);
    assert.equal(code(toClosed.error), "DIAL_FAILED", "a closed transport no longer listens");
    assert.deepEqual(env.net.endpoints(), [B]);
    await env.closeAll();
  });

  it("refuses a second listener on the same endpoint and a second listen()", async () => {
    const env = await setup([A]);
    const again = new MemoryTransport(env.net, { endpoint: A });
    await assert.rejects(again.listen(() => undefined));
    await assert.rejects(env.tr(A).listen(() => undefined));
    await again.close();
    assert.deepEqual(env.net.endpoints(), [A], "closing the loser does not unregister the winner");
    await env.closeAll();
  });

  it("a frame that reaches a host is an event of the host's clock: grouped clocks run each host's arrivals and timers together", async () => {
    const clock = new ManualClock(0, { turnPerInstant: false });
    const net = new MemoryNetwork(clock, () => 5);
    const hosts = [A, B, C].map((endpoint, i) => ({ endpoint, clock: clock.grouped(i + 1) }));
    const [a, b, c] = hosts.map((h) => new MemoryTransport(net, { endpoint: h.endpoint, clock: h.clock })) as [MemoryTransport, MemoryTransport, MemoryTransport];
    const order: string[] = [];
    const accepted: RawStream[] = [];
    for (const [i, t] of [a, b, c].entries()) {
      await t.listen((stream) => {
        accepted.push(stream);
        stream.onData((bytes) => order.push(`${"abc"[i]} got ${bytes[0]}`));
      });
    }
    const dial = track(c.dial(A, 1_000, 1_000));
    const dial2 = track(b.dial(A, 1_000, 1_000));
    await clock.advance(20);
    assert.ok(dial.settled && !dial.rejected && dial2.settled && !dial2.rejected, "dials on the hosts' clocks complete");
    const cToA = dial.value!;
    const bToA = dial2.value!;
    cToA.onData((bytes) => order.push(`c got ${bytes[0]}`));
    // Scheduled in another order than they run in: C's timer, C's frame to A, the network's timer, B's frame to A, A's frame to C.
    hosts[2]!.clock.setTimeout(() => order.push("c timer"), 5);
    await cToA.write(Uint8Array.from([3]));
    clock.setTimeout(() => order.push("network timer"), 5);
    await bToA.write(Uint8Array.from([2]));
    const replies = accepted.filter((s) => s.remoteAddress === C);
    assert.equal(replies.length, 1);
    await replies[0]!.write(Uint8Array.from([1]));
    await clock.advance(5);
    // Group 0 (the network's own clock) first, then A's arrivals in the order they were sent, then C's timer and
    // arrival in the order they were scheduled.
    assert.deepEqual(order, ["network timer", "a got 3", "a got 2", "c timer", "c got 1"]);
    for (const t of [a, b, c]) await t.close();
    assert.equal(clock.pendingTimers(), 0);
  });
});
