/**
 * RELIABILITY.md part C, S15 (flood from insiders) and S16 (slow consumer, gray failure) as simulator
 * tests in virtual time, each against a run of the same seed without the fault.
 *
 * S15: 1-3 member peers (real peers of the simulation that keep forwarding and answering) also send
 * 10x and 100x a member's normal rate of valid but useless traffic to every other peer. A member's
 * normal rate, per target and kind, from Fabric's timers (as bench/attacks.ts's insiders): each
 * block once, a block hello per pullInterval, a StateInfo pull request per requestStateInfoInterval,
 * a membership request per reconnectInterval, a state request per state.checkInterval. That is
 * more than an honest member sends to any one peer (it says hello to pullPeerNum peers a round), so
 * the flood errs on the heavy side. Even 100x stays within the request budgets (they are set far
 * above honest rates), so the 100x run ends with a short probe at 1000x of the requests alone, to
 * see the buckets hold the flooders to their quota. The simulator charges no CPU time for handling a
 * message, so here the flood can hurt honest peers only through the protocol (send queues
 * overflowing, requests dropped, pull state held); CPU contention is the real-process benchmark's
 * part (bench/attacks.ts, attacks 8 and 9).
 *
 * S16: one peer stalls for 12 s (below E/2) and for 20 s (Lifeguard's longest), and for 15 s handles
 * frames at half the rate they arrive; modelled on the wire (see SlowConsumer). Its senders' queues
 * stay within sendBuffSize and drop (gossip_comm_overflow_count; Fabric's metric has no type label,
 * so drops by type are not counted), the other peers' block p99 stays within 1.5 x the run without
 * the fault (+50 ms), nobody declares it dead while its alive messages keep coming within E, and
 * nobody is declared dead at all before the 20 s stall. No local-health multiplier is implemented:
 * the slow peer's own declarations during the 20 s stall are allowed and reported.
 *
 * Settings: Fabric's defaults with state transfer on (as scenarios-faults), T10, fast crypto.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";

import { BLOCKING_QUEUE_FACTOR } from "../../src/comm/connection.js";
import { defaultGossipConfig, type GossipConfig } from "../../src/config/index.js";
import { SignedGossipMessage } from "../../src/protoext/index.js";
import { type Envelope, GossipMessage_Tag, PullMsgType } from "../../src/protos/gen/gossip/message.pb.js";
import { FRAME_TYPES, type FrameInfo, type FrameShaper, RandomTree, type SimOptions, type SimPeer, type SimReport, Simulator, scanFrame } from "../../src/sim/index.js";
import { utf8 } from "../../src/util/bytes.js";
import { scenarioOptions, scenarioSeeds, T10 } from "./scenario-kit.js";

const SEEDS = scenarioSeeds();

function gossipConfig(): GossipConfig {
  const g = defaultGossipConfig();
  g.state.enabled = true;
  return g;
}

const frameInfo: FrameInfo = { type: 0, channelStart: 0, channelEnd: 0 };
function frameType(bytes: Uint8Array): string {
  return FRAME_TYPES[scanFrame(bytes, frameInfo).type] ?? "other";
}

const CHANNEL = "ch0";
const COMM_BUDGET_DROPPED = "fabric_gossip_comm_budget_dropped_total";
const STATE_REQUESTS_DROPPED = "fabric_gossip_state_requests_dropped_total";
const OVERFLOW = "gossip_comm_overflow_count";

function metric(p: SimPeer, name: string, labels: Record<string, string> = {}): number {
  return p.metrics?.value(name, labels) ?? 0;
}

/** The value of `key` in `map`, made and stored first if absent. */
function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

/** p-quantile (nearest rank) of `xs`. */
function quantile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

/** Commit times per peer and block (virtual ms), with the block creation time derived from the schedule. */
class Commits {
  readonly at = new Map<string, Map<number, number>>();
  constructor(
    sim: Simulator,
    readonly o: SimOptions,
  ) {
    sim.onEvent((e) => {
      if (e.kind !== "commit" || e.channel !== CHANNEL) return;
      const m = entry(this.at, e.peer, () => new Map<number, number>());
      if (!m.has(e.seq)) m.set(e.seq, e.atMs);
    });
  }
  /** Block `seq` (1-based) is cut at warm-up + (seq - 1) x interval. */
  created(seq: number): number {
    return this.o.warmupMs + (seq - 1) * this.o.blockIntervalMs;
  }
  /** Latencies (commit - creation) at `peers` of the blocks created in [fromMs, untilMs). */
  latencies(peers: readonly string[], fromMs: number, untilMs: number): number[] {
    const out: number[] = [];
    for (const p of peers) {
      for (const [seq, at] of this.at.get(p) ?? []) {
        const c = this.created(seq);
        if (c >= fromMs && c < untilMs) out.push(at - c);
      }
    }
    return out;
  }
  /** (peer, block) pairs of `peers` with blocks 1..blocks not committed. */
  missing(peers: readonly string[]): string[] {
    const out: string[] = [];
    for (const p of peers) for (let s = 1; s <= this.o.blocks; s++) if (!this.at.get(p)?.has(s)) out.push(`${p}#${s}`);
    return out;
  }
}

async function runSim(sim: Simulator): Promise<SimReport> {
  const { report } = await sim.run();
  const d = sim.diagnostics();
  assert.equal(d.pendingTimers, 0, "timers left after the run");
  assert.equal(d.openStreams, 0, "streams left open after the run");
  return report;
}

/** Largest number of entries in one block DataDigest and in one StateInfo snapshot sent from `fromMs` on (the stores' bounds). */
function watchDigests(sim: Simulator, fromMs: number): { block: number; stateInfo: number } {
  const seen = { block: 0, stateInfo: 0 };
  sim.network.observe((f) => {
    if (sim.now() < fromMs) return;
    const t = frameType(f.bytes);
    if (t === "digest") {
      const c = SignedGossipMessage.fromEnvelopeBytes(f.bytes).message.content;
      if (c?.$case === "dataDig" && c.value.msgType === PullMsgType.BLOCK_MSG) seen.block = Math.max(seen.block, c.value.digests.length);
    } else if (t === "stateSnapshot") {
      const c = SignedGossipMessage.fromEnvelopeBytes(f.bytes).message.content;
      if (c?.$case === "stateSnapshot") seen.stateInfo = Math.max(seen.stateInfo, c.value.elements.length);
    }
  });
  return seen;
}

// ---------------------------------------------------------------------------------------------
// S15 flood from insiders

const S15 = {
  blocks: 25,
  blockIntervalMs: 1_000,
  floodFromMs: 22_000,
  floodUntilMs: 32_000,
  /** The 100x run's probe: requests alone at 1000x, for this long at the end of the flood. */
  probeMs: 2_000,
  /** Blocks created from here on show the recovery (5 s after the flood). */
  recoveredFromMs: 37_000,
  durationMs: 50_000,
  /**
   * Slack on top of 2 x the honest p99 without the flood: one more hop at the link's worst one-way
   * latency (50 ms). p99 over the ~100-180 honest deliveries of the flood window is close to their
   * maximum, so a single delivery that took one more hop moves it by up to that much.
   */
  slackMs: 50,
};

type FloodKind = "block" | "hello" | "stateInfoPull" | "memReq" | "stateRequest";
const FLOOD_KINDS: readonly FloodKind[] = ["block", "hello", "stateInfoPull", "memReq", "stateRequest"];
const REQUEST_KINDS: readonly FloodKind[] = ["hello", "stateInfoPull", "memReq", "stateRequest"];

/** A member's normal rate per target, per second, of each kind (see the header). */
function normalRates(g: GossipConfig, blockIntervalMs: number): Record<FloodKind, number> {
  return {
    block: 1_000 / blockIntervalMs,
    hello: 1_000 / g.pullIntervalMs,
    stateInfoPull: 1_000 / g.requestStateInfoIntervalMs,
    memReq: 1_000 / g.reconnectIntervalMs,
    stateRequest: 1_000 / g.state.checkIntervalMs,
  };
}

/**
 * One insider's flood: every step it writes what it owes of each kind onto its open streams to each
 * other running peer (MemoryNetwork.inject), as its own process would, beside what its node sends.
 * What it sends is valid: block messages it received (the last ten), block hellos and StateInfo pull
 * requests as its channel sends them (hellos with fresh nonces), membership requests carrying its
 * real latest alive message, state requests for the ten blocks below its height.
 */
class Flooder {
  readonly recentBlocks: Uint8Array[] = [];
  alive: Envelope | undefined;
  stateInfoPull: Uint8Array | undefined;
  helloTemplate: SignedGossipMessage | undefined;
  /** Frames written per kind (one per stream that carried it). */
  readonly sent: Record<FloodKind, number> = { block: 0, hello: 0, stateInfoPull: 0, memReq: 0, stateRequest: 0 };
  readonly #owed = new Map<string, Record<FloodKind, number>>();
  readonly #rng;

  constructor(
    readonly sim: Simulator,
    readonly peer: SimPeer,
  ) {
    this.#rng = sim.tree.stream(`scenario/flooder/${peer.name}`);
    const me = peer.spec.endpoint;
    sim.network.observe((f) => {
      const t = frameType(f.bytes);
      if (f.to === me && t === "data") {
        if (!this.recentBlocks.includes(f.bytes)) {
          this.recentBlocks.push(f.bytes);
          if (this.recentBlocks.length > 10) this.recentBlocks.shift();
        }
      } else if (f.from === me && (t === "alive" || t === "hello" || t === "stateInfoPullReq")) {
        const m = SignedGossipMessage.fromEnvelopeBytes(f.bytes);
        const c = m.message.content;
        if (c?.$case === "aliveMsg" && Buffer.from(c.value.membership?.pkiId ?? []).toString("hex") === peer.pkiHex) this.alive = m.envelope;
        else if (c?.$case === "hello" && c.value.msgType === PullMsgType.BLOCK_MSG && m.message.channel.byteLength > 0) this.helloTemplate = m;
        else if (c?.$case === "stateInfoPullReq") this.stateInfoPull = f.bytes;
      }
    });
  }

  #message(kind: FloodKind): Uint8Array | undefined {
    switch (kind) {
      case "block":
        return this.recentBlocks.length === 0 ? undefined : this.recentBlocks[this.#rng.int(this.recentBlocks.length)];
      case "hello": {
        const h = this.helloTemplate;
        if (h === undefined || h.message.content?.$case !== "hello") return undefined;
        return SignedGossipMessage.noopSign({ ...h.message, content: { $case: "hello", value: { ...h.message.content.value, nonce: this.#rng.uint64() } } }).bytes;
      }
      case "stateInfoPull":
        return this.stateInfoPull;
      case "memReq":
        if (this.alive === undefined) return undefined;
        return SignedGossipMessage.noopSign({
          nonce: this.#rng.uint64(),
          channel: new Uint8Array(0),
          tag: GossipMessage_Tag.EMPTY,
          content: { $case: "memReq", value: { selfInformation: this.alive, known: [] } },
        }).bytes;
      case "stateRequest": {
        const h = this.peer.ledger(CHANNEL)?.height() ?? 1n;
        const start = h > 11n ? h - 11n : 1n;
        return SignedGossipMessage.noopSign({
          nonce: this.#rng.uint64(),
          channel: utf8(CHANNEL),
          tag: GossipMessage_Tag.CHAN_OR_ORG,
          content: { $case: "stateRequest", value: { startSeqNum: start, endSeqNum: start + 9n } },
        }).bytes;
      }
    }
  }

  /** Sends what `dtMs` at `rates` (per target, per second) owes to each other running peer. */
  tick(dtMs: number, rates: Partial<Record<FloodKind, number>>): void {
    for (const target of this.sim.peers) {
      if (target === this.peer || !target.running) continue;
      const owed = entry(this.#owed, target.name, () => ({ block: 0, hello: 0, stateInfoPull: 0, memReq: 0, stateRequest: 0 }));
      for (const kind of FLOOD_KINDS) {
        owed[kind] += ((rates[kind] ?? 0) * dtMs) / 1_000;
        for (; owed[kind] >= 1; owed[kind] -= 1) {
          const bytes = this.#message(kind);
          if (bytes !== undefined) this.sent[kind] += this.sim.network.inject(this.peer.spec.endpoint, target.spec.endpoint, bytes);
        }
      }
    }
  }
}

/** The request budgets, by the name the test uses: where each victim counts what it dropped, and the quota. */
type Budget = "membership" | "pull" | "state";
const BUDGETS: readonly Budget[] = ["membership", "pull", "state"];
const noBudgets = (): Record<Budget, number> => ({ membership: 0, pull: 0, state: 0 });

function budgetKindOf(type: string): Budget | undefined {
  if (type === "memReq") return "membership";
  // comm's pull budget: hellos, data requests, StateInfo pull requests, private data requests.
  if (type === "hello" || type === "request" || type === "stateInfoPullReq" || type === "pvtReq") return "pull";
  return type === "stateRequest" ? "state" : undefined;
}

function budgetDropped(p: SimPeer, b: Budget): number {
  return b === "state" ? metric(p, STATE_REQUESTS_DROPPED, { reason: "budget" }) : metric(p, COMM_BUDGET_DROPPED, { kind: b });
}

function quota(g: GossipConfig, b: Budget): { perSecond: number; burst: number } {
  const l = g.limits;
  if (b === "membership") return { perSecond: l.membershipRequestsPerSecond, burst: l.membershipRequestBurst };
  if (b === "pull") return { perSecond: l.pullRequestsPerSecond, burst: l.pullRequestBurst };
  return { perSecond: l.stateRequestsPerSecond, burst: l.stateRequestBurst };
}

/** Request frames delivered from the flooders to each victim in a window, and the victim's budget drops over it. */
class BudgetWindow {
  readonly delivered = new Map<string, Record<Budget, number>>();
  readonly dropped = new Map<string, Record<Budget, number>>();
  #open = false;

  constructor(
    readonly fromMs: number,
    readonly untilMs: number,
  ) {}

  note(victim: string, b: Budget, now: number): void {
    if (now < this.fromMs || now > this.untilMs) return;
    entry(this.delivered, victim, noBudgets)[b]++;
  }

  /** Snapshots the drop counters at the window's edges (called every step). */
  step(sim: Simulator, now: number): void {
    const edge = (sign: number): void => {
      for (const p of sim.peers) {
        const d = entry(this.dropped, p.name, noBudgets);
        for (const b of BUDGETS) d[b] += sign * budgetDropped(p, b);
      }
    };
    if (!this.#open && now >= this.fromMs) {
      this.#open = true;
      edge(-1);
    } else if (this.#open && now >= this.untilMs && now - 100 < this.untilMs) edge(1);
  }
}

interface FloodFindings {
  sim: Simulator;
  report: SimReport;
  commits: Commits;
  flooders: Flooder[];
  digests: { block: number; stateInfo: number };
  /** The whole flood (and a second for the last frames to land), and the 100x run's probe. */
  windows: { flood: BudgetWindow; probe: BudgetWindow };
  /** Timers pending when the flood starts, at most during it, and 5 s after it. */
  timers: { atStart: number; max: number; after: number };
  wallSeconds: number;
}

function s15Options(seed: number): SimOptions {
  return scenarioOptions({ seed, gossip: gossipConfig(), blocks: S15.blocks, blockIntervalMs: S15.blockIntervalMs, durationMs: S15.durationMs });
}

/** The flooders of a seed: 1, 2 or 3 (by seed) peers other than the anchors (p0..p2), drawn from the seed. */
function floodersOf(seed: number): string[] {
  const count = ((seed - 1) % 3) + 1;
  const names = Array.from({ length: T10.peers - T10.orgs }, (_, i) => `p${i + T10.orgs}`);
  return new RandomTree(seed).stream("scenario/s15-flooders").shuffle(names).slice(0, count).sort();
}

const nameOf = (endpoint: string): string => endpoint.replace(/:\d+$/, "");

/** One S15 run; `factor` 0 is the run without the flood (the same flooders watch, nothing is sent). */
async function floodRun(seed: number, factor: number, floodNames: readonly string[]): Promise<FloodFindings> {
  const o = s15Options(seed);
  const sim = new Simulator(o);
  const commits = new Commits(sim, o);
  // Peers exist once the run has set up: the flooders (and what they watch) from its first step.
  const flooders: Flooder[] = [];
  const digests = watchDigests(sim, S15.floodFromMs);
  const rates = normalRates(o.gossip, o.blockIntervalMs);
  const scaled = (f: number, kinds: readonly FloodKind[]): Partial<Record<FloodKind, number>> => Object.fromEntries(kinds.map((k) => [k, rates[k] * f]));
  const timers = { atStart: 0, max: 0, after: 0 };
  const probeFromMs = S15.floodUntilMs - S15.probeMs;
  const windows = { flood: new BudgetWindow(S15.floodFromMs, S15.floodUntilMs + 1_000), probe: new BudgetWindow(probeFromMs, S15.floodUntilMs + 1_000) };
  sim.network.observe((f) => {
    if (!floodNames.includes(nameOf(f.from))) return;
    const b = budgetKindOf(frameType(f.bytes));
    if (b === undefined) return;
    const now = sim.now();
    for (const w of [windows.flood, windows.probe]) w.note(nameOf(f.to), b, now);
  });
  let last = 0;
  sim.onStep((now) => {
    if (flooders.length === 0) for (const n of floodNames) flooders.push(new Flooder(sim, sim.peers.find((p) => p.name === n)!));
    const dt = now - last;
    last = now;
    windows.flood.step(sim, now);
    windows.probe.step(sim, now);
    if (now >= S15.floodFromMs && now <= S15.floodUntilMs) {
      if (timers.atStart === 0) timers.atStart = sim.clock.pendingTimers();
      timers.max = Math.max(timers.max, sim.clock.pendingTimers());
    }
    if (timers.after === 0 && now >= S15.floodUntilMs + 5_000) timers.after = sim.clock.pendingTimers();
    if (factor === 0 || now <= S15.floodFromMs || now > S15.floodUntilMs) return;
    const probing = factor >= 100 && now > probeFromMs;
    for (const f of flooders) {
      f.tick(dt, scaled(factor, FLOOD_KINDS));
      if (probing) f.tick(dt, scaled(1_000 - factor, REQUEST_KINDS));
    }
  });
  const wall0 = performance.now();
  const report = await runSim(sim);
  return { sim, report, commits, flooders, digests, windows, timers, wallSeconds: (performance.now() - wall0) / 1000 };
}

/** Budget findings of a window: per victim and budget, what the flooders got through against their quota. */
function budgetCheck(r: FloodFindings, w: BudgetWindow, floodNames: readonly string[], g: GossipConfig): { over: string[]; unbitten: string[]; lines: string[] } {
  const over: string[] = [];
  const unbitten: string[] = [];
  const lines: string[] = [];
  const seconds = (w.untilMs - w.fromMs) / 1000;
  for (const victim of r.sim.peers.map((p) => p.name)) {
    const flooders = floodNames.filter((n) => n !== victim).length;
    const delivered = w.delivered.get(victim) ?? { membership: 0, pull: 0, state: 0 };
    const dropped = w.dropped.get(victim) ?? { membership: 0, pull: 0, state: 0 };
    const parts: string[] = [];
    for (const b of BUDGETS) {
      const q = quota(g, b);
      const allowed = flooders * (q.burst + q.perSecond * seconds);
      const accepted = delivered[b] - dropped[b];
      parts.push(`${b} ${delivered[b]}-${dropped[b]}=${accepted}/${allowed}`);
      if (accepted > allowed) over.push(`${victim} accepted ${accepted} ${b} requests from ${flooders} flooders in ${seconds} s, quota ${allowed}`);
      if (delivered[b] > allowed && dropped[b] === 0) unbitten.push(`${victim} ${b}`);
    }
    lines.push(`${victim}: ${parts.join(", ")}`);
  }
  return { over, unbitten, lines };
}

test("S15 flood from insiders (10x and 100x a member's rate of valid useless traffic): honest p99 within 2 x the run without, every block everywhere, budgets hold, stores bounded, full recovery", async (t: TestContext) => {
  for (const seed of SEEDS) {
    await t.test(`S15 seed ${seed}`, async (t) => {
      const names = floodersOf(seed);
      const g = s15Options(seed).gossip;
      const base = await floodRun(seed, 0, names);
      const honest = Array.from({ length: T10.peers }, (_, i) => `p${i}`).filter((n) => !names.includes(n));
      const during = (f: FloodFindings): number[] => f.commits.latencies(honest, S15.floodFromMs, S15.floodUntilMs);
      const after = (f: FloodFindings): number[] => f.commits.latencies(honest, S15.recoveredFromMs, Number.POSITIVE_INFINITY);
      const baseP99 = quantile(during(base), 0.99);
      const baseAfterP99 = quantile(after(base), 0.99);
      t.diagnostic(
        `flooders ${names.join(", ")}; without the flood: honest p99 ${baseP99.toFixed(0)} ms (flood window), ${baseAfterP99.toFixed(0)} ms (after); timers ${base.timers.atStart} -> max ${base.timers.max}, ${base.timers.after} 5 s after; wall ${base.wallSeconds.toFixed(1)} s`,
      );
      // Honest traffic alone never meets a budget.
      for (const p of base.sim.peers) for (const b of BUDGETS) assert.equal(budgetDropped(p, b), 0, `${p.name} dropped ${b} requests without a flood`);
      assert.deepEqual(base.commits.missing(honest), []);
      for (const factor of [10, 100]) {
        const r = await floodRun(seed, factor, names);
        const p99 = quantile(during(r), 0.99);
        const afterP99 = quantile(after(r), 0.99);
        const sent = FLOOD_KINDS.map((k) => `${k} ${r.flooders.reduce((n, f) => n + f.sent[k], 0)}`).join(", ");
        const overflow = r.sim.peers.reduce((n, p) => n + metric(p, OVERFLOW), 0);
        t.diagnostic(
          `${factor}x: honest p99 ${p99.toFixed(0)} ms (flood window), ${afterP99.toFixed(0)} ms (after); frames sent ${sent}; send-queue overflows ${overflow}; ` +
            `largest block digest ${r.digests.block}, StateInfo snapshot ${r.digests.stateInfo}; timers ${r.timers.atStart} -> max ${r.timers.max}, ${r.timers.after} 5 s after; wall ${r.wallSeconds.toFixed(1)} s`,
        );
        // 100 % delivery (each block once at each peer: the commit-order invariant stops a run on a duplicate).
        assert.equal(r.report.missingCommits, 0, `${factor}x: blocks missing (seed ${seed})`);
        assert.equal(r.report.commits, T10.peers * S15.blocks);
        assert.equal(r.report.deathDeclarations, 0, `${factor}x: somebody was declared dead`);
        assert.ok(p99 <= 2 * baseP99 + S15.slackMs, `${factor}x: honest p99 ${p99.toFixed(0)} ms > 2 x ${baseP99.toFixed(0)} + ${S15.slackMs} ms (seed ${seed})`);
        // Budgets: what the flooders got through stays within their quota; over it, requests were dropped.
        for (const [label, w] of [["flood", r.windows.flood], ...(factor >= 100 ? [["1000x probe", r.windows.probe] as const] : [])] as const) {
          const c = budgetCheck(r, w, names, g);
          t.diagnostic(`${factor}x, ${label} window, delivered-dropped=accepted/quota: ${c.lines.join("; ")}`);
          assert.deepEqual(c.over, [], `${factor}x ${label}: over quota (seed ${seed})`);
          assert.deepEqual(c.unbitten, [], `${factor}x ${label}: over quota and nothing dropped (seed ${seed})`);
        }
        if (factor >= 100) {
          // The probe goes over every budget at every victim.
          for (const p of r.sim.peers) {
            if (names.includes(p.name) && names.length === 1) continue;
            for (const b of BUDGETS) assert.ok((r.windows.probe.dropped.get(p.name)?.[b] ?? 0) > 0, `${p.name}: the 1000x probe never met the ${b} budget`);
          }
        } else {
          for (const p of r.sim.peers) for (const b of BUDGETS) assert.equal(budgetDropped(p, b), 0, `${factor}x is within every quota, yet ${p.name} dropped ${b} requests`);
        }
        // Stores bounded: the block store (maxBlockCountToStore + 1, the ledger height), StateInfo (one per member).
        assert.ok(r.digests.block <= g.maxBlockCountToStore + 1, `a block digest of ${r.digests.block} entries`);
        assert.ok(r.digests.stateInfo <= T10.peers, `a StateInfo snapshot of ${r.digests.stateInfo} entries`);
        // What the flood left pending (pull nonces held for requestWaitTime, responses) is gone 5 s after it.
        assert.ok(r.timers.after <= base.timers.after * 1.1 + 10, `${r.timers.after} timers pending 5 s after the flood, ${base.timers.after} without it`);
        // Full recovery: blocks created 5 s after the flood reach the honest peers as fast as without it.
        assert.ok(afterP99 <= 2 * baseAfterP99 + S15.slackMs, `${factor}x: honest p99 after the flood ${afterP99.toFixed(0)} ms vs ${baseAfterP99.toFixed(0)} ms without it`);
        for (const p of r.sim.peers) assert.equal(p.status, "stopped");
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// S16 slow consumer, gray failure

/**
 * The simulator runs every peer's handlers at once, so a slow or stalled peer is modelled on the wire
 * (Simulator.shapeFrames), as the peer's socket would show it:
 * - stalled (an event-loop stall): it reads nothing, so frames to it wait until the stall ends, and
 *   what its timers send meanwhile (alive messages included) leaves when it ends, as a process that
 *   runs its late timers on waking would send it;
 * - slow: it handles one frame at a time, each taking `costMs`, in arrival order over all its links.
 * A sender's write on a link whose previous frame the peer has not read because of the fault waits
 * until it is read: the transport takes one frame and no more (a real flow-control window takes
 * some kilobytes more first, which only delays what follows). The sender's comm queue then fills up
 * to sendBuffSize and drops, while its other links are not held up. Outside the faults frames arrive
 * as the link model says and writes never wait.
 */
interface SlowPhase {
  /** "deaf": it reads nothing but keeps sending (a member that asks and never reads the answers). */
  kind: "stall" | "slow" | "deaf";
  fromMs: number;
  untilMs: number;
  /** "slow": time to handle one frame. */
  costMs?: number;
}

class SlowConsumer {
  /** When the peer is done with the frames it has taken (slow and stalled phases only). */
  #freeAt = Number.NEGATIVE_INFINITY;
  /** Per sender: when the peer reads the last frame written to it, and whether the fault held it up. */
  readonly #last = new Map<string, { readAt: number; held: boolean }>();
  /** Per sender: virtual times of its writes to the peer, and of the releases of its held-up writes. */
  readonly writes = new Map<string, number[]>();
  readonly releases = new Map<string, number[]>();
  /** Frames to the peer that the fault held up. */
  held = 0;

  constructor(
    readonly sim: Simulator,
    readonly endpoint: string,
    readonly phases: readonly SlowPhase[],
  ) {}

  /** A phase in which the peer reads nothing (stalled or deaf). */
  #stallAt(t: number): SlowPhase | undefined {
    return this.phases.find((p) => (p.kind === "stall" || p.kind === "deaf") && t >= p.fromMs && t < p.untilMs);
  }

  #slowAt(t: number): SlowPhase | undefined {
    return this.phases.find((p) => p.kind === "slow" && t >= p.fromMs && t < p.untilMs);
  }

  readonly shaper: FrameShaper = (from, to, _bytes, fate) => {
    const now = this.sim.now();
    if (from === this.endpoint) {
      const stall = this.phases.find((p) => p.kind === "stall" && now >= p.fromMs && now < p.untilMs);
      return stall === undefined ? fate : { ...fate, delaysMs: fate.delaysMs.map((d) => d + stall.untilMs - now) };
    }
    if (to !== this.endpoint) return fate;
    entry(this.writes, from, () => []).push(now);
    const last = this.#last.get(from);
    const sendMs = last?.held && last.readAt > now ? last.readAt - now : 0;
    if (sendMs > 0) entry(this.releases, from, () => []).push(now + sendMs);
    const delay = fate.delaysMs[0];
    if (delay === undefined) return sendMs > 0 ? { ...fate, sendMs } : fate;
    const arrival = now + sendMs + delay;
    let readAt = arrival;
    let held = false;
    if (this.#freeAt > arrival || this.#stallAt(arrival) !== undefined || this.#slowAt(arrival) !== undefined) {
      let start = Math.max(arrival, this.#freeAt);
      for (let s = this.#stallAt(start); s !== undefined; s = this.#stallAt(start)) start = s.untilMs;
      readAt = start + (this.#slowAt(start)?.costMs ?? 0);
      this.#freeAt = readAt;
      held = readAt > arrival;
    }
    if (held) this.held++;
    this.#last.set(from, { readAt, held });
    return { ...fate, delaysMs: [readAt - now, ...fate.delaysMs.slice(1).map((d) => d + readAt - arrival)], sendMs: Math.max(fate.sendMs ?? 0, sendMs) };
  };

  /**
   * The largest burst of writes from one sender at the instant a held-up write of its was released,
   * within [fromMs, untilMs]: what its comm queue held for the peer then (its writer drains it at once).
   */
  largestDrain(fromMs: number, untilMs: number): { from: string; atMs: number; frames: number } {
    let best = { from: "", atMs: 0, frames: 0 };
    for (const [from, times] of this.releases) {
      const writes = this.writes.get(from) ?? [];
      for (const r of times) {
        if (r < fromMs || r > untilMs) continue;
        // The clock fires timers on whole milliseconds.
        const frames = writes.filter((w) => w >= r - 1e-6 && w < r + 1).length;
        if (frames > best.frames) best = { from, atMs: r, frames };
      }
    }
    return best;
  }
}

const S16 = {
  blocks: 70,
  blockBytes: 4 * 1024,
  blockIntervalMs: 1_000,
  /** A stall below E/2, a slow spell, a stall of Lifeguard's longest (20 s). */
  stallA: { fromMs: 24_000, untilMs: 36_000 },
  slow: { fromMs: 40_000, untilMs: 55_000 },
  stallB: { fromMs: 60_000, untilMs: 80_000 },
  durationMs: 92_000,
  /** Slack on top of 1.5 x the others' p99 without the fault: one more hop at the link's worst one-way latency (50 ms). */
  slackMs: 50,
};

function s16Options(seed: number): SimOptions {
  // Static leaders (each org's first peer): the slow peer is never a leader, so what is measured is the
  // consumer's effect on its senders, not a leader's stall, which election handles (S18).
  return scenarioOptions({
    seed,
    gossip: gossipConfig(),
    blocks: S16.blocks,
    blockBytes: S16.blockBytes,
    blockIntervalMs: S16.blockIntervalMs,
    durationMs: S16.durationMs,
    leaderMode: "static",
  });
}

/** The slow peer of a seed: one of p3..p9 (not a static leader), drawn from the seed. */
function slowPeerOf(seed: number): string {
  const names = Array.from({ length: T10.peers - T10.orgs }, (_, i) => `p${i + T10.orgs}`);
  return new RandomTree(seed).stream("scenario/s16-slow").shuffle(names)[0]!;
}

interface SlowFindings {
  sim: Simulator;
  report: SimReport;
  commits: Commits;
  consumer: SlowConsumer | undefined;
  /** Frames delivered to the slow peer per virtual second during the slow spell's window. */
  inboundPerSecond: number;
  /** Per other peer: times it got an alive message of the slow peer newer than any before. */
  heardSlow: Map<string, number[]>;
  /** Alive view sizes of every peer at the end. */
  endViews: Record<string, number>;
  /** Death declarations: who declared which peer (by name) dead, when. */
  deaths: { atMs: number; by: string; of: string }[];
  /** The senders' (every peer but the slow one) send-queue overflow drops so far, at each phase's start and 1 s after its end. */
  overflowAt: Map<number, number>;
  wallSeconds: number;
}

async function slowRun(seed: number, slowName: string, costMs: number | undefined): Promise<SlowFindings> {
  const o = s16Options(seed);
  const sim = new Simulator(o);
  const commits = new Commits(sim, o);
  const endpoint = `${slowName}:7051`;
  let consumer: SlowConsumer | undefined;
  if (costMs !== undefined) {
    consumer = new SlowConsumer(sim, endpoint, [
      { kind: "stall", ...S16.stallA },
      { kind: "slow", ...S16.slow, costMs },
      { kind: "stall", ...S16.stallB },
    ]);
    sim.shapeFrames(consumer.shaper);
  }
  let inbound = 0;
  const heardSlow = new Map<string, number[]>();
  const newest = new Map<string, { inc: bigint; seq: bigint }>();
  let slowPki: string | undefined;
  sim.network.observe((f) => {
    const now = sim.now();
    if (f.to === endpoint) {
      if (now >= S16.slow.fromMs && now < S16.slow.untilMs) inbound++;
      return;
    }
    if (frameType(f.bytes) !== "alive") return;
    slowPki ??= sim.peers.find((p) => p.name === slowName)?.pkiHex;
    const c = SignedGossipMessage.fromEnvelopeBytes(f.bytes).message.content;
    if (c?.$case !== "aliveMsg" || c.value.timestamp === undefined || Buffer.from(c.value.membership?.pkiId ?? []).toString("hex") !== slowPki) return;
    const to = nameOf(f.to);
    const ts = c.value.timestamp;
    const held = newest.get(to);
    if (held !== undefined && (ts.incNum < held.inc || (ts.incNum === held.inc && ts.seqNum <= held.seq))) return;
    newest.set(to, { inc: ts.incNum, seq: ts.seqNum });
    entry(heardSlow, to, () => []).push(now);
  });
  const deaths: SlowFindings["deaths"] = [];
  sim.onEvent((e) => {
    if (e.kind === "death") deaths.push({ atMs: e.atMs, by: e.peer, of: nameOf(e.endpoint) });
  });
  const endViews: Record<string, number> = {};
  const overflowAt = new Map<number, number>();
  const marks = [S16.stallA, S16.slow, S16.stallB].flatMap((w) => [w.fromMs, w.untilMs + 1_000]);
  sim.onStep((now) => {
    for (const m of marks) {
      if (now >= m && !overflowAt.has(m)) overflowAt.set(m, sim.peers.filter((p) => p.name !== slowName).reduce((n, p) => n + metric(p, OVERFLOW), 0));
    }
    if (now < o.durationMs! - 100) return;
    for (const p of sim.peers) endViews[p.name] = p.node?.peers().length ?? -1;
  });
  const wall0 = performance.now();
  const report = await runSim(sim);
  return {
    sim,
    report,
    commits,
    consumer,
    inboundPerSecond: inbound / ((S16.slow.untilMs - S16.slow.fromMs) / 1000),
    heardSlow,
    endViews,
    deaths,
    overflowAt,
    wallSeconds: (performance.now() - wall0) / 1000,
  };
}

/** Two seeds by default (each runs 92 virtual seconds twice); SIM_SEEDS sets more, as for every scenario. */
const S16_SEEDS = process.env["SIM_SEEDS"] === undefined ? scenarioSeeds(2) : SEEDS;

test("S16 slow consumer (stalls of 12 s and 20 s, a spell at half the speed it needs): senders' queues bounded with drops counted, the others' p99 unaffected, no false deaths while alive messages flow", async (t: TestContext) => {
  for (const seed of S16_SEEDS) {
    await t.test(`S16 seed ${seed}`, async (t) => {
      const slow = slowPeerOf(seed);
      const g = s16Options(seed).gossip;
      const E = g.aliveExpirationTimeoutMs;
      const base = await slowRun(seed, slow, undefined);
      // Slowed down, the peer handles half of what reaches it (as one normally busy a fifth of the time would at a tenth of its speed).
      const costMs = Math.round(2_000 / base.inboundPerSecond);
      const r = await slowRun(seed, slow, costMs);
      const consumer = r.consumer!;
      const others = Array.from({ length: T10.peers }, (_, i) => `p${i}`).filter((n) => n !== slow);
      const overflow = (f: SlowFindings): number => f.sim.peers.filter((p) => p.name !== slow).reduce((n, p) => n + metric(p, OVERFLOW), 0);
      t.diagnostic(
        `slow peer ${slow}: ${base.inboundPerSecond.toFixed(1)} frames/s reach it, slowed to ${costMs} ms a frame; frames held up ${consumer.held}; senders' overflow drops ${overflow(r)} (without the fault ${overflow(base)}); ` +
          `deaths ${r.report.deathDeclarations} (without ${base.report.deathDeclarations}); wall ${base.wallSeconds.toFixed(1)} + ${r.wallSeconds.toFixed(1)} s`,
      );
      assert.equal(overflow(base), 0, "senders dropped frames without the fault");
      assert.ok(overflow(r) > 0, "no sender dropped anything: the fault did not fill a queue");
      assert.equal(r.report.missingCommits, 0, `blocks missing at the end (seed ${seed})`);
      t.diagnostic(`deaths: ${r.deaths.map((d) => `${d.by} declared ${d.of} at ${(d.atMs / 1000).toFixed(1)} s`).join("; ") || "none"}; end views ${JSON.stringify(r.endViews)}`);
      const gaps = [...r.heardSlow].map(([o, times]) => {
        let gap = 0;
        for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
        return `${o} ${(gap / 1000).toFixed(1)} s`;
      });
      t.diagnostic(`longest wait for a new alive message of ${slow}: ${gaps.join(", ")}`);
      // Nobody declares the slow peer dead while its alive messages keep coming within E.
      for (const d of r.deaths.filter((x) => x.of === slow)) {
        const heard = (r.heardSlow.get(d.by) ?? []).filter((at) => at <= d.atMs);
        const lastHeard = heard[heard.length - 1] ?? 0;
        assert.ok(d.atMs - lastHeard >= E, `${d.by} declared ${slow} dead at ${d.atMs} ms, ${d.atMs - lastHeard} ms after its last alive message (E ${E} ms; seed ${seed})`);
      }
      // Below E/2 (the 12 s stall) and while merely slow, the slow peer declares nobody dead, nor is it declared.
      const early = r.deaths.filter((d) => d.atMs < S16.stallB.fromMs);
      assert.deepEqual(early, [], `deaths before the 20 s stall (seed ${seed})`);
      assert.ok(S16.stallA.untilMs - S16.stallA.fromMs < E / 2);
      // Full recovery: every view whole at the end.
      assert.deepEqual(Object.values(r.endViews), Array.from({ length: T10.peers }, () => T10.peers - 1), "alive views at the end");
      for (const [label, w] of [
        ["12 s stall", S16.stallA],
        ["slow spell", S16.slow],
        ["20 s stall", S16.stallB],
      ] as const) {
        // No head-of-line blocking: blocks created during the fault (and 5 s after) reach the others as fast as without it.
        const p99 = quantile(r.commits.latencies(others, w.fromMs, w.untilMs + 5_000), 0.99);
        const baseP99 = quantile(base.commits.latencies(others, w.fromMs, w.untilMs + 5_000), 0.99);
        const drops = (r.overflowAt.get(w.untilMs + 1_000) ?? 0) - (r.overflowAt.get(w.fromMs) ?? 0);
        const drain = consumer.largestDrain(w.fromMs, w.untilMs + 1_000);
        t.diagnostic(
          `${label}: others' p99 ${p99.toFixed(0)} ms (without ${baseP99.toFixed(0)} ms); senders' drops ${drops}; largest queue drained at once ${drain.frames} (${nameOf(drain.from)} at ${(drain.atMs / 1000).toFixed(1)} s)`,
        );
        assert.ok(p99 <= 1.5 * baseP99 + S16.slackMs, `${label}: others' p99 ${p99.toFixed(0)} ms vs ${baseP99.toFixed(0)} ms without the fault (seed ${seed})`);
        assert.ok(drops > 0, `${label}: no sender dropped anything for ${slow}`);
        if (label !== "slow spell") {
          // At the stall's end the sender's writer drains its queue at once: it held at most sendBuffSize
          // (plus responses, which are queued whatever the bound, and the frame the writer was writing).
          assert.ok(drain.frames >= g.sendBuffSize, `${label}: the largest queue drained was ${drain.frames}: the stall did not fill one`);
          assert.ok(drain.frames <= g.sendBuffSize + 5, `${label}: ${drain.frames} frames queued for ${slow} at ${nameOf(drain.from)}, sendBuffSize ${g.sendBuffSize}`);
        }
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// S15 and S16 together: a member that floods requests and never reads the answers

/** One seed by default (a heavy run); SIM_SEEDS sets more. */
const DEAF_SEEDS = process.env["SIM_SEEDS"] === undefined ? scenarioSeeds(1) : SEEDS;

test("S15 with S16: a member asking at 1000x its rate and reading nothing for 5 s fills its peers' send queues to a bound, not without end", async (t: TestContext) => {
  for (const seed of DEAF_SEEDS) {
    await t.test(`seed ${seed}`, async (t) => {
      const name = slowPeerOf(seed);
      const o = s15Options(seed);
      const sim = new Simulator(o);
      const commits = new Commits(sim, o);
      const deaf = { fromMs: S15.floodFromMs, untilMs: S15.floodFromMs + 5_000 };
      const consumer = new SlowConsumer(sim, `${name}:7051`, [{ kind: "deaf", ...deaf }]);
      sim.shapeFrames(consumer.shaper);
      const rates = normalRates(o.gossip, o.blockIntervalMs);
      let flooder: Flooder | undefined;
      let last = 0;
      sim.onStep((now) => {
        flooder ??= new Flooder(sim, sim.peers.find((p) => p.name === name)!);
        const dt = now - last;
        last = now;
        if (now > deaf.fromMs && now <= deaf.untilMs) flooder.tick(dt, Object.fromEntries(REQUEST_KINDS.map((k) => [k, rates[k] * 1_000])));
      });
      const report = await runSim(sim);
      const honest = Array.from({ length: T10.peers }, (_, i) => `p${i}`).filter((n) => n !== name);
      const p99 = quantile(commits.latencies(honest, deaf.fromMs, deaf.untilMs), 0.99);
      const drain = consumer.largestDrain(deaf.fromMs, deaf.untilMs + 1_000);
      const overflow = sim.peers.filter((p) => p.name !== name).reduce((n, p) => n + metric(p, OVERFLOW), 0);
      const cap = BLOCKING_QUEUE_FACTOR * o.gossip.sendBuffSize;
      t.diagnostic(
        `${name} deaf for 5 s, asking ${REQUEST_KINDS.map((k) => `${k} ${flooder!.sent[k]}`).join(", ")}: largest queue drained at once ${drain.frames} (${nameOf(drain.from)}; bound ${cap}); senders' drops ${overflow}; honest p99 ${p99.toFixed(0)} ms`,
      );
      assert.equal(report.missingCommits, 0);
      assert.ok(drain.frames >= o.gossip.sendBuffSize, `the largest queue drained was ${drain.frames}: nothing filled one`);
      assert.ok(drain.frames <= cap, `${nameOf(drain.from)} queued ${drain.frames} messages for ${name}, bound ${cap} (seed ${seed})`);
      assert.ok(overflow > 0, "nothing was dropped");
    });
  }
});
