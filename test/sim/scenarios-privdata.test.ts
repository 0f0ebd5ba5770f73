/**
 * RELIABILITY.md S19 (private data) in the simulator: 10 peers in 3 orgs (Org1: p0 p3 p6 p9, Org2: p1 p4
 * p7, Org3: p2 p5 p8), real ECDSA identities, ch0 started from a configtx genesis block, chaincode pvtcc with
 * collOrg1 (Org1) and collOrg12 (Org1, Org2), requiredPeerCount 1 and maximumPeerCount 2, every block
 * interval a transaction writing private data. Each scenario asserts from the simulator's typed events, the
 * frames it sees and the peers' stores (the driver's ground truth and outcomes), never from logs; and in
 * every run no private write set is held by a peer of an org outside its collection (pvt-leak, checked at
 * every commit and at the end, trips the run).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatSimReport, type SimulateFlags, simOptionsFromFlags } from "../../src/cli/commands/simulate.js";
import { defaultGossipConfig } from "../../src/config/index.js";
import {
  DEFAULT_PRIVATE_DATA,
  FRAME_TYPES,
  type FrameInfo,
  type PvtSimEvent,
  SIM_COLL_SHARED,
  type SimOptions,
  type SimPrivateDataOptions,
  type SimPvtDataSettings,
  Simulator,
  scanFrame,
  simOptions,
  validateOptions,
} from "../../src/sim/index.js";

const WARMUP_MS = 20_000;
const BLOCKS = 30;
const INTERVAL_MS = 500;
const PULL_RETRY_THRESHOLD_MS = 5_000;
const RECONCILE_SLEEP_INTERVAL_MS = 5_000;
const PUSH_ACK_TIMEOUT_MS = 3_000;

function pvtOptions(seed: number, pvt: Partial<SimPrivateDataOptions>, pvtData: SimPvtDataSettings, overrides: Partial<SimOptions> = {}): SimOptions {
  const gossip = defaultGossipConfig();
  // A restarted peer catches up by state transfer, as with core.yaml's state.enabled.
  gossip.state.enabled = true;
  return simOptions({
    gossip,
    seed,
    peers: 10,
    orgs: 3,
    blocks: BLOCKS,
    blockBytes: 2048,
    blockIntervalMs: INTERVAL_MS,
    warmupMs: WARMUP_MS,
    crypto: "real",
    leaderMode: "static",
    link: { latency: { kind: "uniform", minMs: 5, maxMs: 20 }, loss: 0, duplicate: 0, reorder: 0, reorderWindowMs: 50, uplinkBytesPerSec: undefined },
    privateData: {
      ...DEFAULT_PRIVATE_DATA,
      share: 1,
      ...pvt,
      pvtData: { pullRetryThresholdMs: PULL_RETRY_THRESHOLD_MS, reconcileSleepIntervalMs: RECONCILE_SLEEP_INTERVAL_MS, pushAckTimeoutMs: PUSH_ACK_TIMEOUT_MS, ...pvtData },
    },
    ...overrides,
  });
}

const info: FrameInfo = { type: 0, channelStart: 0, channelEnd: 0 };
const ACK = FRAME_TYPES.indexOf("ack");
const PVT_REQ = FRAME_TYPES.indexOf("pvtReq");
const nameOf = (endpoint: string): string => endpoint.split(":")[0]!;

type Endorsed = Extract<PvtSimEvent, { kind: "pvt-endorsed" }>;
type Ordered = Extract<PvtSimEvent, { kind: "pvt-ordered" }>;

/** The run's private data events, and the private data requests each peer sent, with their virtual times. */
function record(sim: Simulator): { endorsed: Endorsed[]; ordered: Ordered[]; requests: { from: string; atMs: number }[]; restarts: Map<string, number> } {
  const endorsed: Endorsed[] = [];
  const ordered: Ordered[] = [];
  const requests: { from: string; atMs: number }[] = [];
  const restarts = new Map<string, number>();
  sim.onEvent((e) => {
    if (e.kind === "pvt-endorsed") endorsed.push(e);
    else if (e.kind === "pvt-ordered") ordered.push(e);
    else if (e.kind === "restart") restarts.set(e.peer, e.atMs);
  });
  sim.network.observe((f) => {
    if (scanFrame(f.bytes, info).type === PVT_REQ) requests.push({ from: nameOf(f.from), atMs: sim.now() });
  });
  return { endorsed, ordered, requests, restarts };
}

/** What every run must show: leak checks ran at commits, none tripped, nothing held by an outsider. */
function assertNoLeak(sim: Simulator, leaked: number | undefined): void {
  const checks = sim.diagnostics().checks;
  assert.ok((checks["pvt-leak"] ?? 0) > 0, "the leak invariant was checked");
  assert.equal(leaked, 0);
  for (const o of sim.privateData!.outcomes) if (o.status === "ineligible") assert.notEqual(o.status, "held");
}

/** Acks of one distribution's pushes reach its endorser within a few round trips; the next one is 500 ms away. */
const ACKS_OF_ONE_PUSH_MS = 100;

test("S19a: an acknowledgement lost from a required peer fails the distribution after pushAckTimeout (as Fabric's); the retry at another endorser succeeds and every eligible peer holds the data at commit", async () => {
  // collOrg12's blockToLive above btlPullMargin, so its data is pulled rather than presumed purged.
  const sim = new Simulator(pvtOptions(11, { shortBlockToLive: 100 }, {}));
  let dropped: { from: string; to: string; atMs: number } | undefined;
  sim.shapeFrames((from, to, bytes, fate) => {
    // Every peer a distribution pushes to acknowledges it, the required peers' acks (minAck 1) among them: the
    // acks of the first distribution (all those its endorser gets within ACKS_OF_ONE_PUSH_MS of the first) are
    // lost, the required peer's with them.
    if (scanFrame(bytes, info).type !== ACK) return fate;
    if (dropped === undefined) dropped = { from: nameOf(from), to: nameOf(to), atMs: sim.now() };
    else if (nameOf(to) !== dropped.to || sim.now() - dropped.atMs > ACKS_OF_ONE_PUSH_MS) return fate;
    return { delaysMs: [], ordered: fate.ordered, sendMs: fate.sendMs };
  });
  const rec = record(sim);
  const { report } = await sim.run();
  assert.ok(dropped !== undefined, "an acknowledgement was sent and dropped");
  const failed = rec.endorsed.find((e) => !e.ok);
  assert.ok(failed !== undefined, "a distribution failed");
  assert.equal(failed.peer, dropped.to, "the endorser waiting for the dropped ack is the one that failed");
  assert.equal(failed.attempt, 1);
  assert.equal(failed.error, "DISSEMINATION_FAILED");
  // Fabric's distributor waits pushAckTimeout for each acknowledgement, then fails the endorsement.
  const waited = failed.atMs - dropped.atMs;
  assert.ok(waited <= PUSH_ACK_TIMEOUT_MS && waited >= PUSH_ACK_TIMEOUT_MS - 200, `failed ${waited} ms after the ack was dropped`);
  const retry = rec.endorsed.find((e) => e.txId === failed.txId && e.attempt === 2);
  assert.ok(retry?.ok, "the client's second endorsement distributed the data");
  assert.notEqual(retry.peer, failed.peer);
  const ordered = rec.ordered.find((e) => e.txId === failed.txId);
  assert.ok(ordered !== undefined, "the transaction was ordered after the retry");
  // Every running eligible peer had the write set when it committed the block: pushed, or pulled at commit.
  const members = sim.privateData!.membersOf(failed.collection)!;
  const eligible = sim.peers.filter((p) => members.has(p.spec.mspId));
  for (const p of eligible) assert.equal(sim.privateData!.heldAtCommit.get(`${p.name}/${failed.txId}/${failed.collection}`), true, `${p.name} held it at commit`);
  // maximumPeerCount 2 of 3+ eligible peers: the rest pulled at commit.
  assert.ok(rec.requests.length > 0, "peers the push skipped pulled");
  assert.equal(report.privateData?.missing, 0);
  assert.equal(report.privateData?.abandoned, 0);
  assert.equal(report.missingCommits, 0);
  assertNoLeak(sim, report.privateData?.leaked);
});

test("S19b: an eligible peer down at endorsement pulls the write sets when it commits their blocks, within pullRetryThreshold, or reconciles them", async () => {
  const crashAt = WARMUP_MS + 3_000;
  const downMs = 4_000;
  const sim = new Simulator(
    pvtOptions(12, { shortBlockToLive: 100 }, {}, {
      crashes: [{ target: "p3", count: 1, atMs: crashAt, downMs }],
      durationMs: WARMUP_MS + BLOCKS * INTERVAL_MS + 20_000,
    }),
  );
  const rec = record(sim);
  const commits = new Map<number, number>();
  sim.onEvent((e) => {
    if (e.kind === "commit" && e.peer === "p3") commits.set(e.seq, e.atMs);
  });
  const { report } = await sim.run();
  const missed = rec.endorsed.filter((e) => e.ok && e.atMs >= crashAt && e.atMs < crashAt + downMs);
  assert.ok(missed.length >= 3, `write sets endorsed while p3 was down: ${missed.length}`);
  const pvt = sim.privateData!;
  let atCommit = 0;
  for (const e of missed) {
    // Both collections admit Org1: p3 is eligible for each.
    const outcome = pvt.outcomes.find((o) => o.peer === "p3" && o.txId === e.txId);
    assert.equal(outcome?.status, "held", `p3 holds ${e.txId.slice(0, 12)} (${e.collection}) at the end`);
    if (pvt.heldAtCommit.get(`p3/${e.txId}/${e.collection}`) === true) atCommit++;
    const seq = rec.ordered.find((o) => o.txId === e.txId)!.seq;
    const at = commits.get(seq);
    assert.ok(at !== undefined, `p3 committed block ${seq}`);
  }
  assert.ok(atCommit > 0, "some write sets p3 missed were pulled when it committed their blocks");
  const restartedAt = rec.restarts.get("p3")!;
  assert.ok(rec.requests.some((r) => r.from === "p3" && r.atMs >= restartedAt), "p3 asked other peers for private data");
  // A pull at commit never holds a block longer than pullRetryThreshold: p3 caught up in one threshold of its catch-up.
  const lastSeq = Math.max(...rec.ordered.map((o) => o.seq));
  assert.ok((commits.get(lastSeq) ?? Number.POSITIVE_INFINITY) - restartedAt < 10_000 + PULL_RETRY_THRESHOLD_MS, "p3 caught up without waiting out a threshold per block");
  assert.equal(report.privateData?.missing, 0, "nothing left missing: reconciliation filled what the restart lost");
  assert.equal(report.missingCommits, 0);
  assertNoLeak(sim, report.privateData?.leaked);
});

test("S19c: a peer restarting after it missed data gets it by reconciliation within 2 x reconcileSleepInterval of catching up", async () => {
  const crashAt = WARMUP_MS + 2_000;
  const downMs = 8_000;
  // No pull at commit (pullRetryThreshold 0): what a peer lacks at commit is recorded missing and reconciled.
  const sim = new Simulator(
    pvtOptions(13, { shortBlockToLive: 100 }, { pullRetryThresholdMs: 0 }, {
      crashes: [{ target: "p4", count: 1, atMs: crashAt, downMs }],
      durationMs: WARMUP_MS + BLOCKS * INTERVAL_MS + 25_000,
    }),
  );
  const rec = record(sim);
  // The collOrg12 write sets ordered while p4 was down: the data it missed.
  const missedByP4 = (): typeof rec.ordered => rec.ordered.filter((o) => o.collection === SIM_COLL_SHARED && o.atMs >= crashAt && o.atMs < crashAt + downMs);
  let caughtUpAt: number | undefined;
  let lackingAfterCatchUp = 0;
  let recordedMissing = 0;
  let completeAt: number | undefined;
  let checking = false;
  sim.onStep((now) => {
    const svc = sim.peers.find((p) => p.name === "p4")!.service;
    if (!rec.restarts.has("p4") || svc === undefined || !svc.channels().includes("ch0") || completeAt !== undefined || checking) return;
    if (caughtUpAt === undefined && Number(svc.ledgerHeight("ch0")) >= BLOCKS + 1) caughtUpAt = now;
    if (caughtUpAt === undefined) return;
    const missed = missedByP4();
    checking = true;
    void (async () => {
      // Read-only: what the store holds of each missed write set.
      const store = svc.privateData("ch0").pvtStore;
      let held = 0;
      for (const o of missed) {
        if ((await store.getPvtDataByBlockNum(BigInt(o.seq))).some((d) => d.seqInBlock === o.txIndex)) held++;
        else if (store.blockRecord(BigInt(o.seq)).missing.some((m) => m.seqInBlock === o.txIndex && m.collection === o.collection && m.isEligible)) recordedMissing++;
      }
      if (held < missed.length) lackingAfterCatchUp = Math.max(lackingAfterCatchUp, missed.length - held);
      else completeAt = now;
      checking = false;
    })();
  });
  const { report } = await sim.run();
  const missed = missedByP4();
  assert.ok(missed.length >= 3, `collOrg12 write sets ordered while p4 was down: ${missed.length}`);
  assert.ok(caughtUpAt !== undefined, "p4 caught up");
  // Blocks p4 fetched by state transfer carry the private data an eligible responder holds (as Fabric's do); those
  // it got by push or pull come without it and are recorded missing for the reconciler. Since a peer far behind
  // starts anti-entropy at once, p4 may get all of it by state transfer: then there is nothing to reconcile.
  assert.ok(completeAt !== undefined, "p4 holds every write set it missed");
  if (lackingAfterCatchUp > 0) {
    assert.ok(recordedMissing > 0, "what it lacked at commit was recorded missing, eligible, for the reconciler");
    assert.ok(completeAt - caughtUpAt <= 2 * RECONCILE_SLEEP_INTERVAL_MS, `reconciled ${completeAt - caughtUpAt} ms after catching up`);
  }
  for (const o of sim.privateData!.outcomes.filter((x) => x.peer === "p4" && x.collection === SIM_COLL_SHARED)) assert.equal(o.status, "held");
  assert.equal(report.privateData?.missing, 0);
  assertNoLeak(sim, report.privateData?.leaked);
});

test("S19d: data purged by the time of the pull is committed without it, with no retry loop and no wait of pullRetryThreshold", async () => {
  const crashAt = WARMUP_MS + 2_000;
  const downMs = 8_000;
  // Fabric's pullRetryThreshold (60 s): a pull that kept retrying for purged data would hold each block that long.
  const sim = new Simulator(
    pvtOptions(14, { shortBlockToLive: 2 }, { pullRetryThresholdMs: 60_000 }, {
      crashes: [{ target: "p4", count: 1, atMs: crashAt, downMs }],
      durationMs: WARMUP_MS + BLOCKS * INTERVAL_MS + 20_000,
    }),
  );
  const rec = record(sim);
  const commits = new Map<number, number>();
  sim.onEvent((e) => {
    if (e.kind === "commit" && e.peer === "p4") commits.set(e.seq, e.atMs);
  });
  const { report } = await sim.run();
  const restartedAt = rec.restarts.get("p4")!;
  // collOrg12 write sets of blocks p4 committed after its restart that had expired at the other peers by then.
  const stale = rec.ordered.filter((o) => o.collection === SIM_COLL_SHARED && o.atMs >= crashAt && o.atMs < restartedAt);
  assert.ok(stale.length >= 3, `collOrg12 write sets written while p4 was down: ${stale.length}`);
  for (const o of stale) {
    const outcome = sim.privateData!.outcomes.find((x) => x.peer === "p4" && x.txId === o.txId);
    assert.ok(outcome !== undefined && ["purged", "presumed-purged", "missing"].includes(outcome.status), `${o.txId.slice(0, 12)}: ${outcome?.status}`);
  }
  // No error loop: at most one request per write set p4 could still want, none repeated every pull retry.
  const asked = rec.requests.filter((r) => r.from === "p4" && r.atMs >= restartedAt).length;
  const sharedTotal = rec.ordered.filter((o) => o.collection === SIM_COLL_SHARED).length;
  assert.ok(asked <= sharedTotal, `p4 sent ${asked} private data requests after its restart (write sets of its collection: ${sharedTotal})`);
  // Committing the stale blocks did not wait out pullRetryThreshold.
  const lastStale = Math.max(...stale.map((o) => o.seq));
  const committedAt = commits.get(lastStale);
  assert.ok(committedAt !== undefined && committedAt - restartedAt < 20_000, `p4 committed block ${lastStale} ${committedAt === undefined ? "never" : committedAt - restartedAt} ms after restarting`);
  assert.equal(report.missingCommits, 0);
  assertNoLeak(sim, report.privateData?.leaked);
});

test("a private-data run is deterministic: the same seed gives the same trace hash and figures, another seed another hash", async () => {
  const run = async (seed: number): Promise<{ hash: string; figures: unknown; ordered: string[] }> => {
    const sim = new Simulator(pvtOptions(seed, { share: 0.7 }, {}, { blocks: 12 }));
    const ordered: string[] = [];
    sim.onEvent((e) => {
      if (e.kind === "pvt-ordered") ordered.push(`${e.seq}/${e.txIndex} ${e.txId} ${e.collection}`);
    });
    const { report } = await sim.run();
    return { hash: report.traceHash, figures: report.privateData, ordered };
  };
  const a = await run(21);
  const b = await run(21);
  const c = await run(22);
  assert.ok(a.ordered.length > 0);
  assert.equal(a.hash, b.hash);
  assert.deepEqual(a.figures, b.figures);
  assert.deepEqual(a.ordered, b.ordered, "the same transactions (IDs from seeded nonces) in the same blocks");
  assert.notEqual(a.hash, c.hash);
});

test("S19d, holders' heights lagging: a request for data the holders purged is answered with nothing and retried each second only until their published heights show it purged, never for pullRetryThreshold", async () => {
  const healAt = WARMUP_MS + 6_000;
  // btlPullMargin 0: a holder is asked while its published height is below the data's expiry, which lags its real
  // height by up to publishStateInfoInterval (4 s, 8 blocks here), so the data may already be purged there.
  const sim = new Simulator(
    pvtOptions(1, { shortBlockToLive: 2 }, { pullRetryThresholdMs: 60_000, btlPullMargin: 0 }, {
      partitions: [{ kind: "isolate", peers: ["p4"], atMs: WARMUP_MS + 3_000, forMs: 3_000, mode: "blackhole" }],
      durationMs: WARMUP_MS + BLOCKS * INTERVAL_MS + 20_000,
    }),
  );
  const rec = record(sim);
  const commits: number[] = [];
  sim.onEvent((e) => {
    if (e.kind === "commit" && e.peer === "p4" && e.atMs >= healAt) commits.push(e.atMs);
  });
  const { report } = await sim.run();
  // Rounds of requests from p4 after the heal (one request per candidate peer per round, rounds a second apart).
  const times = rec.requests.filter((r) => r.from === "p4" && r.atMs >= healAt).map((r) => r.atMs);
  let rounds = 0;
  let last = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    if (t - last > 500) rounds++;
    last = t;
  }
  const publishMs = sim.options.gossip.publishStateInfoIntervalMs;
  assert.ok(rounds >= 2, `p4 asked for data the holders had purged and asked again: ${rounds} rounds`);
  assert.ok(rounds <= publishMs / 1_000 + 1, `${rounds} rounds: no more than until the next published heights (${publishMs} ms), far from pullRetryThreshold's 60`);
  let stall = 0;
  for (let i = 1; i < commits.length; i++) stall = Math.max(stall, commits[i]! - commits[i - 1]!);
  assert.ok(stall <= publishMs + 1_000, `p4's longest wait between two commits after the heal: ${stall} ms`);
  for (const o of sim.privateData!.outcomes.filter((x) => x.peer === "p4" && x.collection === SIM_COLL_SHARED)) assert.notEqual(o.status, "missing");
  assert.equal(report.missingCommits, 0);
  assertNoLeak(sim, report.privateData?.leaked);
});

test("simulate --private-data: the option with the sample core.yaml's pvtData settings; refused with --fast-crypto; the text report says what happened to the write sets", async () => {
  const flags: SimulateFlags = {
    peers: "10",
    orgs: "3",
    channels: "1",
    blocks: "8",
    blockSize: "2KB",
    blockRate: "2/s",
    latency: "5-20ms",
    loss: "0",
    duplicate: "0",
    reorder: "0",
    partition: [],
    crash: [],
    warmup: "20s",
    clockSkew: "0s",
    seed: "5",
    privateData: true,
  };
  const o = await simOptionsFromFlags(flags);
  assert.deepEqual(o.privateData, { ...DEFAULT_PRIVATE_DATA, pvtData: {} }, "the service's defaults (core.yaml's), not Go's zero values");
  assert.equal((await simOptionsFromFlags({ ...flags, privateData: false })).privateData, undefined);
  assert.throws(() => validateOptions(simOptions({ ...o, crypto: "fast" })), /private data needs real crypto/);
  assert.throws(() => validateOptions(simOptions({ ...o, privateData: { ...DEFAULT_PRIVATE_DATA, share: 2 } })), /share/);
  const { report } = await new Simulator(o).run();
  assert.ok(report.privateData !== undefined && report.privateData.written > 0);
  assert.match(formatSimReport(report), /private data\s+\d+ write sets written; held \d+, missing 0, purged \d+, leaked 0/);
});

/** S19e's run: maximumPeerCount 0 (only the endorser holds a write set), no pull at commit, p3 (Org1) crashes for good. */
async function unreconcilableRun(): Promise<{ sim: Simulator; report: Awaited<ReturnType<Simulator["run"]>>["report"]; rec: ReturnType<typeof record>; crashAt: number }> {
  const crashAt = WARMUP_MS + 3_000;
  const sim = new Simulator(
    pvtOptions(2, { shortBlockToLive: 100, requiredPeerCount: 0, maximumPeerCount: 0 }, { pullRetryThresholdMs: 0 }, {
      crashes: [{ target: "p3", count: 1, atMs: crashAt, downMs: undefined }],
      durationMs: WARMUP_MS + BLOCKS * INTERVAL_MS + 25_000,
    }),
  );
  const rec = record(sim);
  const { report } = await sim.run();
  return { sim, report, rec, crashAt };
}

test("S19e: write sets whose only holder is gone stay missing on the deprioritized list; reconciliation of the later ones goes on", async () => {
  const { sim, report, rec, crashAt } = await unreconcilableRun();
  const byP3 = new Set(rec.endorsed.filter((e) => e.ok && e.peer === "p3").map((e) => e.txId));
  assert.ok(byP3.size > 0, "p3 endorsed write sets before it crashed");
  const outcomes = sim.privateData!.outcomes;
  const lost = outcomes.filter((o) => byP3.has(o.txId) && o.peer !== "p3" && o.status !== "ineligible");
  assert.ok(lost.length > 0);
  for (const o of lost) {
    assert.equal(o.status, "missing", `${o.peer} cannot get ${o.txId.slice(0, 12)}: only p3 had it`);
    assert.equal(o.deprioritized, true, "asked for, not obtained: deprioritized (Fabric retries it after 60 min)");
  }
  // Write sets endorsed after the crash by running peers: every eligible running peer reconciled them.
  const later = new Set(rec.endorsed.filter((e) => e.ok && e.atMs > crashAt).map((e) => e.txId));
  assert.ok(later.size >= 10);
  for (const o of outcomes.filter((x) => later.has(x.txId) && x.status !== "ineligible")) assert.equal(o.status, "held", `${o.peer} holds ${o.txId.slice(0, 12)} (block ${o.seq})`);
  assert.ok((report.privateData?.missing ?? 0) >= lost.length);
  assertNoLeak(sim, report.privateData?.leaked);
});

// Fabric's puller (pull.go assignDigestsToPeers) asks a peer in one round only, so a holder spent on other digests was
// never asked for this one, which went to the deprioritized list (60 min) though its holder ran; ours asks a peer again
// for digests it was not asked for yet.
test(
  "S19e: every write set whose holder is up is reconciled",
  async () => {
    const { sim, rec } = await unreconcilableRun();
    const running = new Set(sim.peers.filter((p) => p.status !== "crashed").map((p) => p.name));
    const endorser = new Map(rec.endorsed.filter((e) => e.ok).map((e) => [e.txId, e.peer]));
    for (const o of sim.privateData!.outcomes) {
      if (o.status === "ineligible" || !running.has(endorser.get(o.txId) ?? "")) continue;
      assert.equal(o.status, "held", `${o.peer} lacks ${o.txId.slice(0, 12)} (block ${o.seq}) though its endorser ${endorser.get(o.txId)} runs`);
    }
  },
);
