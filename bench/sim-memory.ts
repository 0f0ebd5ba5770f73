/**
 * Simulator memory per peer (issue 5): run N peers (4 orgs, one channel, fast crypto) for a few
 * virtual seconds, then after a full GC print the heap and external memory per peer and per known
 * member, and optionally write a heap snapshot (summarise it with bench/heap-summary.ts).
 *
 *   node --expose-gc --import tsx bench/sim-memory.ts [peers, default 200] [virtual s, default 30] [snapshot file]
 *
 * Needs --expose-gc (it measures after a full collection). Uses one core while it runs.
 */
import { getHeapStatistics, writeHeapSnapshot } from "node:v8";
import { defaultGossipConfig } from "../src/config/index.js";
import { Simulator, simOptions } from "../src/sim/index.js";
import { machineLine, printFigures } from "./stats.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write("run with node --expose-gc --import tsx bench/sim-memory.ts\n");
  process.exit(2);
}
const peers = Number(process.argv[2] ?? "200");
const seconds = Number(process.argv[3] ?? "30");
const snapshot = process.argv[4];
if (!Number.isInteger(peers) || peers < 4) throw new Error(`peers must be an integer >= 4, got ${process.argv[2]}`);
if (!(seconds >= 1)) throw new Error(`virtual seconds must be >= 1, got ${process.argv[3]}`);

function mb(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}

gc();
const base = process.memoryUsage();
const gossip = defaultGossipConfig();
const durationMs = seconds * 1000;
const sim = new Simulator(simOptions({ gossip, peers, orgs: 4, crypto: "fast", blockIntervalMs: 2_000, blocks: Math.max(0, Math.floor((durationMs - 25_000) / 2_000)), durationMs }));
const wall0 = performance.now();
let figures: Record<string, number | string> | undefined;
// Measure in the last step: every peer is still running, and its stores are as full as they get.
sim.onStep((nowMs) => {
  if (nowMs < durationMs || figures !== undefined) return;
  gc();
  gc();
  const m = process.memoryUsage();
  const h = getHeapStatistics();
  let known = 0;
  let running = 0;
  for (const p of sim.peers) {
    const n = p.node?.peers().length;
    if (n === undefined) continue;
    known += n;
    running++;
  }
  const heap = m.heapUsed - base.heapUsed;
  const external = m.external - base.external;
  figures = {
    peers,
    virtual_s: seconds,
    running_peers: running,
    known_members_mean: Math.round(known / Math.max(running, 1)),
    heap_used_mb: mb(m.heapUsed),
    external_mb: mb(m.external),
    array_buffers_mb: mb(m.arrayBuffers),
    rss_mb: mb(m.rss),
    heap_kb_per_peer: Math.round(heap / peers / 1024),
    external_kb_per_peer: Math.round(external / peers / 1024),
    heap_bytes_per_known_member: Math.round(heap / Math.max(known, 1)),
    external_bytes_per_known_member: Math.round(external / Math.max(known, 1)),
    malloced_mb: mb(h.malloced_memory),
    wall_s: Math.round((performance.now() - wall0) / 100) / 10,
  };
  if (snapshot !== undefined) writeHeapSnapshot(snapshot);
});
const { report } = await sim.run();
process.stdout.write(`${machineLine()}\n`);
if (figures === undefined) throw new Error("the run ended before the measurement");
printFigures({ ...figures, trace_hash: report.traceHash, membership_convergence_s: report.membershipConvergenceSeconds ?? "never", peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) });
