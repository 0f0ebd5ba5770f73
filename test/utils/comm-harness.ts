import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Registry } from "prom-client";
import type { PeerIdentityType, PKIidType, RemotePeer } from "../../src/api/identity.js";
import { createComm } from "../../src/comm/index.js";
import type { Comm } from "../../src/comm/interface.js";
import { type LatencyFn, MemoryNetwork, type MemoryNetworkOptions, MemoryTransport } from "../../src/comm/memory/index.js";
import type { CommOptions } from "../../src/comm/options.js";
import type { RawStream, Transport, TransportTls } from "../../src/comm/transport.js";
import { CryptoError, DevMessageCryptoService } from "../../src/crypto/index.js";
import { type Logger, silentLogger } from "../../src/logging/index.js";
import { createRegistry, promMetricsProvider } from "../../src/metrics/index.js";
import { GossipMessage_Tag } from "../../src/protos/gen/gossip/message.pb.js";
import { SignedGossipMessage } from "../../src/protoext/index.js";
import { flushMicrotasks, ManualClock, SeededRandom, SystemClock, utf8 } from "../../src/util/index.js";

// ---------------------------------------------------------------------------------------------
// The contract every Comm implementation's harness fulfils (test/compliance/comm.suite.ts).
// ---------------------------------------------------------------------------------------------

/** A Comm as the suite drives it: the contract plus a connection count. */
export type TestableComm = Comm & { stats(): { connections: number } };

/** A running peer: a Comm over its own transport. */
export interface HarnessPeer {
  readonly name: string;
  readonly comm: TestableComm;
  readonly endpoint: string;
  readonly pkiId: PKIidType;
  readonly identity: PeerIdentityType;
  /** The peer's own prom-client registry. */
  readonly metrics: Registry;
  /** The hashes of the TLS certificates its transport presents (both undefined without TLS). */
  readonly tls: TransportTls;
  /** How other peers address it. */
  readonly remote: RemotePeer;
  /** Stops its Comm (which closes its transport): the peer is gone. Idempotent. */
  stop(): Promise<void>;
}

/** Ways a harness can make a misbehaving, otherwise complete peer. */
export type PeerFault =
  /** Signs its ConnEstablish with a signature that does not verify. */
  | "forgedSignature"
  /** Puts in its ConnEstablish the hash of a TLS certificate other than the one it presents (TLS only). */
  | "wrongTlsHash"
  /** Uses an identity the MSP rejects. */
  | "invalidIdentity";

export interface PeerSpec {
  options?: Partial<CommOptions>;
  fault?: PeerFault;
}

/** The identity a raw peer claims: one the MSP accepts, rejects, or knows as expired. */
export type RawIdentityKind = "valid" | "invalid" | "expired";

export interface RawPeerSpec {
  identity?: RawIdentityKind;
  /** With TLS on, whether the raw peer presents a client certificate when dialing (default true). */
  clientCert?: boolean;
}

/** One stream of a raw peer: envelopes as bytes, nothing checked. */
export interface RawConn {
  /** Frames received so far, in order. */
  readonly received: readonly Uint8Array[];
  readonly closed: boolean;
  write(bytes: Uint8Array): Promise<void>;
  close(): void;
}

/**
 * A peer that speaks raw frames over the implementation's transport: it dials and accepts streams
 * but runs no handshake, so tests write any first frame they like.
 */
export interface RawPeer {
  readonly endpoint: string;
  readonly identity: PeerIdentityType;
  readonly pkiId: PKIidType;
  /** Hash of the client certificate it presents when dialing (undefined without TLS or without one). */
  readonly clientCertHash: Uint8Array | undefined;
  /** Hash of the server certificate it presents when accepting (undefined without TLS). */
  readonly serverCertHash: Uint8Array | undefined;
  /** Signs with the raw peer's identity, as the MCS would. */
  sign(bytes: Uint8Array): Uint8Array;
  /** Opens a stream to `endpoint` (connect, ping, stream). Use `harness.within` under virtual time. */
  dial(endpoint: string): Promise<RawConn>;
  /** Streams other peers opened to this raw peer, in order. */
  readonly inbound: readonly RawConn[];
  close(): Promise<void>;
}

/** What a harness can do beyond the basics; the suite skips what it cannot. */
export interface HarnessCapabilities {
  /** Time is a ManualClock (settle advances it) rather than real time. */
  virtualTime: boolean;
  /** Peers run TLS: ConnEstablish carries certificate hashes and they are checked. */
  tls: boolean;
  faults: readonly PeerFault[];
  rawIdentities: readonly RawIdentityKind[];
  /** Can make a raw peer that dials a TLS server without a client certificate. */
  rawWithoutClientCert: boolean;
}

export interface CommHarness {
  readonly capabilities: HarnessCapabilities;
  createPeer(spec?: PeerSpec): Promise<HarnessPeer>;
  createPeers(n: number, spec?: PeerSpec): Promise<HarnessPeer[]>;
  rawPeer(spec?: RawPeerSpec): Promise<RawPeer>;
  /** An endpoint nobody listens on. */
  deadEndpoint(): string;
  /** Checks a signature as the peers' MCS does; throws when it does not verify. */
  verify(identity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void;
  /** Lets `ms` of (virtual or real) time pass. */
  settle(ms: number): Promise<void>;
  /** Lets time pass until `cond()` holds; fails after `timeoutMs`. */
  waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void>;
  /** Lets time pass until `promise` settles and returns its outcome; fails after `timeoutMs`. */
  within<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T>;
  /** Frames injected on open streams from `from` to `to`, if the transport can. Returns streams hit. */
  injectFrame?(from: string, to: string, bytes: Uint8Array): number;
  /** Dial attempts from `from` to `to`, if the transport counts them. */
  dialCount?(from: string, to: string): number;
  /** Stream ends open in the whole network, if the transport can tell. */
  openStreams?(): number;
  /**
   * Stops every peer and raw peer, then asserts that no connection, stream or timer is left.
   * Idempotent.
   */
  teardown(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by harnesses and tests.
// ---------------------------------------------------------------------------------------------

/** A NoopSigned block message of channel "testchannel" with sequence number `seq` and `size` bytes of data. */
export function dataMsg(seq: number, size = 16): SignedGossipMessage {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (seq + i) & 0xff;
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: utf8("testchannel"),
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "dataMsg", value: { payload: { seqNum: BigInt(seq), data, privateData: [] } } },
  });
}

/** A promise observed without awaiting it. */
export interface Tracked<T> {
  readonly settled: boolean;
  readonly value: T | undefined;
  readonly error: unknown;
  readonly rejected: boolean;
  readonly promise: Promise<T>;
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  const state: { settled: boolean; value: T | undefined; error: unknown; rejected: boolean; promise: Promise<T> } = {
    settled: false,
    value: undefined,
    error: undefined,
    rejected: false,
    promise,
  };
  promise.then(
    (v) => {
      state.settled = true;
      state.value = v;
    },
    (err: unknown) => {
      state.settled = true;
      state.rejected = true;
      state.error = err;
    },
  );
  return state;
}

const STEP_MS = 10;

/** `waitFor` over any `settle`. */
export async function waitForWith(
  settle: (ms: number) => Promise<void>,
  what: string,
  cond: () => boolean,
  timeoutMs: number,
): Promise<void> {
  let elapsed = 0;
  await settle(0);
  while (!cond()) {
    if (elapsed >= timeoutMs) throw new assert.AssertionError({ message: `timed out after ${timeoutMs} ms waiting for ${what}` });
    const step = Math.min(STEP_MS, timeoutMs - elapsed);
    await settle(step);
    elapsed += step;
  }
}

/** `within` over any `settle`. */
export async function withinWith<T>(
  settle: (ms: number) => Promise<void>,
  what: string,
  promise: Promise<T>,
  timeoutMs: number,
): Promise<T> {
  const t = track(promise);
  await waitForWith(settle, what, () => t.settled, timeoutMs);
  if (t.rejected) throw t.error;
  return t.value as T;
}

/** Sum of a metric's samples whose labels include `labels` (0 when it is not registered). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const data = await metric.get();
  let sum = 0;
  for (const v of data.values) {
    if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  }
  return sum;
}

/** SHA-256 as Fabric hashes certificates. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

// ---------------------------------------------------------------------------------------------
// The in-memory harness: MemoryTransport, ManualClock, development crypto.
// ---------------------------------------------------------------------------------------------

const INVALID_PREFIX = "invalid:";
const EXPIRED_PREFIX = "expired:";

function startsWith(bytes: Uint8Array, prefix: string): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1").startsWith(prefix);
}

/**
 * Fabric's test crypto (identity = endpoint bytes = PKI-ID, signature = signed bytes), plus two
 * kinds of bad identity: "invalid:..." fails validation and "expired:..." expired long ago.
 */
export class HarnessMcs extends DevMessageCryptoService {
  override validateIdentity(peerIdentity: PeerIdentityType): void {
    super.validateIdentity(peerIdentity);
    if (startsWith(peerIdentity, INVALID_PREFIX)) throw new CryptoError("REVOKED_IDENTITY", "identity is revoked (test)");
  }

  override expiration(peerIdentity: PeerIdentityType): Date | undefined {
    return startsWith(peerIdentity, EXPIRED_PREFIX) ? new Date(0) : undefined;
  }
}

/** Signs with a signature that never verifies. */
class ForgingMcs extends HarnessMcs {
  override sign(msg: Uint8Array): Uint8Array {
    const out = new Uint8Array(msg.byteLength + 1);
    out.set(msg);
    out[msg.byteLength] = 0xff;
    return out;
  }
}

/** A transport that claims TLS certificate hashes other than the ones it presents. */
class LyingTlsTransport implements Transport {
  readonly tls: TransportTls;

  constructor(private readonly inner: MemoryTransport) {
    this.tls = { serverCertHash: sha256(utf8("forged-server-cert")), clientCertHash: sha256(utf8("forged-client-cert")) };
  }
  get listenAddress(): string {
    return this.inner.listenAddress;
  }
  listen(onStream: (stream: RawStream) => void): Promise<void> {
    return this.inner.listen(onStream);
  }
  dial(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number, stillNeeded?: () => boolean): Promise<RawStream> {
    return this.inner.dial(endpoint, dialTimeoutMs, pingTimeoutMs, stillNeeded);
  }
  ping(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number): Promise<void> {
    return this.inner.ping(endpoint, dialTimeoutMs, pingTimeoutMs);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

class RawConnImpl implements RawConn {
  readonly received: Uint8Array[] = [];
  closed = false;

  constructor(private readonly stream: RawStream) {
    stream.onData((bytes) => this.received.push(bytes));
    stream.onClose(() => {
      this.closed = true;
    });
  }
  write(bytes: Uint8Array): Promise<void> {
    return this.stream.write(bytes);
  }
  close(): void {
    this.stream.close();
  }
}

/**
 * A RawPeer over any Transport (a transport without a Comm on top): it listens, collects the
 * streams it accepts, and dials on demand. For harnesses of other transports too.
 */
export async function rawPeerOver(init: {
  transport: Transport;
  identity: PeerIdentityType;
  pkiId: PKIidType;
  sign: (bytes: Uint8Array) => Uint8Array;
  dialTimeoutMs?: number;
  pingTimeoutMs?: number;
}): Promise<RawPeer> {
  const { transport } = init;
  const inbound: RawConn[] = [];
  const conns: RawConnImpl[] = [];
  await transport.listen((stream) => {
    const c = new RawConnImpl(stream);
    inbound.push(c);
    conns.push(c);
  });
  return {
    // Read after listen(): a transport listening on port 0 knows its address only then.
    endpoint: transport.listenAddress,
    identity: init.identity,
    pkiId: init.pkiId,
    clientCertHash: transport.tls.clientCertHash,
    serverCertHash: transport.tls.serverCertHash,
    sign: init.sign,
    dial: async (target) => {
      const c = new RawConnImpl(await transport.dial(target, init.dialTimeoutMs ?? 3_000, init.pingTimeoutMs ?? 2_000));
      conns.push(c);
      return c;
    },
    inbound,
    close: async () => {
      for (const c of conns) c.close();
      await transport.close();
    },
  };
}

export interface MemoryHarnessOptions {
  /** Give every transport simulated TLS certificates. */
  tls?: boolean;
  latency?: LatencyFn;
  refusedDial?: MemoryNetworkOptions["refusedDial"];
  seed?: number;
  logger?: Logger;
  /** Options every peer gets unless its spec overrides them. */
  defaults?: Partial<CommOptions>;
  /**
   * Run in real time (SystemClock, settle sleeps) instead of virtual time: checks that the suite
   * itself makes no virtual-time assumptions before a real-time transport runs it.
   */
  realTime?: boolean;
}

/** The memory harness, with its network and clock exposed for memory-only tests. */
export interface MemoryCommHarness extends CommHarness {
  readonly network: MemoryNetwork;
  readonly clock: ManualClock | SystemClock;
  injectFrame(from: string, to: string, bytes: Uint8Array): number;
  dialCount(from: string, to: string): number;
  openStreams(): number;
}

/** Certificates of a simulated TLS endpoint: opaque bytes, distinct per endpoint and role. */
function certFor(endpoint: string, role: "server" | "client"): Uint8Array {
  return utf8(`DER(${role} certificate of ${endpoint})`);
}

/**
 * Peers over MemoryTransport on one MemoryNetwork, in virtual time (ManualClock; or real time with
 * `realTime`), with the development MCS: identity = endpoint bytes = PKI-ID, plus "invalid:" and
 * "expired:" identities for the bad-identity cases.
 */
export function createMemoryCommHarness(options: MemoryHarnessOptions = {}): MemoryCommHarness {
  const clock = options.realTime === true ? new SystemClock() : new ManualClock();
  const network = new MemoryNetwork(clock, options.latency, { refusedDial: options.refusedDial ?? "timeout" });
  const random = new SeededRandom(options.seed ?? 42);
  const logger = options.logger ?? silentLogger;
  const tls = options.tls ?? false;
  const peers: HarnessPeer[] = [];
  const transports: MemoryTransport[] = [];
  const raws: RawPeer[] = [];
  let counter = 0;
  let tornDown = false;
  const verifier = new HarnessMcs();

  const settle = (ms: number): Promise<void> => (clock instanceof ManualClock ? clock.advance(ms) : clock.sleep(ms));

  const newTransport = (endpoint: string, clientCert = true): MemoryTransport => {
    const t = new MemoryTransport(network, {
      endpoint,
      tls: tls ? { serverCert: certFor(endpoint, "server"), clientCert: clientCert ? certFor(endpoint, "client") : undefined } : undefined,
    });
    transports.push(t);
    return t;
  };

  const createPeer = async (spec: PeerSpec = {}): Promise<HarnessPeer> => {
    const n = ++counter;
    const endpoint = `peer${n}.org1.example.com:7051`;
    const name = `p${n}`;
    const fault = spec.fault;
    if (fault === "wrongTlsHash" && !tls) throw new Error("wrongTlsHash needs a TLS harness");
    const identity = utf8(fault === "invalidIdentity" ? `${INVALID_PREFIX}${endpoint}` : endpoint);
    const mcs = fault === "forgedSignature" ? new ForgingMcs() : new HarnessMcs();
    const memTransport = newTransport(endpoint);
    const transport: Transport = fault === "wrongTlsHash" ? new LyingTlsTransport(memTransport) : memTransport;
    const metrics = createRegistry();
    const comm = createComm(
      { transport, clock, random, logger: logger.child(name), metrics: promMetricsProvider(metrics), mcs, securityAdvisor: mcs, selfIdentity: identity },
      { ...options.defaults, ...spec.options },
    );
    await comm.start();
    const pkiId = comm.getPKIid();
    const peer: HarnessPeer = {
      name,
      comm,
      endpoint,
      pkiId,
      identity,
      metrics,
      tls: memTransport.tls,
      remote: { endpoint, pkiId },
      stop: () => comm.stop(),
    };
    peers.push(peer);
    return peer;
  };

  const rawPeer = async (spec: RawPeerSpec = {}): Promise<RawPeer> => {
    const n = ++counter;
    const endpoint = `raw${n}.org1.example.com:7051`;
    const kind = spec.identity ?? "valid";
    const identity = utf8(kind === "invalid" ? `${INVALID_PREFIX}${endpoint}` : kind === "expired" ? `${EXPIRED_PREFIX}${endpoint}` : endpoint);
    const raw = await rawPeerOver({
      transport: newTransport(endpoint, spec.clientCert ?? true),
      identity,
      pkiId: verifier.getPKIidOfCert(identity),
      sign: (bytes) => verifier.sign(bytes),
    });
    raws.push(raw);
    return raw;
  };

  const harness: MemoryCommHarness = {
    network,
    clock,
    capabilities: {
      virtualTime: clock instanceof ManualClock,
      tls,
      faults: tls ? ["forgedSignature", "wrongTlsHash", "invalidIdentity"] : ["forgedSignature", "invalidIdentity"],
      rawIdentities: ["valid", "invalid", "expired"],
      rawWithoutClientCert: tls,
    },
    createPeer,
    createPeers: async (n, spec) => {
      const out: HarnessPeer[] = [];
      for (let i = 0; i < n; i++) out.push(await createPeer(spec));
      return out;
    },
    rawPeer,
    deadEndpoint: () => `dead${++counter}.org1.example.com:7051`,
    verify: (identity, signature, message) => verifier.verify(identity, signature, message),
    settle,
    waitFor: (what, cond, timeoutMs) => waitForWith(settle, what, cond, timeoutMs),
    within: (what, promise, timeoutMs) => withinWith(settle, what, promise, timeoutMs),
    injectFrame: (from, to, bytes) => network.inject(from, to, bytes),
    dialCount: (from, to) => network.dialCount(from, to),
    openStreams: () => network.openStreamCount(),
    teardown: async () => {
      if (tornDown) return;
      tornDown = true;
      const problems: string[] = [];
      for (const p of peers) {
        // stop() must finish without time passing: it cancels timers instead of waiting for them.
        const stopped = track(p.stop());
        for (let i = 0; i < 20 && !stopped.settled; i++) await flushMicrotasks();
        if (!stopped.settled) {
          problems.push(`${p.name}: stop() did not finish without time passing`);
          await withinWith(settle, `${p.name} stop()`, stopped.promise, 60_000).catch(() => undefined);
        } else if (stopped.rejected) {
          problems.push(`${p.name}: stop() rejected: ${String(stopped.error)}`);
        }
        const again = track(p.stop());
        await flushMicrotasks();
        if (!again.settled || again.rejected) problems.push(`${p.name}: a second stop() did not resolve at once`);
        const { connections } = p.comm.stats();
        if (connections !== 0) problems.push(`${p.name}: ${connections} connection(s) left after stop()`);
      }
      for (const r of raws) await r.close();
      await flushMicrotasks();
      const streams = network.openStreamCount();
      if (streams !== 0) problems.push(`${streams} stream end(s) left open after every peer stopped: ${JSON.stringify(network.streams())}`);
      const timers = clock.pendingTimers();
      if (timers !== 0) problems.push(`${timers} timer(s) left pending after every peer stopped`);
      for (const t of transports) {
        if (!t.closed) problems.push(`transport ${t.listenAddress} left open by stop()`);
        if (t.pendingOperations() !== 0) problems.push(`transport ${t.listenAddress} has ${t.pendingOperations()} dial(s) in progress`);
        await t.close();
      }
      assert.deepEqual(problems, [], "teardown found leftovers");
    },
  };
  return harness;
}
