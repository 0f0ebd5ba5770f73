import assert from "node:assert/strict";
import { test } from "node:test";
import {
  GossipLeaderElectionAdapter,
  LeaderElectionServiceImpl,
  type LeadershipMsg,
} from "../../../src/election/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { createRegistry, promMetricsProvider, type Registry } from "../../../src/metrics/index.js";
import { type HarnessPeer, joinMessage, NodeHarness } from "../../utils/node-harness.js";

const ALIVE_MS = 10_000;
const ELECTION_MS = 5_000;
const CHANNEL = "ch";

interface ElectingPeer {
  peer: HarnessPeer;
  adapter: GossipLeaderElectionAdapter;
  svc: LeaderElectionServiceImpl<LeadershipMsg>;
  registry: Registry;
  callbacks: boolean[];
}

test("4 peers of one org on a channel elect exactly one leader through real gossip nodes, and another after the leader's node stops", async (t) => {
  const h = new NodeHarness();
  const electing: ElectingPeer[] = [];
  t.after(async () => {
    for (const e of electing) {
      await e.svc.stop();
      e.adapter.stop();
    }
    await h.stopAll();
  });
  const join = joinMessage(["Org1"]);
  for (let i = 0; i < 4; i++) {
    const peer = await h.add(`p${i}`, "Org1", { bootstrapPeers: i === 0 ? [] : ["p0:7051"] });
    peer.node.joinChan(join, CHANNEL);
    peer.node.updateLedgerHeight(1n, CHANNEL);
  }
  // Each peer with its own registry (as one process per peer would have).
  for (const peer of h.peers) {
    const registry = createRegistry();
    const adapter = new GossipLeaderElectionAdapter({ node: peer.node, clock: h.clock, logger: silentLogger, metrics: promMetricsProvider(registry) }, CHANNEL);
    const callbacks: boolean[] = [];
    const svc = new LeaderElectionServiceImpl({
      adapter,
      clock: h.clock,
      logger: silentLogger,
      pkiId: peer.node.pkiId(),
      onLeadershipChange: (b) => callbacks.push(b),
    });
    electing.push({ peer, adapter, svc, registry, callbacks });
  }
  for (const e of electing) await e.svc.start();

  const leaders = (set = electing) => set.filter((e) => e.svc.isLeader());
  await h.until("channel membership", () => electing.every((e) => e.adapter.peers().length === 3), 30_000, 100);
  await h.until("exactly one leader", () => leaders().length === 1, 15_000 + 2 * ALIVE_MS + ELECTION_MS, 100);
  // It settles on the smallest PKI-ID and stays.
  await h.advance(3 * ALIVE_MS);
  const byId = [...electing].sort((a, b) => Buffer.compare(a.peer.node.pkiId(), b.peer.node.pkiId()));
  assert.deepEqual(leaders(), [byId[0]]);
  for (let i = 0; i < 30; i++) {
    await h.advance(ALIVE_MS / 5);
    assert.equal(leaders().length, 1, "never two leaders once settled");
  }
  const first = leaders()[0]!;
  assert.equal(first.callbacks.at(-1), true);
  const gauge = async (e: ElectingPeer) => (await e.registry.getSingleMetric("gossip_leader_election_leader")!.get()).values[0]?.value;
  assert.equal(await gauge(first), 1);
  for (const e of electing) if (e !== first) assert.equal(await gauge(e), 0);

  // The leader's node stops (with its election).
  h.network.setDown(first.peer.endpoint, true);
  await first.svc.stop();
  first.adapter.stop();
  await first.peer.node.stop();
  const rest = electing.filter((e) => e !== first);
  const took = await h.until("a new leader", () => leaders(rest).length === 1, 2 * ALIVE_MS + ELECTION_MS + 500, 50);
  assert.ok(took <= 2 * ALIVE_MS + ELECTION_MS + 500, `took ${took} ms`);
  await h.advance(3 * ALIVE_MS);
  assert.equal(leaders(rest).length, 1);
  assert.deepEqual(leaders(rest), [byId[1]], "the next smallest PKI-ID");
});
