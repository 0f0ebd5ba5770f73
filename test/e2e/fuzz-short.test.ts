/**
 * The fuzzer's CI version (bench/fuzz.ts has the full one, 10^6 frames): an orderer and three peers
 * with mutual TLS carry honest blocks while 3,000 malformed frames from a seeded generator (a gzip bomb,
 * a prefix over the 100 MiB limit, a million-element repeated field and deep nesting first, then
 * random bytes, truncated varints, wrong wire types, mutated valid messages, ...) go to one peer's
 * GossipStream and Ping. It fails on a crash, a call left open (hang), an unanswered /healthz, RSS
 * growth of 2 x the message limit or more, or more than 10 log lines a second. FUZZ_SEED replays a run.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatFuzz, runFuzz } from "../../bench/fuzz.js";

describe("malformed frames against a real peer process (short)", { timeout: 120_000 }, () => {
  it("3,000 seeded malformed frames: no crash, no hang, RSS and log lines within bounds", async (t) => {
    const seed = Number(process.env["FUZZ_SEED"] ?? "") || 20_241_205;
    const r = await runFuzz({ frames: 3_000, seed, sessions: 2, inflight: 16, log: (line) => t.diagnostic(line) });
    for (const line of formatFuzz(r).split("\n")) t.diagnostic(line.trim());
    // The frames really reached the peer and it refused them.
    assert.equal(r.frames, 3_000);
    assert.ok((r.byKind["gzip-bomb"] ?? 0) >= 1 && (r.byKind["huge-repeated"] ?? 0) > 1, JSON.stringify(r.byKind));
    assert.ok((r.rejected["MALFORMED_FRAME"] ?? 0) > 500, `rejected: ${JSON.stringify(r.rejected)}`);
    assert.deepEqual(r.failures, []);
  });
});
