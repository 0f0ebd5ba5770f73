import assert from "node:assert/strict";
import { test } from "node:test";
import { InvariantChecker, SimError, SimInvariantError, Simulator } from "../../src/sim/index.js";
import { smallOptions } from "./sim-kit.js";

test("a fork (an equivocating orderer gives one org another block 4) stops the run with the seed and a history", async () => {
  const sim = new Simulator(smallOptions({ seed: 21, forkAt: { seq: 4, org: 2 } }));
  const err = await sim.run().then(
    () => assert.fail("the run should have stopped on the fork"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SimInvariantError);
  assert.equal(err.code, "INVARIANT_VIOLATED");
  assert.equal(err.invariant, "fork");
  assert.equal(err.seed, 21);
  assert.match(err.message, /seed 21/);
  assert.match(err.message, /block 4 of ch0/);
  assert.ok(err.history.length > 5);
  assert.match(err.history[err.history.length - 1]!.event, /VIOLATION fork/);
  assert.match(err.report(), /reproduce with --seed 21/);
  // It stopped at once: nothing runs after the violation, and no block after 5 was cut.
  const d = sim.diagnostics();
  assert.equal(d.pendingTimers, 0);
  assert.equal(d.openStreams, 0);
  assert.ok(sim.now() < 20_000 + 6 * 500, `stopped at ${sim.now()} ms`);
});

test("the checker keeps only the first violation and a bounded history", () => {
  const c = new InvariantChecker(3, 4);
  for (let i = 0; i < 10; i++) c.note(i, "p1", `event ${i}`);
  assert.equal(c.check("commit-order", true, () => "never", 10, "p1"), true);
  assert.equal(c.violation, undefined);
  assert.equal(c.check("commit-order", false, () => "gap at 7", 11, "p2"), false);
  assert.equal(c.check("fork", false, () => "second", 12, "p3"), false);
  // Read again (the assertion above narrowed c.violation to undefined for the type checker).
  const v: SimInvariantError | undefined = Reflect.get(c, "violation");
  assert.ok(v instanceof SimInvariantError);
  assert.equal(v.invariant, "commit-order");
  assert.equal(v.history.length, 4);
  assert.deepEqual(v.history.map((h) => h.event).slice(0, 3), ["event 7", "event 8", "event 9"]);
  assert.equal(c.checks["commit-order"], 2);
});

test("bad options are refused with the setting named", () => {
  assert.throws(() => new Simulator(smallOptions({ orgs: 20 })), (e: unknown) => e instanceof SimError && e.code === "INVALID_OPTIONS" && /orgs/.test(e.message));
  assert.throws(() => new Simulator(smallOptions({ crashes: [{ target: "p99", count: 1, atMs: 0, downMs: undefined }] })), /no peer named p99/);
  assert.throws(() => new Simulator(smallOptions({ link: { ...smallOptions().link, loss: 1.5 } })), /loss must be a probability/);
});
