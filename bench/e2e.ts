/**
 * End to end (issue 4): the local network of processes, 2 orgs x 3 peers, mutual TLS, an ordering
 * service, dynamic leader election and state transfer. For 10 KB and 1 MB blocks (one transaction
 * per block, so the block size is known): blocks committed per second by every peer, latency from
 * the orderer cutting a block to the last peer committing it (p50/p99/max), and CPU seconds each peer
 * process spends per block (user + system, from /proc, over the measured window).
 */
import { readFile } from "node:fs/promises";
import { LocalNetwork, type NetworkEvent } from "../src/cli/network/index.js";
import { isMain, printFigures } from "./stats.js";

const CLOCK_TICKS_PER_SECOND = 100; // Linux USER_HZ

interface Scenario {
  name: string;
  blockBytes: number;
  blocks: number;
  /** Blocks (= transactions) per second offered to the orderer. */
  rate: number;
}

const SCENARIOS: readonly Scenario[] = [
  { name: "10KB", blockBytes: 10 * 1024, blocks: 400, rate: 100 },
  // Offered well above what two cores sustain for six peers: the committed rate is the ceiling.
  { name: "10KB-saturated", blockBytes: 10 * 1024, blocks: 1200, rate: 400 },
  { name: "1MB", blockBytes: 1024 * 1024, blocks: 40, rate: 8 },
];

/** CPU seconds (user + system) a process has used, or undefined when /proc has no such pid. */
async function cpuSeconds(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function runScenario(s: Scenario): Promise<Record<string, number>> {
  const net = new LocalNetwork({
    orgs: 2,
    peersPerOrg: 3,
    tls: true,
    batchSize: 1,
    batchTimeout: "100ms",
    maxBlockBytes: Math.max(2 * s.blockBytes, 1024 * 1024),
    // A quicker first election than Fabric's 15 s grace; nothing else differs from Fabric's defaults.
    env: { CORE_PEER_GOSSIP_ELECTION_STARTUPGRACEPERIOD: "5s" },
    handleSignals: true,
  });
  const cut = new Map<number, number>();
  const lastCommit = new Map<number, { count: number; time: number }>();
  const peers = 6;
  const onEvent = (e: NetworkEvent): void => {
    if (e.type === "block") cut.set(e.number, e.time);
    else if (e.type === "commit") {
      const c = lastCommit.get(e.number) ?? { count: 0, time: 0 };
      c.count++;
      c.time = Math.max(c.time, e.time);
      lastCommit.set(e.number, c);
    }
  };
  try {
    await net.start();
    net.onEvent(onEvent);
    await net.waitForLeaders(60_000);
    const pids = net.pids().filter((p) => net.peers.some((q) => q.name === p.name));
    const cpuBefore = await Promise.all(pids.map((p) => cpuSeconds(p.pid)));
    const startHeight = net.orderer.height;
    const started = Date.now();
    await net.startFeeding({ rate: s.rate, size: s.blockBytes, limit: s.blocks });
    const target = startHeight + s.blocks;
    await net.waitForHeight(target, undefined, 600_000);
    const elapsedS = (Date.now() - started) / 1000;
    await net.stopFeeding();
    const cpuAfter = await Promise.all(pids.map((p) => cpuSeconds(p.pid)));

    const latencies: number[] = [];
    for (let n = startHeight; n < target; n++) {
      const c = lastCommit.get(n);
      const t = cut.get(n);
      if (c !== undefined && t !== undefined && c.count >= peers) latencies.push(c.time - t);
    }
    latencies.sort((a, b) => a - b);
    const cpuPerBlock = pids
      .map((_, i) => (cpuAfter[i] ?? Number.NaN) - (cpuBefore[i] ?? Number.NaN))
      .map((cpu) => cpu / s.blocks)
      .sort((a, b) => a - b);
    const statuses = await net.channelStatus();
    const hashes = new Set(statuses.map((st) => st.status?.lastBlockHash));
    if (hashes.size !== 1) throw new Error(`${s.name}: peers disagree on the last block (${[...hashes].join(", ")})`);
    return {
      [`${s.name} blocks measured`]: latencies.length,
      [`${s.name} offered blocks/s`]: s.rate,
      [`${s.name} blocks/s committed by every peer`]: Number((s.blocks / elapsedS).toFixed(1)),
      [`${s.name} cut -> last peer commit p50 ms`]: percentile(latencies, 50),
      [`${s.name} cut -> last peer commit p99 ms`]: percentile(latencies, 99),
      [`${s.name} cut -> last peer commit max ms`]: latencies.at(-1) ?? Number.NaN,
      [`${s.name} CPU ms per block per peer (median)`]: Number((percentile(cpuPerBlock, 50) * 1000).toFixed(2)),
      [`${s.name} CPU ms per block per peer (max)`]: Number(((cpuPerBlock.at(-1) ?? Number.NaN) * 1000).toFixed(2)),
    };
  } finally {
    await net.stop();
  }
}

/** Both scenarios, one network each. */
export async function benchE2e(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of SCENARIOS) Object.assign(out, await runScenario(s));
  return out;
}

if (isMain(import.meta.url)) printFigures(await benchE2e());
