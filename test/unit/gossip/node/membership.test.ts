import assert from "node:assert/strict";
import { test } from "node:test";
import { pkiHex } from "../../../../src/api/index.js";
import { joinMessage, NodeHarness } from "../../../utils/node-harness.js";

const PULL_INTERVAL_MS = 4_000;

test("20 peers in 2 orgs, each org from one bootstrap peer, reach full membership within 2 x pullInterval of the last start", async (t) => {
  const h = new NodeHarness();
  t.after(() => h.stopAll());
  for (const org of ["Org1", "Org2"]) {
    const boot = `${org.toLowerCase()}-p0:7051`;
    for (let i = 0; i < 10; i++) {
      const name = `${org.toLowerCase()}-p${i}`;
      await h.add(name, org, { externalEndpoint: `${name}:7051`, bootstrapPeers: i === 0 ? [] : [boot] });
    }
  }
  // Cross-org discovery comes from the channel's anchor peers, as in Fabric.
  const join = joinMessage(["Org1", "Org2"], { Org1: ["org1-p0:7051"], Org2: ["org2-p0:7051"] });
  for (const p of h.peers) {
    p.node.joinChan(join, "ch");
    // The state provider announces the ledger height once the channel is joined (Fabric does the same).
    p.node.updateLedgerHeight(1n, "ch");
  }
  const took = await h.until("full membership", () => h.peers.every((p) => p.node.peers().length === 19), 2 * PULL_INTERVAL_MS, 50);
  assert.ok(took <= 2 * PULL_INTERVAL_MS, `took ${took} ms`);

  const channelView = await h.until("channel membership", () => h.peers.every((p) => p.node.peersOfChannel("ch").length === 19), 3 * PULL_INTERVAL_MS, 100);
  assert.ok(channelView >= 0);
  for (const p of h.peers) {
    const ids = new Set(p.node.peers().map((m) => pkiHex(m.pkiId)));
    assert.equal(ids.size, 19, `${p.name} sees 19 distinct peers`);
  }
});
