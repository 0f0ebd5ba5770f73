import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_LINK } from "../../src/sim/index.js";
import { runSim, smallOptions } from "./sim-kit.js";

const faulty = { ...DEFAULT_LINK, loss: 0.03, duplicate: 0.03, reorder: 0.05 };

test("the same seed gives the same trace hash and figures; another seed a different hash", async () => {
  const a = await runSim(smallOptions({ seed: 11, link: faulty }));
  const b = await runSim(smallOptions({ seed: 11, link: faulty }));
  const c = await runSim(smallOptions({ seed: 12, link: faulty }));
  assert.match(a.result.report.traceHash, /^[0-9a-f]{64}$/);
  assert.equal(a.result.report.traceHash, b.result.report.traceHash);
  const { wallSeconds: _wa, ...ra } = a.result.report;
  const { wallSeconds: _wb, ...rb } = b.result.report;
  assert.deepEqual(ra, rb, "every figure but wall time is reproduced");
  assert.notEqual(a.result.report.traceHash, c.result.report.traceHash);
  assert.ok(a.sim.diagnostics().link.lost > 0, "the faults did happen");
  assert.ok(a.result.report.frames > 1000);
});

test("peers sharing the decoded frames they receive run exactly as peers decoding each their own", async () => {
  // Duplicated, lost and reordered frames, a crash and a restart: what a peer keeps of a shared message must change nothing.
  const opts = (share: boolean) =>
    smallOptions({ seed: 13, link: faulty, orgs: 3, crashes: [{ target: "random", count: 2, atMs: 25_000, downMs: 8_000 }], shareDecodedFrames: share });
  const shared = await runSim(opts(true));
  const own = await runSim(opts(false));
  assert.equal(shared.result.report.traceHash, own.result.report.traceHash);
  const { wallSeconds: _ws, ...rs } = shared.result.report;
  const { wallSeconds: _wo, ...ro } = own.result.report;
  assert.deepEqual(rs, ro);
  assert.equal(shared.result.report.missingCommits, 0);
});

test("real ECDSA crypto is reproducible too: identities and signatures come from the seed", async () => {
  const opts = () => smallOptions({ seed: 5, peers: 8, blocks: 5, crypto: "real" });
  const a = await runSim(opts());
  const b = await runSim(opts());
  assert.equal(a.result.report.crypto, "real");
  assert.equal(a.result.report.missingCommits, 0);
  assert.equal(a.result.report.commits, 8 * 5);
  assert.equal(a.result.report.traceHash, b.result.report.traceHash);
  const fast = await runSim(smallOptions({ seed: 5, peers: 8, blocks: 5, crypto: "fast" }));
  assert.notEqual(fast.result.report.traceHash, a.result.report.traceHash, "the crypto is part of the trace (message sizes)");
});
