/**
 * `npm run bench -- lifecycle`: resource lifecycle (RELIABILITY.md S21). Two parts, each measured in
 * this process, where the peer runs (the library's startPeer: the same composition as `peer start`),
 * after a warm-up, with the garbage collector run before each measure: active handles and timers
 * (process.getActiveResourcesInfo) and heap used must come back to the baseline (at most 5 % above it; a running peer's own timers come and go).
 *
 * 1. Channels: a peer with an MSP identity joins a channel from its genesis block (ledger, state, private
 *    data, Deliver toward an orderer endpoint where nobody listens, as org leader) and leaves it,
 *    LIFECYCLE_CYCLES times (default 1,000), each cycle a channel of its own. Leaving a channel while
 *    the peer runs is not supported (nor in Fabric: `peer node unjoin` needs the peer stopped; the
 *    gossip layer's leaveChan only marks the peer as gone in its StateInfo, as Fabric's LeaveChannel),
 *    so a cycle is start, join, stop, and its ledger folder removed.
 * 2. Connections: a development-crypto peer takes LIFECYCLE_CONNECTIONS (default 10,000) connections
 *    opened and closed by a child process, in turn: a bare TCP connection, a gossip stream with a
 *    signed ConnEstablish (one of 8 identities: peers reconnecting) answered by the peer's, and a Ping
 *    on its own HTTP/2 session.
 *
 * `runLifecycle({ cycles: 50, connections: 500 })` is the CI version (test/e2e/lifecycle-short.test.ts).
 */
import "reflect-metadata";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createGenesisBlock, genesisMspOfFolder } from "../src/channelconfig/index.js";
import { buildConnEstablish } from "../src/comm/index.js";
import { loadPeerConfig } from "../src/config/index.js";
import { MAC_MEMO_CHANNELS } from "../src/gossip/channel/mac.js";
import { freePorts } from "../src/cli/network/index.js";
import { generateCryptoMaterial } from "../src/crypto/index.js";
import { silentLogger } from "../src/logging/index.js";
import { Block } from "../src/protos/gen/common/common.pb.js";
import { startPeer } from "../src/service/index.js";
import { utf8 } from "../src/util/index.js";
import { isMain, machineLine } from "./stats.js";

/** Resources of this process at one moment, after a full garbage collection. */
export interface ResourceSnapshot {
  /** process.getActiveResourcesInfo() by type (TCPServerWrap, TCPSocketWrap, Timeout, FSReqCallback, ...). */
  byType: Record<string, number>;
  handles: number;
  timers: number;
  /** V8 heap used outside its code spaces (bytes). */
  heapUsed: number;
}

/** One part's figures: baseline, after, and whether each is back within the bound. */
export interface LifecyclePart {
  name: string;
  count: number;
  seconds: number;
  before: ResourceSnapshot;
  after: ResourceSnapshot;
  /** Peak during the run (sampled between cycles or every 250 ms). */
  peakHandles: number;
  peakHeapUsed: number;
  notes: string;
  failures: string[];
}

export interface LifecycleResult {
  machine: string;
  parts: LifecyclePart[];
}

export interface LifecycleOptions {
  /** Channel join/leave cycles. Default 1,000. */
  cycles?: number;
  /** Connections opened and closed. Default 10,000. */
  connections?: number;
  log?: (line: string) => void;
}

/** 5 % above the baseline at most, and at least two handles or timers (a count of 12 has no 5 %). */
const TOLERANCE = 0.05;

let gcFn: (() => void) | undefined;
function fullGc(): void {
  if (gcFn === undefined) {
    setFlagsFromString("--expose-gc");
    gcFn = runInNewContext("gc") as () => void;
  }
  gcFn();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * How long closed resources may take to go: grpc-js keeps a closed client's timers until the deadline of
 * a waitForReady in flight (a dial to an orderer or peer that does not answer: 3 s, Fabric's connTimeout
 * and dialTimeout), then drops them.
 */
const SETTLE_MS = 4_000;

/** Resources now, once pending closes have run and the heap was collected. */
export async function snapshot(settleMs = SETTLE_MS): Promise<ResourceSnapshot> {
  // Let close callbacks and timers due by then run, then collect twice (weak references and finalizers).
  await sleep(settleMs);
  fullGc();
  await sleep(50);
  fullGc();
  const byType: Record<string, number> = {};
  for (const t of process.getActiveResourcesInfo()) byType[t] = (byType[t] ?? 0) + 1;
  const timers = byType["Timeout"] ?? 0;
  const handles = Object.entries(byType).reduce((n, [t, c]) => (t === "Timeout" || t === "Immediate" ? n : n + c), 0);
  // Compiled code is left out: the JIT keeps optimizing the cycle's functions, and that code is no data kept.
  const heapUsed = getHeapSpaceStatistics()
    .filter((sp) => !sp.space_name.startsWith("code"))
    .reduce((n, sp) => n + sp.space_used_size, 0);
  return { byType, handles, timers, heapUsed };
}

function judge(part: Omit<LifecyclePart, "failures">): string[] {
  const f: string[] = [];
  const { before: b, after: a } = part;
  // Growth is what a leak looks like; a running peer's own timers come and go (a dial's backoff, a pending
  // expiration), so a count may also be a couple lower or higher at any moment.
  const slack = (n: number): number => Math.max(2, Math.ceil(n * TOLERANCE));
  if (a.handles - b.handles > slack(b.handles)) f.push(`handles ${b.handles} -> ${a.handles} (${diffTypes(b, a)})`);
  if (a.timers - b.timers > slack(b.timers)) f.push(`timers ${b.timers} -> ${a.timers}`);
  if (a.heapUsed > b.heapUsed * (1 + TOLERANCE)) f.push(`heap used ${mib(b.heapUsed)} -> ${mib(a.heapUsed)} MiB (+${(((a.heapUsed - b.heapUsed) / b.heapUsed) * 100).toFixed(1)} %)`);
  return f;
}

function diffTypes(b: ResourceSnapshot, a: ResourceSnapshot): string {
  const types = new Set([...Object.keys(b.byType), ...Object.keys(a.byType)]);
  return [...types]
    .filter((t) => (b.byType[t] ?? 0) !== (a.byType[t] ?? 0))
    .map((t) => `${t} ${b.byType[t] ?? 0} -> ${a.byType[t] ?? 0}`)
    .join(", ");
}

const mib = (n: number): string => (n / 1024 / 1024).toFixed(1);

/** Part 1: `cycles` peers start, join a channel of their own, stop. */
async function channelCycles(root: string, cycles: number, log: (line: string) => void): Promise<LifecyclePart> {
  const summary = await generateCryptoMaterial({ orgs: 1, peersPerOrg: 1, out: join(root, "crypto"), orderer: true });
  const peerOrg = summary.orgs.find((o) => o.kind === "peer")!;
  const ordererOrg = summary.orgs.find((o) => o.kind === "orderer")!;
  const appMsp = await genesisMspOfFolder(peerOrg.mspDir, peerOrg.mspId);
  const ordMsp = await genesisMspOfFolder(ordererOrg.mspDir, ordererOrg.mspId);
  // Nobody listens there: the leader's Deliver client retries with its backoff, timers and all.
  const ordererEndpoint = "127.0.0.1:1";
  const genesis = (i: number): Uint8Array =>
    Block.encode(createGenesisBlock({ channel: `lifecycle-${i}`, applicationOrgs: [{ ...appMsp, anchorPeers: [] }], ordererOrgs: [{ ...ordMsp, endpoints: [ordererEndpoint] }] })).finish();
  const config = loadPeerConfig({ yaml: undefined, env: {}, overrides: { "peer.gossip.useLeaderElection": false, "peer.gossip.orgLeader": true } }).config;
  const crypto = { msp: peerOrg.nodes[0]!.mspDir, mspId: peerOrg.mspId };
  const cycle = async (i: number): Promise<void> => {
    const ledgerDir = join(root, `ledger-${i}`);
    const peer = await startPeer({ config, listen: "127.0.0.1:0", crypto, ledgerDir, logger: silentLogger });
    try {
      const status = await peer.joinChannel(genesis(i));
      if (status.height !== 1) throw new Error(`channel lifecycle-${i} joined at height ${status.height}`);
    } finally {
      await peer.stop();
      await rm(ledgerDir, { recursive: true, force: true });
    }
  };
  // Warm-up: the first cycles fill caches and compile the code paths once. A long run also fills the
  // process-wide memo of channel MACs (bounded at MAC_MEMO_CHANNELS channels, each cycle a new channel),
  // so that what it measures is growth past the bounds: a heap snapshot diff of a 600-cycle run found
  // that memo and V8's compiled-code bookkeeping (deopt data, relocation info: not in the code spaces)
  // were the +1.4 MiB, flat after ~300 cycles (1,500 cycles: 23.1 -> 23.9 MiB at 300, 24.0 at 1,500).
  const warm = cycles >= 3 * MAC_MEMO_CHANNELS ? MAC_MEMO_CHANNELS + 50 : Math.min(50, Math.max(10, Math.floor(cycles / 20)));
  for (let i = 0; i < warm; i++) await cycle(-1 - i);
  const before = await snapshot();
  let peakHandles = before.handles;
  let peakHeapUsed = before.heapUsed;
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    await cycle(i);
    if (i % 10 === 0) {
      const info = process.getActiveResourcesInfo();
      peakHandles = Math.max(peakHandles, info.filter((t) => t !== "Timeout" && t !== "Immediate").length);
      peakHeapUsed = Math.max(peakHeapUsed, process.memoryUsage().heapUsed);
    }
    if ((i + 1) % 100 === 0) log(`  ${i + 1} channel cycles, ${((performance.now() - started) / (i + 1)).toFixed(0)} ms each`);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = await snapshot();
  const part = {
    name: "channel join and leave (peer start, join, stop)",
    count: cycles,
    seconds: Number(seconds.toFixed(1)),
    before,
    after,
    peakHandles,
    peakHeapUsed,
    notes: `${warm} warm-up cycles first; ${((seconds * 1000) / cycles).toFixed(0)} ms a cycle`,
  };
  return { ...part, failures: judge(part) };
}

/** The connection opener, a child process: plain JavaScript (node -e), counts on stdout at the end. */
const OPENER = `
const net = require("node:net");
const http2 = require("node:http2");
const [host, port, total, concurrency] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])];
const conns = process.argv[5].split(",").map((h) => Buffer.from(h, "hex"));
const counts = { tcp: 0, stream: 0, answered: 0, ping: 0, pingOk: 0, errors: 0 };
const frame = (b) => { const f = Buffer.alloc(5 + b.length); f.writeUInt32BE(b.length, 1); b.copy(f, 5); return f; };
const withTimeout = (p, ms) => Promise.race([p, new Promise((r) => setTimeout(() => r("timeout"), ms).unref())]);
function tcp() {
  return new Promise((resolve) => {
    const s = net.connect({ host, port }, () => { counts.tcp++; s.destroy(); });
    s.on("error", () => { counts.errors++; resolve(); });
    s.on("close", () => resolve());
  });
}
function call(path, body, kind) {
  return new Promise((resolve) => {
    const session = http2.connect("http://" + host + ":" + port);
    session.on("error", () => { counts.errors++; });
    const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    req.on("error", () => {});
    let got = false;
    const done = () => { session.destroy(); resolve(); };
    req.on("data", () => {
      if (got) return;
      got = true;
      if (kind === "stream") counts.answered++; else counts.pingOk++;
      // The peer's ConnEstablish came: the connection is up. Leave, as a peer that goes away.
      if (kind === "stream") done();
    });
    req.on("close", done);
    if (kind === "stream") { counts.stream++; req.write(body); } else { counts.ping++; req.end(body); }
    setTimeout(done, 10000).unref();
  });
}
let next = 0;
async function worker() {
  for (;;) {
    const i = next++;
    if (i >= total) return;
    const k = i % 3;
    if (k === 0) await withTimeout(tcp(), 10000);
    else if (k === 1) await call("/gossip.Gossip/GossipStream", frame(conns[i % conns.length]), "stream");
    else await call("/gossip.Gossip/Ping", frame(Buffer.alloc(0)), "ping");
  }
}
Promise.all(Array.from({ length: concurrency }, worker)).then(() => { process.stdout.write(JSON.stringify(counts) + "\\n"); process.exit(0); });
`;

/** Part 2: `total` connections opened and closed against a development-crypto peer. */
async function connectionChurn(total: number, log: (line: string) => void): Promise<LifecyclePart> {
  const config = loadPeerConfig({ yaml: undefined, env: {}, overrides: {} }).config;
  const [free] = await freePorts(1);
  const host = "127.0.0.1";
  const port = String(free);
  const peer = await startPeer({ config, listen: `${host}:${port}`, crypto: { insecureDevCrypto: true }, channels: ["lifecycle"], logger: silentLogger });
  try {
    // Development crypto: the identity is the endpoint and the PKI-ID, a signature is the message itself.
    const conns = Array.from({ length: 8 }, (_, i) => {
      const id = utf8(`127.0.0.1:${41000 + i}`);
      return Buffer.from(buildConnEstablish({ pkiId: id, identity: id, tlsCertHash: undefined, probe: false }, (b) => b).bytes).toString("hex");
    });
    const open = async (n: number): Promise<Record<string, number>> =>
      await new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["-e", OPENER, host, port, String(n), "16", conns.join(",")], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
        });
        child.on("error", reject);
        child.on("exit", (code) => {
          try {
            resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as Record<string, number>);
          } catch {
            reject(new Error(`the connection opener exited with ${code} and printed ${out.slice(0, 200)}`));
          }
        });
      });
    await open(Math.min(300, Math.max(30, Math.floor(total / 20))));
    await sleep(500);
    const before = await snapshot();
    let peakHandles = before.handles;
    let peakHeapUsed = before.heapUsed;
    const sampler = setInterval(() => {
      peakHandles = Math.max(peakHandles, process.getActiveResourcesInfo().filter((t) => t !== "Timeout" && t !== "Immediate").length);
      peakHeapUsed = Math.max(peakHeapUsed, process.memoryUsage().heapUsed);
    }, 250);
    const started = performance.now();
    const counts = await open(total);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    // Streams the remote left are closed by the peer when it notices (the socket's close); give it a moment.
    await sleep(1_000);
    const after = await snapshot();
    log(`  ${total} connections in ${seconds.toFixed(1)} s: ${JSON.stringify(counts)}`);
    const part = {
      name: "connections opened and closed (TCP, gossip stream with handshake, Ping)",
      count: total,
      seconds: Number(seconds.toFixed(1)),
      before,
      after,
      peakHandles,
      peakHeapUsed,
      notes: `opener counts ${JSON.stringify(counts)}`,
    };
    const failures = judge(part);
    if ((counts["errors"] ?? 0) > 0) failures.push(`${counts["errors"]} connection errors at the opener`);
    if ((counts["answered"] ?? 0) < (counts["stream"] ?? 0)) failures.push(`${(counts["stream"] ?? 0) - (counts["answered"] ?? 0)} gossip streams got no ConnEstablish`);
    return { ...part, failures };
  } finally {
    await peer.stop();
  }
}

/** Runs both parts; never throws for a failed bound (see each part's `failures`). */
export async function runLifecycle(options: LifecycleOptions = {}): Promise<LifecycleResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const root = await mkdtemp(join(tmpdir(), "fabric-gossip-lifecycle-"));
  try {
    const parts: LifecyclePart[] = [];
    parts.push(await channelCycles(root, options.cycles ?? 1_000, log));
    log(`  -> ${formatPart(parts[0]!)}`);
    parts.push(await connectionChurn(options.connections ?? 10_000, log));
    log(`  -> ${formatPart(parts[1]!)}`);
    return { machine: machineLine(), parts };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export function formatPart(p: LifecyclePart): string {
  const s = (x: ResourceSnapshot): string => `handles ${x.handles}, timers ${x.timers}, heap ${mib(x.heapUsed)} MiB`;
  return `${p.name}: ${p.count} in ${p.seconds} s; before ${s(p.before)}; after ${s(p.after)}; peak handles ${p.peakHandles}, peak heap ${mib(p.peakHeapUsed)} MiB; ${p.notes}; ${p.failures.length ? `FAILED: ${p.failures.join("; ")}` : "ok"}`;
}

/** For bench/run.ts. */
export async function benchLifecycle(): Promise<Record<string, number | string>> {
  const cycles = Number(process.env["LIFECYCLE_CYCLES"] ?? "") || 1_000;
  const connections = Number(process.env["LIFECYCLE_CONNECTIONS"] ?? "") || 10_000;
  const r = await runLifecycle({ cycles, connections });
  const out: Record<string, number | string> = {};
  for (const p of r.parts) {
    out[`${p.name}: count`] = p.count;
    out[`${p.name}: handles before -> after`] = `${p.before.handles} -> ${p.after.handles}`;
    out[`${p.name}: timers before -> after`] = `${p.before.timers} -> ${p.after.timers}`;
    out[`${p.name}: heap MiB before -> after`] = `${mib(p.before.heapUsed)} -> ${mib(p.after.heapUsed)}`;
    out[`${p.name}: result`] = p.failures.length === 0 ? "ok" : `FAIL: ${p.failures.join("; ")}`;
  }
  return out;
}

if (isMain(import.meta.url)) await benchLifecycle();
