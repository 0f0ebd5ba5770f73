/**
 * A CommHarness over the real gRPC transport (GrpcTransport) on 127.0.0.1, in real time: ports are
 * picked by the OS (listen on 127.0.0.1:0, then the bound address is the endpoint). Two crypto
 * modes:
 * - plaintext with the development MCS (identity = endpoint bytes = PKI-ID, plus the harness's
 *   "invalid:" and "expired:" identities);
 * - mutual TLS with real MSP crypto from cryptogen-shaped material generated once per test file
 *   (`prepareGrpcHarnessCrypto`): each peer takes the next node's MSP identity and TLS certificate
 *   (server.crt doubles as client certificate), and trusts every org's TLS CA.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageCryptoService, SecurityAdvisor } from "../../src/api/crypto.js";
import type { PeerIdentityType } from "../../src/api/identity.js";
import { createComm } from "../../src/comm/index.js";
import { createGossipTransport, type GossipTransport, type GossipTransportKind, type GrpcTlsOptions } from "../../src/comm/grpc/index.js";
import type { CommOptions } from "../../src/comm/options.js";
import type { RawStream, Transport, TransportTls } from "../../src/comm/transport.js";
import {
  createCa,
  createMspMessageCryptoService,
  createSigningIdentity,
  type CryptoMaterialSummary,
  generateCryptoMaterial,
  issueCertificate,
  loadCa,
  loadPeerMaterial,
  loadVerifierOrgs,
  type MspOrgMaterial,
  MspVerifier,
  type PeerMaterial,
  type SigningIdentity,
} from "../../src/crypto/index.js";
import { type Logger, silentLogger } from "../../src/logging/index.js";
import { createRegistry, promMetricsProvider } from "../../src/metrics/index.js";
import { SystemClock, SystemRandom, utf8 } from "../../src/util/index.js";
import {
  type CommHarness,
  type HarnessPeer,
  HarnessMcs,
  type PeerSpec,
  type RawIdentityKind,
  type RawPeer,
  type RawPeerSpec,
  rawPeerOver,
  sha256,
  track,
} from "./comm-harness.js";
import { freePorts } from "./net.js";

/** Where dead endpoints point: a loopback address (Linux routes all of 127.0.0.0/8 to lo) that nothing binds. */
const DEAD_HOST = "127.0.0.254";

// ---------------------------------------------------------------------------------------------
// Crypto material, generated once per test file.
// ---------------------------------------------------------------------------------------------

/** Real MSP and TLS material for the TLS harness. */
export interface GrpcHarnessCrypto {
  readonly summary: CryptoMaterialSummary;
  /** Every org's public MSP material (the verifier set every peer trusts). */
  readonly orgs: readonly MspOrgMaterial[];
  /** Every org's TLS CA certificate, concatenated PEM. */
  readonly tlsRootCAs: string;
  /** The nodes' material, in order; a harness hands them out one per peer or raw peer. */
  readonly nodes: readonly PeerMaterial[];
  /** An identity issued by a CA no org trusts, under an MSP ID no org has (RogueMSP): UNKNOWN_MSP. */
  readonly rogue: SigningIdentity;
  /** The same certificate claiming a known MSP ID (Org1MSP): it does not chain to that MSP's CA, UNKNOWN_CA. */
  readonly unknownCa: SigningIdentity;
  /** An identity issued by Org1's CA whose certificate expired a minute ago: EXPIRED_IDENTITY. */
  readonly expired: SigningIdentity;
  /** Removes the generated files. */
  cleanup(): Promise<void>;
}

/** Generates `orgs` x `peersPerOrg` nodes into a fresh folder under os.tmpdir() and loads them. */
export async function prepareGrpcHarnessCrypto(opts: { orgs?: number; peersPerOrg?: number } = {}): Promise<GrpcHarnessCrypto> {
  const out = await mkdtemp(join(tmpdir(), "fabric-gossip-grpc-harness-"));
  try {
    const summary = await generateCryptoMaterial({ orgs: opts.orgs ?? 2, peersPerOrg: opts.peersPerOrg ?? 4, out });
    const orgs = await loadVerifierOrgs(summary.root);
    const nodes: PeerMaterial[] = [];
    for (const org of summary.orgs) for (const node of org.nodes) nodes.push(await loadPeerMaterial(node.dir));
    const org1 = summary.orgs[0]!;

    const rogueCa = await createCa({ commonName: "ca.rogue.example.com", organization: "rogue.example.com" });
    const rogueCert = await issueCertificate({ ca: rogueCa, commonName: "peer0.rogue.example.com", organizationalUnits: ["peer"] });
    const rogue = createSigningIdentity({ mspId: "RogueMSP", certPem: rogueCert.certPem, keyPem: rogueCert.keyPem });
    const unknownCa = createSigningIdentity({ mspId: org1.mspId, certPem: rogueCert.certPem, keyPem: rogueCert.keyPem });

    // The org CA's NotBefore lies 5 minutes before generation: a leaf that started 2 minutes ago
    // still chains to it (CA validity is judged at the leaf's NotBefore), and it ended 1 minute ago.
    const now = Date.now();
    const expiredCert = await issueCertificate({
      ca: await loadCa(org1.caDir),
      commonName: "expired.org1.example.com",
      organizationalUnits: ["peer"],
      notBefore: new Date(now - 120_000),
      notAfter: new Date(now - 60_000),
    });
    const expired = createSigningIdentity({ mspId: org1.mspId, certPem: expiredCert.certPem, keyPem: expiredCert.keyPem });

    return {
      summary,
      orgs,
      tlsRootCAs: orgs.flatMap((o) => o.tlsRootCerts).join("\n"),
      nodes,
      rogue,
      unknownCa,
      expired,
      cleanup: () => rm(out, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(out, { recursive: true, force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Transport and crypto wrappers.
// ---------------------------------------------------------------------------------------------

/** A RawStream that remembers its receiver, so the harness can inject frames as if they arrived. */
class TappedStream implements RawStream {
  #handler: ((bytes: Uint8Array) => void) | undefined;
  #closed = false;

  constructor(
    readonly inner: RawStream,
    /** The endpoint this side dialed; undefined for a stream it accepted. */
    readonly dialedTo: string | undefined,
  ) {
    inner.onClose(() => {
      this.#closed = true;
    });
  }
  get closed(): boolean {
    return this.#closed;
  }
  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
  get remoteCertHash(): Uint8Array | undefined {
    return this.inner.remoteCertHash;
  }
  write(bytes: Uint8Array): Promise<void> {
    return this.inner.write(bytes);
  }
  onData(handler: (bytes: Uint8Array) => void): void {
    this.#handler = handler;
    this.inner.onData(handler);
  }
  onClose(handler: (err?: Error) => void): void {
    this.inner.onClose(handler);
  }
  close(): void {
    this.inner.close();
  }
  closeWrite(): void {
    if (this.inner.closeWrite !== undefined) this.inner.closeWrite();
    else this.inner.close();
  }
  /** Hands `bytes` to the receiver as if they had arrived on the stream. */
  deliver(bytes: Uint8Array): boolean {
    const handler = this.#handler;
    if (handler === undefined || this.#closed) return false;
    queueMicrotask(() => {
      if (!this.#closed) handler(bytes);
    });
    return true;
  }
}

/**
 * A GrpcTransport that is bound before its Comm exists (so the endpoint, and with the development
 * MCS the identity, is known first), counts dials, keeps its streams for frame injection, and can
 * claim TLS certificate hashes other than the ones it presents.
 */
class HarnessTransport implements Transport {
  readonly streams = new Set<TappedStream>();
  readonly #dials = new Map<string, number>();
  #sink: ((stream: RawStream) => void) | undefined;
  readonly #early: RawStream[] = [];
  #closed = false;

  constructor(
    readonly inner: GossipTransport,
    private readonly tlsOverride?: TransportTls,
  ) {}

  /** Binds the gRPC server (port 0: the OS picks); streams accepted before listen() wait for it. */
  async bind(): Promise<void> {
    await this.inner.listen((s) => {
      const tapped = this.#tap(s, undefined);
      if (this.#sink !== undefined) this.#sink(tapped);
      else this.#early.push(tapped);
    });
  }

  get tls(): TransportTls {
    return this.tlsOverride ?? this.inner.tls;
  }
  get listenAddress(): string {
    return this.inner.listenAddress;
  }
  get closed(): boolean {
    return this.#closed;
  }

  async listen(onStream: (stream: RawStream) => void): Promise<void> {
    if (this.#sink !== undefined) throw new Error("listen() called twice");
    this.#sink = onStream;
    for (const s of this.#early.splice(0)) onStream(s);
  }

  async dial(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number, stillNeeded?: () => boolean): Promise<RawStream> {
    this.#dials.set(endpoint, (this.#dials.get(endpoint) ?? 0) + 1);
    return this.#tap(await this.inner.dial(endpoint, dialTimeoutMs, pingTimeoutMs, stillNeeded), endpoint);
  }

  ping(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number): Promise<void> {
    return this.inner.ping(endpoint, dialTimeoutMs, pingTimeoutMs);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#early.splice(0)) s.close();
    await this.inner.close();
  }

  dialCount(endpoint: string): number {
    return this.#dials.get(endpoint) ?? 0;
  }

  #tap(stream: RawStream, dialedTo: string | undefined): TappedStream {
    const tapped = new TappedStream(stream, dialedTo);
    this.streams.add(tapped);
    stream.onClose(() => this.streams.delete(tapped));
    return tapped;
  }
}

const LYING_TLS: TransportTls = { serverCertHash: sha256(utf8("forged-server-cert")), clientCertHash: sha256(utf8("forged-client-cert")) };

type HarnessCrypto = MessageCryptoService & SecurityAdvisor;

/** `inner` with another signer: its signatures, or signatures made with another identity's key. */
function withSigner(inner: HarnessCrypto, sign: (msg: Uint8Array) => Uint8Array): HarnessCrypto {
  return {
    getPKIidOfCert: (id) => inner.getPKIidOfCert(id),
    verifyBlock: (ch, seq, block) => inner.verifyBlock(ch, seq, block),
    sign,
    verify: (id, sig, msg) => inner.verify(id, sig, msg),
    verifyByChannel: (ch, id, sig, msg) => inner.verifyByChannel(ch, id, sig, msg),
    validateIdentity: (id) => inner.validateIdentity(id),
    expiration: (id) => inner.expiration(id),
    orgByPeerIdentity: (id) => inner.orgByPeerIdentity(id),
  };
}

/** Signatures that never verify: the MCS's own with the last byte flipped (an extra byte for the dev MCS). */
function forging(inner: HarnessCrypto, dev: boolean): HarnessCrypto {
  return withSigner(inner, (msg) => {
    const sig = inner.sign(msg);
    if (dev) {
      const out = new Uint8Array(sig.byteLength + 1);
      out.set(sig);
      out[sig.byteLength] = 0xff;
      return out;
    }
    const out = Uint8Array.from(sig);
    out[out.length - 1] = (out[out.length - 1] ?? 0) ^ 0xff;
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// The harness.
// ---------------------------------------------------------------------------------------------

export interface GrpcHarnessOptions {
  /** Mutual TLS with this material and real MSP crypto; plaintext with the development MCS when absent. */
  crypto?: GrpcHarnessCrypto;
  logger?: Logger;
  /** Options every peer gets unless its spec overrides them. */
  defaults?: Partial<CommOptions>;
  /** The gRPC implementation under the peers (default grpc-js). */
  transport?: GossipTransportKind;
}

/** The gRPC harness, with what gRPC-specific tests need beyond the CommHarness contract. */
export interface GrpcCommHarness extends CommHarness {
  /** The clock the peers and transports run on (timers pending after teardown must be 0). */
  readonly clock: SystemClock;
  injectFrame(from: string, to: string, bytes: Uint8Array): number;
  dialCount(from: string, to: string): number;
  openStreams(): number;
  /** TLS options of the next unused node (TLS harness only), for hand-made clients and transports. */
  nextTls(): GrpcTlsOptions & { rootCAs: string | Buffer };
  /** A raw peer claiming a signing identity of the caller's choosing (TLS harness only). */
  rawPeerWith(identity: SigningIdentity): Promise<RawPeer>;
}

/** Timeout of a single stop() in teardown: a gRPC server shutdown forces itself after 1 s. */
const STOP_LIMIT_MS = 5_000;

export async function createGrpcCommHarness(options: GrpcHarnessOptions = {}): Promise<GrpcCommHarness> {
  const clock = new SystemClock();
  /** The harness's own waiting, kept apart from `clock` so that its timers do not count as leaks. */
  const waitClock = new SystemClock();
  const random = new SystemRandom();
  const logger = options.logger ?? silentLogger;
  const crypto = options.crypto;
  const tls = crypto !== undefined;
  const devMcs = new HarnessMcs();
  const verifier: (identity: PeerIdentityType, signature: Uint8Array, message: Uint8Array) => void =
    crypto === undefined
      ? (identity, signature, message) => devMcs.verify(identity, signature, message)
      : (() => {
          const v = new MspVerifier(crypto.orgs, { clock });
          return (identity, signature, message) => {
            v.verify(identity, signature, message);
          };
        })();
  const peers: HarnessPeer[] = [];
  const transports: HarnessTransport[] = [];
  const peerTransports = new Set<HarnessTransport>();
  const byEndpoint = new Map<string, HarnessTransport>();
  const raws: RawPeer[] = [];
  const deadPorts = await freePorts(2);
  let counter = 0;
  let nodeIndex = 0;
  let deadIndex = 0;
  let tornDown = false;

  const nextNode = (): PeerMaterial => {
    if (crypto === undefined) throw new Error("the plaintext harness has no node material");
    const node = crypto.nodes[nodeIndex++];
    if (node === undefined) throw new Error(`the harness ran out of node material (${crypto.nodes.length} nodes): generate more peers per org`);
    return node;
  };
  const tlsOf = (node: PeerMaterial): GrpcTlsOptions & { rootCAs: string | Buffer } => ({ cert: node.tls.cert, key: node.tls.key, rootCAs: crypto?.tlsRootCAs ?? "" });

  const newTransport = async (tlsOptions: GrpcTlsOptions | undefined, tlsOverride?: TransportTls): Promise<HarnessTransport> => {
    const grpc = createGossipTransport(options.transport ?? "grpc-js", { listenAddress: "127.0.0.1:0", tls: tlsOptions, logger, clock });
    const t = new HarnessTransport(grpc, tlsOverride);
    transports.push(t);
    await t.bind();
    byEndpoint.set(t.listenAddress, t);
    return t;
  };

  const settle = (ms: number): Promise<void> => waitClock.sleep(ms);

  const waitFor = async (what: string, cond: () => boolean, timeoutMs: number): Promise<void> => {
    const deadline = performance.now() + timeoutMs;
    await settle(0);
    while (!cond()) {
      if (performance.now() >= deadline) throw new assert.AssertionError({ message: `timed out after ${timeoutMs} ms waiting for ${what}` });
      await settle(5);
    }
  };

  const within = async <T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> => {
    const t = track(promise);
    await waitFor(what, () => t.settled, timeoutMs);
    if (t.rejected) throw t.error;
    return t.value as T;
  };

  const createPeer = async (spec: PeerSpec = {}): Promise<HarnessPeer> => {
    const n = ++counter;
    const name = `p${n}`;
    const fault = spec.fault;
    if (fault === "wrongTlsHash" && !tls) throw new Error("wrongTlsHash needs the TLS harness");
    const node = tls ? nextNode() : undefined;
    const transport = await newTransport(node === undefined ? undefined : tlsOf(node), fault === "wrongTlsHash" ? LYING_TLS : undefined);
    const endpoint = transport.listenAddress;
    let identity: PeerIdentityType;
    let mcs: HarnessCrypto;
    if (crypto === undefined || node === undefined) {
      identity = utf8(fault === "invalidIdentity" ? `invalid:${endpoint}` : endpoint);
      mcs = new HarnessMcs();
      if (fault === "forgedSignature") mcs = forging(mcs, true);
    } else {
      const base = createMspMessageCryptoService({ signer: node.signingIdentity, verifier: new MspVerifier(crypto.orgs, { clock }) });
      identity = node.signingIdentity.serialized;
      mcs = base;
      if (fault === "forgedSignature") mcs = forging(base, false);
      if (fault === "invalidIdentity") {
        identity = crypto.rogue.serialized;
        mcs = withSigner(base, (msg) => crypto.rogue.sign(msg));
      }
    }
    const metrics = createRegistry();
    const comm = createComm(
      { transport, clock, random, logger: logger.child(name), metrics: promMetricsProvider(metrics), mcs, securityAdvisor: mcs, selfIdentity: identity },
      { ...options.defaults, ...spec.options },
    );
    peerTransports.add(transport);
    try {
      await comm.start();
    } catch (err) {
      await transport.close();
      throw err;
    }
    const pkiId = comm.getPKIid();
    const peer: HarnessPeer = {
      name,
      comm,
      endpoint,
      pkiId,
      identity,
      metrics,
      tls: transport.inner.tls,
      remote: { endpoint, pkiId },
      stop: () => comm.stop(),
    };
    peers.push(peer);
    return peer;
  };

  /** What a raw peer claims, chosen once its endpoint (and with TLS, its node) is known. */
  type RawClaim = { identity: PeerIdentityType; pkiId: Uint8Array; sign: (bytes: Uint8Array) => Uint8Array };
  const signingClaim = (id: SigningIdentity): RawClaim => ({ identity: id.serialized, pkiId: id.pkiId, sign: (b) => id.sign(b) });

  const rawPeerOf = async (claim: (endpoint: string, node: PeerMaterial | undefined) => RawClaim): Promise<RawPeer> => {
    const node = tls ? nextNode() : undefined;
    const transport = await newTransport(node === undefined ? undefined : tlsOf(node));
    const raw = await rawPeerOver({ transport, ...claim(transport.listenAddress, node) });
    raws.push(raw);
    return raw;
  };

  const rawPeer = async (spec: RawPeerSpec = {}): Promise<RawPeer> => {
    if (spec.clientCert === false) {
      throw new Error("GrpcTransport always presents a client certificate, and its server refuses clients without one during the TLS handshake");
    }
    const kind: RawIdentityKind = spec.identity ?? "valid";
    return rawPeerOf((endpoint, node) => {
      if (crypto === undefined || node === undefined) {
        const identity = utf8(kind === "invalid" ? `invalid:${endpoint}` : kind === "expired" ? `expired:${endpoint}` : endpoint);
        return { identity, pkiId: devMcs.getPKIidOfCert(identity), sign: (b) => devMcs.sign(b) };
      }
      // A valid raw peer claims the MSP identity of the node whose TLS certificate it presents.
      return signingClaim(kind === "invalid" ? crypto.rogue : kind === "expired" ? crypto.expired : node.signingIdentity);
    });
  };

  const harness: GrpcCommHarness = {
    clock,
    capabilities: {
      virtualTime: false,
      tls,
      faults: tls ? ["forgedSignature", "wrongTlsHash", "invalidIdentity"] : ["forgedSignature", "invalidIdentity"],
      rawIdentities: ["valid", "invalid", "expired"],
      // The gRPC server verifies client certificates (grpc-js fills the peer certificate only then,
      // and Fabric's server requires one): a certless client fails the TLS handshake, before Comm
      // could see a stream. comm-grpc.test.ts checks that separately.
      rawWithoutClientCert: false,
    },
    createPeer,
    createPeers: async (n, spec) => {
      const out: HarnessPeer[] = [];
      for (let i = 0; i < n; i++) out.push(await createPeer(spec));
      return out;
    },
    rawPeer,
    rawPeerWith: (identity) => {
      if (!tls) throw new Error("rawPeerWith needs the TLS harness");
      return rawPeerOf(() => signingClaim(identity));
    },
    nextTls: () => tlsOf(nextNode()),
    // On a loopback address no server here listens on: a port freePorts released can meanwhile be taken by
    // another test file's server on 127.0.0.1, which would then answer for the dead endpoint.
    deadEndpoint: () => `${DEAD_HOST}:${deadPorts[deadIndex++ % deadPorts.length]}`,
    verify: (identity, signature, message) => verifier(identity, signature, message),
    settle,
    waitFor,
    within,
    injectFrame: (from, to, bytes) => {
      // Streams `from` dialed to `to`: written on the wire, bypassing from's Comm. Streams `to`
      // dialed to `from`: handed to to's receiver as if they had come over the wire.
      let hits = 0;
      for (const s of byEndpoint.get(from)?.streams ?? []) {
        if (s.dialedTo !== to || s.closed) continue;
        hits++;
        void s.inner.write(bytes).catch(() => undefined);
      }
      for (const s of byEndpoint.get(to)?.streams ?? []) {
        if (s.dialedTo === from && s.deliver(bytes)) hits++;
      }
      return hits;
    },
    dialCount: (from, to) => byEndpoint.get(from)?.dialCount(to) ?? 0,
    openStreams: () => transports.reduce((sum, t) => sum + t.inner.openStreams(), 0),
    teardown: async () => {
      if (tornDown) return;
      tornDown = true;
      const problems: string[] = [];
      for (const p of peers) {
        const stopped = track(p.stop());
        await waitFor(`${p.name} stop()`, () => stopped.settled, STOP_LIMIT_MS).catch(() => {
          problems.push(`${p.name}: stop() did not finish within ${STOP_LIMIT_MS} ms`);
        });
        if (stopped.rejected) problems.push(`${p.name}: stop() rejected: ${String(stopped.error)}`);
        const again = track(p.stop());
        await settle(0);
        if (!again.settled || again.rejected) problems.push(`${p.name}: a second stop() did not resolve at once`);
        const { connections } = p.comm.stats();
        if (connections !== 0) problems.push(`${p.name}: ${connections} connection(s) left after stop()`);
      }
      for (const r of raws) await r.close();
      for (const t of transports) {
        if (peerTransports.has(t) && !t.closed) problems.push(`transport ${t.listenAddress} left open by stop()`);
        await t.close();
        const open = t.inner.openStreams();
        if (open !== 0) problems.push(`transport ${t.listenAddress} has ${open} stream(s) open after close()`);
      }
      const timers = clock.pendingTimers();
      if (timers !== 0) problems.push(`${timers} timer(s) left pending after every peer stopped`);
      assert.deepEqual(problems, [], "teardown found leftovers");
    },
  };
  return harness;
}
