/**
 * The attacker's tools for the attack suite (bench/attacks.ts): an attacker is a peer that signs what it
 * wants. Raw gossip streams over HTTP/2 (mutual TLS or plaintext) from a chosen local address, identities
 * minted by an org's own CA, the messages an insider can sign, and what the suite reads from the peer
 * processes (/proc, stderr, /metrics, /healthz). Nothing here comes from Fabric.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { get } from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { join } from "node:path";
import * as tls from "node:tls";
import { buildConnEstablish } from "../src/comm/index.js";
import { certHashOfPem } from "../src/comm/grpc/index.js";
import { createSigningIdentity, issueCertificate, loadCa, type OrgSummary } from "../src/crypto/index.js";
import { SignedGossipMessage } from "../src/protoext/index.js";
import { type GossipMessage, GossipMessage_Tag, PullMsgType } from "../src/protos/gen/gossip/message.pb.js";
import { utf8 } from "../src/util/index.js";

const EMPTY = new Uint8Array(0);
const GOSSIP_STREAM = "/gossip.Gossip/GossipStream";

/** Who the attacker claims to be: PKI-ID, serialized identity, how it signs, and its TLS material. */
export interface AttackerIdentity {
  pkiId: Uint8Array;
  identity: Uint8Array;
  sign: (bytes: Uint8Array) => Uint8Array;
  tls?: { cert: string; key: string };
}

/**
 * A peer identity of `org` minted with the org's CA key (enrolment certificate, OU=peer) and a TLS
 * certificate from its TLS CA: what an insider whose CA mints identities holds.
 */
export async function mintPeerIdentity(org: OrgSummary, name: string, withTls = true): Promise<AttackerIdentity> {
  const ca = await loadCa(org.caDir);
  const enrol = await issueCertificate({ ca, commonName: name, organizationalUnits: ["peer"] });
  const signer = createSigningIdentity({ mspId: org.mspId, certPem: enrol.certPem, keyPem: enrol.keyPem });
  const out: AttackerIdentity = { pkiId: signer.pkiId, identity: signer.serialized, sign: (b) => signer.sign(b) };
  if (withTls) {
    const tlsCa = await loadCa(org.tlsCaDir);
    const t = await issueCertificate({ ca: tlsCa, commonName: name, kind: "tls", dnsNames: [name, "localhost"], ipAddresses: ["127.0.0.1", "127.0.0.2"] });
    out.tls = { cert: t.certPem, key: t.keyPem };
  }
  return out;
}

/** The development crypto's identity: the endpoint is the identity and the PKI-ID, a signature is the message. */
export function devIdentity(endpoint: string): AttackerIdentity {
  const id = utf8(endpoint);
  return { pkiId: id, identity: id, sign: (b) => b };
}

/** Every TLS CA certificate of a `crypto generate` root (PEM), for the attacker's trust store. */
export async function tlsCaPems(orgs: readonly OrgSummary[]): Promise<string[]> {
  const out: string[] = [];
  for (const o of orgs) {
    for (const f of await readdir(o.tlsCaDir)) if (f.endsWith("-cert.pem")) out.push(await readFile(join(o.tlsCaDir, f), "utf8"));
  }
  return out;
}

export interface RawStreamOptions {
  /** "host:port" of the peer's gossip service. */
  endpoint: string;
  /** The attacker's source address (e.g. 127.0.0.2). */
  localAddress?: string;
  /** Mutual TLS: the attacker's certificate and key, and the CAs it trusts. */
  tls?: { cert: string; key: string; ca: string[] };
  /** How long to wait for the TCP/TLS connection. Default 5 s. */
  connectTimeoutMs?: number;
}

/** Opens a TCP or TLS socket from `localAddress`, negotiating h2. */
function openSocket(o: RawStreamOptions): Promise<net.Socket> {
  const i = o.endpoint.lastIndexOf(":");
  const host = o.endpoint.slice(0, i);
  const port = Number(o.endpoint.slice(i + 1));
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${o.endpoint} timed out`));
    }, o.connectTimeoutMs ?? 5_000);
    const done = (err?: Error): void => {
      clearTimeout(timeout);
      if (err) reject(err);
      else resolve(socket);
    };
    const socket: net.Socket =
      o.tls === undefined
        ? net.connect({ host, port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) }, () => done())
        : tls.connect(
            {
              host,
              port,
              ...(o.localAddress ? { localAddress: o.localAddress } : {}),
              cert: o.tls.cert,
              key: o.tls.key,
              ca: o.tls.ca,
              ALPNProtocols: ["h2"],
              servername: "localhost",
            },
            () => done(),
          );
    socket.once("error", (err) => done(err));
  });
}

/** gRPC length-prefixed frame of one message. */
function frame(bytes: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(5 + bytes.byteLength);
  b[0] = 0;
  b.writeUInt32BE(bytes.byteLength, 1);
  b.set(bytes, 5);
  return b;
}

/**
 * One `GossipStream` call on its own HTTP/2 connection, written to and read as raw envelopes: the
 * attacker decides every byte (the first envelope is its ConnEstablish, forged or not).
 */
export class RawGossipStream {
  readonly #session: http2.ClientHttp2Session;
  readonly #req: http2.ClientHttp2Stream;
  readonly #listeners = new Set<(m: SignedGossipMessage) => void>();
  #buf: Buffer = Buffer.alloc(0);
  #chunks: Buffer[] = [];
  #chunkBytes = 0;
  /** Bytes still missing of the message being received (0: unknown). */
  #need = 0;
  /** Envelopes received, and their bytes. */
  received = 0;
  receivedBytes = 0;
  /** Undefined while open; then why it closed. */
  closedBecause: string | undefined;
  readonly closed: Promise<string>;

  private constructor(session: http2.ClientHttp2Session, req: http2.ClientHttp2Stream) {
    this.#session = session;
    this.#req = req;
    let onClose: (why: string) => void = () => {};
    this.closed = new Promise((r) => {
      onClose = r;
    });
    const close = (why: string): void => {
      if (this.closedBecause !== undefined) return;
      this.closedBecause = why;
      onClose(why);
    };
    req.on("data", (chunk: Buffer) => this.#onData(chunk));
    req.on("trailers", (t) => close(`grpc-status ${String(t["grpc-status"] ?? "?")} ${String(t["grpc-message"] ?? "")}`.trim()));
    // A trailers-only answer (grpc-status in the headers) ends the call at once, whatever its status.
    req.on("response", (h) => {
      if (h["grpc-status"] !== undefined) close(`grpc-status ${String(h["grpc-status"])} ${String(h["grpc-message"] ?? "")}`.trim());
    });
    // The peer ended its side (the server's end of the call): our half stays writable, but nobody reads it.
    req.on("end", () => close("the peer ended the stream"));
    req.on("close", () => close(`stream closed (rst code ${req.rstCode ?? 0})`));
    req.on("error", (err) => close(`stream error: ${err.message}`));
    session.on("error", (err) => close(`session error: ${err.message}`));
    session.on("close", () => close("session closed"));
  }

  /** Connects and opens the call; sends nothing yet. */
  static async open(o: RawStreamOptions): Promise<RawGossipStream> {
    const socket = await openSocket(o);
    const session = http2.connect(`${o.tls ? "https" : "http"}://${o.endpoint}`, { createConnection: () => socket });
    session.on("error", () => undefined);
    const req = session.request({
      ":method": "POST",
      ":path": GOSSIP_STREAM,
      "content-type": "application/grpc",
      te: "trailers",
    });
    req.on("error", () => undefined);
    return new RawGossipStream(session, req);
  }

  #onData(chunk: Buffer): void {
    // A large message comes in thousands of chunks: gather them, and join only once it is complete.
    this.#chunks.push(chunk);
    this.#chunkBytes += chunk.byteLength;
    if (this.#need > 0 && this.#chunkBytes < this.#need) return;
    this.#buf = this.#buf.byteLength === 0 && this.#chunks.length === 1 ? chunk : Buffer.concat([this.#buf, ...this.#chunks]);
    this.#chunks = [];
    this.#chunkBytes = 0;
    this.#need = 0;
    while (this.#buf.byteLength >= 5) {
      const len = this.#buf.readUInt32BE(1);
      if (this.#buf.byteLength < 5 + len) {
        this.#need = 5 + len - this.#buf.byteLength;
        return;
      }
      const bytes = new Uint8Array(this.#buf.subarray(5, 5 + len));
      this.#buf = this.#buf.subarray(5 + len);
      this.received++;
      this.receivedBytes += len;
      let m: SignedGossipMessage;
      try {
        m = SignedGossipMessage.fromEnvelopeBytes(bytes);
      } catch {
        continue;
      }
      for (const l of this.#listeners) l(m);
    }
  }

  /** Calls `listener` with every envelope the peer sends. */
  onMessage(listener: (m: SignedGossipMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Writes one envelope; false when the stream's buffer is full (await drain()). */
  write(bytes: Uint8Array): boolean {
    if (this.closedBecause !== undefined) return false;
    return this.#req.write(frame(bytes));
  }

  /** Resolves when the stream can take more, or it closed. */
  drain(): Promise<void> {
    if (this.closedBecause !== undefined || !this.#req.writableNeedDrain) return Promise.resolve();
    return new Promise((r) => {
      const done = (): void => {
        this.#req.off("drain", done);
        r();
      };
      this.#req.once("drain", done);
      void this.closed.then(done);
    });
  }

  /** Writes, waiting for room first: a flood that never outruns the socket. */
  async send(bytes: Uint8Array): Promise<boolean> {
    if (!this.write(bytes)) await this.drain();
    return this.closedBecause === undefined;
  }

  close(): void {
    this.#req.close();
    this.#session.destroy();
  }
}

/**
 * Opens a stream and sends a ConnEstablish for `id` (signed by it, or with a random signature when
 * `forge`); with `awaitAccept`, resolves once the peer's own ConnEstablish came back (accepted) and
 * rejects when the stream closes first.
 */
export async function handshake(o: RawStreamOptions, id: AttackerIdentity, opts: { forge?: boolean; awaitAccept?: boolean; timeoutMs?: number } = {}): Promise<RawGossipStream> {
  const s = await RawGossipStream.open(o);
  const tlsCertHash = id.tls !== undefined ? certHashOfPem(id.tls.cert) : undefined;
  const sign = opts.forge === true ? (b: Uint8Array): Uint8Array => createHash("sha256").update(b).update("forged").digest() : id.sign;
  const conn = buildConnEstablish({ pkiId: id.pkiId, identity: id.identity, tlsCertHash, probe: false }, sign);
  if (opts.awaitAccept !== true) {
    s.write(conn.bytes);
    return s;
  }
  const accepted = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ConnEstablish from ${o.endpoint} within ${opts.timeoutMs ?? 5_000} ms`)), opts.timeoutMs ?? 5_000);
    const off = s.onMessage((m) => {
      if (m.message.content?.$case !== "conn") return;
      off();
      // The peer sends its ConnEstablish before it judges ours: accepted is still open a moment later.
      setTimeout(() => {
        clearTimeout(timer);
        if (s.closedBecause === undefined) resolve();
      }, 300);
    });
    void s.closed.then((why) => {
      clearTimeout(timer);
      reject(new Error(`${o.endpoint} closed the stream during the handshake: ${why}`));
    });
  });
  s.write(conn.bytes);
  try {
    await accepted;
  } catch (err) {
    s.close();
    throw err;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Messages an insider signs

/** An alive message for `id` at `endpoint`, carrying the identity (as during the publish-cert period). */
export function aliveMsg(id: AttackerIdentity, endpoint: string, incNum: bigint, seqNum: bigint): SignedGossipMessage {
  const msg: GossipMessage = {
    nonce: 0n,
    channel: EMPTY,
    tag: GossipMessage_Tag.EMPTY,
    content: {
      $case: "aliveMsg",
      value: { membership: { endpoint, metadata: EMPTY, pkiId: id.pkiId }, timestamp: { incNum, seqNum }, identity: id.identity },
    },
  };
  return SignedGossipMessage.sign(msg, id.sign);
}

/** A MembershipResponse listing `alive` (noop-signed, as Fabric's discovery sends it). */
export function membershipResponse(alive: readonly SignedGossipMessage[], dead: readonly SignedGossipMessage[] = []): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: EMPTY,
    tag: GossipMessage_Tag.EMPTY,
    content: { $case: "memRes", value: { alive: alive.map((m) => m.envelope), dead: dead.map((m) => m.envelope) } },
  });
}

/** A MembershipRequest carrying `self` (an alive message of the sender's own), noop-signed as Fabric's discovery sends it. */
export function membershipRequest(self: SignedGossipMessage): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: EMPTY,
    tag: GossipMessage_Tag.EMPTY,
    content: { $case: "memReq", value: { selfInformation: self.envelope, known: [] } },
  });
}

/** Fabric's channel MAC: SHA-256(pkiId || channel). */
function channelMac(pkiId: Uint8Array, channel: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(pkiId).update(channel, "utf8").digest());
}

/** The attacker's StateInfo for `channel`: what makes it a channel member for the peers. */
export function stateInfoMsg(id: AttackerIdentity, channel: string, height: bigint, incNum: bigint, seqNum: bigint): SignedGossipMessage {
  return SignedGossipMessage.sign(
    {
      nonce: 0n,
      channel: EMPTY,
      tag: GossipMessage_Tag.CHAN_OR_ORG,
      content: {
        $case: "stateInfo",
        value: { channelMAC: channelMac(id.pkiId, channel), pkiId: id.pkiId, timestamp: { incNum, seqNum }, properties: { ledgerHeight: height, leftChannel: false, chaincodes: [] } },
      },
    },
    id.sign,
  );
}

/** A block-pull hello (the responder answers with a digest carrying the same nonce). */
export function blockHello(channel: string, nonce: bigint): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: utf8(channel),
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "hello", value: { nonce, metadata: EMPTY, msgType: PullMsgType.BLOCK_MSG } },
  });
}

/** A block-pull request for the blocks `seqNums` under the hello's nonce. */
export function blockRequest(channel: string, nonce: bigint, seqNums: readonly bigint[]): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: utf8(channel),
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "dataReq", value: { nonce, digests: seqNums.map((n) => utf8(n.toString(10))), msgType: PullMsgType.BLOCK_MSG } },
  });
}

/** A state-transfer request for blocks start..end. */
export function stateRequest(channel: string, nonce: bigint, start: bigint, end: bigint): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce,
    channel: utf8(channel),
    tag: GossipMessage_Tag.CHAN_OR_ORG,
    content: { $case: "stateRequest", value: { startSeqNum: start, endSeqNum: end } },
  });
}

/** `msg` with its signature's last byte flipped: a forgery an honest peer never sends. */
export function withBadSignature(msg: SignedGossipMessage): SignedGossipMessage {
  const sig = Uint8Array.from(msg.envelope.signature);
  if (sig.byteLength > 0) sig[sig.byteLength - 1] = sig[sig.byteLength - 1]! ^ 0xff;
  return SignedGossipMessage.fromEnvelope({ ...msg.envelope, signature: sig.byteLength > 0 ? sig : Uint8Array.of(1, 2, 3) });
}

// ---------------------------------------------------------------------------------------------
// What the suite reads from the peer processes

/** Linux USER_HZ: the unit of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Resident set size (bytes), open file descriptors and CPU seconds (user + system) of a process, or undefined when it is gone. */
export async function procUsage(pid: number): Promise<{ rss: number; fds: number; cpuS: number } | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    const fds = (await readdir(`/proc/${pid}/fd`)).length;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpuS = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
    return { rss: Number(kb ?? 0) * 1024, fds, cpuS };
  } catch {
    return undefined;
  }
}

/** GET http://`hostPort``path`: status and body, or an error after `timeoutMs`. */
export function httpGet(hostPort: string, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(`http://${hostPort}${path}`, { timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

/** Milliseconds /healthz took to answer 200, or undefined when it did not within `timeoutMs`. */
export async function healthMs(admin: string | undefined, timeoutMs = 2_000): Promise<number | undefined> {
  if (admin === undefined) return undefined;
  const t0 = performance.now();
  try {
    const r = await httpGet(admin, "/healthz", timeoutMs);
    return r.status === 200 ? performance.now() - t0 : undefined;
  } catch {
    return undefined;
  }
}

/** Prometheus text: "name{labels}" -> value, for the fabric_gossip_* samples. */
export type MetricSnapshot = Map<string, number>;

export async function scrapeMetrics(admin: string | undefined, timeoutMs = 5_000): Promise<MetricSnapshot> {
  const out: MetricSnapshot = new Map();
  if (admin === undefined) return out;
  try {
    const { body } = await httpGet(admin, "/metrics", timeoutMs);
    for (const line of body.split("\n")) {
      if (!line.startsWith("fabric_gossip_")) continue;
      const sp = line.lastIndexOf(" ");
      const v = Number(line.slice(sp + 1));
      if (Number.isFinite(v)) out.set(line.slice(0, sp), v);
    }
  } catch {
    // a peer that does not answer has no figures
  }
  return out;
}

/** Sum of the samples of `name` whose labels contain `filter` (e.g. 'code="BAD_SIGNATURE"'), after minus before. */
export function metricDelta(before: MetricSnapshot, after: MetricSnapshot, name: string, filter = ""): number {
  let sum = 0;
  for (const [k, v] of after) {
    if (!(k === name || k.startsWith(`${name}{`)) || !k.includes(filter)) continue;
    sum += v - (before.get(k) ?? 0);
  }
  return sum;
}

/** Per label value of `label`, the increase of counter `name` (non-zero only). */
export function metricDeltaBy(before: MetricSnapshot, after: MetricSnapshot, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`${label}="([^"]*)"`);
  for (const [k, v] of after) {
    if (!k.startsWith(`${name}{`)) continue;
    const value = re.exec(k)?.[1];
    if (value === undefined) continue;
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out.set(value, (out.get(value) ?? 0) + d);
  }
  return out;
}
