/**
 * Shared helpers of the scenario library (RELIABILITY.md part C, S1-S8, S13, S14): the reference
 * topologies, Fabric's timer symbols, seed selection, and a recorder that samples every peer's
 * alive view and keeps the run's timestamped events, so a test can measure convergence against a
 * bound. Shared by scenarios-membership.test.ts and scenarios-faults.test.ts: only add exports.
 */
import type { TestContext } from "node:test";
import { pkiHex } from "../../src/api/identity.js";
import { defaultGossipConfig, type GossipConfig } from "../../src/config/index.js";
import { SignedGossipMessage } from "../../src/protoext/index.js";
import type { Envelope, PeerTime } from "../../src/protos/gen/gossip/message.pb.js";
import { RandomTree, type SimEvent, type SimOptions, type SimResult, Simulator, simOptions } from "../../src/sim/index.js";

/** RELIABILITY.md C0 reference topologies: T10 (3 orgs, 10 peers) and T30 (5 orgs, 30 peers). */
export const T10 = Object.freeze({ peers: 10, orgs: 3 });
export const T30 = Object.freeze({ peers: 30, orgs: 5 });

/** RELIABILITY.md C0 timer symbols, in ms, read from a gossip config (Fabric's defaults unless changed). */
export interface FabricTimers {
  /** aliveTimeInterval */
  A: number;
  /** aliveExpirationTimeout (its check runs every E/10) */
  E: number;
  /** reconnectInterval */
  R: number;
  /** pullInterval */
  P: number;
  /** election.leaderAliveThreshold */
  L: number;
  /** election.leaderElectionDuration */
  Del: number;
  /** state.checkInterval */
  S: number;
}

export function fabricTimers(g: GossipConfig): FabricTimers {
  return {
    A: g.aliveTimeIntervalMs,
    E: g.aliveExpirationTimeoutMs,
    R: g.reconnectIntervalMs,
    P: g.pullIntervalMs,
    L: g.election.leaderAliveThresholdMs,
    Del: g.election.leaderElectionDurationMs,
    S: g.state.checkIntervalMs,
  };
}

/**
 * The seeds a scenario runs over: 1..N with N from env SIM_SEEDS (a count), `defaultCount` without
 * it; SIM_SEEDS may also list seeds ("4,17") to reproduce a failure.
 */
export function scenarioSeeds(defaultCount = 3): number[] {
  const raw = process.env["SIM_SEEDS"]?.trim();
  if (raw === undefined || raw === "") return Array.from({ length: defaultCount }, (_, i) => i + 1);
  if (raw.includes(",")) {
    const seeds = raw.split(",").map((s) => Number(s.trim()));
    if (seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error(`SIM_SEEDS: expected a count or a list of seeds such as 4,17, got ${JSON.stringify(raw)}`);
    return seeds;
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`SIM_SEEDS: expected a count >= 1 or a list of seeds such as 4,17, got ${JSON.stringify(raw)}`);
  return Array.from({ length: n }, (_, i) => i + 1);
}

/**
 * Options of a scenario run: T10, Fabric's default gossip config (RELIABILITY's L1 runs with
 * them), fast crypto, small blocks (membership and election do not depend on block size), a
 * 20 s warm-up, a fixed duration. Overrides win.
 */
export function scenarioOptions(overrides: Partial<SimOptions> = {}): SimOptions {
  return simOptions({
    gossip: defaultGossipConfig(),
    ...T10,
    seed: 1,
    blocks: 40,
    blockBytes: 2 * 1024,
    blockIntervalMs: 2_000,
    warmupMs: 20_000,
    crypto: "fast",
    ...overrides,
  });
}

/** One sample of the run: who was running and who saw whom. */
export class ViewSample {
  constructor(
    readonly atMs: number,
    readonly n: number,
    /** running[p]: 1 while peer p runs. */
    readonly running: Uint8Array,
    /** views[o * n + m]: 1 when m is in o's alive view. */
    readonly views: Uint8Array,
    /** Leaders of the first channel: leader[p] = 1. */
    readonly leader: Uint8Array,
  ) {}

  sees(o: number, m: number): boolean {
    return this.views[o * this.n + m] === 1;
  }
}

/** What a {@link ScenarioRecorder} samples. */
export interface RecorderOptions {
  /** Sampling period of views and leaders in virtual ms (default 100, the simulator's step). */
  sampleEveryMs?: number;
  /** Peers whose alive message (incNum, seqNum) is read from every view at every sample. */
  watchAlive?: string[];
}

/** A peer's commits in order (seq, virtual ms). */
export interface CommitRecord {
  seq: number;
  atMs: number;
}

/**
 * Records a run for scenario assertions: every {@link SimEvent} (commits per peer apart), and every
 * `sampleEveryMs` (default 100 ms, the simulator's step) which peers run, each running peer's
 * alive view (discovery's alive members) and who leads the first channel. Peers are addressed by
 * index (`p3` is 3). Attach before `run()`.
 */
export class ScenarioRecorder {
  readonly sim: Simulator;
  readonly n: number;
  readonly names: readonly string[];
  readonly events: SimEvent[] = [];
  readonly commits: CommitRecord[][];
  readonly samples: ViewSample[] = [];
  /** For each watched member: per sample, the (incNum, seqNum) of its alive message in each peer's view (undefined: absent). */
  readonly alive = new Map<number, (PeerTime | undefined)[][]>();
  readonly #byPki = new Map<string, number>();
  readonly #byName = new Map<string, number>();
  readonly #every: number;
  #next = 0;

  constructor(sim: Simulator, options: RecorderOptions = {}) {
    this.sim = sim;
    this.n = sim.options.peers;
    this.names = Array.from({ length: this.n }, (_, i) => `p${i}`);
    for (const [i, name] of this.names.entries()) this.#byName.set(name, i);
    this.commits = this.names.map(() => []);
    this.#every = options.sampleEveryMs ?? 100;
    for (const w of options.watchAlive ?? []) this.alive.set(this.index(w), []);
    sim.onEvent((e) => {
      if (e.kind === "commit") this.commits[this.index(e.peer)]!.push({ seq: e.seq, atMs: e.atMs });
      else this.events.push(e);
    });
    sim.onStep((now) => {
      if (now + 1e-6 < this.#next) return;
      this.#next = now + this.#every;
      this.#sample(now);
    });
  }

  index(name: string): number {
    const i = this.#byName.get(name);
    if (i === undefined) throw new Error(`no peer named ${name}`);
    return i;
  }

  #sample(now: number): void {
    const n = this.n;
    if (this.#byPki.size === 0) for (const p of this.sim.peers) this.#byPki.set(p.pkiHex, p.spec.index);
    const running = new Uint8Array(n);
    const views = new Uint8Array(n * n);
    const leader = new Uint8Array(n);
    const channel = this.sim.channels[0]?.name ?? "ch0";
    const watched = [...this.alive.entries()].map(([m, rows]) => {
      const row = new Array<PeerTime | undefined>(n).fill(undefined);
      rows.push(row);
      return { m, row };
    });
    for (const p of this.sim.peers) {
      const o = p.spec.index;
      if (!p.running) continue;
      running[o] = 1;
      if (p.isLeader(channel)) leader[o] = 1;
      for (const member of p.node?.peers() ?? []) {
        const m = this.#byPki.get(pkiHex(member.pkiId));
        if (m === undefined) continue;
        views[o * n + m] = 1;
        for (const w of watched) if (w.m === m) w.row[o] = aliveTimeOf(member.envelope);
      }
    }
    this.samples.push(new ViewSample(now, n, running, views, leader));
  }

  /** The first sample at or after `fromMs` for which `pred` holds, or undefined. */
  firstSample(fromMs: number, pred: (s: ViewSample) => boolean, untilMs = Number.POSITIVE_INFINITY): ViewSample | undefined {
    for (const s of this.samples) if (s.atMs >= fromMs && s.atMs <= untilMs && pred(s)) return s;
    return undefined;
  }

  /** Samples within [fromMs, untilMs]. */
  window(fromMs: number, untilMs: number): ViewSample[] {
    return this.samples.filter((s) => s.atMs >= fromMs && s.atMs <= untilMs);
  }

  /** The sample index of the last sample at or before `atMs`. */
  sampleAt(atMs: number): ViewSample | undefined {
    let last: ViewSample | undefined;
    for (const s of this.samples) {
      if (s.atMs > atMs) break;
      last = s;
    }
    return last;
  }

  /**
   * Changes of `member` in `observer`'s view over [fromMs, untilMs] while the observer ran: the
   * times it appeared (true) or disappeared (false).
   */
  viewChanges(observer: number, member: number, fromMs = 0, untilMs = Number.POSITIVE_INFINITY): { atMs: number; present: boolean }[] {
    const out: { atMs: number; present: boolean }[] = [];
    let prev: boolean | undefined;
    for (const s of this.samples) {
      if (s.atMs > untilMs) break;
      if (s.running[observer] !== 1) {
        prev = undefined;
        continue;
      }
      const now = s.sees(observer, member);
      if (prev !== undefined && now !== prev && s.atMs >= fromMs) out.push({ atMs: s.atMs, present: now });
      prev = now;
    }
    return out;
  }

  /** Events of one kind, in order. */
  eventsOf<K extends SimEvent["kind"]>(kind: K): (SimEvent & { kind: K })[] {
    return this.events.filter((e): e is SimEvent & { kind: K } => e.kind === kind);
  }

  /** The first event of `kind` about `peer` (start, crash, restart), or undefined. */
  peerEvent(kind: "start" | "crash" | "restart", peer: string): number | undefined {
    return this.events.find((e) => e.kind === kind && "peer" in e && e.peer === peer)?.atMs;
  }

  /** Peers of org `org` (1-based) in the run's dealing: p{i} is in org (i mod orgs) + 1. */
  orgPeers(org: number): number[] {
    const orgs = this.sim.options.orgs;
    return this.names.map((_, i) => i).filter((i) => (i % orgs) + 1 === org);
  }

  /** The org (1-based) of peer index `i`. */
  orgOf(i: number): number {
    return (i % this.sim.options.orgs) + 1;
  }

  /**
   * For a watched member (RecorderOptions.watchAlive): the first sample in [fromMs, untilMs] at which
   * `observer`'s view held the newest alive message of `member` it held in that window, i.e. when
   * the observer last heard something new from or about it. Undefined if it never held one.
   */
  newestAliveAt(observer: number, member: number, fromMs: number, untilMs: number): number | undefined {
    const rows = this.alive.get(member);
    if (rows === undefined) throw new Error(`${this.names[member]} is not watched (RecorderOptions.watchAlive)`);
    let best: PeerTime | undefined;
    let at: number | undefined;
    for (const [k, s] of this.samples.entries()) {
      if (s.atMs < fromMs || s.atMs > untilMs) continue;
      const t = rows[k]?.[observer];
      if (t === undefined) continue;
      if (best === undefined || t.incNum > best.incNum || (t.incNum === best.incNum && t.seqNum > best.seqNum)) {
        best = t;
        at = s.atMs;
      }
    }
    return at;
  }

  /** Become-leader events of the first channel in org `org`, with times. */
  leaderElections(org: number, fromMs = 0): { atMs: number; peer: string }[] {
    const channel = this.sim.channels[0]?.name ?? "ch0";
    return this.eventsOf("leader")
      .filter((e) => e.channel === channel && e.isLeader && e.atMs >= fromMs && this.orgOf(this.index(e.peer)) === org)
      .map((e) => ({ atMs: e.atMs, peer: e.peer }));
  }
}

function aliveTimeOf(envelope: Envelope | undefined): PeerTime | undefined {
  if (envelope === undefined) return undefined;
  try {
    const content = SignedGossipMessage.fromEnvelope(envelope).message.content;
    return content?.$case === "aliveMsg" ? content.value.timestamp : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `sim` with a recorder attached; an invariant violation (SimInvariantError, with the seed) rejects. */
export async function runRecorded(
  options: SimOptions,
  recorderOptions: RecorderOptions = {},
): Promise<{ sim: Simulator; rec: ScenarioRecorder; result: SimResult }> {
  const sim = new Simulator(options);
  const rec = new ScenarioRecorder(sim, recorderOptions);
  const result = await sim.run();
  return { sim, rec, result };
}

/**
 * A fault time offset in [0, spanMs), whole 100 ms steps, drawn from the seed (stream `label`). The
 * simulator's own randomness moves peers' periodic timers by under a second, so without it every
 * seed would hit the same phase of the 25 s reconnect and 5 s alive cycles.
 */
export function seededOffsetMs(seed: number, label: string, spanMs: number): number {
  return Math.floor(new RandomTree(seed).stream(`scenario/${label}`).float() * (spanMs / 100)) * 100;
}

/**
 * Runs `body` once per seed, each as a subtest named "seed N", so a failure names the seed to
 * reproduce it with (SIM_SEEDS=N), and each seed's diagnostics sit under it.
 */
export async function forSeeds(t: TestContext, seeds: readonly number[], body: (seed: number, st: TestContext) => Promise<void>): Promise<void> {
  for (const seed of seeds) await t.test(`seed ${seed}`, (st) => body(seed, st));
}

/** Virtual ms as seconds with one decimal, for diagnostics. */
export function secs(ms: number | undefined): string {
  return ms === undefined ? "never" : `${(ms / 1000).toFixed(1)} s`;
}
