/**
 * `npm run bench -- channels`: many channels at steady state (RELIABILITY.md S20), real processes.
 * MANY_PEERS (default 6) development-crypto peers of one org, bootstrapped from the first, each in the
 * same MANY_CHANNELS (default 25) gossip-only channels, run with no blocks; after a warm-up
 * (MANY_WARMUP_S, default 30 s) they are watched for MANY_STEADY_S (default 120 s). Printed:
 * - connection churn: TCP connections between the peers' gossip ports opened after the warm-up (from
 *   /proc/net/tcp, sampled every 500 ms), which should be about 0;
 * - members declared dead in steady state (typed member-dead events from /v1/events, not log text:
 *   Fabric's "Haven't heard from" warning is what precedes them) and members coming back (member-alive);
 * - membership traffic: gossip messages received per peer per second, per channel, against a run of
 *   the same peers in one channel (traffic should grow at most linearly with channels);
 * - CPU per peer (% of a core).
 */
import { readFile } from "node:fs/promises";
import { PeerProcess } from "../src/cli/index.js";
import { freePorts } from "../src/cli/network/index.js";
import { httpGet, procUsage } from "./attacks-kit.js";
import { isMain, machineLine } from "./stats.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ManyChannelsOptions {
  peers?: number;
  channels?: number;
  warmupS?: number;
  steadyS?: number;
  log?: (line: string) => void;
}

export interface ManyChannelsRun {
  peers: number;
  channels: number;
  steadyS: number;
  /** Connections between the peers opened after the warm-up, and those open at its end. */
  connectionsOpened: number;
  connectionsAtWarmup: number;
  memberDead: number;
  memberAlive: number;
  /** gossip_comm_messages_received per peer per second (mean over peers), and per channel. */
  receivedPerPeerPerS: number;
  receivedPerPeerPerSPerChannel: number;
  cpuPercentMean: number;
  cpuPercentMax: number;
  failures: string[];
}

/** Established TCP connections whose ends include one of `ports`, as "lowport-highport" pairs. */
async function establishedBetween(ports: ReadonlySet<number>): Promise<Set<string>> {
  const out = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== "01") continue; // 01: ESTABLISHED
      const local = Number.parseInt(f[1]!.split(":")[1]!, 16);
      const remote = Number.parseInt(f[2]!.split(":")[1]!, 16);
      if (!ports.has(local) && !ports.has(remote)) continue;
      // The connection is seen from both ends: the pair of ports names it once.
      out.add(local < remote ? `${local}-${remote}` : `${remote}-${local}`);
    }
  }
  return out;
}

async function received(admin: string): Promise<number> {
  try {
    const { body } = await httpGet(admin, "/metrics", 5_000);
    const m = /^gossip_comm_messages_received(?:\{[^}]*\})? (\S+)$/m.exec(body);
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

async function eventCounts(admin: string): Promise<Record<string, number>> {
  try {
    const { body } = await httpGet(admin, "/v1/events?since=999999999", 5_000);
    return (JSON.parse(body) as { counts: Record<string, number> }).counts;
  } catch {
    return {};
  }
}

/** One run: `peers` peers in `channels` channels. */
export async function runManyChannels(o: ManyChannelsOptions = {}): Promise<ManyChannelsRun> {
  const n = o.peers ?? 6;
  const channels = o.channels ?? 25;
  const warmupS = o.warmupS ?? 30;
  const steadyS = o.steadyS ?? 120;
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const ports = await freePorts(n);
  const procs: PeerProcess[] = [];
  try {
    const names = Array.from({ length: channels }, (_, i) => `ch${i}`);
    for (let i = 0; i < n; i++) {
      const ep = `127.0.0.1:${ports[i]}`;
      const args = ["peer", "start", "--insecure-dev-crypto", "--org", "DevOrg", "--listen", ep, "--external", ep, "--admin", "127.0.0.1:0"];
      for (const c of names) args.push("--channel", c);
      if (i > 0) args.push("--bootstrap", `127.0.0.1:${ports[0]}`);
      procs.push(new PeerProcess(`peer${i}`, args));
    }
    const readies = await Promise.all(procs.map((p) => p.event("ready", 60_000)));
    const admins = readies.map((r) => String(r["admin"]));
    const portSet = new Set(ports);
    log(`${n} peers in ${channels} channel(s) up; warm-up ${warmupS} s`);
    await sleep(warmupS * 1000);
    const atWarmup = await establishedBetween(portSet);
    const seen = new Set(atWarmup);
    const events0 = await Promise.all(admins.map(eventCounts));
    const recv0 = await Promise.all(admins.map(received));
    const cpu0 = await Promise.all(procs.map((p) => procUsage(p.child.pid ?? -1)));
    const t0 = performance.now();
    let opened = 0;
    while (performance.now() - t0 < steadyS * 1000) {
      await sleep(500);
      for (const c of await establishedBetween(portSet)) {
        if (seen.has(c)) continue;
        seen.add(c);
        opened++;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const events1 = await Promise.all(admins.map(eventCounts));
    const recv1 = await Promise.all(admins.map(received));
    const cpu1 = await Promise.all(procs.map((p) => procUsage(p.child.pid ?? -1)));
    const delta = (k: string): number => events1.reduce((s, e, i) => s + (e[k] ?? 0) - (events0[i]?.[k] ?? 0), 0);
    const perPeer = recv1.map((r, i) => (r - recv0[i]!) / seconds);
    const cpu = cpu1.map((u, i) => (u === undefined || cpu0[i] === undefined ? 0 : ((u.cpuS - cpu0[i]!.cpuS) / seconds) * 100));
    const exited = procs.filter((p) => p.child.exitCode !== null).map((p) => p.name);
    const run: ManyChannelsRun = {
      peers: n,
      channels,
      steadyS: Math.round(seconds),
      connectionsOpened: opened,
      connectionsAtWarmup: atWarmup.size,
      memberDead: delta("member-dead"),
      memberAlive: delta("member-alive"),
      receivedPerPeerPerS: Math.round(perPeer.reduce((a, b) => a + b, 0) / n),
      receivedPerPeerPerSPerChannel: Number((perPeer.reduce((a, b) => a + b, 0) / n / channels).toFixed(1)),
      cpuPercentMean: Math.round(cpu.reduce((a, b) => a + b, 0) / n),
      cpuPercentMax: Math.round(Math.max(...cpu)),
      failures: [],
    };
    if (exited.length > 0) run.failures.push(`exited: ${exited.join(", ")}`);
    if (run.memberDead > 0) run.failures.push(`${run.memberDead} member(s) declared dead in steady state`);
    if (run.connectionsOpened > 0) run.failures.push(`${run.connectionsOpened} connection(s) opened in steady state`);
    log(`  -> ${formatRun(run)}`);
    return run;
  } finally {
    await Promise.all(procs.map((p) => p.stop(10_000)));
  }
}

export function formatRun(r: ManyChannelsRun): string {
  return `${r.peers} peers x ${r.channels} channel(s), ${r.steadyS} s steady: connections at warm-up end ${r.connectionsAtWarmup}, opened since ${r.connectionsOpened}; member-dead ${r.memberDead}, member-alive ${r.memberAlive}; messages received ${r.receivedPerPeerPerS}/s per peer (${r.receivedPerPeerPerSPerChannel}/s per channel); CPU per peer mean ${r.cpuPercentMean} %, max ${r.cpuPercentMax} %${r.failures.length ? `; FAILED: ${r.failures.join("; ")}` : ""}`;
}

/** For bench/run.ts: one channel, then MANY_CHANNELS, the same peers and durations. */
export async function benchManyChannels(): Promise<Record<string, number | string>> {
  const env = (k: string, d: number): number => Number(process.env[k] ?? "") || d;
  const o = { peers: env("MANY_PEERS", 6), warmupS: env("MANY_WARMUP_S", 30), steadyS: env("MANY_STEADY_S", 120) };
  const one = await runManyChannels({ ...o, channels: 1 });
  const many = await runManyChannels({ ...o, channels: env("MANY_CHANNELS", 25) });
  return {
    machine: machineLine(),
    "1 channel": formatRun(one),
    [`${many.channels} channels`]: formatRun(many),
    "traffic growth (messages/s per peer, many / one)": `${(many.receivedPerPeerPerS / Math.max(one.receivedPerPeerPerS, 1)).toFixed(1)}x for ${many.channels}x the channels`,
    result: [...one.failures, ...many.failures].join("; ") || "ok",
  };
}

if (isMain(import.meta.url)) await benchManyChannels();
