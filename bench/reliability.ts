/**
 * `npm run bench -- reliability`: the longer variants of the real-process reliability scenarios of RELIABILITY.md
 * (the short ones are test/e2e/clock-skew, cert-expiry and churn), 3 orgs x 2 peers and an ordering service,
 * with the compressed timers of test/utils/peer-cluster (A = R = 1 s, E = 4 s, leaderAliveThreshold 2 s):
 *
 * - S9 clock skew (needs libfaketime, else skipped): clocks at +5 min, -5 min, +1 h, -1 h, then every clock
 *   jumps back an hour; members expired, views off the truth, and orgs with other than one leader, over 30 s.
 * - S10 certificate expiry and renewal: time for a renewed PKI-ID to reach every view (before and after expiry),
 *   for an expired one to leave every view, and warnings logged about it over 60 s of its dialing.
 * - S17 churn: a rolling restart, leaders killed 10 times, then Poisson leave/join (mean 1 per 10 s) for
 *   RELIABILITY_CHURN_MINUTES (default 3; the scenario names 30): time until views are exact after each
 *   disruption (p50, max), leader counts per org sampled every 200 ms.
 * - S23 at every checkpoint: whether `/v1/membership` and `/metrics` agree with the running processes.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SeededRandom, SystemClock } from "../src/util/index.js";
import { eventually } from "../test/utils/net.js";
import {
  blocksFlow,
  CLUSTER_ENV,
  CLUSTER_TIMERS,
  type Cluster,
  type ClusterPeer,
  ELECTION_MS,
  everyKnownId,
  faketimeEnv,
  faketimeLibrary,
  leadersByOrg,
  metricsDisagreement,
  metricTotal,
  REJOIN_MS,
  renewEnrolment,
  startCluster,
  untilMetricsAgree,
  untilOneLeaderPerOrg,
  untilViewsMatch,
  viewsMatchTruth,
} from "../test/utils/peer-cluster.js";
import { isMain, printFigures, quantile } from "./stats.js";

const ORGS = 3;
const PEERS_PER_ORG = 2;
const HOUR_MS = 3_600_000;
/** A wait for what should take R + 2A, with room for six processes on two cores. */
const SETTLE_MS = 20_000;

type Figures = Record<string, number | string>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `body` on a fresh cluster in a temporary folder, and removes both. */
async function withCluster(name: string, opts: Partial<Parameters<typeof startCluster>[0]>, body: (c: Cluster, root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), `fabric-gossip-bench-${name}-`));
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({ root, orgs: ORGS, peersPerOrg: PEERS_PER_ORG, channel: `${name}channel`, env: CLUSTER_ENV, ...opts });
    await untilViewsMatch(cluster, "the cluster converges", 60_000);
    await untilOneLeaderPerOrg(cluster, 30_000);
    await body(cluster, root);
  } finally {
    await cluster?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

function expiredTotal(c: Cluster): Promise<number> {
  return metricTotal(c.peers, "fabric_gossip_discovery_expired_total");
}

/** Watches the cluster for `ms`, sampling views and leaders; counts the samples off the truth. */
async function watch(c: Cluster, ms: number): Promise<{ samples: number; viewsOff: number; leaderSamplesOff: number; maxLeadersInOrg: number }> {
  const until = Date.now() + ms;
  let samples = 0;
  let viewsOff = 0;
  let leaderSamplesOff = 0;
  let maxLeadersInOrg = 0;
  while (Date.now() < until) {
    samples++;
    if (!(await viewsMatchTruth(c.peers)).ok) viewsOff++;
    const byOrg = await leadersByOrg(c.peers, c.channel);
    const counts = [...byOrg.values()].map((l) => l.length);
    maxLeadersInOrg = Math.max(maxLeadersInOrg, ...counts);
    if (counts.some((n) => n !== 1)) leaderSamplesOff++;
    await sleep(200);
  }
  return { samples, viewsOff, leaderSamplesOff, maxLeadersInOrg };
}

/** S23 at a checkpoint: 1 when metrics and views agree with the truth within `ms` after blocks flow, else 0. */
async function checkpoint(c: Cluster): Promise<number> {
  try {
    await untilViewsMatch(c, "views at the checkpoint", SETTLE_MS);
    await untilMetricsAgree(c, await blocksFlow(c, 10, 60_000), 5_000);
    return 1;
  } catch {
    process.stderr.write(`checkpoint disagreement: ${await metricsDisagreement(c, Number(c.orderer.height(c.channel)))}\n`);
    return 0;
  }
}

async function benchSkew(out: Figures): Promise<void> {
  const lib = faketimeLibrary();
  if (lib === undefined) {
    out["skew"] = "skipped: libfaketime is not installed (apt-get install faketime)";
    return;
  }
  class ThreeHoursBack extends SystemClock {
    override now(): number {
      return super.now() - 3 * HOUR_MS;
    }
  }
  const offsets = ["+5m", "-5m", "+1h", "-1h", "+0", "+0"];
  const root = await mkdtemp(join(tmpdir(), "fabric-gossip-bench-skew-files-"));
  try {
    const peerEnv: Record<string, NodeJS.ProcessEnv> = {};
    const files: string[] = [];
    for (let o = 1; o <= ORGS; o++) {
      for (let p = 0; p < PEERS_PER_ORG; p++) {
        const i = (o - 1) * PEERS_PER_ORG + p;
        const file = join(root, `${i}.faketime`);
        await writeFile(file, `${offsets[i]}\n`);
        files.push(file);
        peerEnv[`peer${p}.org${o}.example.com`] = faketimeEnv(lib, file);
      }
    }
    await withCluster("skew", { tls: true, cryptoClock: new ThreeHoursBack(), peerEnv }, async (c) => {
      const before = await expiredTotal(c);
      const steady = await watch(c, 30_000);
      out["skew.steady.samples"] = steady.samples;
      out["skew.steady.views_off"] = steady.viewsOff;
      out["skew.steady.leader_samples_off"] = steady.leaderSamplesOff;
      // Every clock jumps back an hour (-1h becomes -2h).
      const back = ["-55m", "-65m", "+0", "-2h", "-1h", "-1h"];
      await Promise.all(files.map((f, i) => writeFile(f, `${back[i]}\n`)));
      const jumped = await watch(c, 30_000);
      out["skew.jump.samples"] = jumped.samples;
      out["skew.jump.views_off"] = jumped.viewsOff;
      out["skew.jump.leader_samples_off"] = jumped.leaderSamplesOff;
      out["skew.jump.max_leaders_in_an_org"] = jumped.maxLeadersInOrg;
      out["skew.members_expired"] = (await expiredTotal(c)) - before;
      out["skew.checkpoint_ok"] = await checkpoint(c);
      // A restart after the jump: its earlier run's incarnation is later than this run's.
      const p = c.peers[2]!;
      await p.stop();
      await p.start();
      out["skew.restart_after_jump.rejoin_ms"] = await untilViewsMatch(c, "the restarted peer rejoins", SETTLE_MS);
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function benchCert(out: Figures): Promise<void> {
  await withCluster("cert", {}, async (c) => {
    const peer = c.peers.at(-1)!;
    const others = c.peers.filter((q) => q !== peer);
    const oldId = peer.pkiId;
    await peer.stop();
    const lifeMs = 20_000;
    const expiresAt = Date.now() + lifeMs;
    await renewEnrolment(c, peer, new Date(expiresAt));
    await peer.start();
    out["cert.renew_before_expiry.in_every_view_ms"] = await untilViewsMatch(c, "renewed peer in every view", SETTLE_MS);
    const t0 = Date.now();
    await eventually("old PKI-ID forgotten", async () => !(await everyKnownId(c)).has(oldId), SETTLE_MS, 100);
    out["cert.renew_before_expiry.old_id_gone_ms"] = Date.now() - t0;
    const shortId = peer.pkiId;
    await sleep(Math.max(0, expiresAt - Date.now()));
    await eventually(
      "expired PKI-ID gone",
      async () => {
        for (const p of others) {
          const v = await p.membership();
          if (v === undefined || [...v.alive, ...v.dead].some((m) => m.pkiId === shortId)) return false;
        }
        return true;
      },
      SETTLE_MS,
      100,
    );
    out["cert.expired.gone_after_not_after_ms"] = Date.now() - expiresAt;
    await sleep(60_000);
    const warnings = others.map(
      (p) =>
        p
          .logLines(/"level":"(warn|error)"/)
          .filter((l) => l.includes(shortId) || l.includes('"code":"EXPIRED_IDENTITY"'))
          .filter((l) => Date.parse(String((JSON.parse(l) as { time?: string }).time)) >= expiresAt - 1_000).length,
    );
    out["cert.expired.warnings_per_peer_in_60s_max"] = Math.max(...warnings);
    let rejected = 0;
    for (const p of others) for (const [k, v] of await p.metrics()) if (k.startsWith('fabric_gossip_comm_rejected_total{code="EXPIRED_IDENTITY"')) rejected += v;
    out["cert.expired.handshakes_rejected_in_60s"] = rejected;
    await peer.stop();
    await renewEnrolment(c, peer);
    await peer.start();
    out["cert.renew_after_expiry.in_every_view_ms"] = await untilViewsMatch(c, "peer renewed after expiry in every view", SETTLE_MS);
    const known = await everyKnownId(c);
    out["cert.earlier_ids_still_known"] = [oldId, shortId].filter((id) => known.has(id)).length;
    out["cert.checkpoint_ok"] = await checkpoint(c);
  });
}

async function benchChurn(out: Figures): Promise<void> {
  const minutes = Number(process.env["RELIABILITY_CHURN_MINUTES"] ?? "3");
  await withCluster("churn", {}, async (c) => {
    const settle: number[] = [];
    let checkpoints = 0;
    let checkpointsOk = 0;
    const settleOnce = async (what: string): Promise<void> => {
      settle.push(await untilViewsMatch(c, what, SETTLE_MS));
    };
    // A rolling restart.
    for (const p of c.peers) {
      await p.stop();
      await p.start();
    }
    out["churn.rolling_restart.views_exact_ms"] = await untilViewsMatch(c, "views after the rolling restart", SETTLE_MS);
    checkpoints++;
    checkpointsOk += await checkpoint(c);
    // Leaders killed ten times.
    const electionMs: number[] = [];
    for (let round = 0; round < 10; round++) {
      await untilOneLeaderPerOrg(c, SETTLE_MS);
      const leaders = new Set([...(await leadersByOrg(c.peers, c.channel)).values()].flat());
      const killed = c.peers.filter((p) => leaders.has(p.name));
      await Promise.all(killed.map((p) => p.kill()));
      electionMs.push(await untilOneLeaderPerOrg(c, SETTLE_MS));
      await Promise.all(killed.map((p) => p.start()));
      await settleOnce("views after a leader kill");
    }
    out["churn.leader_kill.reelection_p50_ms"] = quantile(electionMs, 0.5);
    out["churn.leader_kill.reelection_max_ms"] = Math.max(...electionMs);
    out["churn.leader_kill.bound_ms"] = ELECTION_MS;
    checkpoints++;
    checkpointsOk += await checkpoint(c);
    // Poisson leave and join, mean one event per 10 s; never the last running peer of an org.
    const random = new SeededRandom(7);
    const until = Date.now() + minutes * 60_000;
    let events = 0;
    let maxLeaders = 0;
    let leaderSamplesOver = 0;
    let samples = 0;
    const down = new Set<ClusterPeer>();
    while (Date.now() < until) {
      const gap = -Math.log(1 - random.float()) * 10_000;
      const next = Date.now() + gap;
      while (Date.now() < next) {
        const counts = [...(await leadersByOrg(c.peers, c.channel)).values()].map((l) => l.length);
        samples++;
        maxLeaders = Math.max(maxLeaders, ...counts);
        if (counts.some((n) => n > 1)) leaderSamplesOver++;
        await sleep(200);
      }
      events++;
      const candidates = c.peers.filter((p) => !down.has(p) && c.peers.some((q) => q !== p && q.mspId === p.mspId && !down.has(q)));
      if (down.size > 0 && (candidates.length === 0 || random.float() < 0.5)) {
        const back = [...down][random.int(down.size)]!;
        down.delete(back);
        await back.start();
      } else if (candidates.length > 0) {
        const leaving = candidates[random.int(candidates.length)]!;
        down.add(leaving);
        if (random.float() < 0.5) await leaving.kill();
        else await leaving.stop();
      }
    }
    for (const p of down) await p.start();
    await settleOnce("views after the Poisson churn");
    out["churn.poisson.minutes"] = minutes;
    out["churn.poisson.events"] = events;
    out["churn.poisson.leader_samples"] = samples;
    out["churn.poisson.samples_with_two_leaders_in_an_org"] = leaderSamplesOver;
    out["churn.poisson.max_leaders_in_an_org"] = maxLeaders;
    out["churn.views_exact_after_disruption_p50_ms"] = quantile(settle, 0.5);
    out["churn.views_exact_after_disruption_max_ms"] = Math.max(...settle);
    out["churn.rejoin_bound_ms"] = REJOIN_MS;
    checkpoints++;
    checkpointsOk += await checkpoint(c);
    out["churn.checkpoints_ok"] = `${checkpointsOk}/${checkpoints}`;
  });
}

export async function benchReliability(): Promise<Figures> {
  const out: Figures = { timers: `A ${CLUSTER_TIMERS.aliveMs} ms, R ${CLUSTER_TIMERS.reconnectMs} ms, E ${CLUSTER_TIMERS.aliveExpirationMs} ms`, peers: `${ORGS} orgs x ${PEERS_PER_ORG}` };
  await benchSkew(out);
  await benchCert(out);
  await benchChurn(out);
  return out;
}

if (isMain(import.meta.url)) printFigures(await benchReliability());
