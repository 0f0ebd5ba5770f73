/**
 * The per-requester budget of served state requests (not in Fabric, which serves whatever its
 * channelSize queue takes): a flooding member is held to its budget, other members are served as
 * before, and an honest peer catching up never reaches it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_STATE_REQUEST_BUDGET } from "../../../src/state/index.js";
import { metricValue } from "../../utils/comm-harness.js";
import { received, StateHarness, stateRequest } from "./harness.js";

test("a member over its state request budget is dropped and counted; another member is still served", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const full = await h.add("full", 50, { requestBudget: { perSecond: 10, burst: 20 }, channelSize: 10_000 });
  await h.add("flooder", 1);
  await h.add("honest", 1);
  let served = 0;
  for (let i = 0; i < 1_000; i++) full.gossip.directIn(received(stateRequest(1n, 5n), "flooder", () => served++));
  let honestServed = 0;
  full.gossip.directIn(received(stateRequest(1n, 5n), "honest", () => honestServed++));
  await h.clock.advance(10);
  assert.equal(served, 20, "the burst");
  assert.equal(honestServed, 1, "another requester has its own budget");
  assert.equal(await metricValue(full.metrics, "fabric_gossip_state_requests_dropped_total", { reason: "budget" }), 980);
  // A second later the flooder has ten more.
  await h.clock.advance(1_000);
  for (let i = 0; i < 100; i++) full.gossip.directIn(received(stateRequest(1n, 5n), "flooder", () => served++));
  await h.clock.advance(10);
  assert.equal(served, 30);
});

test("a flooder's requests over budget are dropped before the Readers check: no signature verification is spent on them", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  let verifications = 0;
  const mcs = {
    verifyBlock: () => {},
    verifyByChannel: () => {
      verifications++;
    },
  };
  const full = await h.add("full", 50, { requestBudget: { perSecond: 10, burst: 20 }, channelSize: 10_000 }, true, mcs);
  await h.add("flooder", 1);
  let served = 0;
  const auth = { signature: Uint8Array.of(1), signedData: Uint8Array.of(2) };
  for (let i = 0; i < 1_000; i++) {
    const msg = received(stateRequest(1n, 5n), "flooder", () => served++);
    full.gossip.directIn({ ...msg, connectionInfo: { ...msg.connectionInfo, auth } });
  }
  await h.clock.advance(10);
  assert.equal(served, 20, "the burst is served");
  // Before: every one of the 1,000 was verified (about 140 us each with the MSP, 76 % of a flooded peer's CPU).
  assert.equal(verifications, 20, "only the requests within the budget are verified");
  assert.equal(await metricValue(full.metrics, "fabric_gossip_state_requests_dropped_total", { reason: "budget" }), 980);
});

test("with the default budget an honest peer 500 blocks behind catches up without a dropped request", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  assert.deepEqual({ ...DEFAULT_STATE_REQUEST_BUDGET }, { perSecond: 50, burst: 100 });
  const full = await h.add("full", 501);
  const late = await h.add("late", 1, { enabled: true });
  for (let i = 0; i < 120 && late.ledger.height() < 501n; i++) await h.clock.advance(1_000);
  assert.equal(late.ledger.height(), 501n);
  assert.equal(await metricValue(full.metrics, "fabric_gossip_state_requests_dropped_total"), 0);
});
