/**
 * State transfer through real gossip nodes over the in-memory network, in virtual time: Fabric's
 * state_test.go scenario of a peer that joins late with an empty ledger and catches up by
 * anti-entropy, since the blocks are long gone from the gossip pull window.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../src/metrics/index.js";
import { GossipMessage_Tag } from "../../../src/protos/gen/gossip/message.pb.js";
import { type StateGossipAdapter, StateProviderImpl } from "../../../src/state/index.js";
import { SeededRandom, utf8 } from "../../../src/util/index.js";
import { type HarnessPeer, joinMessage, NodeHarness } from "../../utils/node-harness.js";
import { FakeLedger, makePayload } from "./harness.js";

const CH = "ch";

interface StatePeer {
  peer: HarnessPeer;
  ledger: FakeLedger;
  state: StateProviderImpl;
  /** State requests this peer sent. */
  requests: Array<{ start: bigint; end: bigint }>;
}

async function addStatePeer(h: NodeHarness, name: string, seed: number): Promise<StatePeer> {
  const peer = await h.add(name, "Org1", { bootstrapPeers: name === "p0" ? [] : ["p0:7051"] });
  peer.node.joinChan(joinMessage(["Org1"]), CH);
  const ledger = new FakeLedger(h.clock, 1);
  const requests: StatePeer["requests"] = [];
  const node = peer.node;
  const gossip: StateGossipAdapter = {
    accept: (a, hd) => node.accept(a, hd),
    acceptPassThrough: (a, hd) => node.acceptPassThrough(a, hd),
    peersOfChannel: (c) => node.peersOfChannel(c),
    updateLedgerHeight: (height, c) => node.updateLedgerHeight(height, c),
    send: (msg, ...peers) => {
      if (msg.content?.$case === "stateRequest") requests.push({ start: msg.content.value.startSeqNum, end: msg.content.value.endSeqNum });
      node.send(msg, ...peers);
    },
  };
  const state = new StateProviderImpl(
    CH,
    {
      gossip,
      ledger,
      mcs: h.crypto,
      clock: h.clock,
      random: new SeededRandom(seed),
      logger: silentLogger,
      metrics: memoryMetricsProvider(),
    },
    { enabled: true },
  );
  await state.start();
  return { peer, ledger, state, requests };
}

test("a peer joining late with an empty ledger catches up 50 blocks by state transfer", async (t) => {
  const h = new NodeHarness();
  const all: StatePeer[] = [];
  t.after(async () => {
    for (const p of all) await p.state.stop();
    await h.stopAll();
  });
  for (let i = 0; i < 3; i++) all.push(await addStatePeer(h, `p${i}`, i + 1));
  const [leader, ...followers] = all as [StatePeer, StatePeer, StatePeer];
  await h.until("channel membership", () => all.every((p) => p.peer.node.peersOfChannel(CH).length === 2), 20_000);

  // The leader gets blocks from the ordering service (addPayload) and gossips them.
  for (let seq = 1; seq <= 50; seq++) {
    const payload = makePayload(seq);
    await leader.state.addPayload(payload);
    leader.peer.node.gossip({ nonce: 0n, channel: utf8(CH), tag: GossipMessage_Tag.CHAN_AND_ORG, content: { $case: "dataMsg", value: { payload } } });
    await h.advance(200);
  }
  await h.until("the first peers at height 51", () => all.every((p) => p.ledger.height() === 51n), 20_000);
  assert.equal(leader.state.haltedReason(), undefined);

  // Well past the 10-block pull window: only state transfer can bring the late peer up.
  const late = await addStatePeer(h, "late", 99);
  all.push(late);
  const took = await h.until("the late peer at height 51", () => late.ledger.height() === 51n, 60_000, 100);
  assert.deepEqual(
    late.ledger.committedNumbers(),
    Array.from({ length: 51 }, (_, i) => BigInt(i)),
  );
  assert.ok(took <= 30_000, `caught up in ${took} ms of virtual time`);
  // Batches of batchSize + 1 from height 1: [1,11] [12,22] [23,33] [34,44] [45,50], served by members
  // that pass the channel's Readers check on the handshake signature.
  assert.ok(late.requests.length >= 5, `late sent ${late.requests.length} state requests`);
  assert.deepEqual(late.requests[0], { start: 1n, end: 11n });
  assert.equal(late.state.haltedReason(), undefined);
  for (const f of followers) assert.equal(f.ledger.height(), 51n);
  // Its new height reaches the others through StateInfo.
  await h.until("the late peer's height is advertised", () =>
    leader.peer.node.peersOfChannel(CH).some((m) => m.endpoint === "late:7051" || m.internalEndpoint === "late:7051" ? m.properties?.ledgerHeight === 51n : false), 20_000);
});
