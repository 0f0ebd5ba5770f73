/**
 * The fuzzer's tools (bench/fuzz.ts): a seeded generator of malformed gossip frames, and a sender that
 * writes each frame on its own GossipStream call over a few long-lived HTTP/2 sessions (mutual TLS),
 * first on its own (the peer decodes it as the ConnEstablish) or after a valid signed ConnEstablish
 * (the peer decodes it as a message of an authenticated connection). Case `i` of seed `s` depends on
 * (s, i) alone: `caseAt(s, i)` rebuilds one failing case without running the others.
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { gzipSync } from "node:zlib";
import { SignedGossipMessage } from "../src/protoext/index.js";
import { GossipMessage_Tag, PullMsgType } from "../src/protos/gen/gossip/message.pb.js";
import { utf8 } from "../src/util/index.js";
import { type AttackerIdentity, aliveMsg, blockHello, membershipResponse, stateInfoMsg } from "./attacks-kit.js";

export const FUZZ_KINDS = [
  "random-bytes",
  "truncated-varint",
  "wrong-wire-type",
  "deep-nesting",
  "huge-repeated",
  "over-max-size",
  "mutated-valid",
  "gzip-bomb",
] as const;
export type FuzzKind = (typeof FUZZ_KINDS)[number];

/** One malformed frame. */
export interface FuzzCase {
  index: number;
  kind: FuzzKind;
  /** The message bytes after the 5-byte gRPC prefix (the prefix's length says `declaredLength`). */
  body: Uint8Array;
  /** The length the prefix claims; body.byteLength unless the frame lies about it. */
  declaredLength: number;
  /** gRPC compressed flag, with grpc-encoding: gzip on the call. */
  compressed: boolean;
  /** Sent after a valid signed ConnEstablish on the same call. */
  afterHandshake: boolean;
  /** To /gossip.Gossip/Ping instead of GossipStream. */
  ping: boolean;
}

/** splitmix32-like: a small, fast, seedable generator for one case. */
class CaseRandom {
  #s: number;
  constructor(seed: number, index: number) {
    this.#s = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
  }
  u32(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 255;
    return b;
  }
  /** Log-uniform length in [0, max]. */
  len(max: number): number {
    return Math.min(max, Math.floor(2 ** (this.u32() / 2 ** 32 * Math.log2(max + 1))) - 1 + this.int(2));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** Field `field` as length-delimited `body`. */
function ld(field: number, body: Uint8Array): Uint8Array {
  const head = [...varint(field * 8 + 2), ...varint(body.byteLength)];
  const out = new Uint8Array(head.length + body.byteLength);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

/**
 * `ld(fields[n-1], ... ld(fields[1], ld(fields[0], inner)))` in one pass: the headers are computed inside out and
 * the bytes written once (nesting with `ld` copies the whole message at every level: a 3,000-deep case cost the
 * fuzzer ~10 ms, a core's worth at the bench's rate, taken from the peers it measures).
 */
function nestLd(fields: readonly number[], inner: Uint8Array): Uint8Array {
  // Each level's header (tag, then the length of all inside it), innermost first, written backwards so that the
  // outermost comes first once reversed.
  const heads: number[] = [];
  let length = inner.byteLength;
  for (const field of fields) {
    const before = heads.length;
    const len = varint(length);
    for (let i = len.length - 1; i >= 0; i--) heads.push(len[i]!);
    const tag = varint(field * 8 + 2);
    for (let i = tag.length - 1; i >= 0; i--) heads.push(tag[i]!);
    length += heads.length - before;
  }
  heads.reverse();
  const out = new Uint8Array(length);
  out.set(heads, 0);
  out.set(inner, heads.length);
  return out;
}

function repeat(unit: readonly number[], n: number): Uint8Array {
  const out = new Uint8Array(unit.length * n);
  if (out.byteLength === 0) return out;
  out.set(unit, 0);
  // Doubling copies: log2(n) of them rather than n.
  for (let filled = unit.length; filled < out.byteLength; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, out.byteLength - filled));
  return out;
}

const concat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);

/** What the generator needs: valid messages to mutate, and the limits. */
export interface FuzzContext {
  seed: number;
  maxMessageSize: number;
  /** Valid envelopes (ConnEstablish, alive, membership response, ...) to mutate. */
  valid: readonly Uint8Array[];
  /** No case larger than this (the short run's frames stay small); default 4 MiB. */
  maxBodyBytes?: number;
  /** Gzip bombs (each costs the peer a decompression up to the limit); default true. */
  bombs?: boolean;
}

/** Valid envelopes of `id` to mutate: its ConnEstablish is given by the caller, the rest built here. */
export function validSamples(id: AttackerIdentity, channel: string, conn: Uint8Array): Uint8Array[] {
  const inc = BigInt(Date.now()) * 1_000_000n;
  const alive = aliveMsg(id, "127.0.0.21:7051", inc, 1n);
  return [
    conn,
    alive.bytes,
    membershipResponse([alive, aliveMsg(id, "127.0.0.21:7051", inc, 2n)]).bytes,
    stateInfoMsg(id, channel, 5n, inc, 1n).bytes,
    blockHello(channel, 7n).bytes,
    SignedGossipMessage.noopSign({
      nonce: 3n,
      channel: utf8(channel),
      tag: GossipMessage_Tag.CHAN_AND_ORG,
      content: { $case: "dataDig", value: { nonce: 3n, digests: [utf8("1"), utf8("2")], msgType: PullMsgType.BLOCK_MSG } },
    }).bytes,
  ];
}

/** The deepest nesting a case builds: the decoders refuse past 100 levels, the stack holds far more. */
const MAX_NEST = 20_000;

const FORCED: readonly FuzzKind[] = ["gzip-bomb", "over-max-size", "huge-repeated", "deep-nesting"];

/** Case `index` of the run seeded with `ctx.seed`. */
export function caseAt(ctx: FuzzContext, index: number): FuzzCase {
  const r = new CaseRandom(ctx.seed, index);
  const maxBody = ctx.maxBodyBytes ?? 4 * 1024 * 1024;
  // Kinds by weight: the cheap ones most often; bombs and oversize rarely (each costs megabytes).
  const roll = r.int(10_000) < 9_999 ? r.int(1000) : 9_999;
  let kind: FuzzKind =
    roll < 300 ? "random-bytes" : roll < 450 ? "truncated-varint" : roll < 620 ? "wrong-wire-type" : roll < 720 ? "deep-nesting" : roll < 740 ? "huge-repeated" : roll < 760 ? "over-max-size" : roll < 9999 ? "mutated-valid" : "gzip-bomb";
  // The first cases are one of each costly kind at its worst, so that even a short run has them.
  const forced = FORCED[index];
  if (forced !== undefined) kind = forced;
  if (kind === "gzip-bomb" && ctx.bombs === false) kind = "over-max-size";
  const base = { index, kind, compressed: false, afterHandshake: r.int(4) === 0, ping: r.int(200) === 0 };
  const plain = (body: Uint8Array): FuzzCase => ({ ...base, body, declaredLength: body.byteLength });
  switch (kind) {
    case "random-bytes":
      return plain(r.bytes(r.len(Math.min(maxBody, 64 * 1024))));
    case "truncated-varint": {
      // A valid message cut inside a varint, or a tag/length whose varint never ends.
      const v = r.pick(ctx.valid);
      const cut = v.subarray(0, 1 + r.int(Math.max(1, v.byteLength - 1)));
      const tail = Uint8Array.from(Array.from({ length: 1 + r.int(12) }, () => 0x80 | r.int(128)));
      return plain(r.int(2) === 0 ? concat(cut, Uint8Array.of(0x0a), tail) : concat(cut, tail));
    }
    case "wrong-wire-type": {
      // Envelope and GossipMessage field numbers under every wire type, with plausible contents.
      const parts: Uint8Array[] = [];
      const n = 1 + r.int(8);
      for (let i = 0; i < n; i++) {
        const field = r.int(4) === 0 ? r.int(40) : 1 + r.int(25);
        const wt = r.int(8);
        const payload = wt === 2 ? [...varint(r.len(64)), ...r.bytes(8)] : wt === 0 ? varint(r.u32()) : wt === 1 ? [...r.bytes(8)] : wt === 5 ? [...r.bytes(4)] : [...r.bytes(r.int(4))];
        parts.push(Uint8Array.from([...varint(field * 8 + wt), ...payload]));
      }
      const inner = concat(...parts);
      return plain(r.int(2) === 0 ? inner : ld(1, inner));
    }
    case "deep-nesting": {
      const depth = 50 + r.int(MAX_NEST);
      const style = r.int(3);
      if (style === 0) {
        // Start-group tags nested `depth` deep, closed or not.
        const open = repeat([(9 << 3) | 3], depth);
        return plain(ld(1, r.int(2) === 0 ? open : concat(open, repeat([(9 << 3) | 4], depth))));
      }
      if (style === 1) {
        // Private data's collection policy: SignaturePolicy{n_out_of{rules{n_out_of{...}}}}, a recursive message.
        const rule = nestLd(new Array<number>(2 * Math.min(depth, 3_000)).fill(2), Uint8Array.of(0x08, 0x01));
        const policy = ld(1, ld(1, ld(2, ld(1, rule)))); // config{static{member_orgs_policy{signature_policy{rule}}}} (approximately)
        return plain(ld(1, ld(25, ld(1, ld(6, policy)))));
      }
      // Length-delimited fields in length-delimited fields: each an unknown field of the one around it.
      const innermost = r.bytes(4);
      const fields = Array.from({ length: Math.min(depth, 3_000) }, () => 30 + r.int(5));
      return plain(ld(1, nestLd(fields, innermost)));
    }
    case "huge-repeated": {
      // Repeated fields with as many elements as fit: empty envelopes, digests or payloads (2 bytes each).
      // Up to a million elements (2 MB), log-uniform: most cases are small, some far over the decode budget.
      const most = Math.floor(Math.min(maxBody, 2 * 1024 * 1024) / 2) - 8;
      const n = forced !== undefined ? most : Math.max(1, r.len(most));
      const which = r.int(4);
      const elements = repeat([0x0a, 0x00], n);
      const gossip =
        which === 0 ? ld(7, elements) : which === 1 ? ld(10, repeat([0x12, 0x00], n)) : which === 2 ? ld(24, ld(1, repeat([0x12, 0x00], n))) : ld(16, elements);
      // Or an element that claims millions of bytes it does not have.
      if (forced === undefined && r.int(4) === 0) return plain(ld(1, concat(Uint8Array.of(7 * 8 + 2), Uint8Array.from(varint(2_000_000_000 + r.int(1000))), r.bytes(16))));
      return plain(ld(1, gossip));
    }
    case "over-max-size": {
      // The prefix claims just over the limit; only a few bytes follow (the peer must refuse on the prefix).
      return { ...base, body: r.bytes(16 + r.int(1024)), declaredLength: ctx.maxMessageSize + 1 + r.int(16) };
    }
    case "mutated-valid": {
      const b = Uint8Array.from(r.pick(ctx.valid));
      const edits = 1 + r.int(6);
      for (let i = 0; i < edits; i++) b[r.int(b.byteLength)] = r.u32() & 255;
      return plain(b);
    }
    case "gzip-bomb": {
      // Zeros that inflate to just over the limit, from a few hundred kilobytes.
      return { ...base, kind, compressed: true, body: bomb(ctx.maxMessageSize + 1024), declaredLength: -1 };
    }
  }
}

const bombs = new Map<number, Uint8Array>();
function bomb(size: number): Uint8Array {
  let b = bombs.get(size);
  if (b === undefined) {
    b = new Uint8Array(gzipSync(Buffer.alloc(size), { level: 9 }));
    bombs.set(size, b);
  }
  return b;
}

/** The 5-byte gRPC prefix and the body. */
export function grpcFrame(c: FuzzCase): Buffer {
  const len = c.declaredLength < 0 ? c.body.byteLength : c.declaredLength;
  const b = Buffer.allocUnsafe(5 + c.body.byteLength);
  b[0] = c.compressed ? 1 : 0;
  b.writeUInt32BE(len, 1);
  b.set(c.body, 5);
  return b;
}

/** How a case's call ended. */
export type CallEnd = "ok" | "status" | "reset" | "session" | "hang";

export interface SenderOptions {
  endpoint: string;
  /** The address to send from, or where each new session takes its address from. */
  localAddress: string | (() => string);
  tls?: { cert: string; key: string; ca: string[] };
  /** A call still open this long after its frame was sent is a hang. */
  hangMs: number;
}

/** How long a session with a hung call has to answer a ping before its connection is taken for closed. */
const PING_MS = 2_000;
/**
 * A session whose calls stopped ending this long is pinged, and dropped when the ping is not answered
 * within as long: an attacker notices a closed connection about as fast, and the defended run's rate
 * depends on it.
 */
const WATCH_MS = 500;

/** Whether `session` answers a ping within `ms`; one that does not is destroyed (which ends its calls). */
function answersPing(session: http2.ClientHttp2Session, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const dead = setTimeout(() => {
      session.destroy();
      resolve(false);
    }, ms);
    try {
      session.ping((err) => {
        clearTimeout(dead);
        if (err !== null) session.destroy();
        resolve(err === null);
      });
    } catch {
      clearTimeout(dead);
      session.destroy();
      resolve(false);
    }
  });
}

/** One HTTP/2 session carrying calls, each one case. */
export class FuzzSession {
  readonly #o: SenderOptions;
  #session: http2.ClientHttp2Session | undefined;
  #opening: Promise<http2.ClientHttp2Session> | undefined;
  /** Per session: its calls in flight, and when one last ended (for its watchdog). */
  readonly #calls = new WeakMap<http2.ClientHttp2Session, { inflight: number; lastEnd: number }>();
  /**
   * Every socket opened for a session, until it closes. A session the peer closed is replaced, and its socket
   * can outlive it: a destroyed session can still hold an open socket (seen in the defended run: 48 sessions
   * destroyed, 48 sockets open), and the bench process then never exits. close() destroys them all.
   */
  readonly #sockets = new Set<net.Socket>();
  /** Sessions the peer closed (GOAWAY or socket closed) while calls were in flight. */
  closedByPeer = 0;
  opened = 0;

  constructor(o: SenderOptions) {
    this.#o = o;
  }

  async #get(): Promise<http2.ClientHttp2Session> {
    if (this.#session !== undefined && !this.#session.closed && !this.#session.destroyed) return this.#session;
    if (this.#opening !== undefined) return this.#opening;
    this.#opening = this.#open().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #open(): Promise<http2.ClientHttp2Session> {
    const o = this.#o;
    const i = o.endpoint.lastIndexOf(":");
    const host = o.endpoint.slice(0, i);
    const port = Number(o.endpoint.slice(i + 1));
    const localAddress = typeof o.localAddress === "string" ? o.localAddress : o.localAddress();
    const session = http2.connect(`${o.tls ? "https" : "http"}://${o.endpoint}`, {
      createConnection: () => {
        const socket =
          o.tls === undefined
            ? net.connect({ host, port, localAddress })
            : tls.connect({ host, port, ...{ localAddress }, cert: o.tls.cert, key: o.tls.key, ca: o.tls.ca, ALPNProtocols: ["h2"], servername: "localhost" });
        this.#sockets.add(socket);
        socket.once("close", () => this.#sockets.delete(socket));
        return socket;
      },
    });
    await new Promise<void>((resolve, reject) => {
      session.once("connect", () => {
        session.off("error", reject);
        resolve();
      });
      session.once("error", reject);
    });
    session.on("error", () => undefined);
    session.on("goaway", () => {
      this.closedByPeer++;
    });
    this.#watch(session);
    this.opened++;
    this.#session = session;
    return session;
  }

  /**
   * Pings a session whose calls stopped ending for WATCH_MS, and destroys it (ending its calls) when it
   * does not answer: a connection the peer closed sometimes goes unnoticed by the session here (seen when
   * the peer refuses an address and closes its connections: the session stays "open" with no TCP
   * connection under it), and every call on it would wait for the hang timeout.
   */
  #watch(session: http2.ClientHttp2Session): void {
    const calls = { inflight: 0, lastEnd: performance.now() };
    this.#calls.set(session, calls);
    let pinging = false;
    const timer = setInterval(() => {
      if (pinging || calls.inflight === 0 || performance.now() - calls.lastEnd < WATCH_MS) return;
      pinging = true;
      void answersPing(session, WATCH_MS).then((ok) => {
        pinging = false;
        if (ok) calls.lastEnd = performance.now();
      });
    }, WATCH_MS / 2);
    session.once("close", () => clearInterval(timer));
  }

  /** Sends `frames` on one call (then half-closes) and resolves with how the call ended. */
  async call(path: string, frames: readonly Buffer[], compressed: boolean): Promise<CallEnd> {
    let session: http2.ClientHttp2Session;
    try {
      session = await this.#get();
    } catch {
      return "session";
    }
    const calls = this.#calls.get(session)!; // set by #open
    return await new Promise<CallEnd>((resolve) => {
      let done = false;
      let status: string | undefined;
      const finish = (e: CallEnd): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        calls.inflight--;
        calls.lastEnd = performance.now();
        if (e === "hang") req.close(http2.constants.NGHTTP2_CANCEL);
        resolve(e);
      };
      const headers: http2.OutgoingHttpHeaders = { ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" };
      if (compressed) headers["grpc-encoding"] = "gzip";
      let req: http2.ClientHttp2Stream;
      try {
        req = session.request(headers);
      } catch {
        resolve("session");
        return;
      }
      // A call still open after hangMs is the peer's hang only if the connection under it still answers a
      // ping: a connection the peer closed can go unnoticed by the client's session (it then stays "open"
      // with no socket under it), and that is no hang of the peer's.
      calls.inflight++;
      const timer = setTimeout(() => void answersPing(session, PING_MS).then((ok) => finish(ok ? "hang" : "session")), this.#o.hangMs);
      req.on("error", () => undefined);
      // The status ends the call, as for any gRPC client: what the peer reads no more is cancelled, not
      // left to stall on flow control (grpc-js does not reset a stream it answered, as grpc-go does).
      const answered = (s: string): void => {
        status = s;
        finish(s === "0" ? "ok" : "status");
        if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
      };
      req.on("response", (h) => {
        if (h["grpc-status"] !== undefined) answered(String(h["grpc-status"]));
      });
      req.on("trailers", (t) => answered(String(t["grpc-status"] ?? status ?? "")));
      req.on("data", () => undefined);
      req.on("close", () => {
        if (session.destroyed || session.closed) finish("session");
        else if (status === "0") finish("ok");
        else if (status !== undefined) finish("status");
        else finish("reset");
      });
      for (const f of frames) req.write(f);
      req.end();
    });
  }

  close(): void {
    this.#session?.destroy();
    this.#session = undefined;
    for (const socket of [...this.#sockets]) socket.destroy();
    this.#sockets.clear();
  }
}
