/** NetworkMember helpers and the discovery security adapter (Fabric's discoverySecurityAdapter). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DevMessageCryptoService } from "../../../src/crypto/dev-mcs.js";
import {
  cloneNetworkMember,
  createDiscoverySecurityAdapter,
  hasExternalEndpoint,
  intersectMembers,
  membersById,
  type NetworkMember,
  networkMemberToString,
  preferredEndpoint,
} from "../../../src/discovery/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { SignedGossipMessage } from "../../../src/protoext/signed-message.js";
import { type GossipMessage, GossipMessage_Tag } from "../../../src/protos/gen/gossip/message.pb.js";
import { fromUtf8, utf8 } from "../../../src/util/bytes.js";
import { ManualClock } from "../../../src/util/manual-clock.js";

const EMPTY = new Uint8Array(0);

function member(id: string, endpoint = id, internalEndpoint = ""): NetworkMember {
  return { pkiId: utf8(id), endpoint, internalEndpoint, metadata: EMPTY };
}

describe("NetworkMember", () => {
  it("preferredEndpoint: internal if set, else external", () => {
    assert.equal(preferredEndpoint(member("a", "ext:1", "int:1")), "int:1");
    assert.equal(preferredEndpoint(member("a", "ext:1", "")), "ext:1");
    assert.equal(hasExternalEndpoint(member("a", "")), false);
    assert.equal(hasExternalEndpoint(member("a", "x:1")), true);
  });

  it("clone copies the PKI-ID, properties and envelope (TestClone)", () => {
    const m: NetworkMember = {
      ...member("a", "ext:1", "int:1"),
      properties: { ledgerHeight: 5n, leftChannel: false, chaincodes: [] },
      envelope: { payload: utf8("p"), signature: utf8("s"), secretEnvelope: undefined },
    };
    const c = cloneNetworkMember(m);
    assert.deepEqual(c, m);
    assert.notEqual(c.pkiId, m.pkiId);
    assert.notEqual(c.properties, m.properties);
    assert.notEqual(c.envelope, m.envelope);
    c.pkiId[0] = 0;
    assert.equal(fromUtf8(m.pkiId), "a");
    assert.match(networkMemberToString(m), /Endpoint: ext:1, InternalEndpoint: int:1, PKI-ID: 61/);
  });

  it("byId and intersect (TestMembersByID, TestMembersIntersect)", () => {
    const a = [member("a"), member("b"), member("c")];
    const b = [member("b"), member("c"), member("d")];
    assert.deepEqual([...membersById(a).keys()], ["61", "62", "63"]);
    assert.deepEqual(intersectMembers(a, b).map((m) => fromUtf8(m.pkiId)), ["b", "c"]);
  });
});

describe("discovery security adapter", () => {
  const aliveMsg = (pki: string, identity: Uint8Array = EMPTY): GossipMessage => ({
    nonce: 0n,
    channel: EMPTY,
    tag: GossipMessage_Tag.EMPTY,
    content: {
      $case: "aliveMsg",
      value: { membership: { endpoint: pki, metadata: EMPTY, pkiId: utf8(pki) }, timestamp: { incNum: 1n, seqNum: 1n }, identity },
    },
  });

  function setup(publishCertPeriodMs = 10_000) {
    const clock = new ManualClock(0);
    const stored = new Map<string, Uint8Array>();
    const puts: string[] = [];
    const adapter = createDiscoverySecurityAdapter(
      {
        mcs: new DevMessageCryptoService(),
        identities: {
          put: (pkiId, identity) => {
            puts.push(fromUtf8(pkiId));
            if (fromUtf8(identity) !== fromUtf8(pkiId)) throw new Error("mismatch");
            stored.set(fromUtf8(pkiId), identity);
          },
          get: (pkiId) => stored.get(fromUtf8(pkiId)),
        },
        selfIdentity: utf8("me:1"),
        clock,
        logger: silentLogger,
      },
      { publishCertPeriodMs },
    );
    return { clock, adapter, stored, puts };
  }

  it("signs, adds the internal endpoint secret, and includes our identity only during publishCertPeriod", async () => {
    const { clock, adapter } = setup(1_000);
    const early = adapter.signMessage(aliveMsg("me:1"), "10.0.0.1:1")!;
    assert.ok(early.isSigned());
    assert.equal(early.internalEndpoint(), "10.0.0.1:1");
    const c = early.message.content;
    assert.equal(c?.$case === "aliveMsg" ? fromUtf8(c.value.identity) : "", "me:1");
    // The signed payload itself carries the identity.
    const decoded = SignedGossipMessage.fromEnvelope(early.envelope).message.content;
    assert.equal(decoded?.$case === "aliveMsg" ? fromUtf8(decoded.value.identity) : "", "me:1");
    await clock.advance(1_000);
    const late = adapter.signMessage(aliveMsg("me:1"), "")!;
    const lc = late.message.content;
    assert.equal(lc?.$case === "aliveMsg" ? lc.value.identity.byteLength : -1, 0);
    assert.equal(late.envelope.secretEnvelope, undefined, "no secret for an empty internal endpoint");
  });

  it("validates with the identity in the message (stored into the mapper) or from the mapper; rejects unknown, mismatched, forged", () => {
    const { adapter, stored, puts } = setup();
    const sign = (m: GossipMessage) => SignedGossipMessage.sign(m, (b) => b);
    assert.equal(adapter.validateAliveMsg(sign(aliveMsg("p:1"))), false, "no identity known");
    assert.equal(adapter.validateAliveMsg(sign(aliveMsg("p:1", utf8("p:1")))), true);
    assert.deepEqual(puts, ["p:1"]);
    assert.ok(stored.has("p:1"));
    assert.equal(adapter.validateAliveMsg(sign(aliveMsg("p:1"))), true, "identity from the mapper");
    assert.equal(adapter.validateAliveMsg(sign(aliveMsg("q:1", utf8("p:1")))), false, "identity of another PKI-ID");
    const good = sign(aliveMsg("p:1")).withSecret({ content: { $case: "internalEndpoint", value: "x:1" } }, (b) => b);
    assert.equal(adapter.validateAliveMsg(good), true);
    const badSecret = SignedGossipMessage.fromEnvelope({ ...good.envelope, secretEnvelope: { payload: good.envelope.secretEnvelope!.payload, signature: utf8("no") } });
    assert.equal(adapter.validateAliveMsg(badSecret), false);
    const unsigned = SignedGossipMessage.noopSign(aliveMsg("p:1"));
    assert.equal(adapter.validateAliveMsg(unsigned), false);
    // The reasons: only "forged" blames a relayer.
    assert.equal(adapter.checkAliveMsg!(unsigned), "malformed");
    assert.equal(adapter.checkAliveMsg!(sign(aliveMsg("r:1"))), "no-identity");
    assert.equal(adapter.checkAliveMsg!(sign(aliveMsg("q:1", utf8("p:1")))), "bad-identity");
    assert.equal(adapter.checkAliveMsg!(badSecret), "forged");
    assert.equal(adapter.checkAliveMsg!(good), "ok");
  });
});
