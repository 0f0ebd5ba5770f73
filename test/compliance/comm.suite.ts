/**
 * The behavioural contract of Comm (Fabric's gossip/comm), run against every implementation:
 * in memory with virtual time, and over gRPC on 127.0.0.1 with real time. Each implementation
 * supplies a CommHarness (test/utils/comm-harness.ts); cases a harness cannot set up are skipped.
 */
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import type { PKIidType, RemotePeer } from "../../src/api/identity.js";
import { CommError, type CommErrorCode } from "../../src/comm/errors.js";
import type { MessageAcceptor } from "../../src/comm/interface.js";
import type { CommOptions } from "../../src/comm/options.js";
import { type GossipMessage, GossipMessage_Tag } from "../../src/protos/gen/gossip/message.pb.js";
import type { ReceivedMessage } from "../../src/protoext/received-message.js";
import { SignedGossipMessage } from "../../src/protoext/signed-message.js";
import { bytesEqual, utf8 } from "../../src/util/bytes.js";
import {
  type CommHarness,
  dataMsg,
  type HarnessPeer,
  metricValue,
  type PeerFault,
  type RawConn,
  type RawIdentityKind,
  type RawPeer,
  type RawPeerSpec,
  sha256,
  track,
} from "../utils/comm-harness.js";

const EMPTY = new Uint8Array(0);

/** Short timeouts so that real-time runs stay quick; virtual time does not care. */
const FAST: Readonly<Partial<CommOptions>> = { dialTimeoutMs: 1_000, connTimeoutMs: 1_000, handshakeTimeoutMs: 2_000 };
/** Time allowed for a connection and a first delivery. */
const CONNECT_MS = 3_000;
/** Time allowed for a dial to an unreachable endpoint to fail (dial timeout, with room). */
const DIAL_FAIL_MS = (FAST.dialTimeoutMs ?? 0) + (FAST.connTimeoutMs ?? 0) + 2_000;

const REJECTED = "fabric_gossip_comm_rejected_total";
const SENT = "gossip_comm_messages_sent";
const RECEIVED = "gossip_comm_messages_received";
const OVERFLOW = "gossip_comm_overflow_count";

// --- messages -----------------------------------------------------------------------------------

function seqOf(m: ReceivedMessage): number {
  const c = m.message.message.content;
  return c?.$case === "dataMsg" ? Number(c.value.payload?.seqNum ?? -1n) : -1;
}

const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

interface ConnFields {
  pkiId?: Uint8Array;
  identity?: Uint8Array;
  tlsCertHash?: Uint8Array;
  probe?: boolean;
  sign?: (b: Uint8Array) => Uint8Array;
}

/**
 * A ConnEstablish written from the Fabric spec (not from the implementation's builder):
 * GossipMessage{nonce 0, tag EMPTY, conn{pki_id, identity, tls_cert_hash, probe}}, signed.
 * `role` picks which certificate hash the raw peer claims by default.
 */
function connEstablish(raw: RawPeer, role: "dialer" | "acceptor", fields: ConnFields = {}): Uint8Array {
  const ownHash = role === "dialer" ? raw.clientCertHash : raw.serverCertHash;
  const msg: GossipMessage = {
    nonce: 0n,
    channel: EMPTY,
    tag: GossipMessage_Tag.EMPTY,
    content: {
      $case: "conn",
      value: {
        pkiId: fields.pkiId ?? raw.pkiId,
        identity: fields.identity ?? raw.identity,
        tlsCertHash: fields.tlsCertHash ?? ownHash ?? EMPTY,
        probe: fields.probe ?? false,
      },
    },
  };
  return SignedGossipMessage.sign(msg, fields.sign ?? ((b) => raw.sign(b))).bytes;
}

/** A signature that verifies under no identity. */
const forge = (b: Uint8Array): Uint8Array => sha256(Uint8Array.from([...b, 0x42]));

/** Checks that `bytes` is `peer`'s signed ConnEstablish, as Fabric builds it. */
function assertConnEstablishFrom(h: CommHarness, bytes: Uint8Array, peer: HarnessPeer, expect: { probe: boolean; certHash: Uint8Array | undefined }): void {
  const m = SignedGossipMessage.fromEnvelopeBytes(bytes);
  assert.equal(m.message.content?.$case, "conn", "the first frame is a ConnEstablish");
  if (m.message.content?.$case !== "conn") return;
  const conn = m.message.content.value;
  assert.equal(m.message.tag, GossipMessage_Tag.EMPTY, "ConnEstablish is tagged EMPTY");
  assert.equal(m.message.nonce, 0n, "ConnEstablish has nonce 0");
  assert.ok(bytesEqual(conn.pkiId, peer.pkiId), "ConnEstablish carries the sender's PKI-ID");
  assert.ok(bytesEqual(conn.identity, peer.identity), "ConnEstablish carries the sender's identity");
  assert.equal(conn.probe, expect.probe, "ConnEstablish probe flag");
  assert.ok(bytesEqual(conn.tlsCertHash, expect.certHash ?? EMPTY), "ConnEstablish carries the hash of the TLS certificate the sender presents");
  assert.ok(m.isSigned(), "ConnEstablish is signed");
  h.verify(conn.identity, m.envelope.signature, m.envelope.payload);
}

// --- helpers ------------------------------------------------------------------------------------

async function peers(h: CommHarness, n: number, options: Partial<CommOptions> = {}): Promise<HarnessPeer[]> {
  return h.createPeers(n, { options: { ...FAST, ...options } });
}

/** Collects what `peer` receives through a subscription with `acceptor`. */
function collect(peer: HarnessPeer, acceptor: MessageAcceptor = () => true): ReceivedMessage[] {
  const got: ReceivedMessage[] = [];
  peer.comm.accept(acceptor, (m) => got.push(m));
  return got;
}

function presumedDead(peer: HarnessPeer): PKIidType[] {
  const dead: PKIidType[] = [];
  peer.comm.onPresumedDead((id) => dead.push(id));
  return dead;
}

const includesId = (ids: PKIidType[], id: PKIidType): boolean => ids.some((x) => bytesEqual(x, id));

/** Connects `a` to `b` by sending one message and waiting for the connection on both sides. */
async function connect(h: CommHarness, a: HarnessPeer, b: HarnessPeer): Promise<void> {
  a.comm.send(dataMsg(1_000_000), b.remote);
  await h.waitFor(`${a.name} and ${b.name} to connect`, () => a.comm.stats().connections >= 1 && b.comm.stats().connections >= 1, CONNECT_MS);
}

async function waitForMetric(h: CommHarness, peer: HarnessPeer, name: string, labels: Record<string, string>, atLeast: number, timeoutMs: number): Promise<number> {
  let elapsed = 0;
  for (;;) {
    const v = await metricValue(peer.metrics, name, labels);
    if (v >= atLeast) return v;
    if (elapsed >= timeoutMs) assert.fail(`${peer.name}: ${name}${JSON.stringify(labels)} is ${v} after ${timeoutMs} ms; expected at least ${atLeast}`);
    await h.settle(10);
    elapsed += 10;
  }
}

/** Waits for `promise` to reject and returns the error. */
async function rejection(h: CommHarness, what: string, promise: Promise<unknown>, timeoutMs: number): Promise<unknown> {
  const outcome = await h.within(
    what,
    promise.then(
      () => ({ ok: true as const, error: undefined }),
      (error: unknown) => ({ ok: false as const, error }),
    ),
    timeoutMs,
  );
  if (outcome.ok) assert.fail(`${what} resolved; expected it to reject`);
  return outcome.error;
}

function assertCode(err: unknown, code: CommErrorCode): void {
  assert.ok(err instanceof CommError, `expected a CommError ${code}, got ${String(err)}`);
  assert.equal(err.code, code);
}

const ghost = (h: CommHarness): RemotePeer => ({ endpoint: h.deadEndpoint(), pkiId: utf8(`ghost-${h.deadEndpoint()}`) });

// --- the suite ----------------------------------------------------------------------------------

interface DialerCase {
  title: string;
  code: CommErrorCode;
  raw?: RawPeerSpec;
  needs?: (h: CommHarness) => string | undefined;
  target?: Partial<CommOptions>;
  /** The first frame; undefined sends nothing. */
  first: (raw: RawPeer) => Uint8Array | undefined;
  /** A frame after a successful handshake. */
  after?: (raw: RawPeer) => Uint8Array;
}

const needRawIdentity = (kind: RawIdentityKind) => (h: CommHarness) =>
  h.capabilities.rawIdentities.includes(kind) ? undefined : `the harness cannot make a raw peer with an ${kind} identity`;
const needTls = (h: CommHarness): string | undefined => (h.capabilities.tls ? undefined : "TLS is off in this harness");

const DIALER_CASES: DialerCase[] = [
  { title: "a malformed first frame", code: "MALFORMED_FRAME", first: () => Uint8Array.from([0x0a, 0x05, 0x01]) },
  {
    title: "a first message that is not a ConnEstablish",
    code: "WRONG_FIRST_MESSAGE",
    first: (raw) =>
      SignedGossipMessage.sign({ nonce: 0n, channel: EMPTY, tag: GossipMessage_Tag.EMPTY, content: { $case: "empty", value: {} } }, (b) => raw.sign(b)).bytes,
  },
  { title: "a ConnEstablish without a PKI-ID", code: "NO_PKI_ID", first: (raw) => connEstablish(raw, "dialer", { pkiId: EMPTY }) },
  { title: "a PKI-ID that is not its identity's", code: "PKI_ID_MISMATCH", first: (raw) => connEstablish(raw, "dialer", { pkiId: utf8("somebody else") }) },
  { title: "a ConnEstablish with a bad signature", code: "BAD_SIGNATURE", first: (raw) => connEstablish(raw, "dialer", { sign: forge }) },
  { title: "an unsigned ConnEstablish", code: "BAD_SIGNATURE", first: (raw) => connEstablish(raw, "dialer", { sign: () => EMPTY }) },
  {
    title: "an identity the MSP rejects",
    code: "BAD_IDENTITY",
    raw: { identity: "invalid" },
    needs: needRawIdentity("invalid"),
    first: (raw) => connEstablish(raw, "dialer"),
  },
  {
    title: "an expired identity",
    code: "EXPIRED_IDENTITY",
    raw: { identity: "expired" },
    needs: needRawIdentity("expired"),
    first: (raw) => connEstablish(raw, "dialer"),
  },
  {
    title: "the hash of a TLS certificate it did not present",
    code: "TLS_HASH_MISMATCH",
    needs: needTls,
    first: (raw) => connEstablish(raw, "dialer", { tlsCertHash: sha256(utf8("another certificate")) }),
  },
  {
    title: "no TLS client certificate",
    code: "NO_TLS_CERT",
    raw: { clientCert: false },
    needs: (h) => needTls(h) ?? (h.capabilities.rawWithoutClientCert ? undefined : "the harness cannot dial without a client certificate"),
    first: (raw) => connEstablish(raw, "dialer"),
  },
  { title: "an oversized first frame", code: "MESSAGE_TOO_LARGE", target: { maxMessageSize: 4_096 }, first: () => new Uint8Array(8_192).fill(7) },
  { title: "no first message within connTimeout", code: "HANDSHAKE_TIMEOUT", first: () => undefined },
  {
    title: "a malformed frame after the handshake",
    code: "MALFORMED_FRAME",
    first: (raw) => connEstablish(raw, "dialer"),
    after: () => Uint8Array.from([0x0a, 0x05, 0x01]),
  },
  {
    title: "an envelope whose payload is not a GossipMessage, after the handshake",
    code: "MALFORMED_FRAME",
    first: (raw) => connEstablish(raw, "dialer"),
    // Envelope{payload: 0x0f 0x01} - field 1 with wire type 7, which does not exist.
    after: () => Uint8Array.from([0x0a, 0x02, 0x0f, 0x01]),
  },
  {
    title: "an oversized message after the handshake",
    code: "MESSAGE_TOO_LARGE",
    target: { maxMessageSize: 4_096 },
    first: (raw) => connEstablish(raw, "dialer"),
    after: () => dataMsg(9, 8_192).bytes,
  },
];

interface ListenerCase {
  title: string;
  code: CommErrorCode;
  needs?: (h: CommHarness) => string | undefined;
  answer: (raw: RawPeer) => Uint8Array;
}

const LISTENER_CASES: ListenerCase[] = [
  { title: "a bad signature", code: "BAD_SIGNATURE", answer: (raw) => connEstablish(raw, "acceptor", { sign: forge }) },
  {
    title: "a first message that is not a ConnEstablish",
    code: "WRONG_FIRST_MESSAGE",
    answer: (raw) =>
      SignedGossipMessage.sign({ nonce: 0n, channel: EMPTY, tag: GossipMessage_Tag.EMPTY, content: { $case: "empty", value: {} } }, (b) => raw.sign(b)).bytes,
  },
  { title: "a PKI-ID that is not its identity's", code: "PKI_ID_MISMATCH", answer: (raw) => connEstablish(raw, "acceptor", { pkiId: utf8("somebody else") }) },
  {
    title: "the hash of a TLS certificate it did not present",
    code: "TLS_HASH_MISMATCH",
    needs: needTls,
    answer: (raw) => connEstablish(raw, "acceptor", { tlsCertHash: sha256(utf8("another certificate")) }),
  },
  { title: "a malformed frame", code: "MALFORMED_FRAME", answer: () => Uint8Array.from([0x0a, 0x05, 0x01]) },
];

const FAULT_CODES: Record<PeerFault, CommErrorCode> = {
  forgedSignature: "BAD_SIGNATURE",
  wrongTlsHash: "TLS_HASH_MISMATCH",
  invalidIdentity: "BAD_IDENTITY",
};

/** Runs the Comm contract against the implementation `makeHarness` builds. */
export function commSuite(name: string, makeHarness: () => Promise<CommHarness>): void {
  /** A fresh harness whose teardown (no leftover connections, streams, timers) runs after the test. */
  async function setup(t: TestContext): Promise<CommHarness> {
    const h = await makeHarness();
    t.after(() => h.teardown());
    return h;
  }

  describe(`Comm compliance: ${name}`, () => {
    describe("messaging", () => {
      it("sends and receives in both directions over one connection", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        const gotA = collect(a);
        const gotB = collect(b);
        const m1 = dataMsg(1);
        a.comm.send(m1, b.remote);
        await h.waitFor("b to receive from a", () => gotB.length === 1, CONNECT_MS);
        const r = gotB[0]!;
        assert.equal(seqOf(r), 1);
        assert.ok(bytesEqual(r.connectionInfo.id, a.pkiId), "connectionInfo.id is the sender's PKI-ID");
        assert.ok(bytesEqual(r.connectionInfo.identity, a.identity), "connectionInfo.identity is the sender's identity");
        assert.ok(r.connectionInfo.auth !== undefined && r.connectionInfo.auth.signedData.byteLength > 0, "connectionInfo keeps the handshake's signed data");

        b.comm.send(dataMsg(2), a.remote);
        await h.waitFor("a to receive from b", () => gotA.length === 1, CONNECT_MS);
        assert.equal(seqOf(gotA[0]!), 2);
        assert.ok(bytesEqual(gotA[0]!.connectionInfo.id, b.pkiId));
        assert.equal(a.comm.stats().connections, 1, "a has one connection");
        assert.equal(b.comm.stats().connections, 1, "b has one connection");
        if (h.dialCount) assert.equal(h.dialCount(b.endpoint, a.endpoint), 0, "b answered over a's connection instead of dialing");
        assert.equal(gotA.length + gotB.length, 2, "nothing else was delivered (the handshake is not a message)");
      });

      it("counts messages sent and received as Fabric does (the handshake is not counted)", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        const gotB = collect(b);
        for (let i = 0; i < 3; i++) a.comm.send(dataMsg(i), b.remote);
        await h.waitFor("three messages", () => gotB.length === 3, CONNECT_MS);
        await h.settle(100);
        assert.equal(await metricValue(a.metrics, SENT), 3, `${SENT} of the sender`);
        assert.equal(await metricValue(b.metrics, RECEIVED), 3, `${RECEIVED} of the receiver`);
        assert.equal(await metricValue(b.metrics, SENT), 0, `${SENT} of the receiver`);
        assert.equal(await metricValue(a.metrics, OVERFLOW), 0);
      });

      it("routes by accept predicate, and unsubscribing stops delivery", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        const odd = collect(b, (m) => seqOf(m) % 2 === 1);
        const even: ReceivedMessage[] = [];
        const all: ReceivedMessage[] = [];
        b.comm.accept(
          (m) => seqOf(m) % 2 === 0,
          (m) => even.push(m),
        );
        const unsubscribeAll = b.comm.accept(
          () => true,
          (m) => all.push(m),
        );
        for (let i = 1; i <= 4; i++) a.comm.send(dataMsg(i), b.remote);
        await h.waitFor("four messages", () => odd.length + even.length === 4, CONNECT_MS);
        assert.deepEqual(sorted(odd.map(seqOf)), [1, 3]);
        assert.deepEqual(sorted(even.map(seqOf)), [2, 4]);
        assert.deepEqual(sorted(all.map(seqOf)), [1, 2, 3, 4]);

        unsubscribeAll();
        for (let i = 5; i <= 8; i++) a.comm.send(dataMsg(i), b.remote);
        await h.waitFor("four more", () => odd.length + even.length === 8, CONNECT_MS);
        await h.settle(100);
        assert.deepEqual(sorted(odd.map(seqOf)), [1, 3, 5, 7]);
        assert.deepEqual(sorted(even.map(seqOf)), [2, 4, 6, 8]);
        assert.deepEqual(sorted(all.map(seqOf)), [1, 2, 3, 4], "an unsubscribed handler hears nothing more");
      });

      it("delivers respond() to the sender over the same connection", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        b.comm.accept(
          (m) => seqOf(m) < 100,
          (m) => m.respond(dataMsg(seqOf(m) + 100).message),
        );
        const gotA = collect(a);
        a.comm.send(dataMsg(7), b.remote);
        await h.waitFor("the response", () => gotA.length === 1, CONNECT_MS);
        assert.equal(seqOf(gotA[0]!), 107);
        assert.ok(bytesEqual(gotA[0]!.connectionInfo.id, b.pkiId), "the response comes from b");
        assert.equal(a.comm.stats().connections, 1);
        assert.equal(b.comm.stats().connections, 1);
        if (h.dialCount) assert.equal(h.dialCount(b.endpoint, a.endpoint), 0, "respond() does not dial");
      });

      it("keeps the sender's envelope bytes: the receiver sees exactly what was sent", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        const gotB = collect(b);
        // An unknown field (15, varint 1) after the envelope: re-encoding would drop it.
        const original = dataMsg(5, 64).bytes;
        const withUnknown = new Uint8Array(original.byteLength + 2);
        withUnknown.set(original);
        withUnknown.set([0x78, 0x01], original.byteLength);
        const msg = SignedGossipMessage.fromEnvelopeBytes(withUnknown);
        a.comm.send(msg, b.remote);
        await h.waitFor("the message", () => gotB.length === 1, CONNECT_MS);
        assert.deepEqual(gotB[0]!.message.bytes, withUnknown);
        assert.equal(seqOf(gotB[0]!), 5);
      });

      it("delivers everything sent at once to a new peer over a single dial", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        const gotB = collect(b);
        for (let i = 0; i < 10; i++) a.comm.send(dataMsg(i), b.remote);
        await h.waitFor("ten messages", () => gotB.length === 10, CONNECT_MS);
        assert.deepEqual(sorted(gotB.map(seqOf)), range(0, 10));
        assert.equal(a.comm.stats().connections, 1);
        assert.equal(b.comm.stats().connections, 1);
        if (h.dialCount) assert.equal(h.dialCount(a.endpoint, b.endpoint), 1, "one dial for ten concurrent sends");
      });

      it("keeps one connection per PKI-ID when both peers dial each other at once", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        const gotA = collect(a);
        const gotB = collect(b);
        a.comm.send(dataMsg(1), b.remote);
        b.comm.send(dataMsg(2), a.remote);
        await h.settle((FAST.connTimeoutMs ?? 0) + 1_000);
        assert.equal(a.comm.stats().connections, 1, "a has one connection to b");
        assert.equal(b.comm.stats().connections, 1, "b has one connection to a");
        if (h.openStreams) assert.equal(h.openStreams(), 2, "one stream (two ends) between them");
        // Fabric may lose what was sent on the stream that lost the race; what follows must flow.
        const beforeA = gotA.length;
        const beforeB = gotB.length;
        a.comm.send(dataMsg(3), b.remote);
        b.comm.send(dataMsg(4), a.remote);
        await h.waitFor("traffic both ways after the race", () => gotA.some((m) => seqOf(m) === 4) && gotB.some((m) => seqOf(m) === 3), CONNECT_MS);
        assert.equal(gotA.length - beforeA, 1);
        assert.equal(gotB.length - beforeB, 1);
        assert.equal(a.comm.stats().connections, 1);
        assert.equal(b.comm.stats().connections, 1);
        if (h.openStreams) assert.equal(h.openStreams(), 2);
      });

      it("drops plain sends when the send queue is full and counts the overflow", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2, { sendBuffSize: 5 });
        const gotB = collect(b, (m) => seqOf(m) < 1_000_000);
        a.comm.send(dataMsg(0), b.remote);
        await h.waitFor("the first message", () => gotB.length === 1, CONNECT_MS);
        for (let i = 1; i <= 100; i++) a.comm.send(dataMsg(i), b.remote);
        const overflow = await metricValue(a.metrics, OVERFLOW);
        assert.ok(overflow >= 1, `${OVERFLOW} counts the drops (got ${overflow})`);
        await h.waitFor("every message not dropped", () => gotB.length === 101 - overflow, CONNECT_MS);
        await h.settle(200);
        assert.equal(gotB.length, 101 - overflow, "each message is either delivered or counted as overflow");
        assert.ok(gotB.length - 1 >= 5, "at least a queue's worth got through");
        assert.equal(a.comm.stats().connections, 1, "an overflow does not drop the connection");
      });
    });

    describe("acks", () => {
      it("sendWithAck counts acks and NACKs, and times out peers that never ack", async (t) => {
        const h = await setup(t);
        const [a, b, c, d] = await peers(h, 4);
        const nonces: bigint[] = [];
        b.comm.accept(
          () => true,
          (m) => {
            nonces.push(m.message.message.nonce);
            m.ack();
          },
        );
        c.comm.accept(
          () => true,
          (m) => m.ack(new Error("x")),
        );
        const gotD = collect(d); // receives, never acks
        const res = track(a.comm.sendWithAck(dataMsg(1), 1_000, 3, b.remote, c.remote, d.remote));
        await h.waitFor("d to receive", () => gotD.length === 1, CONNECT_MS);
        assert.equal(res.settled, false, "sendWithAck waits for the silent peer until its timeout");
        const out = await h.within("sendWithAck", res.promise, CONNECT_MS);
        assert.equal(out.ackCount, 1);
        assert.equal(out.nackCount, 2);
        assert.equal(out.results.length, 3);
        const resultOf = (p: HarnessPeer) => out.results.find((r) => bytesEqual(r.peer.pkiId, p.pkiId));
        assert.equal(resultOf(b)?.error, "", "b acked");
        assert.match(resultOf(c)?.error ?? "", /x/, "c's NACK carries its error text");
        assert.ok((resultOf(d)?.error ?? "") !== "", "d timed out");
        assert.equal(nonces.length, 1);
        assert.notEqual(nonces[0], 0n, "sendWithAck gives the message a fresh nonce");
      });

      it("sendWithAck returns once minAck peers acked", async (t) => {
        const h = await setup(t);
        const [a, b, c, d] = await peers(h, 4);
        for (const p of [b, c]) {
          p.comm.accept(
            () => true,
            (m) => m.ack(),
          );
        }
        collect(d);
        const started = Date.now();
        const out = await h.within("sendWithAck with minAck 2", a.comm.sendWithAck(dataMsg(1), 10_000, 2, b.remote, c.remote, d.remote), CONNECT_MS);
        assert.equal(out.ackCount, 2);
        assert.equal(out.nackCount, out.results.length - out.ackCount);
        assert.ok(out.results.every((r) => r.error === "" || bytesEqual(r.peer.pkiId, d.pkiId)));
        // Only meaningful in real time; virtual time is already bounded by CONNECT_MS above.
        if (!h.capabilities.virtualTime) assert.ok(Date.now() - started < 10_000);
      });

      it("sendWithAck reports a peer it cannot reach as failed", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        b.comm.accept(
          () => true,
          (m) => m.ack(),
        );
        const out = await h.within("sendWithAck", a.comm.sendWithAck(dataMsg(1), 10_000, 2, b.remote, ghost(h)), DIAL_FAIL_MS);
        assert.equal(out.ackCount, 1);
        assert.equal(out.nackCount, 1);
        assert.equal(out.results.length, 2);
      });
    });

    describe("probe and handshake", () => {
      it("probe() succeeds for a live peer without a connection, and rejects for a dead endpoint", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        await h.within("probe of a live peer", a.comm.probe(b.remote), CONNECT_MS);
        await h.settle(100);
        assert.equal(a.comm.stats().connections, 0);
        assert.equal(b.comm.stats().connections, 0, "a probe opens no gossip stream");
        if (h.dialCount) assert.equal(h.dialCount(a.endpoint, b.endpoint), 0, "a probe pings without a stream");
        await rejection(h, "probe of a dead endpoint", a.comm.probe(ghost(h)), DIAL_FAIL_MS);
        await b.stop();
        await rejection(h, "probe of a stopped peer", a.comm.probe(b.remote), DIAL_FAIL_MS);
      });

      it("handshake() returns the remote identity and the remote registers no connection", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        const gotB = collect(b);
        const identity = await h.within("handshake", a.comm.handshake(b.remote), CONNECT_MS);
        assert.deepEqual(identity, b.identity);
        const unknown = await h.within("handshake without a PKI-ID", a.comm.handshake({ endpoint: b.endpoint, pkiId: EMPTY }), CONNECT_MS);
        assert.deepEqual(unknown, b.identity);
        await h.settle(200);
        assert.equal(b.comm.stats().connections, 0, "the remote does not register a probe");
        assert.equal(a.comm.stats().connections, 0, "handshake() keeps no connection");
        if (h.openStreams) assert.equal(h.openStreams(), 0, "the probe stream is closed");
        assert.equal(gotB.length, 0);
      });

      it("handshake() with a wrong expected PKI-ID rejects", async (t) => {
        const h = await setup(t);
        const [a, b, c] = await peers(h, 3);
        const err = await rejection(h, "handshake expecting c at b's endpoint", a.comm.handshake({ endpoint: b.endpoint, pkiId: c.pkiId }), CONNECT_MS);
        assertCode(err, "UNEXPECTED_PEER");
        await rejection(h, "handshake with a dead endpoint", a.comm.handshake(ghost(h)), DIAL_FAIL_MS);
      });
    });

    describe("connections and liveness", () => {
      it("closeConn() closes the connection on both sides, and the next send reconnects", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        const gotB = collect(b);
        await connect(h, a, b);
        a.comm.closeConn(b.remote);
        assert.equal(a.comm.stats().connections, 0, "closeConn() drops the connection at once");
        await h.waitFor("b to see the close", () => b.comm.stats().connections === 0, CONNECT_MS);
        if (h.openStreams) assert.equal(h.openStreams(), 0);
        a.comm.send(dataMsg(2), b.remote);
        await h.waitFor("delivery after reconnecting", () => gotB.some((m) => seqOf(m) === 2), CONNECT_MS);
        assert.equal(a.comm.stats().connections, 1);
        assert.equal(b.comm.stats().connections, 1);
      });

      it("identitySwitched() tells the listeners and closes the connection", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        await connect(h, a, b);
        const switched: PKIidType[] = [];
        a.comm.onIdentitySwitch((id) => switched.push(id));
        a.comm.identitySwitched(b.pkiId);
        assert.ok(includesId(switched, b.pkiId));
        await h.waitFor("the connection to close", () => a.comm.stats().connections === 0 && b.comm.stats().connections === 0, CONNECT_MS);
      });

      it("sending to a dead endpoint presumes the peer dead", async (t) => {
        const h = await setup(t);
        const [a] = await peers(h, 1);
        const dead = presumedDead(a);
        const endpoints: (string | undefined)[] = [];
        a.comm.onPresumedDead((_, endpoint) => endpoints.push(endpoint));
        const g = ghost(h);
        a.comm.send(dataMsg(1), g);
        await h.waitFor("a presumed-dead report", () => includesId(dead, g.pkiId), DIAL_FAIL_MS);
        assert.equal(a.comm.stats().connections, 0);
        assert.deepEqual(endpoints, [g.endpoint], "the report names the endpoint that failed");
      });

      it("a peer that stops is presumed dead by the peers sending to it", async (t) => {
        const h = await setup(t);
        const [a, b] = await peers(h, 2);
        await connect(h, a, b);
        const dead = presumedDead(a);
        await b.stop();
        // Fabric's TestPresumedDead: keep sending, 200 ms apart.
        for (let i = 0; i < 25 && !includesId(dead, b.pkiId); i++) {
          a.comm.send(dataMsg(i), b.remote);
          await h.settle(200);
        }
        assert.ok(includesId(dead, b.pkiId), "b is presumed dead");
        await h.waitFor("a to drop the connection", () => a.comm.stats().connections === 0, CONNECT_MS);
      });

      it("stop() is idempotent, settles pending work and leaves nothing running", async (t) => {
        const h = await setup(t);
        const [a, b, c] = await peers(h, 3);
        const gotB = collect(b);
        collect(c); // never acks
        await connect(h, a, b);
        const pendingAck = track(a.comm.sendWithAck(dataMsg(1), 60_000, 1, c.remote));
        a.comm.send(dataMsg(2), ghost(h)); // a dial in progress
        await h.settle(50);
        await h.within("two concurrent stop() calls", Promise.all([a.comm.stop(), a.comm.stop()]), 1_000);
        await h.within("a third stop()", a.comm.stop(), 1_000);
        assert.equal(a.comm.stats().connections, 0);
        await h.settle(0);
        assert.ok(pendingAck.settled, "a pending sendWithAck settles when the comm stops");
        const before = gotB.length;
        const dialsBefore = h.dialCount?.(a.endpoint, b.endpoint);
        a.comm.send(dataMsg(3), b.remote);
        await h.waitFor("b to see a go", () => b.comm.stats().connections === 0, CONNECT_MS);
        await h.settle(200);
        assert.equal(gotB.length, before, "a stopped comm sends nothing");
        if (h.dialCount) assert.equal(h.dialCount(a.endpoint, b.endpoint), dialsBefore, "a stopped comm dials nothing");
        await rejection(h, "probe() after stop()", a.comm.probe(b.remote), 1_000);
      });
    });

    describe("rejecting bad dialers", () => {
      it("accepts a raw dialer's well-formed ConnEstablish, answers with its own first, and delivers what follows", async (t) => {
        const h = await setup(t);
        const [b] = await peers(h, 1);
        const gotB: ReceivedMessage[] = [];
        b.comm.accept(
          () => true,
          (m) => {
            gotB.push(m);
            m.ack();
          },
        );
        const raw = await h.rawPeer();
        const conn = await h.within("raw dial", raw.dial(b.endpoint), CONNECT_MS);
        const hello = connEstablish(raw, "dialer");
        await conn.write(hello);
        const m = SignedGossipMessage.noopSign({ ...dataMsg(3).message, nonce: 77n });
        await conn.write(m.bytes);
        await h.waitFor("delivery", () => gotB.length === 1, CONNECT_MS);
        const r = gotB[0]!;
        assert.deepEqual(r.message.bytes, m.bytes);
        assert.ok(bytesEqual(r.connectionInfo.id, raw.pkiId));
        assert.ok(bytesEqual(r.connectionInfo.identity, raw.identity));
        assert.ok(r.connectionInfo.auth !== undefined);
        assert.deepEqual(r.connectionInfo.auth.signedData, SignedGossipMessage.fromEnvelopeBytes(hello).envelope.payload, "Auth keeps the ConnEstablish payload");
        assert.equal(b.comm.stats().connections, 1);

        await h.waitFor("b's ConnEstablish and ack", () => conn.received.length >= 2, CONNECT_MS);
        assertConnEstablishFrom(h, conn.received[0]!, b, { probe: false, certHash: b.tls.serverCertHash });
        const ack = SignedGossipMessage.fromEnvelopeBytes(conn.received[1]!);
        assert.equal(ack.message.content?.$case, "ack");
        assert.equal(ack.message.nonce, 77n, "the ack carries the message's nonce");
        if (ack.message.content?.$case === "ack") assert.equal(ack.message.content.value.error, "");

        conn.close();
        await h.waitFor("b to drop the connection", () => b.comm.stats().connections === 0, CONNECT_MS);
        assert.equal(await metricValue(b.metrics, REJECTED), 0, "nothing was refused");
      });

      it("answers a probe ConnEstablish and ends the stream itself, registering nothing", async (t) => {
        const h = await setup(t);
        const [b] = await peers(h, 1);
        const gotB = collect(b);
        const raw = await h.rawPeer();
        const conn = await h.within("raw dial", raw.dial(b.endpoint), CONNECT_MS);
        await conn.write(connEstablish(raw, "dialer", { probe: true }));
        await conn.write(dataMsg(1).bytes).catch(() => undefined);
        // The raw side never closes: b must end the probe stream on its own (Fabric returns errProbe).
        await h.waitFor("b to end the probe stream", () => conn.closed, CONNECT_MS);
        assert.ok(conn.received.length >= 1, "b answered with its ConnEstablish first");
        assertConnEstablishFrom(h, conn.received[0]!, b, { probe: false, certHash: b.tls.serverCertHash });
        assert.equal(b.comm.stats().connections, 0);
        assert.equal(gotB.length, 0, "nothing after a probe is delivered");
      });

      it("replaces a connection when the same PKI-ID connects again", async (t) => {
        const h = await setup(t);
        const [b] = await peers(h, 1);
        const gotB = collect(b);
        const raw = await h.rawPeer();
        const first = await h.within("first raw dial", raw.dial(b.endpoint), CONNECT_MS);
        await first.write(connEstablish(raw, "dialer"));
        await h.waitFor("the first connection", () => b.comm.stats().connections === 1, CONNECT_MS);
        const second = await h.within("second raw dial", raw.dial(b.endpoint), CONNECT_MS);
        await second.write(connEstablish(raw, "dialer"));
        await h.waitFor("b to close the first stream", () => first.closed, CONNECT_MS);
        assert.equal(second.closed, false, "the new stream stays");
        assert.equal(b.comm.stats().connections, 1, "still one connection for the PKI-ID");
        await second.write(dataMsg(2).bytes);
        await h.waitFor("delivery over the new stream", () => gotB.length === 1, CONNECT_MS);
        assert.equal(seqOf(gotB[0]!), 2);
      });

      for (const c of DIALER_CASES) {
        it(`closes the stream of a dialer that sends ${c.title} (${c.code})`, async (t) => {
          const h = await setup(t);
          const skip = c.needs?.(h);
          if (skip !== undefined) {
            t.skip(skip);
            return;
          }
          const [target] = await h.createPeers(1, { options: { ...FAST, ...c.target } });
          const [honest] = await peers(h, 1);
          const got = collect(target!);
          const raw = await h.rawPeer(c.raw);
          const conn: RawConn = await h.within("raw dial", raw.dial(target!.endpoint), CONNECT_MS);
          const first = c.first(raw);
          // The target may refuse before reading anything (NO_TLS_CERT), so the write may fail.
          if (first !== undefined) await conn.write(first).catch(() => undefined);
          if (c.after !== undefined) {
            await h.waitFor("the handshake to pass", () => target!.comm.stats().connections === 1, CONNECT_MS);
            await conn.write(c.after(raw));
          }
          // A message behind the bad frame must not be delivered either.
          if (first !== undefined) await conn.write(dataMsg(1).bytes).catch(() => undefined);
          await h.waitFor(`${target!.name} to close the stream`, () => conn.closed, (FAST.connTimeoutMs ?? 0) + CONNECT_MS);
          assert.equal(await metricValue(target!.metrics, REJECTED, { code: c.code }), 1, `${REJECTED}{code="${c.code}"}`);
          assert.equal(got.length, 0, "nothing from the refused stream is delivered");
          assert.equal(target!.comm.stats().connections, 0);
          // It still serves honest peers.
          honest!.comm.send(dataMsg(2), target!.remote);
          await h.waitFor("an honest peer's message afterwards", () => got.length === 1, CONNECT_MS);
          assert.ok(bytesEqual(got[0]!.connectionInfo.id, honest!.pkiId));
        });
      }

      it("closes an established connection that receives an injected malformed frame", async (t) => {
        const h = await setup(t);
        if (h.injectFrame === undefined) {
          t.skip("the transport cannot inject frames");
          return;
        }
        const [a, b] = await peers(h, 2);
        const gotB = collect(b, (m) => seqOf(m) < 1_000_000);
        await connect(h, a, b);
        assert.equal(h.injectFrame(a.endpoint, b.endpoint, Uint8Array.from([0xff, 0xff, 0xff])), 1);
        await h.waitFor("both sides to drop the connection", () => a.comm.stats().connections === 0 && b.comm.stats().connections === 0, CONNECT_MS);
        assert.equal(await metricValue(b.metrics, REJECTED, { code: "MALFORMED_FRAME" }), 1);
        a.comm.send(dataMsg(5), b.remote);
        await h.waitFor("delivery after reconnecting", () => gotB.length === 1, CONNECT_MS);
      });

      it("does not send a message larger than its maxMessageSize", async (t) => {
        const h = await setup(t);
        const [a] = await peers(h, 1, { maxMessageSize: 4_096 });
        const [b] = await peers(h, 1);
        const gotB = collect(b);
        a.comm.send(dataMsg(1, 8_192), b.remote);
        a.comm.send(dataMsg(2, 100), b.remote);
        await h.waitFor("the small message", () => gotB.some((m) => seqOf(m) === 2), CONNECT_MS);
        await h.settle(200);
        assert.deepEqual(gotB.map(seqOf), [2], "the oversized message never arrives");
      });

      it("refuses a peer whose maxMessageSize a message exceeds, and keeps serving smaller ones", async (t) => {
        const h = await setup(t);
        const [a] = await peers(h, 1);
        const [b] = await peers(h, 1, { maxMessageSize: 4_096 });
        const gotB = collect(b);
        await connect(h, a, b);
        a.comm.send(dataMsg(1, 8_192), b.remote);
        await waitForMetric(h, b, REJECTED, { code: "MESSAGE_TOO_LARGE" }, 1, CONNECT_MS);
        // The connection may have been dropped; keep sending small ones until one gets through.
        for (let i = 0; i < 20 && !gotB.some((m) => seqOf(m) === 2); i++) {
          a.comm.send(dataMsg(2, 100), b.remote);
          await h.settle(200);
        }
        assert.ok(gotB.some((m) => seqOf(m) === 2), "a small message gets through afterwards");
        assert.ok(!gotB.some((m) => seqOf(m) === 1), "the oversized one never does");
      });
    });

    describe("checking the listener", () => {
      it("sends a well-formed ConnEstablish when dialing, and the message right after it", async (t) => {
        const h = await setup(t);
        const [a] = await peers(h, 1);
        const raw = await h.rawPeer();
        const rawRemote: RemotePeer = { endpoint: raw.endpoint, pkiId: raw.pkiId };
        const m = dataMsg(4);
        a.comm.send(m, rawRemote);
        await h.waitFor("a's ConnEstablish", () => raw.inbound.length === 1 && raw.inbound[0]!.received.length >= 1, CONNECT_MS);
        const conn = raw.inbound[0]!;
        assertConnEstablishFrom(h, conn.received[0]!, a, { probe: false, certHash: a.tls.clientCertHash });
        await conn.write(connEstablish(raw, "acceptor"));
        await h.waitFor("the message", () => conn.received.length >= 2, CONNECT_MS);
        assert.deepEqual(conn.received[1], m.bytes, "the message follows byte for byte");
        assert.equal(a.comm.stats().connections, 1);
        conn.close();
        await h.waitFor("a to drop the connection", () => a.comm.stats().connections === 0, CONNECT_MS);
      });

      it("handshake() sends a probe ConnEstablish", async (t) => {
        const h = await setup(t);
        const [a] = await peers(h, 1);
        const raw = await h.rawPeer();
        const hs = track(a.comm.handshake({ endpoint: raw.endpoint, pkiId: raw.pkiId }));
        await h.waitFor("a's ConnEstablish", () => raw.inbound.length === 1 && raw.inbound[0]!.received.length >= 1, CONNECT_MS);
        const conn = raw.inbound[0]!;
        assertConnEstablishFrom(h, conn.received[0]!, a, { probe: true, certHash: a.tls.clientCertHash });
        await conn.write(connEstablish(raw, "acceptor"));
        const identity = await h.within("handshake", hs.promise, CONNECT_MS);
        assert.deepEqual(identity, raw.identity);
        await h.waitFor("the probe stream to close", () => conn.closed, CONNECT_MS);
      });

      for (const c of LISTENER_CASES) {
        it(`rejects a listener that answers with ${c.title} (${c.code})`, async (t) => {
          const h = await setup(t);
          const skip = c.needs?.(h);
          if (skip !== undefined) {
            t.skip(skip);
            return;
          }
          const [a] = await peers(h, 1);
          const raw = await h.rawPeer();
          const hs = track(a.comm.handshake({ endpoint: raw.endpoint, pkiId: EMPTY }));
          await h.waitFor("a's ConnEstablish", () => raw.inbound.length === 1 && raw.inbound[0]!.received.length >= 1, CONNECT_MS);
          const conn = raw.inbound[0]!;
          await conn.write(c.answer(raw));
          const err = await rejection(h, "handshake", hs.promise, CONNECT_MS);
          assertCode(err, c.code);
          await h.waitFor("a to close the stream", () => conn.closed, CONNECT_MS);

          // The same answer to a plain send: no connection, and the peer is presumed dead.
          const dead = presumedDead(a);
          a.comm.send(dataMsg(1), { endpoint: raw.endpoint, pkiId: raw.pkiId });
          await h.waitFor("a second stream", () => raw.inbound.length === 2 && raw.inbound[1]!.received.length >= 1, CONNECT_MS);
          const conn2 = raw.inbound[1]!;
          await conn2.write(c.answer(raw));
          await h.waitFor("a presumed-dead report", () => includesId(dead, raw.pkiId), CONNECT_MS);
          await h.waitFor("a to close the stream", () => conn2.closed, CONNECT_MS);
          assert.equal(conn2.received.length, 1, "nothing but the ConnEstablish was sent");
          assert.equal(a.comm.stats().connections, 0);
        });
      }
    });

    describe("misbehaving peers", () => {
      for (const fault of Object.keys(FAULT_CODES) as PeerFault[]) {
        const code = FAULT_CODES[fault];
        it(`refuses a peer with ${fault} in both directions (${code})`, async (t) => {
          const h = await setup(t);
          if (!h.capabilities.faults.includes(fault)) {
            t.skip(`the harness cannot make a peer with ${fault}`);
            return;
          }
          const [b] = await peers(h, 1);
          const f = await h.createPeer({ options: { ...FAST }, fault });
          const gotB = collect(b);
          const gotF = collect(f);
          const deadAtB = presumedDead(b);

          f.comm.send(dataMsg(1), b.remote);
          await waitForMetric(h, b, REJECTED, { code }, 1, CONNECT_MS);
          b.comm.send(dataMsg(2), f.remote);
          await h.waitFor("b to presume f dead", () => includesId(deadAtB, f.pkiId), CONNECT_MS);
          await waitForMetric(h, b, REJECTED, { code }, 2, CONNECT_MS);
          await h.waitFor("no connection on either side", () => b.comm.stats().connections === 0 && f.comm.stats().connections === 0, CONNECT_MS);
          await h.settle(200);
          assert.equal(gotB.length, 0, "b accepts nothing from f");
          assert.equal(gotF.length, 0, "f gets nothing from b");
        });
      }
    });
  });
}
