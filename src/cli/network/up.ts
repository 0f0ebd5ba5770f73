import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage, raceAbort } from "../../util/index.js";
import { NetworkDashboard } from "./dashboard.js";
import { NetworkError } from "./errors.js";
import type { FeederStats } from "./feeder.js";
import { COLL_BOTH, COLL_ORG1, PVT_CHAINCODE } from "./feeder-sources.js";
import { LocalNetwork, logFileName, type NetworkEvent, type PeerStatus } from "./local-network.js";
import { fetchPvtDataSummary, type PrivateDataOutcome, privateDataOutcome } from "./pvt-outcome.js";
import { RateMeter } from "./rate.js";
import { LiveView, type PeerRow, renderView, type ViewOutput } from "./view.js";

/** `network up` defaults: 50 tx/s of 1 KiB with blocks of 10 make 5 blocks a second. */
export const DEFAULT_TX_RATE = 50;
export const DEFAULT_TX_SIZE = 1024;
export const DEFAULT_BATCH_SIZE = 10;
export const DEFAULT_BATCH_TIMEOUT = "2s";
/** Deadline of each waiting phase (processes ready, leaders elected, every peer at the final height). */
export const DEFAULT_PHASE_TIMEOUT_MS = 120_000;
/** How often the live view is redrawn on a terminal. */
const VIEW_INTERVAL_MS = 1_000;
/** How often a frame is printed when stdout is not a terminal, and a progress line in --json mode. */
const PLAIN_INTERVAL_MS = 5_000;
/** `network up`'s own log in the logs folder: the processes it started (pids), for supervisors. */
export const NETWORK_LOG = "network.log";
/** Exit codes after a signal, as a shell reports them (128 + signal number). */
const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/** The checked options of `network up`. */
export interface NetworkUpOptions {
  orgs: number;
  peersPerOrg: number;
  channel: string;
  tls: boolean;
  /** Transactions per second fed to the orderer. */
  txRate: number;
  /** Payload bytes per transaction. */
  txSize: number;
  /** Stop after the orderer cut this many blocks after genesis and every peer has them. */
  blocks?: number;
  /** Or: feed this many seconds, then finish the same way. */
  seconds?: number;
  dir?: string;
  json: boolean;
  basePort?: number;
  batchSize: number;
  /** Fabric duration text, passed to the orderer. */
  batchTimeout: string;
  batchTimeoutMs: number;
  phaseTimeoutMs: number;
  /** Define chaincode pvtcc with two collections first, then write private data with every transaction. */
  privateData?: boolean;
  /** Serve the network's dashboard on this "host:port" (port 0: a free one); none when absent. */
  dashboard?: string;
}

/** Where `network up` writes. */
export interface NetworkUpIo {
  stdout: ViewOutput;
  stderr: ViewOutput;
}

/** One peer in the JSON result (the first five keys are the contract). */
export interface PeerResult {
  id: string;
  org: string;
  height: number | null;
  lastBlockHash: string | null;
  leader: boolean;
  endpoint: string;
  admin: string | null;
  members: number | null;
  error?: string;
}

/** The JSON `network up --json` prints (peers, blocks, seconds, commitLatencyMs are the contract). */
export interface NetworkUpResult {
  peers: PeerResult[];
  blocks: number;
  seconds: number;
  commitLatencyMs: { p50: number | null; p99: number | null; max: number | null; count: number };
  /** blocks / seconds. */
  blocksPerSecond: number;
  sameChain: boolean;
  orderer: { endpoint: string; height: number; lastBlockHash: string | null };
  channel: string;
  tls: boolean;
  orgs: number;
  peersPerOrg: number;
  txRate: number;
  txSize: number;
  batchSize: number;
  /** `failed`: transactions never sent because they could not be made (their private data not distributed). */
  txs: { sent: number; succeeded: number; rejected: number; lost: number; failed: number };
  /** With --private-data: the chaincode's collections and the private write sets handed over for distribution. */
  privateDataFed?: { chaincode: string; collections: string[]; written: Record<string, number>; unsent: Record<string, number>; distributionFailed: number };
  /** With --private-data: what the peers hold of it at the end, from their admin endpoints (see pvt-outcome.ts). */
  privateData?: PrivateDataOutcome;
  dir?: string;
  error?: string;
  /** The dashboard's "host:port", when it was served. */
  dashboard?: string;
}

/** Why the run ended early. */
class Interrupted extends Error {
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
  }
}

/**
 * Resolves when `check()` holds, re-checked on every network event; rejects when `signal` aborts
 * (with its reason) or after `timeoutMs` with `onTimeout()`'s error.
 */
function until(net: LocalNetwork, check: () => boolean, signal: AbortSignal, timeoutMs: number, onTimeout: () => Error): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: unknown): void => {
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener("abort", onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onAbort = (): void => done(signal.reason);
    const timer = setTimeout(() => done(onTimeout()), timeoutMs);
    const unsubscribe = net.onEvent(() => {
      if (check()) done();
    });
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return raceAbort(
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      signal.addEventListener("abort", () => clearTimeout(t), { once: true });
    }),
    signal,
  );
}

/** The live view's state between frames: admin answers and rate meters. */
class ViewState {
  readonly status = new Map<string, PeerStatus>();
  readonly peerRates = new Map<string, RateMeter>();
  readonly ordererRate = new RateMeter();
  readonly notes: string[] = [];
  polling = false;
}

/**
 * `fabric-gossip network up`: a local Fabric-like network (orderer and peers as processes on
 * 127.0.0.1), fed transactions, with a live view; with --blocks or --seconds it stops on its own
 * and reports whether every peer holds the orderer's chain. Returns the exit code.
 */
export async function runNetworkUp(o: NetworkUpOptions, io: NetworkUpIo): Promise<number> {
  const progress = o.json ? io.stderr : io.stdout;
  const say = (line: string): void => {
    progress.write(`${line}\n`);
  };
  const net = new LocalNetwork({
    orgs: o.orgs,
    peersPerOrg: o.peersPerOrg,
    channel: o.channel,
    tls: o.tls,
    batchSize: o.batchSize,
    batchTimeout: o.batchTimeout,
    readyTimeoutMs: o.phaseTimeoutMs,
    handleSignals: false,
    ...(o.dir !== undefined ? { dir: o.dir } : {}),
    ...(o.basePort !== undefined ? { basePort: o.basePort } : {}),
  });

  // One abort for everything that ends the run early: a signal, or a process that died.
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (!ac.signal.aborted) ac.abort(new Interrupted(sig));
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, onSignal);
  const state = new ViewState();
  const unsubscribe = net.onEvent((e: NetworkEvent) => {
    if (e.type !== "exit" || e.expected) return;
    const why = `${e.name} exited unexpectedly (code ${e.code}, signal ${e.signal})${e.stderr.length ? `; its last stderr lines:\n  ${e.stderr.slice(-6).join("\n  ")}` : ""}`;
    state.notes.push(why.split("\n")[0]!);
    // Without the orderer nothing moves; a bounded run cannot end well without every peer.
    const fatal = e.name === net.orderer.name || o.blocks !== undefined || o.seconds !== undefined;
    if (fatal && !ac.signal.aborted) ac.abort(new NetworkError("START_FAILED", why));
  });

  const started = Date.now();
  let ticker: NodeJS.Timeout | undefined;
  let view: LiveView | undefined;
  let result: NetworkUpResult | undefined;
  let code = 1;
  let dashboard: NetworkDashboard | undefined;
  try {
    say(`fabric-gossip network up: ${plural(o.orgs, "org")} x ${plural(o.peersPerOrg, "peer")}, channel ${o.channel}, ${o.tls ? "mutual TLS" : "plaintext"}; generating crypto and starting processes`);
    dashboard = await startDashboard(net, o, state);
    if (dashboard !== undefined) say(`dashboard: http://${dashboard.address}/`);
    await raceAbort(net.start(), ac.signal);
    // For supervisors and tests: every process started, as one JSON line in the network's log, and on stderr
    // when that is read by a program (a pipe, a file); on a terminal it would only sit above the live view.
    const processes = `${JSON.stringify({ event: "processes", dir: net.dir, logs: net.logDir, processes: net.pids() })}\n`;
    await appendFile(join(net.logDir, NETWORK_LOG), processes).catch(() => undefined);
    if (io.stderr.isTTY !== true) io.stderr.write(processes);
    say(`orderer ${net.orderer.endpoint} and ${net.peers.length} peers ready in ${((Date.now() - started) / 1000).toFixed(1)} s (network folder ${net.dir}); electing leaders`);
    say(`logs of every process: ${net.logDir}/ (${logFileName(net.orderer.name)}, ${net.peers[0] ? logFileName(net.peers[0].name) : ""}, ...)${o.dir === undefined ? "; removed at exit with the temporary folder, give --dir to keep them" : ""}`);

    // The live view runs from here on.
    const tty = !o.json && io.stdout.isTTY === true;
    view = o.json ? undefined : new LiveView(io.stdout, tty);
    let lastPlain = 0;
    const frame = (force = false): void => {
      const now = Date.now();
      for (const p of net.peers) {
        let r = state.peerRates.get(p.name);
        if (r === undefined) {
          r = new RateMeter();
          state.peerRates.set(p.name, r);
        }
        r.sample(now, p.height);
      }
      state.ordererRate.sample(now, net.orderer.height);
      if (!tty && !force && now - lastPlain < PLAIN_INTERVAL_MS) return;
      lastPlain = now;
      if (view !== undefined) view.show(renderView({ ...viewModel(net, o, state, started), ...(dashboard !== undefined ? { dashboard: dashboard.address } : {}) }));
      else say(progressLine(net, state, started));
    };
    const tick = (): void => {
      ticker = setTimeout(tick, VIEW_INTERVAL_MS);
      if (!state.polling) {
        state.polling = true;
        void net
          .channelStatus(VIEW_INTERVAL_MS)
          .then((list) => {
            for (const s of list) state.status.set(s.peer, s);
          })
          .catch(() => undefined)
          .finally(() => {
            state.polling = false;
          });
      }
      frame();
    };
    tick();

    const leaders = await raceAbort(net.waitForLeaders(o.phaseTimeoutMs), ac.signal);
    const leaderText = [...leaders].map(([org, names]) => `${org}: ${names.join(", ")}`).join("; ");
    if (!tty) say(`leaders after ${((Date.now() - started) / 1000).toFixed(1)} s: ${leaderText}; feeding ${o.txRate} tx/s of ${o.txSize} B`);

    let lastCommit = 0;
    net.onEvent((e) => {
      if (e.type === "commit" && e.time > lastCommit) lastCommit = e.time;
    });
    const feedStart = Date.now();
    // With --blocks, exactly N full blocks of transactions: the orderer cuts them by size, with no
    // partial last block waiting for the batch timeout (a slow rate cuts more, smaller blocks).
    const limit = o.blocks === undefined ? undefined : o.blocks * o.batchSize;
    await raceAbort(
      net.startFeeding({ rate: o.txRate, size: o.txSize, ...(limit !== undefined ? { limit } : {}), ...(o.privateData === true ? { privateData: true } : {}) }),
      ac.signal,
    );

    if (o.blocks !== undefined) {
      const target = o.blocks + 1;
      // Feeding at rate r with blocks of b transactions cuts about r/b blocks a second; allow plenty more.
      const expectMs = (o.blocks * o.batchSize * 1000) / o.txRate;
      await until(net, () => net.orderer.height >= target || net.feedingDone(), ac.signal, o.phaseTimeoutMs + 3 * expectMs, () =>
        new NetworkError("TIMEOUT", `the orderer cut ${net.orderer.height - 1} of ${o.blocks} blocks in time; feeder: ${feedText(net.feederStats())}`),
      );
    } else if (o.seconds !== undefined) {
      await sleep(o.seconds * 1000, ac.signal);
    } else {
      // Until a signal (or a dead orderer) ends it.
      await new Promise<never>((_, reject) => ac.signal.addEventListener("abort", () => reject(ac.signal.reason), { once: true }));
    }

    // Finish: stop feeding, let the orderer cut what it acknowledged, wait for every peer to have it all.
    const fed = (await raceAbort(net.stopFeeding(), ac.signal)) ?? { sent: 0, succeeded: 0, rejected: 0, lost: 0, failed: 0, lastError: undefined };
    await until(net, () => net.orderer.txs >= fed.succeeded, ac.signal, o.batchTimeoutMs + 30_000, () =>
      new NetworkError("TIMEOUT", `the orderer acknowledged ${fed.succeeded} transactions but put only ${net.orderer.txs} in blocks`),
    );
    const finalHeight = net.orderer.height;
    say(`the orderer has ${finalHeight - 1} blocks after genesis (${net.orderer.txs} txs); waiting for every peer to commit them`);
    let waitError: string | undefined;
    try {
      await raceAbort(net.waitForHeight(finalHeight, undefined, o.phaseTimeoutMs), ac.signal);
    } catch (err) {
      if (err instanceof Interrupted) throw err;
      waitError = errorMessage(err);
    }
    const statuses = await net.channelStatus();
    // Read while every peer still runs: what each holds of the private data, before the processes stop.
    const privateData = o.privateData === true ? await collectPrivateData(net, o) : undefined;
    result = buildResult(net, o, statuses, fed, (lastCommit - feedStart) / 1000, waitError);
    if (privateData !== undefined) result.privateData = privateData;
    if (dashboard !== undefined) result.dashboard = dashboard.address;
    if (ticker !== undefined) clearTimeout(ticker);
    ticker = undefined;
    if (view !== undefined) {
      frame(true);
      view.release();
    }
    code = result.sameChain ? 0 : 1;
  } catch (err) {
    if (ticker !== undefined) clearTimeout(ticker);
    ticker = undefined;
    view?.release();
    if (err instanceof Interrupted) {
      code = SIGNAL_EXIT[err.signal] ?? 130;
      io.stderr.write(`network up: ${err.message}; stopping every process\n`);
    } else {
      io.stderr.write(`network up failed: ${errorMessage(err)}\n`);
      code = 1;
    }
  } finally {
    if (ticker !== undefined) clearTimeout(ticker);
    unsubscribe();
    await dashboard?.stop();
    await net.stop();
    for (const s of signals) process.off(s, onSignal);
  }
  if (result !== undefined) {
    if (o.json) io.stdout.write(`${JSON.stringify(result)}\n`);
    else io.stdout.write(`${summaryText(result)}\n`);
    if (!result.sameChain) io.stderr.write(`network up: the peers do not hold the same chain: ${result.error ?? "heights or hashes differ"}\n`);
  }
  return code;
}

/** The network's dashboard on o.dashboard, fed by the network and the live view's polls; none without the flag. */
async function startDashboard(net: LocalNetwork, o: NetworkUpOptions, state: ViewState): Promise<NetworkDashboard | undefined> {
  if (o.dashboard === undefined) return undefined;
  const dashboard = new NetworkDashboard(o.dashboard, {
    title: `fabric-gossip network up: ${plural(o.orgs, "org")} x ${plural(o.peersPerOrg, "peer")}, channel ${o.channel}, ${o.tls ? "mutual TLS" : "plaintext"}`,
    channel: o.channel,
    peers: () => net.peers,
    orderer: () => (net.peers.length > 0 ? net.orderer : undefined),
    commitLatency: () => net.commitLatency(),
    status: () => state.status,
  });
  await dashboard.start();
  return dashboard;
}

function feedText(s: FeederStats | undefined): string {
  if (s === undefined) return "not started";
  return `${s.sent} sent, ${s.succeeded} accepted, ${s.rejected} refused, ${s.lost} lost${s.failed > 0 ? `, ${s.failed} not made` : ""}${s.lastError ? ` (last error: ${s.lastError})` : ""}`;
}

function buildResult(net: LocalNetwork, o: NetworkUpOptions, statuses: readonly PeerStatus[], fed: FeederStats, seconds: number, waitError: string | undefined): NetworkUpResult {
  const ord = net.orderer;
  const peers: PeerResult[] = net.peers.map((p) => {
    const s = statuses.find((x) => x.peer === p.name);
    const st = s?.status;
    return {
      id: p.name,
      org: p.org,
      height: st?.height ?? null,
      lastBlockHash: st?.lastBlockHash ?? null,
      leader: st?.leader ?? p.leader,
      endpoint: p.endpoint,
      admin: p.admin ?? null,
      members: st?.members ?? null,
      ...(s?.error !== undefined ? { error: s.error } : {}),
    };
  });
  const problems: string[] = [];
  if (waitError !== undefined) problems.push(waitError);
  for (const p of peers) {
    if (p.height === null) problems.push(`${p.id}: no status (${p.error ?? "unknown"})`);
    else if (p.height !== ord.height) problems.push(`${p.id}: height ${p.height}, the orderer's is ${ord.height}`);
    else if (ord.lastBlockHash !== undefined && p.lastBlockHash !== ord.lastBlockHash) {
      problems.push(`${p.id}: last block hash ${p.lastBlockHash}, the orderer's is ${ord.lastBlockHash}`);
    }
  }
  const hashes = new Set(peers.map((p) => p.lastBlockHash));
  if (hashes.size > 1 && problems.length === 0) problems.push(`the peers' last block hashes differ: ${[...hashes].join(", ")}`);
  if (ord.lastBlockHash === undefined) problems.push("the orderer reported no block after genesis");
  const heights = peers.map((p) => p.height ?? 1);
  const lat = net.commitLatency();
  const round = (v: number | null): number | null => (v === null ? null : Math.round(v * 10) / 10);
  const blocks = Math.max(0, Math.min(...heights, ord.height) - 1);
  const secs = Math.round(Math.max(0, seconds) * 1000) / 1000;
  return {
    peers,
    blocks,
    seconds: secs,
    commitLatencyMs: { p50: round(lat.p50), p99: round(lat.p99), max: round(lat.max), count: lat.count },
    blocksPerSecond: secs > 0 ? Math.round((blocks / secs) * 100) / 100 : 0,
    sameChain: problems.length === 0,
    orderer: { endpoint: ord.endpoint, height: ord.height, lastBlockHash: ord.lastBlockHash ?? null },
    channel: o.channel,
    tls: o.tls,
    orgs: o.orgs,
    peersPerOrg: o.peersPerOrg,
    txRate: o.txRate,
    txSize: o.txSize,
    batchSize: o.batchSize,
    txs: { sent: fed.sent, succeeded: fed.succeeded, rejected: fed.rejected, lost: fed.lost, failed: fed.failed },
    ...privateDataFedOf(net),
    ...(o.dir !== undefined ? { dir: net.dir } : {}),
    ...(problems.length > 0 ? { error: problems.join("; ") } : {}),
  };
}

/** Every peer's private-data summary, counted against the feeder's collections (see `privateDataOutcome`). */
async function collectPrivateData(net: LocalNetwork, o: NetworkUpOptions): Promise<PrivateDataOutcome | undefined> {
  const fed = net.privateDataStats();
  if (fed === undefined) return undefined;
  const peers = await Promise.all(
    net.peers.map(async (p) => {
      const peer = { name: p.name, org: p.org, admin: p.admin };
      if (p.admin === undefined || p.state !== "running") return { peer, summary: undefined, error: `peer is ${p.state}` };
      try {
        return { peer, summary: await fetchPvtDataSummary(p.admin, o.channel) };
      } catch (err) {
        return { peer, summary: undefined, error: errorMessage(err) };
      }
    }),
  );
  const mspIds = [...new Set(net.peers.map((p) => p.org))];
  // What went to the orderer: write sets of transactions made but never sent are not expected anywhere.
  const sent = Object.fromEntries(Object.entries(fed.written).map(([c, n]) => [c, n - (fed.unsent[c] ?? 0)]));
  return privateDataOutcome({ mspIds, peersPerOrg: o.peersPerOrg }, sent, peers);
}

function privateDataFedOf(net: LocalNetwork): Pick<NetworkUpResult, "privateDataFed"> {
  const s = net.privateDataStats();
  if (s === undefined) return {};
  return {
    privateDataFed: { chaincode: PVT_CHAINCODE, collections: [COLL_ORG1, COLL_BOTH], written: s.written, unsent: s.unsent, distributionFailed: s.distributionFailed },
  };
}

function viewModel(net: LocalNetwork, o: NetworkUpOptions, state: ViewState, started: number): Parameters<typeof renderView>[0] {
  const feed = net.feederStats();
  const peers: PeerRow[] = net.peers.map((p) => {
    const st = state.status.get(p.name)?.status;
    return {
      name: p.name,
      org: p.org,
      state: p.state,
      leader: p.leader,
      height: p.height,
      members: p.state === "running" ? st?.members : undefined,
      blocksPerSecond: state.peerRates.get(p.name)?.perSecond() ?? 0,
      admin: p.admin,
    };
  });
  return {
    title: `fabric-gossip network up: ${plural(o.orgs, "org")} x ${plural(o.peersPerOrg, "peer")}, channel ${o.channel}, ${o.tls ? "mutual TLS" : "plaintext"}`,
    elapsedSeconds: (Date.now() - started) / 1000,
    orderer: { endpoint: net.orderer.endpoint, height: net.orderer.height, blocksPerSecond: state.ordererRate.perSecond(), txs: net.orderer.txs },
    feeding: feed === undefined ? "not feeding yet: electing leaders" : `${o.txRate} tx/s of ${o.txSize} B: ${feedText(feed)}`,
    peers,
    maxMembers: net.peers.length - 1,
    latency: net.commitLatency(),
    notes: state.notes.slice(-5),
  };
}

/** One line of progress (stderr in --json mode). */
function progressLine(net: LocalNetwork, state: ViewState, started: number): string {
  const heights = net.peers.map((p) => p.height);
  const leaders = [...net.leaders()].map(([org, names]) => `${org}=${names.length ? names.join("+") : "-"}`).join(" ");
  const l = net.commitLatency();
  return `[${((Date.now() - started) / 1000).toFixed(0)} s] orderer height ${net.orderer.height} (${state.ordererRate.perSecond().toFixed(1)} blocks/s); peers ${Math.min(...heights)}..${Math.max(...heights)}; leaders ${leaders}; commit p50 ${l.p50 === null ? "-" : Math.round(l.p50)} ms`;
}

function summaryText(r: NetworkUpResult): string {
  const lat = r.commitLatencyMs;
  const head = r.sameChain
    ? `every peer (${r.peers.length}) holds the orderer's chain: ${r.blocks} blocks after genesis, last block ${r.orderer.lastBlockHash?.slice(0, 16)}...`
    : `the peers do NOT hold the same chain: ${r.error ?? ""}`;
  const text = `${head}\n${r.txs.succeeded} transactions in ${r.seconds} s from the first transaction to the last commit; commit latency p50 ${lat.p50} ms, p99 ${lat.p99} ms, max ${lat.max} ms (${lat.count} commits)`;
  const pd = r.privateData;
  if (pd === undefined) return text;
  const perColl = pd.collections.map((c) => {
    const committed = Object.values(pd.committed).map((m) => m[c] ?? 0);
    const missing = Object.values(pd.missing).reduce((sum, m) => sum + (m[c] ?? 0), 0);
    const range = committed.length === 0 ? "-" : `${Math.min(...committed)}..${Math.max(...committed)}`;
    return `${c}: ${pd.written[c] ?? 0} written, committed ${range} per eligible peer, ${missing} missing, ${pd.purged[c] ?? 0} purged everywhere`;
  });
  return `${text}\nprivate data: ${perColl.join("; ")}; ${pd.leaked} leaked${pd.errors !== undefined ? ` (unread: ${pd.errors.join("; ")})` : ""}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
