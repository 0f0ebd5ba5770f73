/**
 * RELIABILITY.md part C, scenarios S5-S8 (message loss, latency and jitter, duplication,
 * reordering) and S13-S14 (forgeries and impersonation, replay) as simulator tests in virtual time.
 *
 * Every run checks the C0 invariants continuously (the simulator throws SimInvariantError with the
 * seed on the first violation: a gap, duplicate or forked commit, a forged member in a view, a
 * block reaching a peer outside the channel, a payload buffer above 2 x blockBufferSize + 1).
 * Each scenario runs over scenarioSeeds() (3 in CI, SIM_SEEDS=N or a list for more) plus the seeds
 * in REGRESSION_SEEDS; per-seed figures go to t.diagnostic.
 *
 * Settings: Fabric's defaults (core.yaml peer.gossip.*) except state.enabled = true, which the S5
 * row relies on ("through push, pull or state transfer"). Budget: the matrix asks for 30 minutes on
 * T30 in S5; CI runs T10 for 80 virtual seconds per loss level instead (the whole test/sim folder
 * must stay within about 3 minutes of wall time on the shared 2-core machine). Set SIM_SEEDS for
 * more seeds; the durations are the constants below.
 *
 * Faults the link model lacks are shaped per frame with Simulator.shapeFrames (bursty and per-type
 * loss, 2-5 copies, wide reordering). Not covered here, as the simulator has no TLS, no per-link
 * latency and no stream-reset loss model: S5's loss as gRPC stream resets, S6's single slow link
 * (handshake E_TIMEOUT and backoff), S13's handshake whose PKI-ID does not match the TLS
 * certificate and its disconnect after N forgeries (not implemented), S14's ConnEstablish replay
 * on another TLS session.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { defaultGossipConfig, type GossipConfig } from "../../src/config/index.js";
import { blockDataHash, marshalEcdsaSignature, P256, unmarshalEcdsaSignature } from "../../src/crypto/index.js";
import type { NetworkMember } from "../../src/discovery/index.js";
import { generateMAC } from "../../src/gossip/channel/index.js";
import type { MemoryMetricsProvider } from "../../src/metrics/index.js";
import { SignedGossipMessage } from "../../src/protoext/index.js";
import { Block } from "../../src/protos/gen/common/common.pb.js";
import { type Envelope, type GossipMessage, GossipMessage_Tag, PullMsgType } from "../../src/protos/gen/gossip/message.pb.js";
import { FRAME_TYPES, type FrameInfo, type FrameShaper, type SimOptions, type SimPeer, type SimReport, scanFrame, Simulator } from "../../src/sim/index.js";
import { utf8 } from "../../src/util/bytes.js";
import { scenarioOptions, scenarioSeeds, T10 } from "./scenario-kit.js";

/** Seeds that once failed a scenario: they run in addition to scenarioSeeds() for good. */
const REGRESSION_SEEDS: Readonly<Record<string, readonly number[]>> = {
  S5: [],
  S6: [],
  S7: [],
  S8: [],
  S13: [],
  S14: [],
};

const SEEDS = scenarioSeeds();

/** Runs `body` once per seed (the CI seeds and the scenario's regression seeds), each as a subtest named by its seed. */
async function perSeed(t: TestContext, scenario: string, body: (t: TestContext, seed: number) => Promise<void>): Promise<void> {
  for (const seed of [...new Set([...SEEDS, ...(REGRESSION_SEEDS[scenario] ?? [])])]) {
    await t.test(`${scenario} seed ${seed}`, (st) => body(st, seed));
  }
}

/** Fabric's defaults, with state transfer on (see the header). */
function faultGossip(): GossipConfig {
  const g = defaultGossipConfig();
  g.state.enabled = true;
  return g;
}

/** Fabric's `log3(N)`: push hops with fanout 3. */
const log3 = (n: number): number => Math.log(n) / Math.log(3);

const frameInfo: FrameInfo = { type: 0, channelStart: 0, channelEnd: 0 };
/** The gossip content type of a frame ("alive", "data", "digest", ...). */
function frameType(bytes: Uint8Array): string {
  return FRAME_TYPES[scanFrame(bytes, frameInfo).type] ?? "other";
}

type Fate = Parameters<FrameShaper>[3];

/** Frames a shaper of this file dropped or added, and bytes it wrote again itself (the simulator counts them as sent), by type. */
const shaped = { dropped: 0, added: 0, resentBytes: {} as Record<string, number> };

function lost(fate: Fate): Fate {
  shaped.dropped++;
  return { delaysMs: [], ordered: fate.ordered, sendMs: fate.sendMs };
}

/** Runs a simulation; `prepare` may shape frames and observe, and register a cleanup for timers it left scheduled. */
async function run(options: SimOptions, prepare?: (sim: Simulator, onEnd: (cleanup: () => void) => void) => void): Promise<{ sim: Simulator; r: SimReport }> {
  const sim = new Simulator(options);
  shaped.dropped = 0;
  shaped.added = 0;
  shaped.resentBytes = {};
  const cleanups: (() => void)[] = [];
  prepare?.(sim, (c) => cleanups.push(c));
  const { report } = await sim.run().finally(() => {
    for (const c of cleanups) c();
  });
  const d = sim.diagnostics();
  // Nothing may keep running after a run, whatever the faults.
  assert.equal(d.pendingTimers, 0, "timers left after the run");
  assert.equal(d.openStreams, 0, "streams left open after the run");
  return { sim, r: report };
}

function figures(r: SimReport): string {
  return (
    `p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms; push ${(r.pushShare * 100).toFixed(1)} %, ` +
    `pull ${(r.pullShare * 100).toFixed(1)} %, state ${(r.stateShare * 100).toFixed(1)} %; copies ${r.redundancy}; ` +
    `deaths ${r.deathDeclarations} (false ${r.falseDeaths}); leader changes ${r.leaderChanges}; missing ${r.missingCommits}`
  );
}

// ---------------------------------------------------------------------------------------------
// S5 message loss

/** Virtual length of an S5 run: 20 s warm-up, 30 blocks at 1/s, 30 s for the last ones to arrive. */
const S5_BLOCKS = 30;
const S5_DURATION_MS = 20_000 + S5_BLOCKS * 1_000 + 30_000;

function s5Options(seed: number, loss: number): SimOptions {
  const o = scenarioOptions({ seed, gossip: faultGossip(), blocks: S5_BLOCKS, blockIntervalMs: 1_000, durationMs: S5_DURATION_MS });
  o.link = { ...o.link, loss };
  return o;
}

/**
 * Gilbert-Elliott loss per directed link: bad periods of `burstMs` that lose every frame, good
 * periods (exponential, mean `meanGapMs`) that lose none. Draws come from the run's own tree, so
 * the run stays reproducible.
 */
function burstyLoss(sim: Simulator, burstMs: number, meanGapMs: number): FrameShaper {
  const rng = sim.tree.stream("scenario/gilbert-elliott");
  const links = new Map<string, { badUntil: number; nextBurstAt: number }>();
  const gap = (): number => -Math.log(1 - rng.float()) * meanGapMs;
  return (from, to, _bytes, fate) => {
    const now = sim.now();
    const key = `${from}>${to}`;
    let s = links.get(key);
    if (s === undefined) {
      s = { badUntil: Number.NEGATIVE_INFINITY, nextBurstAt: now + gap() };
      links.set(key, s);
    }
    while (now >= s.nextBurstAt) {
      s.badUntil = s.nextBurstAt + burstMs;
      s.nextBurstAt = s.badUntil + gap();
    }
    return now < s.badUntil ? lost(fate) : fate;
  };
}

/** Loses frames of one gossip type with probability `p`. */
function typedLoss(sim: Simulator, type: string, p: number): FrameShaper {
  const rng = sim.tree.stream(`scenario/loss-${type}`);
  return (_from, _to, bytes, fate) => (frameType(bytes) === type && rng.float() < p ? lost(fate) : fate);
}

test("S5 message loss: no false deaths and every block everywhere up to 10 % loss; at 20 % at most 1 false death per peer-hour and still every block", async (t) => {
  await perSeed(t, "S5", async (t, seed) => {
    const base = (await run(s5Options(seed, 0))).r;
    assert.equal(base.missingCommits, 0);
    assert.equal(base.falseDeaths, 0);
    t.diagnostic(`p = 0: ${figures(base)}`);
    const peerHours = (T10.peers * S5_DURATION_MS) / 3_600_000;
    const cases: { label: string; loss: number; shaper?: (sim: Simulator) => FrameShaper; maxFalseDeaths: number }[] = [
      { label: "uniform 1 %", loss: 0.01, maxFalseDeaths: 0 },
      { label: "uniform 5 %", loss: 0.05, maxFalseDeaths: 0 },
      { label: "uniform 10 %", loss: 0.1, maxFalseDeaths: 0 },
      { label: "uniform 20 %", loss: 0.2, maxFalseDeaths: Math.floor(peerHours) },
    ];
    // One of the other loss models per seed, in rotation (the budget): bursty, then by message type.
    const variants: typeof cases = [
      // 2 s bursts losing everything, 18 s apart on average: 10 % of the time, in one piece.
      { label: "bursty (Gilbert-Elliott, 2 s bursts, 10 %)", loss: 0, shaper: (sim) => burstyLoss(sim, 2_000, 18_000), maxFalseDeaths: 0 },
      { label: "alive messages only, 20 %", loss: 0, shaper: (sim) => typedLoss(sim, "alive", 0.2), maxFalseDeaths: Math.floor(peerHours) },
      { label: "blocks (data) only, 20 %", loss: 0, shaper: (sim) => typedLoss(sim, "data", 0.2), maxFalseDeaths: 0 },
    ];
    cases.push(variants[(seed - 1) % variants.length]!);
    for (const c of cases) {
      const { sim, r } = await run(s5Options(seed, c.loss), (sim) => {
        if (c.shaper !== undefined) sim.shapeFrames(c.shaper(sim));
      });
      const link = sim.diagnostics().link;
      t.diagnostic(`${c.label}: ${figures(r)}; p99 vs p = 0: ${(r.latencyMs.p99 - base.latencyMs.p99).toFixed(0)} ms; frames lost ${link.lost + shaped.dropped} of ${link.frames}`);
      assert.equal(r.missingCommits, 0, `${c.label}: every block reaches every peer (seed ${seed})`);
      assert.equal(r.commits, T10.peers * S5_BLOCKS, `${c.label}: each block committed once at each peer`);
      assert.ok(
        r.falseDeaths <= c.maxFalseDeaths,
        `${c.label}: ${r.falseDeaths} false death declarations over ${peerHours.toFixed(2)} peer-hours, at most ${c.maxFalseDeaths} allowed (seed ${seed})`,
      );
      // The fault really applied: about p of all frames lost, or some frames of the one type.
      assert.ok(link.lost + shaped.dropped > (c.loss > 0 ? (link.frames * c.loss) / 2 : 50), `${c.label}: frames were lost`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// S6 latency and jitter

const S6_RTTS_MS = [1, 50, 200, 500];
const S6_BLOCKS = 20;
/** Jitter of the one-way latency (+/- this share), by seed: the matrix's 10-50 %. */
const S6_JITTER = [0.1, 0.3, 0.5];

test("S6 latency and jitter: no death declarations below connTimeout, and block p99 within baseline + 4 x RTT x log3(N)", async (t) => {
  await perSeed(t, "S6", async (t, seed) => {
    const jitter = S6_JITTER[seed % S6_JITTER.length]!;
    let base: SimReport | undefined;
    for (const rtt of S6_RTTS_MS) {
      const o = scenarioOptions({ seed, gossip: faultGossip(), blocks: S6_BLOCKS, blockIntervalMs: 1_000, durationMs: 50_000 });
      const half = rtt / 2;
      o.link = { ...o.link, latency: { kind: "uniform", minMs: half * (1 - jitter), maxMs: half * (1 + jitter) } };
      assert.ok(rtt < o.gossip.connTimeoutMs);
      const { r } = await run(o);
      base ??= r;
      const bound = base.latencyMs.p99 + 4 * rtt * log3(T10.peers);
      t.diagnostic(`RTT ${rtt} ms +/- ${jitter * 100} %: ${figures(r)}; p99 bound ${bound.toFixed(0)} ms`);
      // Nothing crashes or is cut off here: every death declaration would be a false one.
      assert.equal(r.deathDeclarations, 0, `RTT ${rtt} ms: no peer declared dead (seed ${seed})`);
      assert.equal(r.missingCommits, 0, `RTT ${rtt} ms: every block everywhere (seed ${seed})`);
      assert.ok(r.latencyMs.p99 <= bound, `RTT ${rtt} ms: block p99 ${r.latencyMs.p99} ms above ${bound.toFixed(0)} ms (seed ${seed})`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// S7 duplication

/** Every frame arrives 2-5 times: the copies on its stream shortly after it, and a quarter also re-sent over every stream of the pair. */
function duplicator(sim: Simulator, pending: Set<{ cancel(): void }>): FrameShaper {
  const rng = sim.tree.stream("scenario/duplicate");
  let reinjecting = false;
  return (from, to, bytes, fate) => {
    if (reinjecting || fate.delaysMs.length === 0) return fate;
    const first = fate.delaysMs[0]!;
    const copies = 2 + rng.int(4);
    const delaysMs = [first];
    for (let i = 1; i < copies; i++) delaysMs.push(first + rng.float() * 20);
    shaped.added += copies - 1;
    if (rng.float() < 0.25) {
      // Another copy written again later, on every stream between the two (two after a dial race).
      const handle = sim.clock.setTimeout(() => {
        pending.delete(handle);
        reinjecting = true;
        try {
          const streams = sim.network.inject(from, to, bytes);
          const type = frameType(bytes);
          shaped.added += streams;
          shaped.resentBytes[type] = (shaped.resentBytes[type] ?? 0) + streams * bytes.byteLength;
        } finally {
          reinjecting = false;
        }
      }, first);
      pending.add(handle);
    }
    return { ...fate, delaysMs };
  };
}

/** More blocks than the block store keeps (maxBlockCountToStore 10), so its bound shows. */
const S7_BLOCKS = 20;

/** Largest number of block digests in one DataDigest a peer sent during the run. */
function watchBlockDigests(sim: Simulator): { max: number } {
  const seen = { max: 0 };
  sim.network.observe((f) => {
    if (frameType(f.bytes) !== "digest") return;
    const c = SignedGossipMessage.fromEnvelopeBytes(f.bytes).message.content;
    if (c?.$case === "dataDig" && c.value.msgType === PullMsgType.BLOCK_MSG) seen.max = Math.max(seen.max, c.value.digests.length);
  });
  return seen;
}

test("S7 duplication (each frame 2-5 times): every block committed exactly once, duplicates not forwarded, the block store bounded", async (t) => {
  await perSeed(t, "S7", async (t, seed) => {
    const o = (): SimOptions => scenarioOptions({ seed, gossip: faultGossip(), blocks: S7_BLOCKS, blockIntervalMs: 500, durationMs: 45_000 });
    const base = (await run(o())).r;
    const pending = new Set<{ cancel(): void }>();
    let digests = { max: 0 };
    const { r } = await run(o(), (sim, onEnd) => {
      sim.shapeFrames(duplicator(sim, pending));
      digests = watchBlockDigests(sim);
      onEnd(() => {
        for (const h of pending) h.cancel();
      });
    });
    // Bytes the peers themselves sent (the simulator also counts the copies the duplicator wrote again).
    const sent = (report: SimReport, type: string, resent = 0): number => (report.bytesPerPeerPerSecByType[type] ?? 0) - resent / T10.peers / report.virtualSeconds;
    const dataRatio = sent(r, "data", shaped.resentBytes["data"]) / sent(base, "data");
    const aliveRatio = sent(r, "alive", shaped.resentBytes["alive"]) / sent(base, "alive");
    t.diagnostic(`no duplicates: ${figures(base)}`);
    t.diagnostic(
      `2-5 copies (${shaped.added} extra frames): ${figures(r)}; block bytes sent ${dataRatio.toFixed(2)} x, alive bytes ${aliveRatio.toFixed(2)} x the run without; largest block digest ${digests.max}`,
    );
    assert.ok(shaped.added > 2 * r.frames / 5, "the frames were duplicated");
    // Commit-order (no duplicate commit) is checked at every commit; this is the count.
    assert.equal(r.commits, T10.peers * S7_BLOCKS, "each block committed exactly once at each peer");
    assert.equal(r.missingCommits, 0);
    assert.equal(r.deathDeclarations, 0);
    assert.ok(r.redundancy > 2 * base.redundancy, `copies received ${r.redundancy} vs ${base.redundancy}: duplicates arrived`);
    // A forwarded duplicate would multiply what is sent (3.5 copies on average per hop).
    assert.ok(dataRatio < 1.15, `blocks sent ${dataRatio.toFixed(2)} x the run without duplicates: duplicates were forwarded (seed ${seed})`);
    assert.ok(aliveRatio < 1.15, `alive messages sent ${aliveRatio.toFixed(2)} x the run without duplicates: duplicates were forwarded (seed ${seed})`);
    const bound = o().gossip.maxBlockCountToStore + 1;
    assert.ok(digests.max > 0 && digests.max <= bound, `a peer advertised ${digests.max} blocks: the block store holds at most maxBlockCountToStore + 1 = ${bound}`);
  });
});

// ---------------------------------------------------------------------------------------------
// S8 reordering

/** Frames may overtake each other within this much extra delay. */
const S8_WINDOW_MS = 300;
/** Alive, StateInfo and leadership messages get up to this much: a little more than their period (A, L/2), so newer ones overtake older ones. */
const S8_HEARTBEAT_WINDOW_MS = 6_000;
const HEARTBEATS = new Set(["alive", "stateInfo", "leadership"]);
const S8_BLOCK_INTERVAL_MS = 200;

/** Newest (incNum, seqNum) seen per key; `check` fails when a key goes back. */
class Monotonic {
  readonly #last = new Map<string, [bigint, bigint]>();
  regressions: string[] = [];
  checks = 0;

  check(key: string, inc: bigint, seq: bigint, atMs: number): void {
    this.checks++;
    const last = this.#last.get(key);
    if (last !== undefined && (inc < last[0] || (inc === last[0] && seq < last[1]))) {
      if (this.regressions.length < 5) this.regressions.push(`${key} went from (${last[0]}, ${last[1]}) back to (${inc}, ${seq}) at ${atMs} ms`);
    }
    this.#last.set(key, [inc, seq]);
  }
}

test("S8 reordering: commits strictly in order, the buffer within 2 x blockBufferSize, older alive and StateInfo never override newer ones", async (t) => {
  const beyondTotal = { n: 0 };
  const reorderedLeadership = { n: 0 };
  await perSeed(t, "S8", async (t, seed) => {
    const gossip = faultGossip();
    const o = scenarioOptions({ seed, gossip, blocks: 60, blockIntervalMs: S8_BLOCK_INTERVAL_MS, durationMs: 80_000 });
    const bufferBound = 2 * gossip.state.blockBufferSize;
    // Blocks may fall behind by up to defMaxBlockDistance (blockBufferSize) + 5 blocks.
    const blockWindowMs = (gossip.state.blockBufferSize + 5) * S8_BLOCK_INTERVAL_MS;
    const alive = new Monotonic();
    const stateInfo = new Monotonic();
    const times = new WeakMap<object, [bigint, bigint]>();
    let maxBuffer = 0;
    let beyond = 0;
    const newest = new Map<string, [bigint, bigint]>();
    const olderAfterNewer: Record<string, number> = {};
    const leaderEvents: string[] = [];
    const { sim, r } = await run(o, (sim) => {
      const rng = sim.tree.stream("scenario/reorder");
      sim.shapeFrames((_from, _to, bytes, fate) => {
        const type = frameType(bytes);
        // The handshake opens a stream; gRPC never delivers anything before it.
        if (type === "conn" || fate.delaysMs.length === 0) return fate;
        const extra = rng.float() * (type === "data" ? blockWindowMs : HEARTBEATS.has(type) ? S8_HEARTBEAT_WINDOW_MS : S8_WINDOW_MS);
        return { ...fate, delaysMs: fate.delaysMs.map((d) => d + extra), ordered: false };
      });
      sim.onEvent((e) => {
        if (e.kind === "leader" && e.atMs > o.warmupMs) leaderEvents.push(`${e.peer} ${e.isLeader ? "became" : "stopped being"} leader at ${e.atMs.toFixed(0)} ms`);
      });
      sim.network.observe((f) => {
        const type = frameType(f.bytes);
        if (type !== "data" && !HEARTBEATS.has(type)) return;
        const c = SignedGossipMessage.fromEnvelopeBytes(f.bytes).message.content;
        if (c?.$case === "dataMsg") {
          const height = sim.peers.find((p) => p.spec.endpoint === f.to)?.ledger("ch0")?.height();
          if (c.value.payload !== undefined && height !== undefined && c.value.payload.seqNum - height >= BigInt(gossip.state.blockBufferSize)) beyond++;
          return;
        }
        // Count the heartbeats that arrived after a newer one of the same origin: what the stores must ignore.
        const origin = c?.$case === "aliveMsg" ? c.value.membership?.pkiId : c?.$case === "stateInfo" || c?.$case === "leadershipMsg" ? c.value.pkiId : undefined;
        const ts = c?.$case === "aliveMsg" || c?.$case === "stateInfo" || c?.$case === "leadershipMsg" ? c.value.timestamp : undefined;
        if (origin === undefined || ts === undefined) return;
        const key = `${f.to} ${c?.$case} ${Buffer.from(origin).toString("hex")}`;
        const last = newest.get(key);
        if (last !== undefined && (ts.incNum < last[0] || (ts.incNum === last[0] && ts.seqNum < last[1]))) olderAfterNewer[c!.$case] = (olderAfterNewer[c!.$case] ?? 0) + 1;
        else newest.set(key, [ts.incNum, ts.seqNum]);
      });
      const timestamp = (env: object | undefined, read: () => [bigint, bigint] | undefined): [bigint, bigint] | undefined => {
        if (env === undefined) return undefined;
        let ts = times.get(env);
        if (ts === undefined) {
          ts = read();
          if (ts !== undefined) times.set(env, ts);
        }
        return ts;
      };
      sim.onStep((now) => {
        for (const p of sim.peers) {
          const node = p.node;
          if (node === undefined) continue;
          maxBuffer = Math.max(maxBuffer, p.state("ch0")?.bufferSize() ?? 0);
          for (const m of node.peers()) {
            const env = m.envelope;
            const ts = timestamp(env, () => {
              const c = env === undefined ? undefined : SignedGossipMessage.fromEnvelope(env).message.content;
              return c?.$case === "aliveMsg" && c.value.timestamp !== undefined ? [c.value.timestamp.incNum, c.value.timestamp.seqNum] : undefined;
            });
            if (ts !== undefined) alive.check(`${p.name} sees ${m.endpoint}`, ts[0], ts[1], now);
          }
          for (const m of node.peersOfChannel("ch0")) {
            const env = m.envelope;
            const ts = timestamp(env, () => {
              const c = env === undefined ? undefined : SignedGossipMessage.fromEnvelope(env).message.content;
              return c?.$case === "stateInfo" && c.value.timestamp !== undefined ? [c.value.timestamp.incNum, c.value.timestamp.seqNum] : undefined;
            });
            if (ts !== undefined) stateInfo.check(`${p.name}'s StateInfo of ${m.endpoint}`, ts[0], ts[1], now);
          }
        }
      });
    });
    beyondTotal.n += beyond;
    const link = sim.diagnostics().link;
    t.diagnostic(
      `${figures(r)}; largest payload buffer ${maxBuffer}; ${beyond} blocks arrived ${gossip.state.blockBufferSize} or more ahead of the height; ` +
        `${alive.checks} alive and ${stateInfo.checks} StateInfo view checks; older-after-newer arrivals ${JSON.stringify(olderAfterNewer)}; ${link.frames} frames`,
    );
    for (const kind of ["aliveMsg", "stateInfo"]) assert.ok((olderAfterNewer[kind] ?? 0) > 0, `no ${kind} arrived after a newer one: reordering did not exercise it`);
    // Leadership messages are few (the leaders' declarations); a seed may reorder none of them.
    reorderedLeadership.n += olderAfterNewer.leadershipMsg ?? 0;
    assert.equal(r.missingCommits, 0, `every block everywhere (seed ${seed})`);
    assert.equal(r.commits, T10.peers * 60);
    assert.ok(maxBuffer <= bufferBound, `a payload buffer held ${maxBuffer} blocks, above 2 x blockBufferSize = ${bufferBound} (seed ${seed})`);
    assert.deepEqual(alive.regressions, [], "an older alive message replaced a newer one in a view");
    assert.deepEqual(stateInfo.regressions, [], "an older StateInfo replaced a newer one");
    assert.ok(alive.checks > 1000 && stateInfo.checks > 1000);
    assert.equal(r.deathDeclarations, 0, `no peer declared dead (seed ${seed})`);
    // A stale declaration taken for a newer one would make a leader step down or a follower take over.
    assert.deepEqual(leaderEvents, [], `leadership moved after the warm-up (seed ${seed})`);
  });
  // Across the seeds, blocks did come beyond the distance bound (refused, then fetched again).
  assert.ok(beyondTotal.n > 0, "no block ever arrived beyond blockBufferSize ahead: the scenario did not exercise the bound");
  assert.ok(reorderedLeadership.n > 0, "no leadershipMsg arrived after a newer one in any seed: reordering did not exercise it");
});

// ---------------------------------------------------------------------------------------------
// S13 and S14: an adversary peer

/** Frames the tests wrote themselves (the network does not copy frames, so identity tells them apart). */
const injectedFrames = new WeakSet<Uint8Array>();

/**
 * A simulated peer turned adversary: the test writes raw frames onto the streams it has open to
 * other peers (MemoryNetwork.inject), as a peer with a valid identity that sends whatever it likes
 * would. Its own node keeps running honestly.
 */
class Adversary {
  readonly pkiId: Uint8Array;
  /** Streams each victim was reached on, per label. */
  readonly reached = new Map<string, Map<string, number>>();

  constructor(
    readonly sim: Simulator,
    readonly peer: SimPeer,
  ) {
    this.pkiId = Uint8Array.from(Buffer.from(peer.pkiHex, "hex"));
  }

  get endpoint(): string {
    return this.peer.spec.endpoint;
  }

  sign(bytes: Uint8Array): Uint8Array {
    return this.peer.crypto.mcs.sign(bytes);
  }

  /** Writes `msg` on every open stream to each target (default: every other peer). Returns the peers reached. */
  send(label: string, msg: SignedGossipMessage, targets?: readonly SimPeer[]): SimPeer[] {
    return this.sendBytes(label, msg.bytes, targets);
  }

  /** Writes a raw frame (a captured one, to replay it) as `send` does. */
  sendBytes(label: string, bytes: Uint8Array, targets: readonly SimPeer[] = this.sim.peers.filter((p) => p !== this.peer)): SimPeer[] {
    injectedFrames.add(bytes);
    const reached: SimPeer[] = [];
    const byVictim = this.reached.get(label) ?? new Map<string, number>();
    this.reached.set(label, byVictim);
    for (const target of targets) {
      const streams = this.sim.network.inject(this.endpoint, target.spec.endpoint, bytes);
      if (streams > 0) {
        reached.push(target);
        byVictim.set(target.name, (byVictim.get(target.name) ?? 0) + streams);
      }
    }
    return reached;
  }
}

/** Every frame delivered from `since` on by someone other than `except`, to search for forged content afterwards. */
class FrameLog {
  readonly frames: { atMs: number; from: string; to: string; bytes: Uint8Array }[] = [];

  constructor(sim: Simulator, except: string, since: () => number) {
    sim.network.observe((f) => {
      const now = sim.now();
      if (f.from !== except && now >= since()) this.frames.push({ atMs: now, from: f.from, to: f.to, bytes: f.bytes });
    });
  }

  /** Frames that carry `marker` (a signature or payload of a forgery): forwarded forgeries. */
  carrying(marker: Uint8Array): string[] {
    const needle = Buffer.from(marker);
    const out: string[] = [];
    for (const f of this.frames) {
      if (Buffer.from(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength).indexOf(needle) >= 0) out.push(`${f.from} -> ${f.to} at ${f.atMs.toFixed(0)} ms`);
    }
    return out;
  }
}

/** Sum of a counter's values in `metrics` whose labels include `labels`. */
function counterSum(metrics: MemoryMetricsProvider | undefined, name: string, labels: Record<string, string> = {}): number {
  return metrics?.value(name, labels) ?? 0;
}

const NODE_REJECTED = "fabric_gossip_node_rejected_total";
const DISCOVERY_REJECTED = "fabric_gossip_discovery_rejected_total";
const CHANNEL_REJECTED = "fabric_gossip_channel_rejected_total";

/** The alive timestamp of a view entry's envelope. */
function aliveOf(envelope: Envelope | undefined): { incNum: bigint; seqNum: bigint; endpoint: string } | undefined {
  if (envelope === undefined) return undefined;
  const c = SignedGossipMessage.fromEnvelope(envelope).message.content;
  if (c?.$case !== "aliveMsg" || c.value.timestamp === undefined) return undefined;
  return { ...c.value.timestamp, endpoint: c.value.membership?.endpoint ?? "" };
}

function aliveMsg(pkiId: Uint8Array, endpoint: string, incNum: bigint, seqNum: bigint, identity: Uint8Array = new Uint8Array(0)): GossipMessage {
  return {
    nonce: 0n,
    channel: new Uint8Array(0),
    tag: GossipMessage_Tag.EMPTY,
    content: { $case: "aliveMsg", value: { membership: { endpoint, metadata: new Uint8Array(0), pkiId }, timestamp: { incNum, seqNum }, identity } },
  };
}

/** A signature that verifies under no key: 72 bytes from the run's tree. */
function garbageSignature(sim: Simulator, label: string): Uint8Array {
  return sim.tree.bytes(`scenario/garbage-signature/${label}`, 72);
}

/** The same ECDSA signature with s replaced by n - s: valid mathematically, refused by Fabric (and by us). */
function highS(der: Uint8Array): Uint8Array {
  const { r, s } = unmarshalEcdsaSignature(der);
  return marshalEcdsaSignature(r, s > P256.halfN ? s : P256.n - s);
}

const FORGED_SEQ = 1_000_000_000n;
const FORGED_HEIGHT = 1_000_000n;
const FORGED_ENDPOINT = "forged.example.com:7051";

/** A forged block `seq` carrying `marker` as its only transaction: right data hash, wrong (another block's) orderer signature. */
function forgedBlock(genuine: Block, seq: bigint, marker: Uint8Array): Uint8Array {
  const data = { data: [marker] };
  const header = { number: seq, previousHash: genuine.header?.previousHash ?? new Uint8Array(0), dataHash: blockDataHash(data) };
  return Block.encode({ header, data, metadata: genuine.metadata }).finish();
}

function dataMsg(channel: string, seq: bigint, block: Uint8Array): GossipMessage {
  return { nonce: 0n, channel: utf8(channel), tag: GossipMessage_Tag.CHAN_AND_ORG, content: { $case: "dataMsg", value: { payload: { seqNum: seq, data: block, privateData: [] } } } };
}

/** What the adversary saw on the wire before attacking: the newest block and each peer's newest alive envelope. */
class WireTap {
  block: { seq: bigint; block: Block } | undefined;
  readonly alive = new Map<string, { seq: bigint; envelope: Envelope }>();
  readonly blockSenders = new Map<bigint, Set<string>>();

  constructor(sim: Simulator) {
    sim.network.observe((f) => {
      const type = frameType(f.bytes);
      if (type !== "data" && type !== "alive") return;
      const msg = SignedGossipMessage.fromEnvelopeBytes(f.bytes);
      const c = msg.message.content;
      if (c?.$case === "dataMsg" && c.value.payload !== undefined) {
        const seq = c.value.payload.seqNum;
        const senders = this.blockSenders.get(seq) ?? new Set<string>();
        senders.add(f.from);
        this.blockSenders.set(seq, senders);
        if (this.block === undefined || seq > this.block.seq) this.block = { seq, block: Block.decode(c.value.payload.data) };
      } else if (c?.$case === "aliveMsg" && c.value.membership !== undefined && c.value.timestamp !== undefined) {
        const key = Buffer.from(c.value.membership.pkiId).toString("hex");
        const held = this.alive.get(key);
        if (held === undefined || c.value.timestamp.seqNum > held.seq) this.alive.set(key, { seq: c.value.timestamp.seqNum, envelope: msg.envelope });
      }
    });
  }
}

interface Forgery {
  label: string;
  msg: SignedGossipMessage;
  /** Bytes only the forgery carries, to find it if forwarded (undefined: a kind that is never forwarded). */
  marker: Uint8Array | undefined;
  /** The counter (and reason) a victim must raise for it; `orgOnly`: only victims of the adversary's org look that far. */
  counter: { name: string; reason: string; otherOrgs?: string };
  targets?: SimPeer[];
}

test("S13 forged signatures and impersonation (real ECDSA): nothing forged is accepted, stored or forwarded, and every victim counts the rejections", async (t) => {
  await perSeed(t, "S13", async (t, seed) => {
    const gossip = faultGossip();
    const attackMs = 32_000;
    const o = scenarioOptions({ seed, gossip, crypto: "real", blocks: 25, blockIntervalMs: 1_000, durationMs: 60_000 });
    const sim = new Simulator(o);
    const tap = new WireTap(sim);
    // The adversary is p9 (org 1; p0 is org 1's anchor peer, p9 an ordinary member).
    const advName = "p9";
    const log = new FrameLog(sim, `${advName}:7051`, () => attackMs);
    const forgeries: Forgery[] = [];
    const breaches: string[] = [];
    const leaderMoves: string[] = [];
    let adv: Adversary | undefined;
    let leadersAtAttack = new Set<string>();
    let forgedSeqs: bigint[] = [];
    sim.onEvent((e) => {
      if (e.kind === "leader" && e.atMs >= attackMs) leaderMoves.push(`${e.peer} ${e.isLeader ? "became" : "stopped being"} leader at ${e.atMs.toFixed(0)} ms`);
    });
    sim.onStep((now) => {
      if (adv === undefined && now >= attackMs) {
        adv = new Adversary(sim, sim.peers.find((p) => p.name === advName)!);
        leadersAtAttack = new Set(sim.peers.filter((p) => p.isLeader("ch0")).map((p) => p.name));
        const made = attack(sim, adv, tap);
        forgeries.push(...made.forgeries);
        forgedSeqs = made.forgedSeqs;
        for (const f of forgeries) f.targets = adv.send(f.label, f.msg, f.targets);
      }
      if (adv === undefined || Math.round(now) % 500 !== 0) return;
      // Views and channel views: no forged alive or StateInfo ever held.
      for (const p of sim.peers) {
        if (p === adv.peer || p.node === undefined) continue;
        for (const m of p.node.peers()) {
          const a = aliveOf(m.envelope);
          if (m.endpoint === FORGED_ENDPOINT || (a !== undefined && (a.seqNum >= FORGED_SEQ || a.endpoint === FORGED_ENDPOINT))) {
            breaches.push(`${p.name} holds a forged alive of ${m.endpoint} at ${now} ms`);
          }
        }
        for (const m of p.node.peersOfChannel("ch0")) {
          if ((m.properties?.ledgerHeight ?? 0n) >= FORGED_HEIGHT) breaches.push(`${p.name} holds a forged StateInfo of ${m.endpoint} at ${now} ms`);
        }
      }
    });
    const { report: r } = await sim.run();
    assert.ok(adv !== undefined, "the attack ran");
    t.diagnostic(`${figures(r)}; leaders at the attack ${[...leadersAtAttack].join(", ")}`);
    t.diagnostic(`peers reached: ${forgeries.map((f) => `${f.label} ${adv!.reached.get(f.label)?.size ?? 0}`).join("; ")}`);
    assert.deepEqual(breaches, [], "a forged alive or StateInfo made it into a view");
    for (const f of forgeries) {
      const reached = [...(adv.reached.get(f.label)?.keys() ?? [])];
      assert.ok(reached.length >= 3, `${f.label}: the adversary reached only ${reached.length} peers`);
      if (f.marker !== undefined) assert.deepEqual(log.carrying(f.marker), [], `${f.label}: forwarded by an honest peer (seed ${seed})`);
    }
    // Each victim counted what it refused, with the reason.
    const counts: string[] = [];
    const want = new Map<string, number>();
    for (const f of forgeries) {
      for (const victim of adv.reached.get(f.label)?.keys() ?? []) {
        const peer = sim.peers.find((p) => p.name === victim)!;
        const reason = f.counter.otherOrgs !== undefined && peer.spec.org !== adv.peer.spec.org ? f.counter.otherOrgs : f.counter.reason;
        const key = `${victim} ${f.counter.name} ${reason}`;
        want.set(key, (want.get(key) ?? 0) + 1);
      }
    }
    for (const [key, n] of want) {
      const [victim, name, reason] = key.split(" ") as [string, string, string];
      const got = counterSum(sim.peers.find((p) => p.name === victim)!.metrics, name, { reason });
      if (got < n) counts.push(`${victim}: ${name}{reason="${reason}"} = ${got}, expected at least ${n}`);
    }
    assert.deepEqual(counts, [], `rejections not counted (seed ${seed})`);
    // The forged blocks reached nobody's ledger (the fork invariant checks every commit) and did not
    // take the place of the genuine ones: non-leaders still forwarded the genuine blocks of those numbers.
    assert.equal(r.missingCommits, 0);
    for (const seq of forgedSeqs) {
      const forwarders = [...(tap.blockSenders.get(seq) ?? [])].filter((e) => e !== adv!.endpoint && !leadersAtAttack.has(e.replace(/:\d+$/, "")));
      assert.ok(forwarders.length > 0, `nobody but the leaders pushed the genuine block ${seq}: the forged copy took its place (seed ${seed})`);
    }
    assert.equal(r.deathDeclarations, 0, "forgeries made somebody declare a peer dead");
    assert.deepEqual(leaderMoves, [], `a forged leadership message moved the leadership (seed ${seed})`);
  });
});

/** Builds every forgery of S13 from what the adversary knows at the attack. */
function attack(sim: Simulator, adv: Adversary, tap: WireTap): { forgeries: Forgery[]; forgedSeqs: bigint[] } {
  const self = adv.peer;
  // The victim of impersonation: the adversary's org mate with the smallest PKI-ID (it would win elections).
  const mates = sim.peers.filter((p) => p !== self && p.spec.org === self.spec.org).sort((a, b) => a.pkiHex.localeCompare(b.pkiHex));
  const z = mates[0]!;
  const viewer = sim.peers.find((p) => p !== self && p !== z && p.running && p.node !== undefined)!;
  const entryOf = (pkiHex: string): NetworkMember | undefined => viewer.node!.peers().find((m) => Buffer.from(m.pkiId).toString("hex") === pkiHex);
  const zPki = Uint8Array.from(Buffer.from(z.pkiHex, "hex"));
  const advAlive = aliveOf(entryOf(self.pkiHex)?.envelope);
  const zAlive = aliveOf(entryOf(z.pkiHex)?.envelope);
  const zGenuine = tap.alive.get(z.pkiHex);
  const block = tap.block;
  assert.ok(advAlive !== undefined && zAlive !== undefined && zGenuine !== undefined && block !== undefined, "the adversary saw the network before attacking");
  const identity = self.crypto.identity;
  const bad = (label: string) => (): Uint8Array => garbageSignature(sim, label);
  const signer = (b: Uint8Array): Uint8Array => adv.sign(b);
  const forgeries: Forgery[] = [];
  const discovery = (reason: string) => ({ name: DISCOVERY_REJECTED, reason });
  // The marker defaults to the signature, unique to each forgery; "never forwarded" is for kinds no peer forwards.
  const add = (label: string, msg: SignedGossipMessage, counter: Forgery["counter"], marker: Uint8Array | "never forwarded" = msg.envelope.signature): void => {
    assert.ok(marker === "never forwarded" || marker.byteLength > 0, `${label}: an empty marker would match every frame`);
    forgeries.push({ label, msg, marker: marker === "never forwarded" ? undefined : marker, counter });
  };
  add("alive with a bad signature", SignedGossipMessage.sign(aliveMsg(adv.pkiId, adv.endpoint, advAlive.incNum, FORGED_SEQ), bad("alive")), discovery("INVALID_SIGNATURE"));
  add(
    "alive claiming another PKI-ID, carrying the adversary's certificate",
    SignedGossipMessage.sign(aliveMsg(zPki, FORGED_ENDPOINT, zAlive.incNum, FORGED_SEQ, identity), signer),
    discovery("INVALID_SIGNATURE"),
  );
  add("alive claiming another PKI-ID, signed by the adversary", SignedGossipMessage.sign(aliveMsg(zPki, FORGED_ENDPOINT, zAlive.incNum, FORGED_SEQ + 1n), signer), discovery("INVALID_SIGNATURE"));
  const lowS = SignedGossipMessage.sign(aliveMsg(adv.pkiId, adv.endpoint, advAlive.incNum, FORGED_SEQ + 2n), signer);
  add("alive with a high-S signature", SignedGossipMessage.sign(lowS.message, () => highS(lowS.envelope.signature)), discovery("INVALID_SIGNATURE"));
  const memReq = (self: Envelope): GossipMessage => ({
    nonce: 7n,
    channel: new Uint8Array(0),
    tag: GossipMessage_Tag.EMPTY,
    content: { $case: "memReq", value: { selfInformation: self, known: [] } },
  });
  add("membership request carrying another peer's alive message", SignedGossipMessage.noopSign(memReq(zGenuine.envelope)), { name: NODE_REJECTED, reason: "SPOOFED_MEMBERSHIP_REQUEST" }, "never forwarded");
  const selfForged = SignedGossipMessage.sign(aliveMsg(adv.pkiId, adv.endpoint, advAlive.incNum, FORGED_SEQ + 3n), bad("memreq"));
  add("membership request with a badly signed alive message", SignedGossipMessage.noopSign(memReq(selfForged.envelope)), discovery("INVALID_SIGNATURE"), selfForged.envelope.signature);
  const stateInfo = (pki: Uint8Array): GossipMessage => ({
    nonce: 0n,
    channel: new Uint8Array(0),
    tag: GossipMessage_Tag.CHAN_OR_ORG,
    content: {
      $case: "stateInfo",
      // A newer incarnation than any real one, so only the signature check can refuse it.
      value: { pkiId: pki, channelMAC: generateMAC(pki, "ch0"), timestamp: { incNum: sim.clock.nowNs() * 2n, seqNum: 1n }, properties: { ledgerHeight: FORGED_HEIGHT, leftChannel: false, chaincodes: [] } },
    },
  });
  const channel = (reason: string, otherOrgs?: string): Forgery["counter"] => ({ name: CHANNEL_REJECTED, reason, otherOrgs });
  add("StateInfo with a bad signature", SignedGossipMessage.sign(stateInfo(adv.pkiId), bad("stateinfo")), channel("BAD_STATE_INFO"));
  add("StateInfo claiming another PKI-ID", SignedGossipMessage.sign(stateInfo(zPki), signer), channel("BAD_STATE_INFO"));
  const leadership = (pki: Uint8Array): GossipMessage => ({
    nonce: 0n,
    channel: utf8("ch0"),
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "leadershipMsg", value: { pkiId: pki, isDeclaration: true, timestamp: { incNum: sim.clock.nowNs() * 2n, seqNum: 1n } } },
  });
  add("leadership declaration with a bad signature", SignedGossipMessage.sign(leadership(adv.pkiId), bad("leadership")), { name: NODE_REJECTED, reason: "BAD_LEADERSHIP" });
  add("leadership declaration claiming another PKI-ID", SignedGossipMessage.sign(leadership(zPki), signer), { name: NODE_REJECTED, reason: "BAD_LEADERSHIP" });
  // Blocks come ahead of the genuine ones of the same numbers (cut once a second).
  const pushSeq = block.seq + 2n;
  const pushMarker = utf8(`forged block ${pushSeq} seed ${sim.options.seed}`);
  add("block with a bad orderer signature (push)", SignedGossipMessage.noopSign(dataMsg("ch0", pushSeq, forgedBlock(block.block, pushSeq, pushMarker))), channel("BAD_BLOCK"), pushMarker);
  const pullSeq = block.seq + 3n;
  const pullMarker = utf8(`forged block ${pullSeq} seed ${sim.options.seed}`);
  const item = SignedGossipMessage.noopSign(dataMsg("ch0", pullSeq, forgedBlock(block.block, pullSeq, pullMarker)));
  const update: GossipMessage = {
    nonce: 0n,
    channel: utf8("ch0"),
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "dataUpdate", value: { nonce: 99n, data: [item.envelope], msgType: PullMsgType.BLOCK_MSG } },
  };
  // Peers of other orgs refuse block pull messages from the adversary before looking at the blocks.
  add("block with a bad orderer signature (pull response)", SignedGossipMessage.noopSign(update), channel("BAD_UPDATE", "NOT_ELIGIBLE"), pullMarker);
  return { forgeries, forgedSeqs: [pushSeq, pullSeq] };
}

// ---------------------------------------------------------------------------------------------
// S14 replay

/** Genuine messages seen on the wire, kept to be replayed later. */
class Recorder {
  /** Alive envelopes per origin (hex PKI-ID), in arrival order, one per (incNum, seqNum). */
  readonly alive = new Map<string, { incNum: bigint; seqNum: bigint; withIdentity: boolean; msg: SignedGossipMessage }[]>();
  /** Leadership declarations per origin, one per (incNum, seqNum). */
  readonly declarations = new Map<string, { incNum: bigint; seqNum: bigint; msg: SignedGossipMessage }[]>();
  /** The first push of each of the first blocks, as sent. */
  readonly blockFrames = new Map<bigint, Uint8Array>();
  /** The first pull response that carried blocks, as sent (its nonce is long gone when replayed). */
  update: Uint8Array | undefined;
  /** The newest block pushed so far, as the envelope of its push. */
  latest: { seq: bigint; envelope: Envelope } | undefined;

  constructor(sim: Simulator) {
    const seen = new Set<string>();
    sim.network.observe((f) => {
      const type = frameType(f.bytes);
      if (type !== "alive" && type !== "leadership" && type !== "data" && type !== "update") return;
      const msg = SignedGossipMessage.fromEnvelopeBytes(f.bytes);
      const c = msg.message.content;
      if (c?.$case === "aliveMsg" && c.value.membership !== undefined && c.value.timestamp !== undefined) {
        const { incNum, seqNum } = c.value.timestamp;
        const origin = Buffer.from(c.value.membership.pkiId).toString("hex");
        if (seen.has(`a ${origin} ${incNum} ${seqNum}`)) return;
        seen.add(`a ${origin} ${incNum} ${seqNum}`);
        const list = this.alive.get(origin) ?? [];
        list.push({ incNum, seqNum, withIdentity: c.value.identity.byteLength > 0, msg });
        this.alive.set(origin, list);
      } else if (c?.$case === "leadershipMsg" && c.value.isDeclaration && c.value.timestamp !== undefined) {
        const { incNum, seqNum } = c.value.timestamp;
        const origin = Buffer.from(c.value.pkiId).toString("hex");
        if (seen.has(`l ${origin} ${incNum} ${seqNum}`)) return;
        seen.add(`l ${origin} ${incNum} ${seqNum}`);
        const list = this.declarations.get(origin) ?? [];
        list.push({ incNum, seqNum, msg });
        this.declarations.set(origin, list);
      } else if (c?.$case === "dataMsg" && c.value.payload !== undefined) {
        const seq = c.value.payload.seqNum;
        if (seq <= 3n && !this.blockFrames.has(seq)) this.blockFrames.set(seq, f.bytes);
        if (!injectedFrames.has(f.bytes) && (this.latest === undefined || seq > this.latest.seq)) this.latest = { seq, envelope: msg.envelope };
      } else if (c?.$case === "dataUpdate" && c.value.msgType === PullMsgType.BLOCK_MSG && c.value.data.length > 0) {
        this.update ??= f.bytes;
      }
    });
  }
}

/** Timeline of an S14 run (virtual ms); blocks are cut once a second from 20 s to 89 s. */
const S14 = {
  blocks: 70,
  /** The org 1 leader crashes (restarting 10 s later, a new incarnation), and p5 crashes for good. */
  crashMs: 30_000,
  restartMs: 40_000,
  /** Stale alive messages of both, and an old declaration of the old leader (its newer one still held). */
  replayMs: 60_000,
  /** A pull response with a nonce the victim never sent, carrying a block it lacks; the victim gets no blocks otherwise. */
  starveFromMs: 62_000,
  starveUntilMs: 77_000,
  /** The old leader's last declaration again, once the leadership store has forgotten it (leaderAliveThreshold x 10 after it). */
  lateLeadershipMs: 150_000,
  /** The first blocks again, pushed and in an old pull response. */
  oldBlocksMs: 160_000,
  endMs: 180_000,
};

/** The peer that crashes for good in S14 runs (org 2, neither anchor nor anybody's bootstrap peer, so it can be forgotten). */
const GONE = "p5";
/** In the 3-peer run of the forgotten member: p2 is the org's third peer (p0 anchor, p1 its bootstrap); p0 replays. */
const FORGOTTEN = "p2";
const FORGOTTEN_REPLAYER = "p0";

interface ReplayFindings {
  /** Views that went back to the old incarnation of the restarted leader after the replay. */
  rotatedRegressions: string[];
  /** Views holding the crashed peer alive after it was declared dead everywhere. */
  deadResurrections: string[];
  /** Leadership moves after the failover settled: before and after the store forgot the old declarations. */
  leaderMovesEarly: string[];
  leaderMovesLate: string[];
  /** Block digests the starved victim sent that list the block of the unknown-nonce response. */
  advertised: string[];
  victimGotBlock: boolean;
  /** Old blocks pushed again by honest peers after the old-block replay. */
  oldBlocksForwarded: string[];
  leader: string;
  replayed: Record<string, number>;
  /** Whether a late declaration came from a smaller PKI-ID than the leader's (only then could it depose it). */
  lateCouldDepose: boolean;
  /** Ledger heights at the end of every peer but the one that crashed for good. */
  heights: number[];
}

async function replayRun(seed: number): Promise<{ r: SimReport; f: ReplayFindings }> {
  const gossip = faultGossip();
  const o = scenarioOptions({
    seed,
    gossip,
    crypto: "real",
    peers: 6,
    orgs: 2,
    blocks: S14.blocks,
    blockIntervalMs: 1_000,
    durationMs: S14.endMs,
    crashes: [
      { target: "leader", count: 1, atMs: S14.crashMs, downMs: S14.restartMs - S14.crashMs },
      { target: GONE, count: 1, atMs: S14.crashMs, downMs: undefined },
    ],
  });
  const sim = new Simulator(o);
  const rec = new Recorder(sim);
  const f: ReplayFindings = {
    rotatedRegressions: [],
    deadResurrections: [],
    leaderMovesEarly: [],
    leaderMovesLate: [],
    advertised: [],
    victimGotBlock: false,
    oldBlocksForwarded: [],
    leader: "",
    replayed: {},
    lateCouldDepose: false,
    heights: [],
  };
  sim.onEvent((e) => {
    if (e.kind === "crash" && e.peer !== GONE) f.leader = e.peer;
    if (e.kind === "leader" && e.atMs >= S14.replayMs) {
      const line = `${e.peer} ${e.isLeader ? "became" : "stopped being"} leader at ${e.atMs.toFixed(0)} ms`;
      (e.atMs < S14.lateLeadershipMs ? f.leaderMovesEarly : f.leaderMovesLate).push(line);
    }
  });
  const peer = (name: string): SimPeer => sim.peers.find((p) => p.name === name)!;
  const replayer = (org: number, not: readonly string[]): Adversary =>
    new Adversary(sim, sim.peers.find((p) => p.spec.org === org && p.running && !not.includes(p.name))!);
  const note = (label: string, reached: SimPeer[]): void => {
    f.replayed[label] = (f.replayed[label] ?? 0) + reached.length;
  };
  // The pull part: victim and block, chosen when the starving starts.
  let starved: { victim: SimPeer; from: Adversary; block: bigint | undefined } | undefined;
  sim.shapeFrames((_from, to, bytes, fate) => {
    const now = sim.now();
    if (starved === undefined || now < S14.starveFromMs || now >= S14.starveUntilMs || to !== starved.victim.spec.endpoint) return fate;
    if (injectedFrames.has(bytes)) return fate;
    const type = frameType(bytes);
    return type === "data" || type === "update" || type === "stateResponse" ? lost(fate) : fate;
  });
  sim.network.observe((fr) => {
    const now = sim.now();
    if (starved?.block !== undefined && fr.from === starved.victim.spec.endpoint && frameType(fr.bytes) === "digest") {
      const c = SignedGossipMessage.fromEnvelopeBytes(fr.bytes).message.content;
      if (c?.$case === "dataDig" && c.value.msgType === PullMsgType.BLOCK_MSG && c.value.digests.some((d) => Buffer.from(d).toString() === String(starved!.block))) {
        f.advertised.push(`${starved.victim.name} -> ${fr.to} at ${now.toFixed(0)} ms`);
      }
    }
    if (now > S14.oldBlocksMs && !injectedFrames.has(fr.bytes) && (frameType(fr.bytes) === "data" || frameType(fr.bytes) === "update")) {
      const c = SignedGossipMessage.fromEnvelopeBytes(fr.bytes).message.content;
      const seqs =
        c?.$case === "dataMsg"
          ? [c.value.payload?.seqNum ?? 0n]
          : c?.$case === "dataUpdate"
            ? c.value.data.map((e) => {
                const inner = SignedGossipMessage.fromEnvelope(e).message.content;
                return inner?.$case === "dataMsg" ? (inner.value.payload?.seqNum ?? 0n) : 0n;
              })
            : [];
      if (seqs.some((s) => s >= 1n && s <= 3n)) f.oldBlocksForwarded.push(`${fr.from} -> ${fr.to} at ${now.toFixed(0)} ms`);
    }
  });
  const done = new Set<string>();
  const once = (key: string, at: number, now: number, fn: () => void): void => {
    if (now >= at && !done.has(key)) {
      done.add(key);
      fn();
    }
  };
  // Per viewer, whether it has seen the leader's new incarnation.
  const sawNew = new Set<string>();
  sim.onStep((now) => {
    const leader = f.leader === "" ? undefined : peer(f.leader);
    const alivesOf = (p: SimPeer) => rec.alive.get(p.pkiHex) ?? [];
    const inc1 = (p: SimPeer) => alivesOf(p).filter((a) => a.incNum === alivesOf(p)[0]?.incNum);
    once("replay", S14.replayMs, now, () => {
      assert.ok(leader !== undefined, "the org 1 leader crashed");
      const dead = peer(GONE);
      for (const p of sim.peers) {
        if (p.running && p.node?.peers().some((m) => Buffer.from(m.pkiId).toString("hex") === dead.pkiHex)) assert.fail(`${p.name} still holds ${GONE} alive at the replay: the premise failed`);
      }
      const adv = replayer(1, [leader.name]);
      const old = inc1(leader);
      // The newest alive of the old incarnation and its first one (which carries the certificate).
      for (const a of [old[old.length - 1], old.find((x) => x.withIdentity)]) if (a !== undefined) note("old-incarnation alive", adv.send("old-incarnation alive", a.msg));
      const gone = alivesOf(dead);
      for (const a of [gone[gone.length - 1], gone.find((x) => x.withIdentity), gone[0]]) if (a !== undefined) note("dead member's alive", adv.send("dead member's alive", a.msg));
      // An older declaration than the one the stores hold.
      const decl = rec.declarations.get(leader.pkiHex) ?? [];
      if (decl.length > 1) note("old declaration (held newer)", adv.send("old declaration (held newer)", decl[0]!.msg));
    });
    once("starve", S14.starveFromMs, now, () => {
      const org2 = sim.peers.filter((p) => p.spec.org === 2 && p.running && p.name !== GONE);
      const victim = org2.find((p) => !p.isLeader("ch0"))!;
      const from = new Adversary(sim, org2.find((p) => p !== victim)!);
      starved = { victim, from, block: undefined };
    });
    if (starved !== undefined && starved.block === undefined && now >= S14.starveFromMs + 2_000) {
      // A block cut after the starving began: the victim cannot have it.
      const height = starved.victim.ledger("ch0")!.height();
      const frame = rec.latest;
      if (frame !== undefined && frame.seq >= height) {
        starved.block = frame.seq;
        const update: GossipMessage = {
          nonce: 0n,
          channel: utf8("ch0"),
          tag: GossipMessage_Tag.CHAN_AND_ORG,
          content: { $case: "dataUpdate", value: { nonce: sim.tree.stream("scenario/nonce").uint64(), data: [frame.envelope], msgType: PullMsgType.BLOCK_MSG } },
        };
        note("pull response with an unknown nonce", starved.from.send("pull response with an unknown nonce", SignedGossipMessage.noopSign(update), [starved.victim]));
      }
    }
    if (starved?.block !== undefined && now < S14.starveUntilMs && (starved.victim.state("ch0")?.bufferSize() ?? 0) > 0) {
      // Starved, it can have that block only from the unknown-nonce response: the channel verified
      // it and gave it to state (Fabric's mediator hands late responses to the consumer too).
      f.victimGotBlock = true;
    }
    once("late declaration", S14.lateLeadershipMs, now, () => {
      // The last declaration of every org 1 peer that ever led, but the current leader, in each of
      // its incarnations, replayed by an org mate that never led if there is one.
      const current = sim.peers.find((p) => p.spec.org === 1 && p.isLeader("ch0"));
      const mates = sim.peers.filter((p) => p.spec.org === 1 && p.running && p !== current);
      const adv = new Adversary(sim, mates.find((p) => !rec.declarations.has(p.pkiHex)) ?? mates[0]!);
      for (const p of sim.peers.filter((x) => x.spec.org === 1 && x !== current && x !== adv.peer)) {
        const decl = rec.declarations.get(p.pkiHex) ?? [];
        for (const inc of new Set(decl.map((d) => d.incNum))) {
          const last = decl.filter((d) => d.incNum === inc).pop()!;
          note("late declaration", adv.send("late declaration", last.msg));
          if (current !== undefined && p.pkiHex < current.pkiHex) f.lateCouldDepose = true;
        }
      }
    });
    once("old blocks", S14.oldBlocksMs, now, () => {
      const adv = replayer(1, [f.leader]);
      for (const bytes of rec.blockFrames.values()) note("old blocks", adv.sendBytes("old blocks", bytes));
      if (rec.update !== undefined) note("old pull response", adv.sendBytes("old pull response", rec.update));
    });
    // Views, every half second once the replays start.
    if (now < S14.replayMs || Math.round(now) % 500 !== 0 || leader === undefined) return;
    const newInc = alivesOf(leader).find((a) => a.incNum !== alivesOf(leader)[0]?.incNum)?.incNum;
    for (const p of sim.peers) {
      if (!p.running || p.node === undefined || p === leader) continue;
      for (const m of p.node.peers()) {
        const hex = Buffer.from(m.pkiId).toString("hex");
        if (hex === peer(GONE).pkiHex) f.deadResurrections.push(`${p.name} holds ${GONE} alive at ${now} ms`);
        if (hex === leader.pkiHex && newInc !== undefined) {
          const inc = aliveOf(m.envelope)?.incNum;
          if (inc === newInc) sawNew.add(p.name);
          else if (sawNew.has(p.name)) f.rotatedRegressions.push(`${p.name} went back to ${leader.name}'s old incarnation at ${now} ms`);
        }
      }
    }
  });
  const { report } = await sim.run();
  f.heights = sim.peers.filter((p) => p.name !== GONE).map((p) => Number(p.ledger("ch0")?.height() ?? 0n));
  return { r: report, f };
}

test("S14 replay (real ECDSA): stale alive messages, old declarations, unknown-nonce pull responses and old blocks change nothing", async (t) => {
  await perSeed(t, "S14", async (t, seed) => {
    const { r, f } = await replayRun(seed);
    t.diagnostic(`${figures(r)}; crashed leader ${f.leader}; replayed (peers reached): ${JSON.stringify(f.replayed)}`);
    for (const label of ["old-incarnation alive", "dead member's alive", "pull response with an unknown nonce", "old blocks", "late declaration"]) {
      assert.ok((f.replayed[label] ?? 0) > 0, `${label}: nothing was replayed`);
    }
    await t.test("an old alive of a restarted peer never replaces its new incarnation", () => {
      assert.deepEqual(f.rotatedRegressions, []);
    });
    await t.test("an old alive of a dead peer never resurrects it", () => {
      assert.deepEqual(f.deadResurrections, []);
    });
    await t.test("an old declaration (a newer one held) does not move the leadership", () => {
      assert.deepEqual(f.leaderMovesEarly, []);
    });
    await t.test("a pull response with a nonce the peer never sent does not enter its pull state", () => {
      assert.ok(f.victimGotBlock, "the response did not reach the starved peer's channel");
      assert.deepEqual(f.advertised, []);
    });
    await t.test(
      "nor do its blocks reach the peer's state (RELIABILITY: such responses are dropped)",
      { todo: "as in Fabric, the pull mediator hands every verified block of a DataUpdate to state before the engine checks the nonce (see the report)" },
      () => {
        assert.equal(f.victimGotBlock, false, "the verified block of the unknown-nonce response went to the payload buffer");
      },
    );
    await t.test("old blocks pushed again or in an old pull response are neither recommitted nor forwarded", () => {
      // A recommit would have stopped the run (commit-order); every running peer has every block once.
      assert.equal(r.missingCommits, 0);
      assert.deepEqual(f.heights, Array.from({ length: 5 }, () => S14.blocks + 1), "ledger heights of the peers that run to the end");
      assert.deepEqual(f.oldBlocksForwarded, []);
    });
    await t.test("declarations of former leaders, replayed once the stores forgot them, do not move the leadership", (t) => {
      // The election hands leadership to the smallest PKI-ID that declares, so former leaders rank
      // above the current one and cannot depose it; see the report on leadership replays.
      t.diagnostic(`a replayed origin ranked below the leader: ${f.lateCouldDepose}`);
      assert.deepEqual(f.leaderMovesLate, []);
    });
  });
});

/**
 * A crashed member's alive message replayed much later, 18 virtual minutes on 3 peers of one org: after every alive store
 * has expired its last alive message (E x msgExpirationFactor), when Fabric forgets the member,
 * and after the stores dropped the expired message too (twice that), when nothing but the view
 * remembers it. Fast crypto: the replayed messages are genuine, so signatures are not what is
 * tested, and real ECDSA would make this long run several times slower.
 */
test("S14 replay long after a crash: its old alive message never resurrects the member (and is it forgotten?)", async (t) => {
  await perSeed(t, "S14", async (t, seed) => {
    const gossip = faultGossip();
    const ttlMs = gossip.aliveExpirationTimeoutMs * gossip.msgExpirationFactor;
    const crashMs = 30_000;
    const replays = [crashMs + ttlMs + 30_000, crashMs + 2 * ttlMs + 30_000];
    const o = scenarioOptions({
      seed,
      gossip,
      peers: 3,
      orgs: 1,
      blocks: 0,
      durationMs: replays[1]! + 20_000,
      crashes: [{ target: FORGOTTEN, count: 1, atMs: crashMs, downMs: undefined }],
    });
    const sim = new Simulator(o);
    const rec = new Recorder(sim);
    const findings = replays.map(() => ({ knownBefore: [] as string[], reached: 0, held: [] as string[] }));
    let adv: Adversary | undefined;
    sim.onStep((now) => {
      const gone = sim.peers.find((p) => p.name === FORGOTTEN)!;
      const has = (list: NetworkMember[] | undefined): boolean => (list ?? []).some((m) => Buffer.from(m.pkiId).toString("hex") === gone.pkiHex);
      for (const [i, at] of replays.entries()) {
        const fi = findings[i]!;
        if (Math.abs(now - at) < 1) {
          fi.knownBefore = sim.peers.filter((p) => p.running && (has(p.node?.peers()) || has(p.node?.deadMembers()))).map((p) => p.name);
          adv ??= new Adversary(sim, sim.peers.find((p) => p.name === FORGOTTEN_REPLAYER)!);
          const alive = rec.alive.get(gone.pkiHex) ?? [];
          for (const a of [alive[alive.length - 1], alive.find((x) => x.withIdentity)]) if (a !== undefined) fi.reached += adv.send("old alive", a.msg).length;
        }
        // Every step: a resurrected member is expired again as soon as a dial to it fails.
        if (now > at && now < (replays[i + 1] ?? Number.POSITIVE_INFINITY)) {
          for (const p of sim.peers) if (p.running && has(p.node?.peers())) fi.held.push(`${p.name} holds ${FORGOTTEN} alive at ${now} ms`);
        }
      }
    });
    const { report: r } = await sim.run();
    t.diagnostic(figures(r));
    for (const [i, fi] of findings.entries()) {
      const when = i === 0 ? "once the alive stores expired its last alive message" : "once the stores dropped it too";
      t.diagnostic(`${when} (${replays[i]! / 1000} s): still known to ${fi.knownBefore.join(", ") || "nobody"}; replayed to ${fi.reached} peers; views holding it alive afterwards ${fi.held.length}`);
      await t.test(`its old alive message replayed ${when} does not resurrect it`, () => {
        assert.ok(fi.reached > 0, "nothing was replayed");
        assert.deepEqual(fi.held.slice(0, 5), [], `the replay resurrected ${FORGOTTEN} (seed ${seed})`);
      });
    }
    // Fabric forgets a member whose alive message expired from the store (discovery's msgStore
    // callback), but a peer that still lists it as dead in a membership response teaches it again
    // (alive messages learned from membership responses never enter the store), and then it never
    // expires. Here a forgotten member is tombstoned for the TTL (its dead entries are ignored), and
    // a dead member known only second-hand is forgotten after the TTL.
    await t.test("it is forgotten everywhere after aliveExpirationTimeout x msgExpirationFactor", () => {
      assert.deepEqual(findings[0]!.knownBefore, [], `${FORGOTTEN} is still known ${replays[0]! / 1000} s in`);
    });
  });
});
