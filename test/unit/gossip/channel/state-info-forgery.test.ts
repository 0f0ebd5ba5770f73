import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Registry } from "prom-client";
import { CHANNEL_REJECTED_METRIC } from "../../../../src/gossip/channel/index.js";
import type { GossipMessage } from "../../../../src/protos/gen/gossip/message.pb.js";
import { FakeAdapter, newChannel, ORG1, pki, received, snapshotElements, stateInfoContent, stateInfoMsg, stateInfoPullRequest } from "./harness.js";

async function rejected(registry: Registry, reason: string): Promise<number> {
  const metric = registry.getSingleMetric(CHANNEL_REJECTED_METRIC);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

// RELIABILITY.md S13: forged StateInfo messages are neither accepted nor forwarded, and are counted.
describe("channel: forged StateInfo", () => {
  it("a StateInfo claiming our own PKI-ID that does not verify is refused, counted, not forwarded and not served", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("p1"), ORG1);
    const { gc, registry, selfPki } = await newChannel({ adapter });
    t.after(() => gc.stop());
    // Newer than anything we signed, with a huge height, and no valid signature.
    const forged = stateInfoMsg(selfPki, 1_000_000n, { incNum: 1n << 62n, signed: false });
    gc.handleMessage(received(forged, pki("p1")));
    assert.equal(adapter.forwarded.length, 0, "forwarded");
    assert.equal(adapter.demuxed.length, 0, "handed to local consumers");
    assert.equal(await rejected(registry, "BAD_STATE_INFO"), 1);
    // What we serve in a snapshot is still our own StateInfo.
    let reply: GossipMessage | undefined;
    gc.handleMessage(received(stateInfoPullRequest(pki("p1")), pki("p1"), (r) => (reply = r)));
    assert.ok(reply !== undefined);
    const heights = snapshotElements(reply).map((e) => stateInfoContent(e).properties?.ledgerHeight);
    assert.ok(!heights.includes(1_000_000n), `the forged StateInfo is served: heights ${heights.join(", ")}`);
  });

  it("a StateInfo of another peer whose signature does not verify is counted; our own echoed back is not", async (t) => {
    const adapter = new FakeAdapter();
    adapter.addMember(pki("p1"), ORG1);
    const { gc, registry } = await newChannel({ adapter });
    t.after(() => gc.stop());
    gc.handleMessage(received(stateInfoMsg(pki("p1"), 5n, { signed: false }), pki("p1")));
    assert.equal(await rejected(registry, "BAD_STATE_INFO"), 1);
    assert.equal(adapter.forwarded.length, 0);
    // Our own StateInfo coming back through the network is genuine: never a rejection.
    gc.handleMessage(received(gc.self(), pki("p1")));
    gc.handleMessage(received(gc.self(), pki("p1")));
    assert.equal(await rejected(registry, "BAD_STATE_INFO"), 1);
  });
});
