/**
 * `npm run bench -- partitions`: RELIABILITY.md S3, partition and heal, between real peer processes, each in a network
 * namespace of its own (test/utils/netns.ts; Linux, as root): 3 orgs x 2 peers with MSP identities and an ordering
 * service that every peer reaches whatever the partition, with the compressed timers of test/utils/peer-cluster
 * (A = R = P = 1 s, E = 4 s, leaderAliveThreshold L = 2 s). Packets across a partition are silently lost.
 *
 * Each partition is held PARTITION_HOLD_S seconds (default 30, S3's shortest) while transactions flow, then healed:
 * - `orgs`: {Org1, Org2} | {Org3};
 * - `org`: one org split: {Org1's peer0, Org2} | {Org1's peer1, Org3};
 * - `alone`: Org1's leader cut off from everyone (Fabric's TestPeerIsolation: it must not stay isolated after).
 * Per partition it prints how long until every view holds exactly its own side (S3's bound E + E/10 + 1 s), the
 * samples in which an org's side had other than one leader, and after healing how long until every view is exact
 * (R + A + P, hard fail at 2R + 2A), until each org has one leader (2L), and whether every peer then holds the
 * orderer's height with each block committed exactly once and the same hash everywhere.
 *
 * Asked for (`--kinds loss,latency`, or PARTITION_KINDS with `npm run bench -- partitions`; they need nftables):
 * - `loss` (S5 with real packet loss): a baseline, then frames between hosts dropped at random, PARTITION_LOSS
 *   percent in turn (default 1,5,10,20);
 * - `latency` (S6): every link delayed through relays in the hub (test/utils/delay-relay.ts), a baseline with no
 *   delay, then PARTITION_RTT round trips in turn (default 50,200,500 ms, a tenth as jitter), then one slow link
 *   of 2 s each way.
 * Each phase is held while transactions flow; it prints members declared dead (all are false deaths), samples
 * with a view off, how long after its first commit each block reached each other peer (p50/p99), handshake
 * timeouts, and whether every block then reached every peer once.
 *
 * The run needs a network namespace of its own, so the bench starts itself again through `unshare --net`
 * (`runPartitions` runs inside it; test/e2e/partitions.test.ts runs a short version the same way, with `--json`).
 * PARTITION_SEED picks which pairs `resets` resets (default 1). PARTITION_LOG_DIR keeps each peer's output in
 * `<name>.log` there (FABRIC_LOGGING_SPEC sets the level).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SeededRandom } from "../src/util/index.js";
import { freePort } from "../test/utils/net.js";
import { inHub, type LabHost, NetLab, netLabFiltersUnavailable, netLabUnavailable, ORDERER_ADDRESS, runInHub } from "../test/utils/netns.js";
import {
  blocksFlow,
  CLUSTER_ENV,
  CLUSTER_TIMERS,
  type Cluster,
  type ClusterPeer,
  diffFromTruth,
  ELECTION_MS,
  leadersByOrg,
  metricTotal,
  startCluster,
  untilOneLeaderPerOrg,
  untilViewsMatch,
  viewsMatchTruth,
} from "../test/utils/peer-cluster.js";
import { isMain, machineLine, quantile } from "./stats.js";

const ORGS = 3;
const PEERS_PER_ORG = 2;
const CHANNEL = "partitionchannel";
const POLL_MS = 200;
/** pullInterval of the cluster's timers (FAST_GOSSIP_ENV). */
const PULL_MS = 1_000;
const E = CLUSTER_TIMERS.aliveExpirationMs;
const A = CLUSTER_TIMERS.aliveMs;
const R = CLUSTER_TIMERS.reconnectMs;
/** S3: each side drops the other within E + E/10 + 1 s. */
export const DROP_BOUND_MS = E + E / 10 + 1_000;
/**
 * The protocol does not keep to that: a side learns a member's newest alive message (sent just before the split)
 * second-hand, in a membership response, and takes it as news of the member then (Fabric's lastSeen is when a newer
 * alive message arrives, whoever relays it); each pull hop inside a side can restart the silence (up to 3.5 s later
 * measured). The tests hold views to S3's bound plus a whole E.
 */
export const DROP_HARD_MS = DROP_BOUND_MS + E;
/** S3: after healing every view is exact within R + A + P, hard fail at 2R + 2A. */
export const HEAL_BOUND_MS = R + A + PULL_MS;
export const HEAL_HARD_MS = 2 * R + 2 * A;
/** S3: one leader per org within 2L of healing. */
export const LEADER_BOUND_MS = 2 * CLUSTER_TIMERS.leaderAliveThresholdMs;

export const PARTITIONS = ["orgs", "org", "alone"] as const;
export type PartitionKind = (typeof PARTITIONS)[number];
/**
 * What a run does: the partitions; `resets` (S5 on real processes: streams reset while blocks flow); `loss` (S5:
 * frames dropped at random, each of PARTITION_LOSS percent in turn, default 1,5,10,20); `latency` (S6: every link
 * delayed, each of PARTITION_RTT round trips in ms in turn, default 50,200,500, with a tenth of it as jitter, then
 * one link at 2 s each way). `loss` and `latency` need nftables; they are run only when asked (`--kinds`).
 */
export const FAULTS = [...PARTITIONS, "resets", "loss", "latency"] as const;
/** What a run does unless `--kinds` says otherwise. */
export const DEFAULT_FAULTS: readonly FaultKind[] = [...PARTITIONS, "resets"];
export type FaultKind = (typeof FAULTS)[number];
/** A reset of one pair's connections this often during `resets` (PARTITION_RESET_MS, default 250). */
const RESET_EVERY_MS = Number(process.env["PARTITION_RESET_MS"] ?? 250);

export interface ResetsResult {
  heldMs: number;
  /** Pairs whose connections were reset, and the sockets that closed. */
  resets: number;
  socketsClosed: number;
  /**
   * Members any peer declared dead meanwhile (every process ran: each is a false death), from
   * fabric_gossip_discovery_expired_total: for silence, and presumed dead when a dial or handshake failed (Fabric
   * declares a member dead at once when comm cannot reach it).
   */
  falseDeaths: number;
  presumedDead: number;
  /** Samples (every 200 ms) in which some view was not every other peer. */
  viewSamples: number;
  viewSamplesOff: number;
  /** The orderer's height every peer reached after it. */
  height: number;
  commitProblems: string[];
}

/** A phase of `loss` or `latency`: transactions flow through the impaired links for the hold. */
export interface ImpairedResult {
  /** "loss 5%", "rtt 200 ms", "slow link 4000 ms" or "baseline". */
  label: string;
  heldMs: number;
  /** Members any peer declared dead meanwhile (every process ran), for silence and as unreachable. */
  falseDeaths: number;
  presumedDead: number;
  /** Samples (every 200 ms) in which some view was not every other peer. */
  viewSamples: number;
  viewSamplesOff: number;
  /**
   * How long after its first commit anywhere each block was committed at each other peer (ms), for the blocks
   * first committed during the hold: gossip's share of a block's latency (the leader's pull from the orderer is
   * not impaired).
   */
  spreadP50Ms: number | null;
  spreadP99Ms: number | null;
  /** (block, peer) pairs those cover. */
  spreadPairs: number;
  /** Handshakes the peers refused for timing out meanwhile (fabric_gossip_comm_rejected_total{code="HANDSHAKE_TIMEOUT"}). */
  handshakeTimeouts: number;
  /** The orderer's height every peer reached after it, and what was wrong with the commits up to it. */
  height: number;
  commitProblems: string[];
  /** The slow link: connections dialled over it during the hold, both ways (its connections were reset at the start). */
  slowLinkDials?: number;
}

export interface PartitionResult {
  kind: PartitionKind;
  /** The sides, by peer name. */
  sides: string[][];
  heldMs: number;
  /** From the split until every view held exactly its own side. */
  dropMs: number;
  /** The same for each peer's own view. */
  dropByPeer: Record<string, number>;
  /** Samples after that (every 200 ms, to the heal) in which a view was not exactly its side. */
  viewSamples: number;
  viewSamplesOff: number;
  /** From the split until each org's part on each side had exactly one leader. */
  sideLeadersMs: number;
  /** Samples after that (every 200 ms, to the heal) in which an org's part of a side had other than one leader. */
  leaderSamples: number;
  leaderSamplesOff: number;
  /** From the heal until every view was exact. */
  healViewsMs: number;
  /** From the heal until each org had exactly one leader. */
  healLeaderMs: number;
  /** The orderer's height that every peer reached after the heal. */
  height: number;
  /** Blocks committed twice, missing, or with two hashes (empty when none). */
  commitProblems: string[];
}

export interface PartitionsReport {
  machine: string;
  timers: string;
  peers: string;
  bounds: { dropMs: number; dropHardMs: number; healMs: number; healHardMs: number; leaderMs: number };
  results: PartitionResult[];
  resets?: ResetsResult;
  impaired?: ImpairedResult[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The sides of a partition of `kind`, given the peers org by org and the org-1 leader. */
function sidesOf(kind: PartitionKind, peers: readonly ClusterPeer[], org1Leader: ClusterPeer): ClusterPeer[][] {
  const org = (o: number): ClusterPeer[] => peers.slice(o * PEERS_PER_ORG, (o + 1) * PEERS_PER_ORG);
  switch (kind) {
    case "orgs":
      return [[...org(0), ...org(1)], org(2)];
    case "org":
      return [[org(0)[0]!, ...org(1)], [org(0)[1]!, ...org(2)]];
    case "alone":
      return [peers.filter((p) => p !== org1Leader), [org1Leader]];
  }
}

/**
 * Whether every peer's alive view is exactly the others of its side: undefined when all are, the first difference
 * otherwise. Records in `firstAt` when each peer's view first was (ms since `from`).
 */
async function viewsAreSides(sides: readonly (readonly ClusterPeer[])[], from: number, firstAt: Map<string, number>): Promise<string | undefined> {
  // All at once, so that each peer's time is read within one poll of when its view changed.
  const diffs = await Promise.all(
    sides.flatMap((side) =>
      side.map(async (p) => {
        const view = await p.membership();
        if (view === undefined) return `${p.name}: no answer`;
        const d = diffFromTruth(view, p, side);
        if (d.missing.length + d.extra.length > 0) return `${p.name}: missing ${d.missing.length}, extra ${d.extra.length}`;
        if (!firstAt.has(p.name)) firstAt.set(p.name, Date.now() - from);
        return undefined;
      }),
    ),
  );
  return diffs.find((d) => d !== undefined);
}

/** Whether each org's part of each side has exactly one leader. */
async function oneLeaderPerOrgSide(sides: readonly (readonly ClusterPeer[])[]): Promise<boolean> {
  for (const side of sides) for (const leaders of (await leadersByOrg(side, CHANNEL)).values()) if (leaders.length !== 1) return false;
  return true;
}

/** Blocks committed twice, missing below `height`, or committed with different hashes by different peers. */
export function commitProblems(peers: readonly ClusterPeer[], height: number): string[] {
  const problems: string[] = [];
  const hashes = new Map<number, string>();
  for (const p of peers) {
    const seen = new Set<number>();
    for (const c of p.collectCommits()) {
      if (c.channel !== CHANNEL) continue;
      if (seen.has(c.number)) problems.push(`${p.name} committed block ${c.number} twice`);
      seen.add(c.number);
      const h = hashes.get(c.number);
      if (h === undefined) hashes.set(c.number, c.hash);
      else if (h !== c.hash) problems.push(`${p.name} committed block ${c.number} with another hash`);
    }
    for (let n = 1; n < height; n++) if (!seen.has(n)) problems.push(`${p.name} never reported block ${n}`);
  }
  return problems;
}

async function partitionOnce(kind: PartitionKind, lab: NetLab, hosts: readonly LabHost[], cluster: Cluster, holdMs: number, log: (line: string) => void): Promise<PartitionResult> {
  const peers = cluster.peers;
  const org1Leader = (await leadersByOrg(peers, CHANNEL)).get(peers[0]!.mspId)?.[0];
  const sides = sidesOf(kind, peers, peers.find((p) => p.name === org1Leader) ?? peers[0]!);
  const hostOf = (p: ClusterPeer): LabHost => hosts[peers.indexOf(p)]!;
  log(`${kind}: ${sides.map((s) => `{${s.map((p) => p.name).join(", ")}}`).join(" | ")}`);

  const splitAt = Date.now();
  await lab.split(sides.map((s) => s.map(hostOf)));
  log(`  split at ${new Date(splitAt).toISOString()} (the peers' logs' clock), in ${Date.now() - splitAt} ms`);
  // Transactions flow during the partition: every leader still reaches the orderer.
  const feeding = feedUntil(cluster, splitAt, holdMs);
  // Every 200 ms until the heal: the views (until each holds its side, then whether any leaves it again) and the
  // leaders (until each org's part of each side has one, then whether any has other than one).
  const dropByPeer = new Map<string, number>();
  let dropMs: number | undefined;
  let sideLeadersMs: number | undefined;
  let lastDiff: string | undefined;
  let viewSamples = 0;
  let viewSamplesOff = 0;
  let leaderSamples = 0;
  let leaderSamplesOff = 0;
  while (Date.now() - splitAt < holdMs || dropMs === undefined || sideLeadersMs === undefined) {
    if (Date.now() - splitAt > holdMs + 3 * DROP_HARD_MS) {
      throw new Error(`${kind}: ${dropMs === undefined ? `views did not hold their sides (${lastDiff})` : "no single leader in each org's part of a side"} within ${Date.now() - splitAt} ms`);
    }
    const [diff, leadersOk] = await Promise.all([viewsAreSides(sides, splitAt, dropByPeer), oneLeaderPerOrgSide(sides)]);
    const at = Date.now() - splitAt;
    lastDiff = diff;
    if (dropMs === undefined) {
      if (diff === undefined) dropMs = at;
    } else {
      viewSamples++;
      if (diff !== undefined) viewSamplesOff++;
    }
    if (sideLeadersMs === undefined) {
      if (leadersOk) sideLeadersMs = at;
    } else {
      leaderSamples++;
      if (!leadersOk) leaderSamplesOff++;
    }
    await sleep(POLL_MS);
  }
  await feeding;
  const heldMs = Date.now() - splitAt;

  const healAt = Date.now();
  await lab.heal();
  const healViewsMs = await untilViewsMatch(cluster, `${kind}: every view exact after the heal`, 3 * HEAL_HARD_MS + 10_000);
  await untilOneLeaderPerOrg(cluster, ELECTION_MS + 30_000);
  const healLeaderMs = Date.now() - healAt;
  const height = await blocksFlow(cluster, 5, 60_000);
  const result: PartitionResult = {
    kind,
    sides: sides.map((s) => s.map((p) => p.name)),
    heldMs,
    dropMs,
    dropByPeer: Object.fromEntries(dropByPeer),
    sideLeadersMs,
    viewSamples,
    viewSamplesOff,
    leaderSamples,
    leaderSamplesOff,
    healViewsMs,
    healLeaderMs,
    height,
    commitProblems: commitProblems(peers, height),
  };
  log(`  views of one side, by peer: ${[...dropByPeer].map(([n, ms]) => `${n.split(".").slice(0, 2).join(".")} ${ms}`).join(", ")}`);
  log(
    `  views of one side ${dropMs} ms after the split (bound ${DROP_BOUND_MS}, hard ${DROP_HARD_MS}), one leader per org side after ${sideLeadersMs} ms, ` +
      `${leaderSamplesOff}/${leaderSamples} samples off (views ${viewSamplesOff}/${viewSamples}); healed: views exact after ${healViewsMs} ms (bound ${HEAL_BOUND_MS}, hard ${HEAL_HARD_MS}), ` +
      `one leader per org after ${healLeaderMs} ms (bound ${LEADER_BOUND_MS}); height ${height}, ${result.commitProblems.length} commit problems`,
  );
  return result;
}

/** Members declared dead so far, summed over every peer: silent ones, and those comm could not reach. */
async function deathsSoFar(c: Cluster): Promise<{ silent: number; unreachable: number }> {
  return {
    silent: await metricTotal(c.peers, 'fabric_gossip_discovery_expired_total{cause="expired"}'),
    unreachable: await metricTotal(c.peers, 'fabric_gossip_discovery_expired_total{cause="presumed-dead"}'),
  };
}

/** Feeds 5 transactions every 500 ms until `holdMs` after `from` (blocks flow through a partition or resets). */
async function feedUntil(cluster: Cluster, from: number, holdMs: number): Promise<void> {
  while (Date.now() - from < holdMs) {
    await cluster.feed(5);
    await sleep(500);
  }
}

/**
 * S5 through stream resets: every RESET_EVERY_MS the connections of a random pair of peers are reset while
 * transactions flow, for `holdMs`; then blocks flow once more and every commit is checked.
 */
async function resetsFor(lab: NetLab, hosts: readonly LabHost[], cluster: Cluster, holdMs: number, log: (line: string) => void): Promise<ResetsResult> {
  const random = new SeededRandom(Number(process.env["PARTITION_SEED"] ?? 1));
  const before = await deathsSoFar(cluster);
  const from = Date.now();
  log(`resets: a random pair's connections reset every ${RESET_EVERY_MS} ms for ${holdMs} ms, from ${new Date(from).toISOString()}`);
  let resets = 0;
  let socketsClosed = 0;
  let viewSamples = 0;
  let viewSamplesOff = 0;
  const resetting = (async () => {
    while (Date.now() - from < holdMs) {
      const [a, b] = random.indices(2, hosts.length);
      socketsClosed += await lab.resetConnections(hosts[a!]!, hosts[b!]!);
      resets++;
      await sleep(RESET_EVERY_MS);
    }
  })();
  const feeding = feedUntil(cluster, from, holdMs);
  while (Date.now() - from < holdMs) {
    viewSamples++;
    if (!(await viewsMatchTruth(cluster.peers)).ok) viewSamplesOff++;
    await sleep(POLL_MS);
  }
  await Promise.all([resetting, feeding]);
  const heldMs = Date.now() - from;
  const height = await blocksFlow(cluster, 5, 60_000);
  const after = await deathsSoFar(cluster);
  const result: ResetsResult = {
    heldMs,
    resets,
    socketsClosed,
    falseDeaths: after.silent - before.silent,
    presumedDead: after.unreachable - before.unreachable,
    viewSamples,
    viewSamplesOff,
    height,
    commitProblems: commitProblems(cluster.peers, height),
  };
  log(
    `  ${resets} resets (${socketsClosed} sockets closed) in ${heldMs} ms: ${result.falseDeaths} members expired for silence, ${result.presumedDead} presumed dead, views off in ${viewSamplesOff}/${viewSamples} samples; ` +
      `height ${height}, ${result.commitProblems.length} commit problems`,
  );
  return result;
}

const HANDSHAKE_TIMEOUTS = 'fabric_gossip_comm_rejected_total{code="HANDSHAKE_TIMEOUT"}';

/** For each block first committed in [from, to): how long after that first commit each other peer committed it. */
function spreadsMs(peers: readonly ClusterPeer[], from: number, to: number): number[] {
  const byBlock = new Map<number, number[]>();
  for (const p of peers) {
    for (const c of p.collectCommits()) {
      if (c.channel !== CHANNEL) continue;
      const times = byBlock.get(c.number) ?? [];
      times.push(c.time);
      byBlock.set(c.number, times);
    }
  }
  const spreads: number[] = [];
  for (const times of byBlock.values()) {
    const first = Math.min(...times);
    if (first < from || first >= to) continue;
    for (const t of times) if (t !== first) spreads.push(t - first);
  }
  return spreads;
}

/**
 * One impaired phase: `impair` is applied, transactions flow for `holdMs` while the views are sampled, then
 * `repair` runs, blocks flow once more and every commit is checked.
 */
async function impairedFor(label: string, cluster: Cluster, holdMs: number, impair: () => Promise<void>, repair: () => Promise<void>, log: (line: string) => void): Promise<ImpairedResult> {
  const before = await deathsSoFar(cluster);
  const timeoutsBefore = await metricTotal(cluster.peers, HANDSHAKE_TIMEOUTS);
  await impair();
  const from = Date.now();
  const feeding = feedUntil(cluster, from, holdMs);
  let viewSamples = 0;
  let viewSamplesOff = 0;
  while (Date.now() - from < holdMs) {
    viewSamples++;
    if (!(await viewsMatchTruth(cluster.peers)).ok) viewSamplesOff++;
    await sleep(POLL_MS);
  }
  await feeding;
  const to = Date.now();
  // The last blocks of the hold reach every peer before the links are repaired.
  await sleep(2_000);
  const spreads = spreadsMs(cluster.peers, from, to);
  await repair();
  const height = await blocksFlow(cluster, 5, 60_000);
  const after = await deathsSoFar(cluster);
  const result: ImpairedResult = {
    label,
    heldMs: to - from,
    falseDeaths: after.silent - before.silent,
    presumedDead: after.unreachable - before.unreachable,
    viewSamples,
    viewSamplesOff,
    spreadP50Ms: spreads.length === 0 ? null : quantile(spreads, 0.5),
    spreadP99Ms: spreads.length === 0 ? null : quantile(spreads, 0.99),
    spreadPairs: spreads.length,
    handshakeTimeouts: (await metricTotal(cluster.peers, HANDSHAKE_TIMEOUTS)) - timeoutsBefore,
    height,
    commitProblems: commitProblems(cluster.peers, height),
  };
  log(
    `${label}: ${result.falseDeaths} members expired for silence, ${result.presumedDead} presumed dead, views off in ${viewSamplesOff}/${viewSamples} samples; ` +
      `block spread p50/p99 ${result.spreadP50Ms}/${result.spreadP99Ms} ms over ${spreads.length} (block, peer) pairs; ${result.handshakeTimeouts} handshake timeouts; ` +
      `height ${height}, ${result.commitProblems.length} commit problems`,
  );
  return result;
}

const nothing = async (): Promise<void> => {};
const numbersOf = (env: string, fallback: string): number[] => (process.env[env] ?? fallback).split(",").map(Number);

/** S5 with real packet loss: a baseline, then each PARTITION_LOSS percentage in turn. */
async function lossPhases(lab: NetLab, cluster: Cluster, holdMs: number, log: (line: string) => void): Promise<ImpairedResult[]> {
  const out = [await impairedFor("baseline", cluster, holdMs, nothing, nothing, log)];
  for (const percent of numbersOf("PARTITION_LOSS", "1,5,10,20")) {
    out.push(await impairedFor(`loss ${percent}%`, cluster, holdMs, () => lab.loss(percent), () => lab.loss(0), log));
  }
  return out;
}

/**
 * S6 on real processes: a baseline through the relays with no delay, each PARTITION_RTT round trip in turn on
 * every link (a tenth of it as jitter), then one slow link (2 s each way, so a handshake over it cannot finish
 * within connTimeout) with the others undelayed.
 */
async function latencyPhases(lab: NetLab, hosts: readonly LabHost[], cluster: Cluster, holdMs: number, log: (line: string) => void): Promise<ImpairedResult[]> {
  const ports = cluster.peers.map((p) => Number(p.endpoint.split(":").pop()));
  const every = (oneWayMs: number): (() => Promise<void>) => () => lab.delay(ports, () => ({ oneWayMs, jitterMs: oneWayMs / 10 }));
  const out: ImpairedResult[] = [];
  try {
    await every(0)();
    await untilViewsMatch(cluster, "views after the links went through the relays", 60_000);
    out.push(await impairedFor("baseline (relayed)", cluster, holdMs, nothing, nothing, log));
    for (const rtt of numbersOf("PARTITION_RTT", "50,200,500")) out.push(await impairedFor(`rtt ${rtt} ms`, cluster, holdMs, every(rtt / 2), nothing, log));
    // The slow link's connections are reset once it is slow, so that both ends dial over it again.
    const [a, b] = [hosts[0]!, hosts[hosts.length - 1]!];
    const dials = (): number => lab.relayed(a, b) + lab.relayed(b, a);
    let dialsBefore = 0;
    const slow = async (): Promise<void> => {
      await lab.delay(ports, (x, y) => ({ oneWayMs: (x === a && y === b) || (x === b && y === a) ? 2_000 : 0, jitterMs: 0 }));
      dialsBefore = dials();
      // In each namespace: a connection the other end dialled comes from the hub's relay there.
      await lab.resetConnections(a, b);
      await lab.resetConnections(b, a);
    };
    let slowLinkDials = 0;
    const slowEnds = async (): Promise<void> => {
      slowLinkDials = dials() - dialsBefore;
      await every(0)();
    };
    const slowResult = await impairedFor(`slow link ${a.name} <-> ${b.name} (4000 ms rtt)`, cluster, holdMs, slow, slowEnds, log);
    log(`  ${slowLinkDials} connections dialled over the slow link in ${slowResult.heldMs} ms`);
    out.push({ ...slowResult, slowLinkDials });
  } finally {
    await lab.undelay();
  }
  return out;
}

function kindsOf(list: string): FaultKind[] {
  const kinds = list.split(",");
  for (const k of kinds) if (!(FAULTS as readonly string[]).includes(k)) throw new Error(`--kinds: unknown kind "${k}" (known: ${FAULTS.join(", ")})`);
  return kinds as FaultKind[];
}

export interface PartitionsOptions {
  /** How long each partition is held. Default PARTITION_HOLD_S or 30 s. */
  holdMs?: number;
  kinds?: readonly FaultKind[];
  log?: (line: string) => void;
}

/** Runs the partitions in a lab; only inside a hub namespace (see {@link benchPartitions} for the way in). */
export async function runPartitions(opts: PartitionsOptions = {}): Promise<PartitionsReport> {
  const holdMs = opts.holdMs ?? Number(process.env["PARTITION_HOLD_S"] ?? 30) * 1_000;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const kinds = opts.kinds ?? DEFAULT_FAULTS;
  if (kinds.includes("loss") || kinds.includes("latency")) {
    const why = await netLabFiltersUnavailable();
    if (why !== undefined) throw new Error(why);
  }
  const lab = new NetLab();
  const root = await mkdtemp(join(tmpdir(), "fabric-gossip-partitions-"));
  let cluster: Cluster | undefined;
  try {
    await lab.start();
    const hosts: LabHost[] = [];
    for (let o = 1; o <= ORGS; o++) for (let p = 0; p < PEERS_PER_ORG; p++) hosts.push(await lab.addHost(`peer${p}.org${o}`));
    cluster = await startCluster({
      root,
      orgs: ORGS,
      peersPerOrg: PEERS_PER_ORG,
      channel: CHANNEL,
      env: CLUSTER_ENV,
      hosts,
      ordererListen: `${ORDERER_ADDRESS}:${await freePort()}`,
      ...(process.env["PARTITION_LOG_DIR"] === undefined ? {} : { logDir: process.env["PARTITION_LOG_DIR"] }),
    });
    const c = cluster;
    await untilViewsMatch(c, "the cluster converges", 60_000);
    await untilOneLeaderPerOrg(c, 30_000);
    await blocksFlow(c, 5, 60_000);
    log(`${ORGS} orgs x ${PEERS_PER_ORG} peers in namespaces of their own; converged`);
    const results: PartitionResult[] = [];
    let resets: ResetsResult | undefined;
    const impaired: ImpairedResult[] = [];
    for (const kind of kinds) {
      if (kind === "resets") resets = await resetsFor(lab, hosts, c, holdMs, log);
      else if (kind === "loss") impaired.push(...(await lossPhases(lab, c, holdMs, log)));
      else if (kind === "latency") impaired.push(...(await latencyPhases(lab, hosts, c, holdMs, log)));
      else results.push(await partitionOnce(kind, lab, hosts, c, holdMs, log));
    }
    return {
      machine: machineLine(),
      timers: `A ${A} ms, R ${R} ms, P ${PULL_MS} ms, E ${E} ms, L ${CLUSTER_TIMERS.leaderAliveThresholdMs} ms`,
      peers: `${ORGS} orgs x ${PEERS_PER_ORG}`,
      bounds: { dropMs: DROP_BOUND_MS, dropHardMs: DROP_HARD_MS, healMs: HEAL_BOUND_MS, healHardMs: HEAL_HARD_MS, leaderMs: LEADER_BOUND_MS },
      results,
      ...(resets === undefined ? {} : { resets }),
      ...(impaired.length === 0 ? {} : { impaired }),
    };
  } finally {
    await cluster?.stop();
    lab.stop();
    await rm(root, { recursive: true, force: true });
  }
}

const SELF = fileURLToPath(import.meta.url);

/**
 * Runs {@link runPartitions} in a fresh network namespace: this module started again through `unshare --net` with
 * `--json`, its report read from its stdout. `nodeArgs` are the Node flags that run TypeScript (the caller's own).
 */
export async function partitionsInHub(args: readonly string[], nodeArgs: readonly string[] = process.execArgv): Promise<PartitionsReport> {
  const child = runInHub([...nodeArgs, SELF, "--json", ...args], "pipe");
  let out = "";
  child.stdout!.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on("data", (c: Buffer) => process.stderr.write(c));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const last = out.trim().split("\n").pop() ?? "";
  if (code !== 0 || !last.startsWith("{")) throw new Error(`the partition run exited with ${code}${last === "" ? "" : `: ${last}`}`);
  return JSON.parse(last) as PartitionsReport;
}

export async function benchPartitions(args: readonly string[] = []): Promise<Record<string, number | string>> {
  const why = await netLabUnavailable();
  if (why !== undefined) return { partitions: `skipped: ${why}` };
  const kinds = process.env["PARTITION_KINDS"];
  const report = await partitionsInHub(args.length > 0 || kinds === undefined ? args : ["--kinds", kinds]);
  const out: Record<string, number | string> = { machine: report.machine, timers: report.timers, peers: report.peers };
  out["bounds"] = `drop ${report.bounds.dropMs} ms (hard ${report.bounds.dropHardMs}), heal ${report.bounds.healMs} ms (hard ${report.bounds.healHardMs}), leader ${report.bounds.leaderMs} ms`;
  for (const r of report.results) {
    out[`${r.kind}.sides`] = r.sides.map((s) => s.join(" ")).join(" | ");
    out[`${r.kind}.held_ms`] = r.heldMs;
    out[`${r.kind}.views_of_one_side_ms`] = r.dropMs;
    const byPeer = Object.values(r.dropByPeer);
    out[`${r.kind}.views_over_s3_bound`] = `${byPeer.filter((ms) => ms > report.bounds.dropMs).length}/${byPeer.length}`;
    out[`${r.kind}.one_leader_per_org_side_ms`] = r.sideLeadersMs;
    out[`${r.kind}.view_samples_off_after`] = `${r.viewSamplesOff}/${r.viewSamples}`;
    out[`${r.kind}.leader_samples_off_after`] = `${r.leaderSamplesOff}/${r.leaderSamples}`;
    out[`${r.kind}.healed_views_exact_ms`] = r.healViewsMs;
    out[`${r.kind}.healed_one_leader_per_org_ms`] = r.healLeaderMs;
    out[`${r.kind}.height`] = r.height;
    out[`${r.kind}.commit_problems`] = r.commitProblems.length === 0 ? "none" : r.commitProblems.slice(0, 3).join("; ");
  }
  const z = report.resets;
  if (z !== undefined) {
    out["resets.held_ms"] = z.heldMs;
    out["resets.pairs_reset"] = z.resets;
    out["resets.sockets_closed"] = z.socketsClosed;
    out["resets.false_deaths_silent"] = z.falseDeaths;
    out["resets.false_deaths_presumed_dead"] = z.presumedDead;
    out["resets.view_samples_off"] = `${z.viewSamplesOff}/${z.viewSamples}`;
    out["resets.height"] = z.height;
    out["resets.commit_problems"] = z.commitProblems.length === 0 ? "none" : z.commitProblems.slice(0, 3).join("; ");
  }
  for (const r of report.impaired ?? []) {
    out[`${r.label}`] =
      `held ${r.heldMs} ms; expired ${r.falseDeaths}, presumed dead ${r.presumedDead}; views off ${r.viewSamplesOff}/${r.viewSamples}; spread p50/p99 ${r.spreadP50Ms}/${r.spreadP99Ms} ms (${r.spreadPairs}); ` +
      `handshake timeouts ${r.handshakeTimeouts}; ${r.slowLinkDials === undefined ? "" : `dials over the slow link ${r.slowLinkDials}; `}height ${r.height}; commit problems ${r.commitProblems.length === 0 ? "none" : r.commitProblems.slice(0, 3).join("; ")}`;
  }
  return out;
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (!inHub()) {
    // Started by hand: again, inside a network namespace of its own.
    const child = runInHub([...process.execArgv, SELF, ...argv]);
    process.exit((await new Promise<number | null>((resolve) => child.once("exit", resolve))) ?? 1);
  }
  const hold = flag("--hold");
  const kinds = flag("--kinds");
  const report = await runPartitions({
    ...(hold === undefined ? {} : { holdMs: Number(hold) * 1_000 }),
    ...(kinds === undefined ? {} : { kinds: kindsOf(kinds) }),
  });
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
