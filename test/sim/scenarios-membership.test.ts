/**
 * RELIABILITY.md part C, scenarios S1-S4 (membership, crashes, restarts, partitions) as
 * simulator runs in virtual time with Fabric's default timers, each over several seeds
 * (SIM_SEEDS=N for more, SIM_SEEDS=4,17 for given ones). The simulator checks the C0 invariants
 * all along; a violation rejects the run with a SimInvariantError that names the seed.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { pkiHex } from "../../src/api/identity.js";
import { defaultGossipConfig } from "../../src/config/index.js";
import { RandomTree, type SimOptions, Simulator } from "../../src/sim/index.js";
import { fabricTimers, forSeeds, runRecorded, ScenarioRecorder, scenarioOptions, scenarioSeeds, secs, seededOffsetMs } from "./scenario-kit.js";

const TIMERS = fabricTimers(defaultGossipConfig());
const { A, E, R, P, L, Del, S } = TIMERS;
const SEEDS = scenarioSeeds(3);
/** Removal bound of S1 and S3: E + E/10 + 1 s (28.5 s). */
const REMOVAL_BOUND_MS = E + E / 10 + 1_000;
/** S1: a new leader within L + D_el + 2 s (17 s). */
const NEW_LEADER_BOUND_MS = L + Del + 2_000;

test("the scenarios run with Fabric's default timers (RELIABILITY.md C0)", () => {
  assert.deepEqual(TIMERS, { A: 5_000, E: 25_000, R: 25_000, P: 4_000, L: 10_000, Del: 5_000, S: 10_000 });
});

test("the scenario partitions are validated: split and oneway name peers, oneway keeps streams open", () => {
  const part = (kind: "split" | "oneway", mode: "break" | "blackhole", peers?: string[]) =>
    scenarioOptions({ partitions: [{ kind, atMs: 1_000, forMs: 1_000, mode, ...(peers === undefined ? {} : { peers }) }] });
  assert.throws(() => new Simulator(part("oneway", "break", ["p1"])), /oneway: mode must be blackhole/);
  assert.throws(() => new Simulator(part("split", "blackhole")), /split: peers must name at least one peer/);
  assert.throws(() => new Simulator(part("oneway", "blackhole", ["p10"])), /oneway: no peer named p10/);
  assert.doesNotThrow(() => new Simulator(part("split", "break", ["p1", "p2"])));
});

// ------------------------------------------------------------------------------------------------
// shared measurements

/**
 * When `victim` was gone for good from the view of every observer running throughout
 * [fromMs, untilMs]: per observer, the first sample after which it never reappears. Fails if some
 * observer still has it at `untilMs`.
 */
function removalTimes(rec: ScenarioRecorder, victim: number, observers: readonly number[], fromMs: number, untilMs: number): Map<number, number> {
  const out = new Map<number, number>();
  const last = rec.sampleAt(untilMs);
  for (const o of observers) {
    assert.ok(last !== undefined && last.running[o] === 1, `${rec.names[o]} runs at ${secs(untilMs)}`);
    assert.ok(!last.sees(o, victim), `${rec.names[o]} still has ${rec.names[victim]} in its view ${secs(untilMs - fromMs)} after the fault`);
    const changes = rec.viewChanges(o, victim, fromMs, untilMs);
    out.set(o, changes.length === 0 ? fromMs : changes[changes.length - 1]!.atMs);
  }
  return out;
}

/**
 * How long after the fault at `fromMs` `victim` was gone from every observer's view, checked against
 * RELIABILITY's E + E/10 + 1 s. With `silent` (no connection reset: only expiration notices) the
 * bound is Fabric's actual guarantee instead: E + E/10 + 1 s after the observer received the
 * victim's newest alive message, which may reach it after the fault (relayed, or in a membership
 * response every pullInterval), so the whole removal may take longer; it is then held to the sanity
 * bound SILENT_REMOVAL_BOUND_MS. Needs the victim watched (RecorderOptions.watchAlive) when silent.
 */
function checkRemoval(rec: ScenarioRecorder, victim: number, observers: readonly number[], fromMs: number, untilMs: number, silent: boolean): number {
  const gone = removalTimes(rec, victim, observers, fromMs, untilMs);
  let worst = 0;
  for (const [o, at] of gone) {
    worst = Math.max(worst, at - fromMs);
    if (silent) {
      const heard = rec.newestAliveAt(o, victim, 0, untilMs) ?? fromMs;
      assert.ok(
        at - heard <= REMOVAL_BOUND_MS,
        `${rec.names[o]} dropped ${rec.names[victim]} ${secs(at - heard)} after its newest alive message reached it, bound ${secs(REMOVAL_BOUND_MS)}`,
      );
    }
  }
  const bound = silent ? SILENT_REMOVAL_BOUND_MS : REMOVAL_BOUND_MS;
  assert.ok(worst <= bound, `${rec.names[victim]} removed from every view after ${secs(worst)}, bound ${secs(bound)}`);
  return worst;
}

/**
 * Every live peer declared each victim dead after the fault, as discovery's typed "member-dead"
 * events tell it (the simulator's "death" events): the death count is measured, so the
 * no-false-death checks that read the same events can fail.
 */
function assertDeclaredDead(rec: ScenarioRecorder, victims: readonly number[], observers: readonly number[], fromMs: number, untilMs: number): void {
  const missing: string[] = [];
  for (const v of victims) {
    for (const o of observers) {
      const declared = rec.eventsOf("death").some((d) => d.atMs >= fromMs && d.atMs <= untilMs && d.peer === rec.names[o] && d.target === rec.names[v]);
      if (!declared) missing.push(`${rec.names[o]} never declared ${rec.names[v]} dead`);
    }
  }
  assert.deepEqual(missing, [], "every live peer declares a crashed peer dead");
}

/**
 * No member of `group` disappears from the view of another member of `group` within
 * [fromMs, untilMs] (while both run), and nobody in it declares another of it dead: the fault
 * touched nobody else.
 */
function assertNoFalseDeaths(rec: ScenarioRecorder, group: readonly number[], fromMs: number, untilMs: number, what: string): void {
  const members = new Set(group);
  const bad: string[] = [];
  for (const o of group) {
    for (const m of group) {
      if (m === o) continue;
      for (const c of rec.viewChanges(o, m, fromMs, untilMs)) {
        if (!c.present) bad.push(`${rec.names[o]} dropped ${rec.names[m]} at ${secs(c.atMs)}`);
      }
    }
  }
  for (const d of rec.eventsOf("death")) {
    if (d.atMs < fromMs || d.atMs > untilMs) continue;
    if (members.has(rec.index(d.peer)) && members.has(rec.index(d.target))) bad.push(`${d.peer} declared ${d.target} dead at ${secs(d.atMs)}`);
  }
  assert.deepEqual(bad, [], `${what}: peers marked dead that the fault did not touch`);
}

/** Every peer in `peers` committed blocks 1..blocks, each once and in order. */
function assertAllCommitted(rec: ScenarioRecorder, peers: readonly number[], blocks: number): void {
  for (const p of peers) {
    const seqs = rec.commits[p]!.map((c) => c.seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: blocks }, (_, i) => i + 1),
      `${rec.names[p]} committed ${seqs.length} of ${blocks} blocks (each once, in order)`,
    );
  }
}

/** Each peer's commits are 1, 2, 3, ... with no repeat (also for peers that went down). */
function assertNoDuplicateCommits(rec: ScenarioRecorder): void {
  for (const [p, commits] of rec.commits.entries()) {
    for (const [i, c] of commits.entries()) assert.equal(c.seq, i + 1, `${rec.names[p]}'s commit #${i + 1} is block ${c.seq}`);
  }
}

/** Whether `name` led the first channel just before `atMs`. */
function ledAt(rec: ScenarioRecorder, name: string, atMs: number): boolean {
  const s = rec.sampleAt(atMs - 1);
  return s !== undefined && s.leader[rec.index(name)] === 1;
}

const everyone = (rec: ScenarioRecorder): number[] => rec.names.map((_, i) => i);
const except = (rec: ScenarioRecorder, ...out: number[]): number[] => everyone(rec).filter((p) => !out.includes(p));

// ------------------------------------------------------------------------------------------------
// S1 peer crash

/**
 * When a scenario's fault strikes: after the warm-up (views converge in about 6 s, leaders are
 * elected at about 6 s, blocks flow from 20 s), at 25 s plus a seeded offset within R, so the
 * seeds meet the fault at different phases of the alive (A), expiration (E/10) and reconnect (R)
 * cycles.
 */
function faultAt(seed: number, label: string): number {
  return 25_000 + seededOffsetMs(seed, label, R);
}
/** Long enough after a crash for a false death to show: E + E/10 and a margin. */
const AFTER_CRASH_MS = E + E / 10 + 5_000;
/**
 * Silent loss, overall: a sanity bound of 2E. Fabric bounds only the time from an observer's
 * receipt of the victim's newest alive message (checked exactly, see checkRemoval); that message
 * keeps spreading after the fault (relayed, or in membership responses every pullInterval, from
 * peers that still hold it), so no fixed bound from the fault exists. Measured: up to 13 s late.
 */
const SILENT_REMOVAL_BOUND_MS = 2 * E;

interface CrashFigures {
  removalMs: number[];
  newLeader?: { peer: string; afterMs: number };
  resumeMs: number;
}

/**
 * The S1 pass criteria after `victims` stopped being reachable at `faultAt`: each removed from every
 * live view within E + E/10 + 1 s; nobody else marked dead; if the first led its org, exactly one
 * new leader there within L + D_el + 2 s, and one leader from then on; every block reaches every
 * live peer, each once, in order.
 */
function checkCrash(
  rec: ScenarioRecorder,
  o: SimOptions,
  victims: readonly number[],
  faultAt: number,
  endMs: number,
  { wasLeader, silent }: { wasLeader: boolean; silent: boolean },
): CrashFigures {
  const rest = except(rec, ...victims);
  const removalMs = victims.map((v) => checkRemoval(rec, v, rest, faultAt, endMs, silent));
  assertDeclaredDead(rec, victims, rest, faultAt, endMs);
  assertNoFalseDeaths(rec, rest, faultAt, endMs, `after ${victims.map((v) => rec.names[v]).join(", ")} went down`);
  const figures: CrashFigures = { removalMs, resumeMs: 0 };
  const org = rec.orgOf(victims[0]!);
  const orgRest = rec.orgPeers(org).filter((p) => !victims.includes(p));
  if (wasLeader) {
    const elected = rec.leaderElections(org, faultAt).filter((e) => orgRest.includes(rec.index(e.peer)));
    assert.equal(elected.length, 1, `exactly one new leader in org ${org}: ${JSON.stringify(elected)}`);
    const first = elected[0]!;
    figures.newLeader = { peer: first.peer, afterMs: first.atMs - faultAt };
    assert.ok(first.atMs - faultAt <= NEW_LEADER_BOUND_MS, `new leader ${first.peer} after ${secs(first.atMs - faultAt)}, bound ${secs(NEW_LEADER_BOUND_MS)}`);
    for (const s of rec.window(first.atMs + 1_000, endMs)) {
      const leaders = orgRest.filter((p) => s.running[p] === 1 && s.leader[p] === 1);
      assert.deepEqual(leaders.map((p) => rec.names[p]), [first.peer], `leaders of org ${org} at ${secs(s.atMs)}`);
    }
  }
  // Delivery resumes: the first commit in the victim's org after the fault.
  figures.resumeMs = Math.min(...orgRest.map((p) => rec.commits[p]!.find((c) => c.atMs > faultAt)?.atMs ?? Number.POSITIVE_INFINITY)) - faultAt;
  assertAllCommitted(rec, rest, o.blocks);
  assertNoDuplicateCommits(rec);
  return figures;
}

function crashDiagnostic(seed: number, rec: ScenarioRecorder, victims: readonly number[], f: CrashFigures): string {
  const removed = victims.map((v, i) => `${rec.names[v]} removed from every view after ${secs(f.removalMs[i])}`).join(", ");
  const parts = [`seed ${seed}: ${removed} (RELIABILITY bound ${secs(REMOVAL_BOUND_MS)})`];
  if (f.newLeader !== undefined) parts.push(`new leader ${f.newLeader.peer} after ${secs(f.newLeader.afterMs)} (bound ${secs(NEW_LEADER_BOUND_MS)})`);
  parts.push(`first commit in its org ${secs(f.resumeMs)} after the fault`);
  return parts.join("; ");
}

/** `seeds` plus fixed regression seeds (each documented where it is used), without repeats. */
const withRegressions = (seeds: readonly number[], ...fixed: number[]): number[] => [...new Set([...seeds, ...fixed])];

test("S1 peer crash: a peer that is neither leader nor anchor (T10)", async (t: TestContext) => {
  // Regression seed 6: org 2 elected two leaders at start-up (p7 stepped down 4.2 s later), which
  // an earlier version of this test counted against the crash.
  await forSeeds(t, withRegressions(SEEDS, 6), async (seed, st) => {
    const at = faultAt(seed, "s1-plain");
    // p9 is org 1's fourth peer: not its anchor (p0), not a bootstrap peer (p3 is p0's).
    const o = scenarioOptions({ seed, blocks: 20, durationMs: at + AFTER_CRASH_MS, crashes: [{ target: "p9", count: 1, atMs: at, downMs: undefined }] });
    const { rec, result } = await runRecorded(o);
    assert.equal(ledAt(rec, "p9", at), false, `seed ${seed}: p9 must not lead`);
    const v = rec.index("p9");
    const f = checkCrash(rec, o, [v], at, o.durationMs!, { wasLeader: false, silent: false });
    assert.equal(result.report.falseDeaths, 0);
    // No leader moved because of it (start-up may have moved one: two peers of an org can both
    // elect themselves before either hears the other, as seed 6 shows at 6.9 s).
    assert.deepEqual(rec.eventsOf("leader").filter((e) => e.atMs >= at), [], "no leadership change after the crash");
    st.diagnostic(crashDiagnostic(seed, rec, [v], f));
  });
});

test("S1 peer crash: the org leader (T10)", async (t: TestContext) => {
  await forSeeds(t, SEEDS, async (seed, st) => {
    const at = faultAt(seed, "s1-leader");
    const o = scenarioOptions({ seed, blocks: 20, durationMs: at + AFTER_CRASH_MS, crashes: [{ target: "leader", count: 1, atMs: at, downMs: undefined }] });
    const { rec, result } = await runRecorded(o);
    const crash = rec.eventsOf("crash")[0];
    assert.ok(crash !== undefined, "a leader crashed");
    assert.ok(ledAt(rec, crash.peer, at), `seed ${seed}: ${crash.peer} led org 1 when it crashed`);
    const v = rec.index(crash.peer);
    const f = checkCrash(rec, o, [v], at, o.durationMs!, { wasLeader: true, silent: false });
    assert.equal(result.report.falseDeaths, 0);
    st.diagnostic(crashDiagnostic(seed, rec, [v], f));
  });
});

test("S1 peer crash: the anchor peer stays a reconnect target after its alive message expired, and rejoins (T10)", async (t: TestContext) => {
  // Discovery forgets a dead member when its alive message expires (E x msgExpirationFactor), unless
  // it is an anchor or bootstrap peer (FAB-17539). The factor (20, 500 s) is not one of RELIABILITY's
  // timer symbols; 2 (50 s) keeps the run short. p9, a plain peer of the same org crashed at the
  // same time, is the contrast: peers forget it (and may learn it again as dead from another
  // peer's membership response, as Fabric does, sometimes within one sample), while the anchor p0
  // must stay known by every peer all along.
  const gossip = defaultGossipConfig();
  gossip.msgExpirationFactor = 2;
  const forgetMs = E * gossip.msgExpirationFactor;
  await forSeeds(t, SEEDS, async (seed, st) => {
    const at = faultAt(seed, "s1-anchor");
    const restartAt = at + forgetMs + 30_000;
    const o = scenarioOptions({
      seed,
      gossip,
      blocks: 30,
      durationMs: restartAt + R + 2 * A + 5_000,
      crashes: [
        { target: "p0", count: 1, atMs: at, downMs: restartAt - at },
        { target: "p9", count: 1, atMs: at, downMs: undefined },
      ],
    });
    const sim = new Simulator(o);
    const rec = new ScenarioRecorder(sim);
    // Per peer: when it did not know p0 (neither alive nor dead) and when it did not know p9.
    const forgot = new Map<string, { p0: number[]; p9: number[] }>();
    sim.onStep((now) => {
      if (now < at || now >= restartAt) return;
      for (const p of sim.peers) {
        if (!p.running || p.node === undefined) continue;
        const known = new Set([...p.node.peers(), ...p.node.deadMembers()].map((m) => m.endpoint));
        const f = forgot.get(p.name) ?? { p0: [], p9: [] };
        forgot.set(p.name, f);
        if (!known.has("p0:7051")) f.p0.push(now);
        if (!known.has("p9:7051")) f.p9.push(now);
      }
    });
    await sim.run();
    const [p0, p9] = [rec.index("p0"), rec.index("p9")];
    const wasLeader = ledAt(rec, "p0", at);
    const f = checkCrash(rec, o, [p0, p9], at, restartAt - 1, { wasLeader, silent: false });
    const rest = except(rec, p0, p9);
    assert.deepEqual([...forgot.keys()].sort(), rest.map((p) => rec.names[p]).sort());
    for (const [name, k] of forgot) assert.deepEqual(k.p0.slice(0, 1).map(secs), [], `${name} forgot the anchor p0 (it must stay a reconnect target)`);
    const forgotP9 = [...forgot.values()].filter((k) => k.p9.length > 0);
    assert.ok(forgotP9.length > 0, "some peer forgot the plain peer p9 once its alive message expired");
    const firstForget = Math.min(...forgotP9.map((k) => k.p9[0]!));
    const back = rec.firstSample(restartAt, (s) => rest.every((p) => s.sees(p, p0) && s.sees(p0, p)));
    assert.ok(back !== undefined, "p0 rejoined every view after its restart");
    assert.ok(back.atMs - restartAt <= R + 2 * A, `p0 rejoined after ${secs(back.atMs - restartAt)}, bound R + 2A = ${secs(R + 2 * A)}`);
    st.diagnostic(
      `${crashDiagnostic(seed, rec, [p0, p9], f)}; p9 forgotten by ${forgotP9.length} of ${rest.length} peers (first ${secs(firstForget - at)} after the crash), p0 known as a reconnect target by every peer until its restart ${secs(restartAt - at)} after; p0 rejoined every view ${secs(back.atMs - restartAt)} after its restart (bound ${secs(R + 2 * A)})`,
    );
  });
});

test("S1 peer crash without a connection reset (the host vanishes): the org leader and anchor (T10)", async (t: TestContext) => {
  // A permanent blackhole isolation of p0: open streams stay open and lose everything, so only
  // discovery's expiration notices (a crash resets connections, which comm reports at once). p0
  // keeps running on its own and is left out of every assertion about the others.
  await forSeeds(t, SEEDS, async (seed, st) => {
    const at = faultAt(seed, "s1-silent");
    const o = scenarioOptions({ seed, blocks: 25, durationMs: at + SILENT_REMOVAL_BOUND_MS + 5_000, partitions: [{ kind: "isolate", atMs: at, forMs: 1e12, peers: ["p0"], mode: "blackhole" }] });
    const { rec } = await runRecorded(o, { watchAlive: ["p0"] });
    const v = rec.index("p0");
    assert.ok(ledAt(rec, "p0", at), `seed ${seed}: p0 led org 1`);
    const f = checkCrash(rec, o, [v], at, o.durationMs!, { wasLeader: true, silent: true });
    st.diagnostic(crashDiagnostic(seed, rec, [v], f));
  });
});

// ------------------------------------------------------------------------------------------------
// S2 restart with a persistent ledger

interface RestartCase {
  /** Down time Δ. */
  downMs: number;
  /** Blocks committed by the others while it is down. */
  missed: number;
  crypto: "fast" | "real";
  seeds: number[];
}

/**
 * RELIABILITY's catch-up bound S + ⌈G/10⌉ x (RTT + batch commit) x 1.5, with RTT twice the largest
 * one-way link latency and batch commit 0: the simulator does not charge CPU time (docs/SIMULATION.md).
 */
function catchUpBoundMs(missed: number, o: SimOptions, batchSize: number): number {
  const lat = o.link.latency;
  const oneWay = lat.kind === "fixed" ? lat.ms : lat.kind === "uniform" ? lat.maxMs : lat.p99Ms;
  return S + Math.ceil(missed / batchSize) * (2 * oneWay) * 1.5;
}

async function restartScenario(t: TestContext, c: RestartCase): Promise<void> {
  // Catch-up needs state transfer, on in a real deployment with election (Fabric's default is off).
  const gossip = defaultGossipConfig();
  gossip.state.enabled = true;
  const warmupMs = 20_000;
  const before = c.missed === 0 ? 10 : 2;
  const after = c.missed === 0 ? 0 : 2;
  // G blocks while it is down: one every Δ/G (one a second when G = 0, all before the crash).
  const interval = c.missed === 0 ? 1_000 : c.downMs / c.missed;
  const blocks = before + c.missed + after;
  // Just after block `before` was cut and committed (links take at most 50 ms), before the next.
  const crashAt = warmupMs + (before - 1) * interval + Math.min(interval / 2, c.missed === 0 ? 2_000 : 150);
  const restartAt = crashAt + c.downMs;
  const catchUpBound = catchUpBoundMs(c.missed, scenarioOptions(), gossip.state.batchSize);
  const durationMs = Math.max(restartAt + R + 2 * A, warmupMs + blocks * interval + catchUpBound, restartAt + catchUpBound) + 5_000;
  await forSeeds(t, c.seeds, async (seed, st) => {
    const o = scenarioOptions({
      seed,
      gossip,
      crypto: c.crypto,
      blocks,
      blockIntervalMs: interval,
      durationMs,
      crashes: [{ target: "p9", count: 1, atMs: crashAt, downMs: c.downMs }],
    });
    const { rec, sim } = await runRecorded(o, { watchAlive: ["p9"] });
    const v = rec.index("p9");
    const rest = except(rec, v);
    assert.equal(sim.peers[v]!.incarnation, 2, "p9 restarted");
    // G: what the others had committed beyond p9's height when it came back.
    const heightAtCrash = rec.commits[v]!.filter((x) => x.atMs <= crashAt).length;
    const heightAtRestart = Math.max(...rest.map((p) => rec.commits[p]!.filter((x) => x.atMs <= restartAt).length));
    assert.equal(heightAtCrash, before, `p9 had committed the ${before} blocks before the crash`);
    assert.equal(heightAtRestart - heightAtCrash, c.missed, `G = ${c.missed} blocks were committed while p9 was down`);
    // Rejoin: in every view, and every peer in its view, within R + 2A.
    const rejoined = rec.firstSample(restartAt, (s) => rest.every((p) => s.sees(p, v) && s.sees(v, p)));
    assert.ok(rejoined !== undefined, "p9 rejoined every view");
    assert.ok(rejoined.atMs - restartAt <= R + 2 * A, `p9 rejoined every view ${secs(rejoined.atMs - restartAt)} after its restart, bound R + 2A = ${secs(R + 2 * A)}`);
    // Its new alive (higher incNum) is what every view holds from then on, and the old incarnation
    // never comes back after the restart.
    const rows = rec.alive.get(v)!;
    const oldInc = rows.flat().find((x) => x !== undefined)!.incNum;
    let accepted: number | undefined;
    for (const [k, sample] of rec.samples.entries()) {
      if (sample.atMs < restartAt) continue;
      for (const p of rest) {
        const held = rows[k]![p];
        assert.ok(held === undefined || held.incNum !== oldInc, `${rec.names[p]} holds p9's old incarnation at ${secs(sample.atMs)}, after its restart`);
      }
      if (accepted === undefined && rest.every((p) => (rows[k]![p]?.incNum ?? 0n) > oldInc)) accepted = sample.atMs;
    }
    assert.ok(accepted !== undefined && accepted - restartAt <= R + 2 * A, `p9's new incarnation in every view after ${secs(accepted === undefined ? undefined : accepted - restartAt)}`);
    // Catch-up of the G missed blocks.
    const caughtUp = rec.commits[v]!.find((x) => x.seq === heightAtRestart)!.atMs;
    assert.ok(caughtUp - restartAt <= catchUpBound, `p9 caught up ${c.missed} blocks ${secs(caughtUp - restartAt)} after its restart, bound ${secs(catchUpBound)}`);
    assertAllCommitted(rec, everyone(rec), blocks);
    assertNoDuplicateCommits(rec);
    assertNoFalseDeaths(rec, rest, warmupMs, durationMs, "while p9 was down and after");
    st.diagnostic(
      `seed ${seed} (${c.crypto} crypto): Δ ${secs(c.downMs)}, G ${c.missed}: rejoined every view ${secs(rejoined.atMs - restartAt)} after its restart (bound ${secs(R + 2 * A)}), new incarnation everywhere after ${secs(accepted - restartAt)}; ${c.missed === 0 ? "nothing to catch up" : `caught up ${c.missed} blocks after ${secs(caughtUp - restartAt)} (bound ${secs(catchUpBound)})`}`,
    );
  });
}

test("S2 restart with a persistent ledger: down 10 s, nothing missed (T10)", (t) => restartScenario(t, { downMs: 10_000, missed: 0, crypto: "fast", seeds: SEEDS }));

test("S2 restart with a persistent ledger: down 10 s, 50 blocks missed (T10)", (t) => restartScenario(t, { downMs: 10_000, missed: 50, crypto: "fast", seeds: SEEDS }));

// Six virtual minutes: one seed unless SIM_SEEDS asks for more (keeps test/sim within its CI time).
test("S2 restart with a persistent ledger: down 5 min, 50 blocks missed (T10)", (t) =>
  restartScenario(t, { downMs: 300_000, missed: 50, crypto: "fast", seeds: scenarioSeeds(1) }));

test("S2 restart with a persistent ledger, real ECDSA: down 10 s, 50 blocks missed (T10)", (t) =>
  restartScenario(t, { downMs: 10_000, missed: 50, crypto: "real", seeds: SEEDS.slice(0, 1) }));

// ------------------------------------------------------------------------------------------------
// S3 partition and heal

/** S3 after heal: one membership view within R + A + P (34 s). */
const MERGE_BOUND_MS = R + A + P;

/** Every running peer of `group` sees every other one of `group`. */
const sees = (group: readonly number[]) => (s: { sees(o: number, m: number): boolean }) =>
  group.every((o) => group.every((m) => o === m || s.sees(o, m)));

async function partitionScenario(t: TestContext, kind: "orgs" | "split" | "isolate", forMs: number, peers?: string[]): Promise<void> {
  await forSeeds(t, SEEDS, async (seed, st) => {
    const startMs = faultAt(seed, `s3-${kind}`);
    const healMs = startMs + forMs;
    // Room for the merge (R + A + P) and a leader declaration after it (L/2).
    const durationMs = healMs + MERGE_BOUND_MS + L / 2 + 5_000;
    const o = scenarioOptions({
      seed,
      blocks: Math.floor((durationMs - 25_000) / 2_000),
      durationMs,
      partitions: [{ kind, atMs: startMs, forMs, mode: "blackhole", ...(peers === undefined ? {} : { peers }) }],
    });
    const { rec } = await runRecorded(o, { watchAlive: [...rec0Names(o.peers)], sampleEveryMs: 250 });
    const cut = rec.eventsOf("partition")[0];
    assert.ok(cut !== undefined && cut.atMs === startMs);
    const sides = cut.sides.map((side) => side.map((n) => rec.index(n)));
    const sideOf = new Map<number, number>();
    for (const [k, side] of sides.entries()) for (const p of side) sideOf.set(p, k);
    const all = everyone(rec);

    // During: each side drops the other (Fabric's guarantee, see checkRemoval), nobody drops a peer of
    // its own side, and each org has exactly one leader on each side it has peers on.
    let dropMs = 0;
    for (const [k, side] of sides.entries()) {
      const others = all.filter((p) => sideOf.get(p) !== k);
      for (const v of others) dropMs = Math.max(dropMs, checkRemoval(rec, v, side, startMs, healMs - 1, true));
      assertNoFalseDeaths(rec, side, startMs, healMs - 1, `side ${k} during the partition`);
    }
    const before = rec.sampleAt(healMs - 1)!;
    for (let org = 1; org <= o.orgs; org++) {
      for (const side of sides) {
        const mine = rec.orgPeers(org).filter((p) => side.includes(p));
        if (mine.length === 0) continue;
        const leaders = mine.filter((p) => before.leader[p] === 1).map((p) => rec.names[p]);
        assert.equal(leaders.length, 1, `org ${org} on side ${JSON.stringify(side.map((p) => rec.names[p]))} has one leader before the heal: ${JSON.stringify(leaders)}`);
      }
    }

    // After: one membership view within R + A + P, no one dropped after it.
    const merged = rec.firstSample(healMs, sees(all));
    assert.ok(merged !== undefined, "one membership view after the heal");
    const mergeMs = merged.atMs - healMs;
    assert.ok(mergeMs <= MERGE_BOUND_MS, `one membership view ${secs(mergeMs)} after the heal, bound R + A + P = ${secs(MERGE_BOUND_MS)}`);
    assertNoFalseDeaths(rec, all, merged.atMs, durationMs, "after the merge");
    // One leader per org: RELIABILITY asks for it within 2L of the heal. Fabric's election can only
    // settle once the two leaders see each other (a declaration from a peer outside the view is
    // ignored), then the next declaration (every L/2) makes the larger PKI-ID step down: it is
    // guaranteed within the org's merge + L/2 (+ 1 s), which exceeds 2L when the merge waits for a
    // reconnect round (R). That is what is asserted; the 2L figure is reported.
    let leaderMs = 0;
    for (let org = 1; org <= o.orgs; org++) {
      const orgPeers = rec.orgPeers(org);
      const orgMerged = rec.firstSample(healMs, sees(orgPeers))!;
      const single = (x: { leader: Uint8Array }) => orgPeers.filter((p) => x.leader[p] === 1).length === 1;
      const settled = rec.firstSample(healMs, single);
      assert.ok(settled !== undefined, `org ${org} has one leader after the heal`);
      const bound = orgMerged.atMs + L / 2 + 1_000;
      assert.ok(settled.atMs <= bound, `org ${org} has one leader ${secs(settled.atMs - healMs)} after the heal, ${secs(settled.atMs - orgMerged.atMs)} after its peers saw each other (bound L/2 + 1 s)`);
      for (const x of rec.window(settled.atMs, durationMs)) assert.ok(single(x), `org ${org} has one leader at ${secs(x.atMs)}`);
      leaderMs = Math.max(leaderMs, settled.atMs - healMs);
    }
    // Heights: every block everywhere, each once, in order (the leaders of every side kept pulling
    // from the ordering service; state transfer is off, as in Fabric's defaults, so pull does it).
    assertAllCommitted(rec, all, o.blocks);
    const caughtUp = Math.max(...all.map((p) => rec.commits[p]!.at(-1)!.atMs)) - (20_000 + (o.blocks - 1) * o.blockIntervalMs);
    st.diagnostic(
      `seed ${seed}: ${kind} for ${secs(forMs)}: sides dropped each other within ${secs(dropMs)} (RELIABILITY ${secs(REMOVAL_BOUND_MS)}); after the heal one view in ${secs(mergeMs)} (bound ${secs(MERGE_BOUND_MS)}), one leader per org in ${secs(leaderMs)} (RELIABILITY 2L = ${secs(2 * L)}${leaderMs > 2 * L ? ": not met, see the comment" : ""}); last block everywhere ${secs(caughtUp)} after it was cut`,
    );
  });
}

function rec0Names(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `p${i}`);
}

test("S3 partition and heal: every org cut from the others for 30 s (T10)", (t) => partitionScenario(t, "orgs", 30_000));

test("S3 partition and heal: a split through org 1 for 2 min (T10)", (t) =>
  // Org 1 (p0 p3 p6 p9) is split in two; org 2 stays on the first side, org 3 on the second.
  partitionScenario(t, "split", 120_000, ["p0", "p3", "p1", "p4", "p7"]));

test("S3 partition and heal: a peer left alone for 60 s is not isolated afterwards (T10)", (t) => partitionScenario(t, "isolate", 60_000, ["p6"]));

// ------------------------------------------------------------------------------------------------
// S4 asymmetric partition and swizzle-clog

/**
 * The rest keeps committing: every peer in `rest` commits every block, and while blocks are cut
 * during [fromMs, untilMs] none of them goes longer than L + D_el + 2 s plus a block interval
 * without a commit (a leaderless org waits for its election). Returns the longest gap.
 */
function checkKeepsCommitting(rec: ScenarioRecorder, o: SimOptions, rest: readonly number[], fromMs: number, untilMs: number): number {
  assertAllCommitted(rec, rest, o.blocks);
  const lastCut = o.warmupMs + (o.blocks - 1) * o.blockIntervalMs;
  const end = Math.min(untilMs, lastCut);
  const bound = NEW_LEADER_BOUND_MS + o.blockIntervalMs;
  let worst = 0;
  for (const p of rest) {
    const times = [fromMs, ...rec.commits[p]!.map((c) => c.atMs).filter((x) => x > fromMs && x <= end + bound), end];
    times.sort((a, b) => a - b);
    for (let k = 1; k < times.length; k++) {
      const gap = times[k]! - times[k - 1]!;
      if (times[k - 1]! < end) worst = Math.max(worst, gap);
      assert.ok(gap <= bound || times[k - 1]! >= end, `${rec.names[p]} committed nothing for ${secs(gap)} from ${secs(times[k - 1])}, bound ${secs(bound)}`);
    }
  }
  return worst;
}

/**
 * No livelock: from `fromMs` on, no peer becomes leader twice within L, and among the peers of an
 * org that the fault never touched (`steady`, one connected component) leadership moves at most
 * once per L. A peer cut off alone may lead itself meanwhile (several leaders in total are allowed).
 * Returns the number of become-leader events after `fromMs`.
 */
function checkNoLeaderLivelock(rec: ScenarioRecorder, o: SimOptions, steady: readonly number[], fromMs: number): number {
  let events = 0;
  for (let org = 1; org <= o.orgs; org++) {
    const elected = rec.leaderElections(org, fromMs);
    events += elected.length;
    const byPeer = new Map<string, number[]>();
    for (const e of elected) byPeer.set(e.peer, [...(byPeer.get(e.peer) ?? []), e.atMs]);
    for (const [peer, times] of byPeer) {
      for (let k = 1; k < times.length; k++) assert.ok(times[k]! - times[k - 1]! >= L, `${peer} became leader twice within L: ${times.map(secs).join(", ")}`);
    }
    const inSteady = elected.filter((e) => steady.includes(rec.index(e.peer)));
    for (let k = 1; k < inSteady.length; k++) {
      assert.ok(inSteady[k]!.atMs - inSteady[k - 1]!.atMs >= L, `org ${org}: leadership moved twice within L: ${JSON.stringify(inSteady)}`);
    }
  }
  return events;
}

/**
 * `member` flaps in `observer`'s view at most once per E over [fromMs, untilMs]: consecutive
 * reappearances (dead, then alive again) are at least E apart. Returns the reappearances.
 */
function checkNoFlapping(rec: ScenarioRecorder, observer: number, member: number, fromMs: number, untilMs: number): number {
  const back = rec.viewChanges(observer, member, fromMs, untilMs).filter((c) => c.present);
  for (let k = 1; k < back.length; k++) {
    assert.ok(
      back[k]!.atMs - back[k - 1]!.atMs >= E,
      `${rec.names[member]} came back to ${rec.names[observer]}'s view twice within E: ${back.map((c) => secs(c.atMs)).join(", ")}`,
    );
  }
  return back.length;
}

async function asymmetricScenario(t: TestContext, victim: "p4" | "p0"): Promise<void> {
  await forSeeds(t, SEEDS, async (seed, st) => {
    const startMs = faultAt(seed, `s4-${victim}`);
    // A is dead for all after about E; then a few of its reconnect rounds (R) show it stays so.
    const durationMs = startMs + E + 3 * R;
    const o = scenarioOptions({
      seed,
      blocks: Math.floor((durationMs - 25_000) / 2_000),
      durationMs,
      partitions: [{ kind: "oneway", atMs: startMs, forMs: 1e12, peers: [victim], mode: "blackhole" }],
    });
    const { rec } = await runRecorded(o, { sampleEveryMs: 250 });
    const v = rec.index(victim);
    const rest = except(rec, v);
    const wasLeader = ledAt(rec, victim, startMs);
    assert.equal(wasLeader, victim === "p0", `seed ${seed}: ${victim} ${victim === "p0" ? "leads" : "does not lead"} its org`);
    const gap = checkKeepsCommitting(rec, o, rest, startMs, durationMs);
    const elections = checkNoLeaderLivelock(rec, o, rest, startMs);
    assertNoFalseDeaths(rec, rest, startMs, durationMs, `with ${victim} deaf`);
    let flaps = 0;
    for (const p of rest) flaps += checkNoFlapping(rec, p, v, startMs, durationMs);
    // Eventually every peer agrees on A: dead for everybody (it hears nobody, so it cannot answer
    // a handshake), or alive for everybody. From when on, and does it hold to the end?
    const last = rec.sampleAt(durationMs)!;
    const verdict = last.sees(rest[0]!, v);
    const agree = (s: { sees(o: number, m: number): boolean; atMs: number }) => rest.every((p) => s.sees(p, v) === verdict);
    const disagreeing = rec.window(startMs, durationMs).filter((s) => !agree(s));
    const agreedAt = disagreeing.length === 0 ? startMs : disagreeing.at(-1)!.atMs;
    assert.ok(agree(last), `every peer agrees about ${victim} at the end`);
    assert.ok(
      agreedAt - startMs <= SILENT_REMOVAL_BOUND_MS,
      `everyone agrees about ${victim} from ${secs(agreedAt - startMs)} after the fault, bound 2E = ${secs(SILENT_REMOVAL_BOUND_MS)}`,
    );
    st.diagnostic(
      `seed ${seed}: ${victim}${wasLeader ? " (leader)" : ""} deaf from ${secs(startMs)}: ${verdict ? "alive" : "dead"} for everybody from ${secs(agreedAt - startMs)} after (bound ${secs(SILENT_REMOVAL_BOUND_MS)}), ${flaps} reappearance(s) in all views (at most one per E); ${elections} leader election(s) after the fault; the rest's longest commit gap ${secs(gap)}`,
    );
  });
}

test("S4 asymmetric partition: a peer that can send but not receive, for good (T10)", (t) => asymmetricScenario(t, "p4"));

test("S4 asymmetric partition: the org leader can send but not receive, for good (T10)", (t) => asymmetricScenario(t, "p0"));

test("S4 swizzle-clog: 4 of 10 peers clogged one by one, unclogged in random order (T10)", async (t: TestContext) => {
  // FoundationDB's swizzle-clog, with more victims than the simulator's "swizzle" kind (a quarter:
  // 2 of T10): each victim is cut off alone (blackhole) in turn every 2 s, and after 45 s they come
  // back one by one every 2 s in a random order.
  const stepMs = 2_000;
  const holdMs = 45_000;
  const count = 4;
  await forSeeds(t, SEEDS, async (seed, st) => {
    const startMs = faultAt(seed, "s4-swizzle");
    const rng = new RandomTree(seed).stream("scenario/swizzle");
    const victims = rng.shuffle(rec0Names(10)).slice(0, count);
    const healOrder = rng.shuffle(victims);
    const healStart = startMs + holdMs;
    const partitions = victims.map((name, k) => {
      const at = startMs + k * stepMs;
      const healAt = healStart + healOrder.indexOf(name) * stepMs;
      return { kind: "isolate" as const, atMs: at, forMs: healAt - at, peers: [name], mode: "blackhole" as const };
    });
    const lastHeal = healStart + (count - 1) * stepMs;
    const durationMs = lastHeal + MERGE_BOUND_MS + 5_000;
    const o = scenarioOptions({ seed, blocks: Math.floor((durationMs - 25_000) / 2_000), durationMs, partitions });
    const { rec } = await runRecorded(o, { sampleEveryMs: 250 });
    const vs = victims.map((n) => rec.index(n));
    const steady = except(rec, ...vs);
    const gap = checkKeepsCommitting(rec, o, steady, startMs, lastHeal);
    const elections = checkNoLeaderLivelock(rec, o, steady, startMs);
    assertNoFalseDeaths(rec, steady, startMs, durationMs, "among the peers never clogged");
    let flaps = 0;
    for (const v of vs) for (const p of steady) flaps += checkNoFlapping(rec, p, v, startMs, healStart);
    // Unclogged, everyone is back in one view, and every block is everywhere.
    const merged = rec.firstSample(lastHeal, sees(everyone(rec)));
    assert.ok(merged !== undefined && merged.atMs - lastHeal <= MERGE_BOUND_MS, `one view ${secs(merged === undefined ? undefined : merged.atMs - lastHeal)} after the last unclog, bound ${secs(MERGE_BOUND_MS)}`);
    assertAllCommitted(rec, everyone(rec), o.blocks);
    st.diagnostic(
      `seed ${seed}: clogged ${victims.join(" ")}, unclogged ${healOrder.join(" ")}: the rest's longest commit gap ${secs(gap)} (bound ${secs(NEW_LEADER_BOUND_MS + o.blockIntervalMs)}), ${elections} leader election(s), ${flaps} reappearance(s) while clogged (at most one per E), one view ${secs(merged.atMs - lastHeal)} after the last unclog`,
    );
  });
});

// ------------------------------------------------------------------------------------------------
// A duplicate identity: a twin of a peer (its identity, another endpoint) joins for a while

/** Where each peer's view has `member` per sample: its endpoint there, "" when absent, undefined while the observer is down. */
class EndpointRecorder {
  readonly samples: { atMs: number; seen: (string | undefined)[] }[] = [];

  constructor(sim: Simulator, member: string) {
    sim.onStep((now) => {
      const target = sim.peers.find((p) => p.name === member)!;
      const seen = sim.peers.map((p) => {
        if (!p.running) return undefined;
        if (p === target) return target.spec.endpoint;
        return (p.node?.peers() ?? []).find((m) => pkiHex(m.pkiId) === target.pkiHex)?.endpoint ?? "";
      });
      this.samples.push({ atMs: now, seen });
    });
  }

  /** Indices of the observers that had the member at both `a` and `b` within [fromMs, untilMs]. */
  sawBoth(a: string, b: string, fromMs: number, untilMs: number): number[] {
    const seenA = new Set<number>();
    const seenB = new Set<number>();
    for (const s of this.samples) {
      if (s.atMs < fromMs || s.atMs > untilMs) continue;
      for (const [o, e] of s.seen.entries()) {
        if (e === a) seenA.add(o);
        if (e === b) seenB.add(o);
      }
    }
    return [...seenA].filter((o) => seenB.has(o));
  }
}

test("a twin of p4 (its identity at another endpoint) for a while: reported, and every view has p4 at its own endpoint within E + R once it leaves (T10)", async (t: TestContext) => {
  const victim = "p4";
  const own = `${victim}:7051`;
  const twinEndpoint = `${victim}-twin0:7051`;
  /** After the twin leaves: recovery within E + R, then quiet for longer than E + E/10 (a death would show). */
  const RECOVERY_BOUND_MS = E + R;
  const run = async (seed: number) => {
    // The twin starts once views have converged, at a seeded phase of the alive cycle, and stops at a seeded
    // phase of the reconnect cycle: sometimes while its incarnation is the newest, sometimes not.
    const joinMs = 30_000 + seededOffsetMs(seed, "twin-join", A);
    const forMs = 20_000 + seededOffsetMs(seed, "twin-stay", R);
    const leaveMs = joinMs + forMs;
    const durationMs = leaveMs + RECOVERY_BOUND_MS + E + E / 10 + 5_000;
    const o = scenarioOptions({ seed, blocks: 0, durationMs, twins: [{ of: victim, atMs: joinMs, forMs }] });
    const sim = new Simulator(o);
    const rec = new ScenarioRecorder(sim);
    const ends = new EndpointRecorder(sim, victim);
    const result = await sim.run();
    return { o, rec, ends, result, joinMs, leaveMs, durationMs };
  };
  await forSeeds(t, SEEDS, async (seed, st) => {
    const { rec, ends, joinMs, leaveMs, durationMs } = await run(seed);
    const v = rec.index(victim);
    const reports = rec.eventsOf("duplicate-identity").filter((e) => e.target === victim);
    assert.deepEqual(rec.eventsOf("twin-start").map((e) => [e.peer, e.of, e.endpoint, e.atMs]), [[`${victim}-twin0`, victim, twinEndpoint, joinMs]]);
    // The peer whose identity it is tells of the twin's endpoint.
    assert.ok(
      reports.some((e) => e.peer === victim && e.endpoint === twinEndpoint && e.atMs >= joinMs && e.atMs <= leaveMs),
      `${victim} reports its identity in use at ${twinEndpoint}: ${JSON.stringify(reports.slice(0, 5))}`,
    );
    // So does a peer that saw the identity at both endpoints (alternating, as the two processes outdo each other).
    const both = ends.sawBoth(own, twinEndpoint, joinMs, leaveMs);
    const bystanders = reports.filter((e) => e.peer !== victim && !e.peer.includes("-twin") && e.atMs >= joinMs && e.atMs <= leaveMs + E);
    const witnesses = bystanders.filter((e) => both.includes(rec.index(e.peer)));
    assert.ok(witnesses.length > 0, `a peer that saw ${victim} at both endpoints (${both.map((o) => rec.names[o]).join(" ")}) reports it; reports: ${JSON.stringify(bystanders.slice(0, 5))}`);
    // Once the twin is gone: every view has the peer at its own endpoint within E + R, and keeps it so.
    const atOwn = (s: { seen: (string | undefined)[] }) => s.seen.every((e, o) => o === v || e === undefined || e === own);
    const after = ends.samples.filter((s) => s.atMs >= leaveMs);
    const wrong = after.filter((s) => !atOwn(s));
    const recoveredAt = wrong.length === 0 ? leaveMs : wrong.at(-1)!.atMs + 100;
    const last = wrong.at(-1);
    assert.ok(
      recoveredAt - leaveMs <= RECOVERY_BOUND_MS,
      `every view has ${victim} at ${own} from ${secs(recoveredAt - leaveMs)} after the twin left, bound E + R = ${secs(RECOVERY_BOUND_MS)}; last wrong sample at ${secs(last?.atMs)}: ${JSON.stringify(last?.seen)}`,
    );
    assert.ok(durationMs - recoveredAt > E + E / 10, "the run goes on long enough after recovery for an expiration to show");
    // A peer whose view had the identity at the twin's endpoint when the twin left cannot reach it there and
    // presumes it dead (comm keys connections by PKI-ID): that entry, at the twin's endpoint, may die as the twin
    // leaves. The peer at its own endpoint is never declared dead, and nothing is after recovery.
    const deaths = rec.eventsOf("death").filter((d) => d.target === victim && d.atMs >= leaveMs);
    assert.deepEqual(
      deaths.filter((d) => d.endpoint !== twinEndpoint || d.atMs >= recoveredAt),
      [],
      `nobody declares ${victim} at ${own} dead once its twin left, and nobody declares it dead after every view has it there`,
    );
    const reporters = [...new Set(reports.map((e) => e.peer))].sort();
    st.diagnostic(
      `seed ${seed}: twin ${secs(joinMs)}..${secs(leaveMs)}; reported by ${reporters.join(" ")} (${reports.length} events); saw both endpoints: ${both.length} peers; every view at ${own} ${secs(recoveredAt - leaveMs)} after it left (bound ${secs(RECOVERY_BOUND_MS)}); its entry at the twin's endpoint declared dead as the twin left by ${deaths.length} peer(s) (${[...new Set(deaths.map((d) => d.cause))].join(", ") || "none"}), none afterwards`,
    );
  });
  // The same seed, the same run: events and trace.
  const a = await run(SEEDS[0]!);
  const b = await run(SEEDS[0]!);
  assert.equal(a.result.report.traceHash, b.result.report.traceHash);
  assert.deepEqual(a.rec.eventsOf("duplicate-identity"), b.rec.eventsOf("duplicate-identity"));
});

test("a twin must name a peer and a positive length", () => {
  assert.throws(() => new Simulator(scenarioOptions({ twins: [{ of: "p10", atMs: 1_000, forMs: 1_000 }] })), /twin: no peer named p10/);
  assert.throws(() => new Simulator(scenarioOptions({ twins: [{ of: "p1", atMs: 1_000, forMs: 0 }] })), /twin of p1: length must be > 0 ms/);
  assert.doesNotThrow(() => new Simulator(scenarioOptions({ twins: [{ of: "p1", atMs: 1_000, forMs: undefined }] })));
});
