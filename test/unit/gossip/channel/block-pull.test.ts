import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fromUtf8 } from "../../../../src/util/index.js";
import { blockMsg, ORG1, ORG2, TestJoinMsg } from "./harness.js";
import { ChannelNet, type NetNode } from "./net.js";

const blocksDemuxed = (n: NetNode): bigint[] =>
  n.adapter.demuxed.flatMap((m) => {
    const c = m.message.content;
    return c?.$case === "dataMsg" && c.value.payload !== undefined ? [c.value.payload.seqNum] : [];
  });

const peersOf = (n: NetNode): string[] => n.gc.getPeers().map((p) => `${fromUtf8(p.pkiId)}@${String(p.properties?.ledgerHeight)}`);

describe("channel: two or more channels wired through fake adapters", () => {
  it("a peer that missed the push pulls the blocks from a same-org peer once both know each other's StateInfo", async (t) => {
    const net = new ChannelNet();
    t.after(() => net.stop());
    const join = new TestJoinMsg(1, [ORG1]);
    const a = net.add("a", ORG1, join);
    const b = net.add("b", ORG1, join);
    for (let s = 1n; s <= 5n; s++) a.gc.addToMsgStore(blockMsg(s));
    a.gc.updateLedgerHeight(6n);
    b.gc.updateLedgerHeight(1n);
    await net.startAll();
    await net.clock.advance(200);
    assert.deepEqual(peersOf(a), ["b@1"]);
    assert.deepEqual(peersOf(b), ["a@6"]);
    await net.clock.advance(2_000);
    assert.deepEqual(blocksDemuxed(b), [1n, 2n, 3n, 4n, 5n]);
    assert.deepEqual(
      b.mcs.verifiedBlocks.map((v) => v.seq),
      [1n, 2n, 3n, 4n, 5n],
    );
    assert.deepEqual(blocksDemuxed(a), [], "a already had them");
    const kinds = new Set(net.wire.filter((w) => w.from === "a" && w.to === "b").map((w) => w.kind));
    assert.ok(kinds.has("dataDig") && kinds.has("dataUpdate"), "served by pull");
    await net.clock.advance(3_000);
    assert.equal(blocksDemuxed(b).length, 5, "no block twice");
  });

  it("the puller asks only for blocks at or above its ledger height", async (t) => {
    const net = new ChannelNet();
    t.after(() => net.stop());
    const join = new TestJoinMsg(1, [ORG1]);
    const a = net.add("a", ORG1, join);
    const b = net.add("b", ORG1, join);
    for (let s = 1n; s <= 5n; s++) a.gc.addToMsgStore(blockMsg(s));
    a.gc.updateLedgerHeight(6n);
    b.gc.updateLedgerHeight(3n);
    await net.startAll();
    await net.clock.advance(2_500);
    assert.deepEqual(blocksDemuxed(b), [3n, 4n, 5n]);
  });

  it("blocks never flow by pull across orgs; StateInfo does, and peers of other orgs are listed", async (t) => {
    const net = new ChannelNet();
    t.after(() => net.stop());
    const join = new TestJoinMsg(1, [ORG1, ORG2]);
    const a = net.add("a", ORG1, join);
    const b = net.add("b", ORG1, join);
    const c = net.add("c", ORG2, join);
    for (let s = 1n; s <= 3n; s++) a.gc.addToMsgStore(blockMsg(s));
    for (const n of [a, b, c]) n.gc.updateLedgerHeight(n === a ? 4n : 1n);
    await net.startAll();
    await net.clock.advance(5_000);
    assert.deepEqual(blocksDemuxed(b), [1n, 2n, 3n]);
    assert.deepEqual(blocksDemuxed(c), [], "org2 gets no blocks from org1 by pull");
    assert.deepEqual(peersOf(c).sort(), ["a@4", "b@1"]);
    const pullKinds = new Set(["hello", "dataDig", "dataReq", "dataUpdate"]);
    const crossOrgPull = net.wire.filter((w) => pullKinds.has(w.kind) && (w.from === "c" || w.to === "c"));
    assert.deepEqual(crossOrgPull, [], "no pull message crosses the org boundary");
  });

  it("a pushed block is verified once per peer: the forwarded copies are deduplicated first", async (t) => {
    const net = new ChannelNet();
    t.after(() => net.stop());
    const join = new TestJoinMsg(1, [ORG1]);
    const nodes = ["a", "b", "c", "d"].map((name) => net.add(name, ORG1, join));
    await net.startAll();
    const [a, ...others] = nodes as [NetNode, ...NetNode[]];
    const block = blockMsg(7n);
    a.gc.addToMsgStore(block);
    a.adapter.gossip(block);
    await net.clock.advance(50);
    for (const n of others) {
      assert.deepEqual(blocksDemuxed(n), [7n], n.name);
      assert.equal(n.mcs.verifiedBlocks.length, 1, `${n.name} verified the block once`);
    }
    // Each of b, c, d received the block from a and from the two others' forwards.
    const arrivals = net.wire.filter((w) => w.kind === "dataMsg" && w.to === "b").length;
    assert.equal(arrivals, 3);
    assert.equal(a.mcs.verifiedBlocks.length, 0, "our own block is not verified");
  });

  it("without StateInfo push, peers learn each other by StateInfo pull snapshots", async (t) => {
    const net = new ChannelNet();
    net.pushStateInfo = false;
    t.after(() => net.stop());
    const join = new TestJoinMsg(1, [ORG1, ORG2]);
    const a = net.add("a", ORG1, join);
    const b = net.add("b", ORG1, join);
    const c = net.add("c", ORG2, join);
    a.gc.updateLedgerHeight(3n);
    b.gc.updateLedgerHeight(4n);
    c.gc.updateLedgerHeight(5n);
    await net.startAll();
    await net.clock.advance(300);
    assert.deepEqual(peersOf(a).sort(), ["b@4", "c@5"]);
    assert.deepEqual(peersOf(c).sort(), ["a@3", "b@4"]);
    assert.ok(net.wire.some((w) => w.kind === "stateSnapshot" && w.via === "respond"));
  });
});
