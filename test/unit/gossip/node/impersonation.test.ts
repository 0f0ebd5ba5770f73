import assert from "node:assert/strict";
import { test } from "node:test";
import { pkiHex } from "../../../../src/api/index.js";
import { SignedGossipMessage } from "../../../../src/protoext/index.js";
import { type GossipMessage, GossipMessage_Tag } from "../../../../src/protos/gen/gossip/message.pb.js";
import { utf8 } from "../../../../src/util/index.js";
import { type HarnessPeer, NodeHarness } from "../../../utils/node-harness.js";

const PULL_INTERVAL_MS = 4_000;
const FORGED_ENDPOINT = "forged.example.com:7051";

const idOf = (p: HarnessPeer): Uint8Array => utf8(`${p.org}|${p.endpoint}`);

/** The alive message `viewer` holds for `who`. */
function heldAlive(viewer: HarnessPeer, who: HarnessPeer) {
  const entry = viewer.node.peers().find((m) => pkiHex(m.pkiId) === pkiHex(idOf(who)));
  assert.ok(entry?.envelope !== undefined, `${viewer.name} knows ${who.name}`);
  const c = SignedGossipMessage.fromEnvelope(entry.envelope).message.content;
  assert.ok(c?.$case === "aliveMsg" && c.value.timestamp !== undefined);
  return { endpoint: entry.endpoint, timestamp: c.value.timestamp };
}

// RELIABILITY.md S13: an alive claiming another PKI-ID. Fabric's discovery security adapter refuses
// the message when the identity it carries cannot be stored under the claimed PKI-ID.
test("an alive message claiming another peer's PKI-ID but carrying the sender's own certificate is refused", async (t) => {
  const h = new NodeHarness();
  t.after(() => h.stopAll());
  const peers: HarnessPeer[] = [];
  for (let i = 0; i < 3; i++) peers.push(await h.add(`org1-p${i}`, "Org1", { bootstrapPeers: i === 0 ? [] : ["org1-p0:7051"] }));
  await h.until("full membership", () => peers.every((p) => p.node.peers().length === 2), 3 * PULL_INTERVAL_MS, 50);
  const [attacker, victim, impersonated] = peers as [HarnessPeer, HarnessPeer, HarnessPeer];
  const held = heldAlive(victim, impersonated);
  const forged: GossipMessage = {
    nonce: 0n,
    channel: new Uint8Array(0),
    tag: GossipMessage_Tag.EMPTY,
    content: {
      $case: "aliveMsg",
      value: {
        membership: { endpoint: FORGED_ENDPOINT, metadata: new Uint8Array(0), pkiId: idOf(impersonated) },
        timestamp: { incNum: held.timestamp.incNum, seqNum: held.timestamp.seqNum + 1_000n },
        // The attacker's own certificate: its signature verifies under it, but it is not the claimed peer's.
        identity: idOf(attacker),
      },
    },
  };
  // The test crypto's signature is the signed bytes: this is exactly what the attacker's key makes.
  const signed = SignedGossipMessage.sign(forged, (bytes) => bytes);
  attacker.node.comm().send(signed, { endpoint: victim.endpoint, pkiId: idOf(victim) });
  await h.advance(1_000);
  const now = heldAlive(victim, impersonated);
  assert.notEqual(now.endpoint, FORGED_ENDPOINT, "the forged alive message replaced the genuine one");
  assert.equal(now.endpoint, held.endpoint);
  // Nor did it take the newer timestamp's place: genuine alive messages of that peer still count.
  assert.ok(now.timestamp.seqNum < held.timestamp.seqNum + 1_000n);
});
