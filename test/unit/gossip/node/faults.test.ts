import assert from "node:assert/strict";
import { test } from "node:test";
import { pkiHex } from "../../../../src/api/index.js";
import { GossipMessage_Tag } from "../../../../src/protos/gen/gossip/message.pb.js";
import { utf8 } from "../../../../src/util/index.js";
import { type HarnessPeer, joinMessage, NodeHarness } from "../../../utils/node-harness.js";

const ALIVE_EXPIRATION_MS = 25_000;
const CHECK_MS = ALIVE_EXPIRATION_MS / 10;
const RECONNECT_MS = 25_000;
const ALIVE_INTERVAL_MS = 5_000;
const PULL_INTERVAL_MS = 4_000;

const idOf = (p: HarnessPeer) => pkiHex(utf8(`${p.org}|${p.endpoint}`));
const sees = (a: HarnessPeer, b: HarnessPeer) => a.node.peers().some((m) => pkiHex(m.pkiId) === idOf(b));

async function org(h: NodeHarness, n: number, name = "Org1"): Promise<HarnessPeer[]> {
  const prefix = name.toLowerCase();
  const peers: HarnessPeer[] = [];
  for (let i = 0; i < n; i++) peers.push(await h.add(`${prefix}-p${i}`, name, { bootstrapPeers: i === 0 ? [] : [`${prefix}-p0:7051`] }));
  await h.until("full membership", () => peers.every((p) => p.node.peers().length === n - 1), 3 * PULL_INTERVAL_MS, 50);
  return peers;
}

test("a crashed peer is dead everywhere within aliveExpirationTimeout + check period, and alive again within reconnectInterval + aliveTimeInterval of its restart", async (t) => {
  const h = new NodeHarness();
  t.after(() => h.stopAll());
  const peers = await org(h, 6);
  const victim = peers[5]!;
  const others = peers.slice(0, 5);

  h.network.setDown(victim.endpoint, true);
  await victim.node.stop();
  const dead = await h.until("dead everywhere", () => others.every((p) => !sees(p, victim)), ALIVE_EXPIRATION_MS + CHECK_MS, 100);
  assert.ok(dead <= ALIVE_EXPIRATION_MS + CHECK_MS, `took ${dead} ms`);
  for (const p of others) assert.ok(p.node.deadMembers().some((m) => pkiHex(m.pkiId) === idOf(victim)), `${p.name} lists it as dead`);

  h.network.setDown(victim.endpoint, false);
  const reborn = await h.add(victim.name, "Org1", { bootstrapPeers: ["org1-p0:7051"] });
  const back = await h.until("alive again", () => others.every((p) => sees(p, reborn)), RECONNECT_MS + ALIVE_INTERVAL_MS, 100);
  assert.ok(back <= RECONNECT_MS + ALIVE_INTERVAL_MS, `took ${back} ms`);
  await h.until("it sees everyone", () => reborn.node.peers().length === 5, RECONNECT_MS, 100);
});

test("an org cut in halves for 60 s converges to one view within reconnectInterval + aliveTimeInterval + pullInterval of healing", async (t) => {
  const h = new NodeHarness();
  t.after(() => h.stopAll());
  const peers = await org(h, 10);
  const [left, right] = [peers.slice(0, 5), peers.slice(5)];
  for (const a of left) for (const b of right) h.network.partition(a.endpoint, b.endpoint);
  await h.advance(60_000);
  for (const a of left) assert.ok(right.every((b) => !sees(a, b)), `${a.name} no longer sees the other half`);

  h.network.heal();
  const took = await h.until("one view", () => peers.every((p) => p.node.peers().length === 9), RECONNECT_MS + ALIVE_INTERVAL_MS + PULL_INTERVAL_MS, 100);
  assert.ok(took <= RECONNECT_MS + ALIVE_INTERVAL_MS + PULL_INTERVAL_MS, `took ${took} ms`);
});

test("another org never learns peers without an external endpoint, nor any internal endpoint", async (t) => {
  const h = new NodeHarness();
  t.after(() => h.stopAll());
  const all: HarnessPeer[] = [];
  for (const o of ["Org1", "Org2"]) {
    const prefix = o.toLowerCase();
    for (let i = 0; i < 4; i++) {
      const name = `${prefix}-p${i}`;
      // Only the first two peers of each org publish an external endpoint.
      all.push(await h.add(name, o, { bootstrapPeers: i === 0 ? [] : [`${prefix}-p0:7051`], externalEndpoint: i < 2 ? `${name}:7051` : "" }));
    }
  }
  const join = joinMessage(["Org1", "Org2"], { Org1: ["org1-p0:7051"], Org2: ["org2-p0:7051"] });
  for (const p of all) {
    p.node.joinChan(join, "ch");
    p.node.updateLedgerHeight(1n, "ch");
  }
  await h.advance(8 * PULL_INTERVAL_MS);
  for (const p of all) {
    for (const m of p.node.peers()) {
      const other = all.find((q) => pkiHex(utf8(`${q.org}|${q.endpoint}`)) === pkiHex(m.pkiId))!;
      if (other.org === p.org) continue;
      assert.notEqual(m.endpoint, "", `${p.name} learned ${other.name}, which has no external endpoint`);
      assert.equal(m.internalEndpoint, "", `${p.name} learned the internal endpoint of ${other.name}`);
    }
    // And it does know the foreign peers that are published.
    const foreignPublished = all.filter((q) => q.org !== p.org && Number(q.name.slice(-1)) < 2);
    if (Number(p.name.slice(-1)) < 2) for (const q of foreignPublished) assert.ok(sees(p, q), `${p.name} sees ${q.name}`);
  }
});

test("a membership request carrying another peer's alive message gets no answer; the genuine one does", async (t) => {
  const h = new NodeHarness();
  t.after(() => h.stopAll());
  const [a, b, c] = await org(h, 3);
  const aliveOf = (who: HarnessPeer, viewer: HarnessPeer) => viewer.node.peers().find((m) => pkiHex(m.pkiId) === idOf(who))!.envelope!;
  // Discovery answers the peer the self information names, so listen everywhere.
  const answers: bigint[] = [];
  for (const p of [a!, b!, c!]) {
    p.node.acceptPassThrough(
      (m) => m.message.message.content?.$case === "memRes",
      (m) => answers.push(m.message.message.nonce),
    );
  }
  const request = (nonce: bigint, selfInformation: ReturnType<typeof aliveOf>) => ({
    nonce,
    channel: new Uint8Array(0),
    tag: GossipMessage_Tag.EMPTY,
    content: { $case: "memReq" as const, value: { selfInformation, known: [] } },
  });
  const bPeer = { endpoint: b!.endpoint, pkiId: utf8(`Org1|${b!.endpoint}`) };
  a!.node.send(request(777n, aliveOf(c!, a!)), bPeer);
  await h.advance(2_000);
  assert.ok(!answers.includes(777n), "the spoofed request was answered");
  a!.node.send(request(778n, aliveOf(a!, b!)), bPeer);
  await h.advance(2_000);
  assert.ok(answers.includes(778n), "the genuine request was answered");
});

test("a revoked identity is purged and its connections closed", async (t) => {
  const h = new NodeHarness();
  t.after(() => h.stopAll());
  const peers = await org(h, 5);
  const victim = peers[4]!;
  const others = peers.slice(0, 4);
  h.crypto.revoked.add(`Org1|${victim.endpoint}`);
  for (const p of others) p.node.suspectPeers(() => true);
  const took = await h.until(
    "purged everywhere",
    () => others.every((p) => !sees(p, victim) && !p.node.comm().connectedPeers().some((id) => pkiHex(id) === idOf(victim))),
    ALIVE_EXPIRATION_MS,
    100,
  );
  assert.ok(took >= 0);
  for (const p of others) assert.ok(!p.node.identityInfo().some((i) => pkiHex(i.pkiId) === idOf(victim)), `${p.name} forgot the identity`);
  // It stays out: its alive messages and handshakes are refused from now on.
  await h.advance(3 * ALIVE_INTERVAL_MS);
  for (const p of others) assert.ok(!sees(p, victim));
});
