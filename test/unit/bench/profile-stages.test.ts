import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CpuProfile, STAGE_RULES, stagesLine, stagesPerDelivery, stageTimes } from "../../../bench/profile-stages.js";

/** A profile whose nodes are the given (url, function) pairs, sampled `us` microseconds each, in order. */
function profileOf(frames: readonly [url: string, fn: string, us: number][]): CpuProfile {
  return {
    nodes: frames.map(([url, functionName], i) => ({ id: i + 1, callFrame: { url, functionName } })),
    samples: frames.map((_, i) => i + 1),
    timeDeltas: frames.map(([, , us]) => us),
  };
}

/** The stages `frames` are filed under: `expected` exactly, every other stage at zero. */
function assertStages(frames: readonly [url: string, fn: string, us: number][], expected: Record<string, number>): void {
  const times = stageTimes(profileOf(frames));
  for (const [stage, us] of Object.entries(times)) assert.equal(us, expected[stage] ?? 0, stage);
  // Every stage is named in the answer, sampled or not.
  for (const rule of STAGE_RULES) assert.ok(rule.stage in times, rule.stage);
}

describe("where a window's samples went, by stage", () => {
  it("files each sample under the stage of its function's source (Node's natives by what they do), and unknown ones under other", () => {
    assertStages(
      [
        ["file:///repo/src/protos/gen/gossip/message.pb.ts", "decode", 30],
        ["file:///repo/src/gossip/msgstore/msg-store.ts", "checkValid", 20],
        ["file:///repo/src/protoext/comparator.ts", "compare", 5],
        ["file:///repo/node_modules/@grpc/grpc-js/build/src/call.js", "write", 40],
        ["node:internal/http2/core", "onStreamRead", 10],
        ["node:internal/streams/writable", "_write", 7],
        ["", "(garbage collector)", 9],
        ["", "(idle)", 1000],
        ["", "(program)", 3],
        ["file:///elsewhere/lib.js", "f", 2],
        // A dependency's own src/ folder of one of our names is not ours.
        ["file:///repo/node_modules/some-lib/src/util/x.js", "g", 4],
        // Natives without a source: a socket write, a byte copy, the microtask queue, one we do not know.
        ["", "writeBuffer", 4],
        ["", "latin1Slice", 3],
        ["", "runMicrotasks", 2],
        ["node:internal/timers", "processTimers", 1],
        ["", "someNativeWeDoNotKnow", 5],
      ],
      {
        decode_encode: 30,
        stores_and_checks: 25,
        grpc_http2: 50,
        node_streams_io: 11,
        gc: 9,
        idle: 1000,
        native: 3,
        buffers_strings: 3,
        event_loop: 3,
        other: 11,
      },
    );
  });

  it("counts a function sampled several times each time, and a node sampled nowhere not at all", () => {
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { url: "file:///repo/src/discovery/discovery-impl.ts", functionName: "heardFrom" } },
        { id: 2, callFrame: { url: "file:///repo/src/comm/connection.ts", functionName: "enqueue" } },
      ],
      samples: [1, 1, 1],
      timeDeltas: [4, 5, 6],
    };
    const times = stageTimes(profile);
    assert.equal(times["membership_identities"], 15);
    assert.equal(times["our_comm"], 0);
  });

  it("per delivery: leaves idle and the profiler's own samples out, totals the busy ones, and says what the thread's CPU counter saw besides", () => {
    const profile = profileOf([
      ["file:///repo/src/comm/comm-impl.ts", "send", 300],
      ["file:///repo/src/gossip/node/routing.ts", "routeBatch", 100],
      ["", "(idle)", 5000],
      ["", "dispatch", 700],
    ]);
    const per = stagesPerDelivery(profile, 100, 1000);
    assert.equal(per["our_comm"], 3);
    assert.equal(per["routing_emitter"], 1);
    assert.equal("idle" in per, false);
    assert.equal("profiler" in per, false);
    assert.equal(per["sampled_busy"], 4);
    assert.equal(per["unsampled"], 6);
    // Without the counter there is nothing to compare the samples with.
    assert.equal("unsampled" in stagesPerDelivery(profile, 100), false);
    assert.match(stagesLine("STAGES n=1", { our_comm: 3, sampled_busy: 4 }), /^STAGES n=1 our_comm_us=3\.00 sampled_busy_us=4\.00$/);
  });

  it("takes a profile without samples as an empty window", () => {
    const per = stagesPerDelivery({ nodes: [] }, 10, 0);
    assert.equal(per["sampled_busy"], 0);
    assert.equal(per["unsampled"], 0);
  });
});
