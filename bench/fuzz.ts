/**
 * `npm run bench -- fuzz`: malformed frames against a real peer process (RELIABILITY.md S12). A small
 * network on 127.0.0.1 (an orderer and three peers of one org, mutual TLS, MSP identities, started as
 * `network up` starts it) carries honest traffic (10 one-transaction blocks a second); after a baseline,
 * an insider (a TLS certificate and identity minted by the org's CAs) sends FUZZ_FRAMES (default 10^6)
 * malformed frames to the first peer's GossipStream, each on its own call, a quarter of them after a
 * valid signed ConnEstablish, and some to Ping: random bytes, truncated varints, wrong wire types, deep
 * nesting, repeated fields with up to a million elements, prefixes claiming just over the 100 MiB
 * limit, mutated valid messages, and gzip bombs that inflate past it. It prints frames sent and their
 * rate, crashes and hangs (calls the peer left open 10 s after their frame, /healthz unanswered),
 * calls and sessions the peer closed, the target's RSS growth, honest block p99 against the baseline,
 * and log lines per second.
 *
 * Two runs. The decoder run: the peers run with the misbehaviour limits raised, so that every frame
 * reaches the decoder instead of a refused address (crashes, hangs and RSS are judged; its p99 is that of
 * a peer that lets one insider make ~4,000 calls a second, and is printed). The defended
 * run (FUZZ_DEFENDED_SECONDS, default 60): the peers keep their defaults (an address with more than 10
 * offences a minute is refused and its connections closed), and the fuzzer opens each new session from
 * the next of 1,024 loopback addresses, as a botnet would; S12's bounds on RSS and honest p99 (1.5 x
 * the baseline) are judged here too, on the peer as deployed. FUZZ_SEED picks the generator's seed
 * (printed); a failing case i is rebuilt by caseAt({ seed, ... }, i) in bench/fuzz-kit.ts; FUZZ_KINDS
 * (comma-separated) sends only those kinds; FUZZ_LOG_DIR keeps the processes' logs.
 *
 * `runFuzz({ frames: 3_000 })` is the CI version (test/e2e/fuzz-short.test.ts).
 */
import { buildConnEstablish } from "../src/comm/index.js";
import { certHashOfPem } from "../src/comm/grpc/index.js";
import { DEFAULT_MAX_MESSAGE_SIZE_BYTES } from "../src/protoext/index.js";
import { LocalNetwork } from "../src/cli/network/index.js";
import { httpGet, metricDeltaBy, mintPeerIdentity, procUsage, scrapeMetrics, tlsCaPems } from "./attacks-kit.js";
import { Commits, cryptoSummaryOf, maxLineRate, p99, Watcher, type Watched } from "./attacks.js";
import { type CallEnd, caseAt, type FuzzContext, FuzzSession, type FuzzKind, grpcFrame, validSamples } from "./fuzz-kit.js";
import { isMain, machineLine } from "./stats.js";

const MiB = 1024 * 1024;
const GOSSIP_STREAM = "/gossip.Gossip/GossipStream";
const PING = "/gossip.Gossip/Ping";
/** A call the peer leaves open this long after its frame is a hang. */
const HANG_MS = 10_000;
/** Log lines per second per peer while fuzzing (the attack suite's bound). */
const LOG_LINES_PER_SECOND = 10;

export interface FuzzOptions {
  /** Frames to send. Default 10^6. */
  frames?: number;
  /** Generator seed. Default: FUZZ_SEED or the time. */
  seed?: number;
  /** First case index (to replay cases of a failed run: `from: i, frames: 1`). Default FUZZ_FROM or 0. */
  from?: number;
  /** Sessions (each from its own loopback address) and calls in flight per session. Default 4 x 32. */
  sessions?: number;
  inflight?: number;
  /** Largest generated frame body. Default 2 MiB. */
  maxBodyBytes?: number;
  /**
   * The defended run: the peers keep their default limits (an address or PKI-ID with more than 10
   * offences a minute is refused), and each new session comes from the next of `addresses` loopback
   * addresses, as from a botnet, for `seconds` (frames are not counted then). Without it the limits are
   * raised so that every frame reaches the decoder (the decoder run).
   */
  defended?: boolean;
  seconds?: number;
  addresses?: number;
  log?: (line: string) => void;
}

export interface FuzzResult {
  machine: string;
  mode: "decoder" | "defended";
  /** Source addresses the fuzzer opened sessions from. */
  addressesUsed: number;
  seed: number;
  frames: number;
  seconds: number;
  rate: number;
  byKind: Record<string, number>;
  ends: Record<CallEnd, number>;
  /** Cases whose call hung (index and kind), for reproduction. */
  hungCases: string[];
  sessionsOpened: number;
  sessionsClosedByPeer: number;
  crashes: string[];
  healthFailures: number;
  healthMaxMs: number;
  rssBaseMiB: number;
  rssPeakMiB: number;
  rssGrowthMiB: number;
  rssAfterMiB: number;
  p99Ms: number | null;
  baseP99Ms: number | null;
  logLinesPerSecond: number;
  baseLogLinesPerSecond: number;
  /** The target's rejections during the run (fabric_gossip_comm_rejected_total by code). */
  rejected: Record<string, number>;
  failures: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs the fuzzer; never throws for a failed bound (see `failures`), only when the network cannot run. */
export async function runFuzz(options: FuzzOptions = {}): Promise<FuzzResult> {
  const defended = options.defended === true;
  const total = defended ? Number.MAX_SAFE_INTEGER : options.frames ?? 1_000_000;
  const deadlineMs = defended ? (options.seconds ?? 60) * 1000 : Infinity;
  const seed = options.seed ?? (Number(process.env["FUZZ_SEED"] ?? "") || Date.now() % 2 ** 31);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const short = defended ? deadlineMs < 30_000 : total < 100_000;
  const net = new LocalNetwork({
    orgs: 1,
    peersPerOrg: 3,
    tls: true,
    batchSize: 1,
    batchTimeout: "100ms",
    env: {
      CORE_PEER_GOSSIP_ELECTION_STARTUPGRACEPERIOD: "3s",
      // The decoder run: every frame reaches the decoder, no refused address or PKI-ID.
      ...(defended
        ? {}
        : {
            CORE_PEER_GOSSIP_LIMITS_MISBEHAVIOURLIMIT: "1000000000",
            CORE_PEER_GOSSIP_LIMITS_REFUSEADDRESSES: "false",
            CORE_PEER_GOSSIP_LIMITS_MAXHANDSHAKESPERADDRESS: "256",
          }),
    },
    handleSignals: true,
    // FUZZ_LOG_DIR keeps the processes' logs after the run.
    ...(process.env["FUZZ_LOG_DIR"] ? { logDir: process.env["FUZZ_LOG_DIR"] } : {}),
  });
  const commits = new Commits();
  const crashes: string[] = [];
  let w: Watcher | undefined;
  net.onEvent((e) => {
    commits.onEvent(e);
    if (e.type === "exit" && !e.expected) crashes.push(`${e.name} exited (code ${e.code}, signal ${e.signal}): ${e.stderr.slice(-3).join(" | ")}`);
  });
  const sessions: FuzzSession[] = [];
  try {
    const t0 = performance.now();
    await net.start();
    const watched: Watched[] = net.peers.map((p) => ({ name: p.name, admin: () => (p.state === "running" ? p.admin : undefined), pid: () => (p.state === "running" ? p.process?.child.pid : undefined) }));
    w = new Watcher(watched);
    for (const p of net.peers) if (p.process) w.attach(p.name, p.process);
    await net.waitForLeaders(60_000);
    log(`network of ${net.peers.length} peers up with a leader in ${((performance.now() - t0) / 1000).toFixed(1)} s; seed ${seed}`);
    const summary = cryptoSummaryOf(net);
    const org = summary.orgs.find((o) => o.kind === "peer")!;
    const id = await mintPeerIdentity(org, "fuzzer.org1.example.com");
    const ca = await tlsCaPems(summary.orgs);
    const conn = buildConnEstablish({ pkiId: id.pkiId, identity: id.identity, tlsCertHash: certHashOfPem(id.tls!.cert), probe: false }, id.sign);
    const ctx: FuzzContext = {
      seed,
      maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE_BYTES,
      valid: validSamples(id, net.channel, conn.bytes),
      maxBodyBytes: options.maxBodyBytes ?? 2 * MiB,
    };
    const connFrame = grpcFrame({ index: -1, kind: "mutated-valid", body: conn.bytes, declaredLength: conn.bytes.byteLength, compressed: false, afterHandshake: false, ping: false });
    const target = net.peers[0]!;
    const targetWatched = watched[0]!;

    await net.startFeeding({ rate: 10, size: 1024 });
    w.start();
    await sleep(2_000);
    // Baseline.
    const baseMs = short ? 4_000 : 15_000;
    w.reset();
    let lines0 = new Map(w.lines);
    const bFrom = Date.now();
    await sleep(baseMs);
    const bTo = Date.now();
    await sleep(500);
    const rssBase = w.peaks.get(target.name)?.rss ?? 0;
    const baseP99 = p99(commits.latencies(bFrom, bTo));
    const baseLines = maxLineRate(w, lines0, baseMs / 1000);
    log(`baseline: honest p99 ${baseP99} ms, target RSS ${(rssBase / MiB).toFixed(0)} MiB, ${baseLines} log lines/s`);

    // Fuzz.
    const before = await scrapeMetrics(target.admin);
    await heapSnapshot(targetWatched.pid(), "before", log);
    w.reset();
    lines0 = new Map(w.lines);
    const nSessions = options.sessions ?? 4;
    const inflight = options.inflight ?? 32;
    // The decoder run sends from one address per session; the defended run from the next address of a
    // pool (127.0.100.0 onwards) for each session it (re)opens.
    const pool = options.addresses ?? 1_024;
    const used = new Set<string>();
    let nextAddress = 0;
    const fromPool = (): string => {
      const n = nextAddress++ % pool;
      const a = `127.0.${100 + Math.floor(n / 256)}.${n % 256}`;
      used.add(a);
      return a;
    };
    for (let s = 0; s < nSessions; s++) {
      const fixed = `127.0.0.${21 + s}`;
      if (!defended) used.add(fixed);
      sessions.push(new FuzzSession({ endpoint: target.endpoint, localAddress: defended ? fromPool : fixed, tls: { ...id.tls!, ca }, hangMs: HANG_MS }));
    }
    const ends: Record<CallEnd, number> = { ok: 0, status: 0, reset: 0, session: 0, hang: 0 };
    const byKind: Partial<Record<FuzzKind, number>> = {};
    const hungCases: string[] = [];
    const first = options.from ?? (Number(process.env["FUZZ_FROM"] ?? "") || 0);
    let next = first;
    let sent = 0;
    const from = Date.now();
    const started = performance.now();
    let lastReport = started;
    // FUZZ_KINDS=a,b sends only the cases of those kinds (the others are skipped, not rebuilt: a seed's bytes stay).
    const kinds = process.env["FUZZ_KINDS"] ? new Set(process.env["FUZZ_KINDS"].split(",")) : undefined;
    const worker = async (session: FuzzSession): Promise<void> => {
      while (crashes.length === 0) {
        const i = next++;
        if (i >= first + total || performance.now() - started > deadlineMs) return;
        const c = caseAt(ctx, i);
        if (kinds !== undefined && !kinds.has(c.kind)) continue;
        byKind[c.kind] = (byKind[c.kind] ?? 0) + 1;
        const frames = c.afterHandshake && !c.ping ? [connFrame, grpcFrame(c)] : [grpcFrame(c)];
        const end = await session.call(c.ping ? PING : GOSSIP_STREAM, frames, c.compressed);
        sent++;
        ends[end]++;
        if (end === "hang" && hungCases.length < 20) hungCases.push(`#${i} ${c.kind}${c.afterHandshake ? " after handshake" : ""}${c.ping ? " to Ping" : ""}`);
        const now = performance.now();
        if (now - lastReport > 10_000) {
          lastReport = now;
          const u = await procUsage(targetWatched.pid() ?? -1);
          const m = await runtimeMemory(target.admin);
          log(`  ${sent} frames, ${(sent / ((now - started) / 1000)).toFixed(0)}/s; target RSS ${((u?.rss ?? 0) / MiB).toFixed(0)} MiB (${m}); ends ${JSON.stringify(ends)}`);
        }
      }
    };
    await Promise.all(sessions.flatMap((s) => Array.from({ length: inflight }, () => worker(s))));
    const seconds = (performance.now() - started) / 1000;
    const to = Date.now();
    await sleep(1_000);
    const peaks = w.peaks.get(target.name)!;
    // Lines over the run and the second after it, at least 10 s (the log limiter allows a first line per cause at once).
    const lines = maxLineRate(w, lines0, Math.max(10, (Date.now() - from) / 1000));
    const totals = w.totals();
    const after = await scrapeMetrics(target.admin);
    const afterUsage = await procUsage(targetWatched.pid() ?? -1);
    await heapSnapshot(targetWatched.pid(), "after", log);
    const rejected = Object.fromEntries(metricDeltaBy(before, after, "fabric_gossip_comm_rejected_total", "code"));
    const p = p99(commits.latencies(from, to));
    const result: FuzzResult = {
      machine: machineLine(),
      mode: defended ? "defended" : "decoder",
      addressesUsed: used.size,
      seed,
      frames: sent,
      seconds: Number(seconds.toFixed(1)),
      rate: Math.round(sent / Math.max(seconds, 0.001)),
      byKind,
      ends,
      hungCases,
      sessionsOpened: sessions.reduce((n, s) => n + s.opened, 0),
      sessionsClosedByPeer: sessions.reduce((n, s) => n + s.closedByPeer, 0),
      crashes: [...crashes],
      healthFailures: totals.healthFailures,
      healthMaxMs: Math.round(totals.healthMax),
      rssBaseMiB: Math.round(rssBase / MiB),
      rssPeakMiB: Math.round(peaks.rss / MiB),
      rssGrowthMiB: Math.round(Math.max(0, peaks.rss - rssBase) / MiB),
      rssAfterMiB: Math.round((afterUsage?.rss ?? 0) / MiB),
      p99Ms: p,
      baseP99Ms: baseP99,
      logLinesPerSecond: lines,
      baseLogLinesPerSecond: baseLines,
      rejected,
      failures: [],
    };
    const f = result.failures;
    if (crashes.length > 0) f.push(`crashed: ${crashes.join("; ")}`);
    if (ends.hang > 0) f.push(`${ends.hang} call(s) hung (left open ${HANG_MS / 1000} s after the frame): ${hungCases.join(", ")}`);
    if (totals.healthFailures > 0) f.push(`/healthz unanswered in 2 s ${totals.healthFailures} time(s)`);
    if (peaks.rss - rssBase >= 2 * DEFAULT_MAX_MESSAGE_SIZE_BYTES) f.push(`target RSS grew by ${result.rssGrowthMiB} MiB (bound: 2 x the 100 MiB message limit)`);
    if (lines > LOG_LINES_PER_SECOND) f.push(`${lines} log lines/s on a peer (bound ${LOG_LINES_PER_SECOND})`);
    // S12: honest block p99 within 1.5 x its baseline while fuzzing runs, for the peer as deployed (the
    // decoder run takes the target's CPU by design; its p99 is printed).
    if (defended && p !== null && baseP99 !== null && p > 1.5 * baseP99) f.push(`honest block p99 ${p} ms over 1.5 x the baseline's ${baseP99} ms`);
    if (!defended && sent < total && crashes.length === 0) f.push(`only ${sent} of ${total} frames sent`);
    log(`  -> ${formatFuzz(result)}`);
    return result;
  } finally {
    for (const s of sessions) s.close();
    w?.stop();
    await net.stop();
  }
}

export function formatFuzz(r: FuzzResult): string {
  return [
    `${r.mode} run, seed ${r.seed}: ${r.frames} frames in ${r.seconds} s (${r.rate}/s) from ${r.addressesUsed} address(es); by kind ${JSON.stringify(r.byKind)}`,
    `calls ended: ${JSON.stringify(r.ends)} (status: the peer ended the call with an error status; reset: it reset the stream); sessions opened ${r.sessionsOpened}, closed by the peer ${r.sessionsClosedByPeer}`,
    `crashes ${r.crashes.length}, hangs ${r.ends.hang}, /healthz unanswered ${r.healthFailures} (slowest ${r.healthMaxMs} ms)`,
    `target RSS ${r.rssBaseMiB} MiB before, peak ${r.rssPeakMiB} MiB (+${r.rssGrowthMiB} MiB, bound < ${(2 * DEFAULT_MAX_MESSAGE_SIZE_BYTES) / MiB} MiB), ${r.rssAfterMiB} MiB after`,
    `honest block p99 ${r.p99Ms ?? "n/a"} ms (baseline ${r.baseP99Ms ?? "n/a"} ms); log lines/s ${r.logLinesPerSecond} (baseline ${r.baseLogLinesPerSecond})`,
    `target rejected: ${Object.entries(r.rejected).map(([k, v]) => `${k} ${v}`).join(", ") || "nothing"}`,
    r.failures.length ? `FAILED: ${r.failures.join("; ")}` : "ok",
  ].join("\n     ");
}

/** For bench/run.ts: the decoder run (FUZZ_FRAMES, default 10^6), then the defended run (FUZZ_DEFENDED_SECONDS, default 60; 0 skips it). */
export async function benchFuzz(): Promise<Record<string, number | string>> {
  const frames = Number(process.env["FUZZ_FRAMES"] ?? "") || 1_000_000;
  const r = await runFuzz({ frames });
  const out: Record<string, number | string> = {
    seed: r.seed,
    "frames sent": r.frames,
    "frames/s": r.rate,
    crashes: r.crashes.length,
    hangs: r.ends.hang,
    "calls ended by the peer with an error status": r.ends.status,
    "streams reset by the peer": r.ends.reset,
    "sessions closed by the peer": r.sessionsClosedByPeer,
    "target RSS growth MiB": r.rssGrowthMiB,
    "honest p99 ms (baseline)": `${r.p99Ms ?? "n/a"} (${r.baseP99Ms ?? "n/a"})`,
    "log lines/s (max peer)": r.logLinesPerSecond,
    result: r.failures.length === 0 ? "ok" : `FAIL: ${r.failures.join("; ")}`,
  };
  const seconds = Number(process.env["FUZZ_DEFENDED_SECONDS"] ?? "60");
  if (seconds > 0) {
    const d = await runFuzz({ defended: true, seconds, seed: r.seed });
    Object.assign(out, {
      "defended: frames sent (addresses)": `${d.frames} (${d.addressesUsed})`,
      "defended: frames decoded (MALFORMED_FRAME)": d.rejected["MALFORMED_FRAME"] ?? 0,
      "defended: crashes, hangs": `${d.crashes.length}, ${d.ends.hang}`,
      "defended: target RSS growth MiB": d.rssGrowthMiB,
      "defended: honest p99 ms (baseline)": `${d.p99Ms ?? "n/a"} (${d.baseP99Ms ?? "n/a"})`,
      "defended: log lines/s (max peer)": d.logLinesPerSecond,
      "defended: result": d.failures.length === 0 ? "ok" : `FAIL: ${d.failures.join("; ")}`,
    });
  }
  return out;
}

/**
 * With FUZZ_HEAP_SNAPSHOTS=1 (and NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2, which the peers inherit), asks
 * the target for a heap snapshot (written into its working folder after a full GC) and waits for it: the live
 * heap before and after fuzzing tells a leak from heap the GC has not given back.
 */
async function heapSnapshot(pid: number | undefined, when: string, log: (line: string) => void): Promise<void> {
  if (process.env["FUZZ_HEAP_SNAPSHOTS"] !== "1" || pid === undefined) return;
  process.kill(pid, "SIGUSR2");
  await sleep(15_000);
  log(`  heap snapshot of the target (pid ${pid}) ${when} fuzzing requested`);
}

/** The target's V8 heap used / reserved and external memory, from its /metrics (what RSS is made of). */
async function runtimeMemory(admin: string | undefined): Promise<string> {
  if (admin === undefined) return "no admin";
  try {
    const { body } = await httpGet(admin, "/metrics", 5_000);
    const value = (name: string): string => {
      const line = body.split("\n").find((l) => l.startsWith(`${name} `));
      return line === undefined ? "?" : (Number(line.slice(name.length + 1)) / MiB).toFixed(0);
    };
    return `heap ${value("nodejs_heap_size_used_bytes")}/${value("nodejs_heap_size_total_bytes")} MiB, external ${value("nodejs_external_memory_bytes")} MiB`;
  } catch {
    return "metrics unanswered";
  }
}

if (isMain(import.meta.url)) await benchFuzz();
