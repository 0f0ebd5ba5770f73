/**
 * Routing of pushed alive messages (Fabric's gossipBatch and sendAndFilterSecrets): by origin org, an
 * alive message of another org only to members with an external endpoint, the secret envelope only
 * within our org.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PKIidType, RemotePeer } from "../../../../src/api/index.js";
import type { NetworkMember } from "../../../../src/discovery/index.js";
import { SEND_TO_ALL } from "../../../../src/gossip/node/emitted.js";
import { type RoutingContext, routeBatch } from "../../../../src/gossip/node/routing.js";
import { silentLogger } from "../../../../src/logging/index.js";
import type { SignedGossipMessage } from "../../../../src/protoext/index.js";
import { fromUtf8, SeededRandom, utf8 } from "../../../../src/util/index.js";
import { RemotePeer as Speaker } from "../../discovery/recording-comm.js";

/** A member named `name` of org `org`; `external` false: it publishes no external endpoint. */
function member(name: string, external = true): NetworkMember {
  return { pkiId: utf8(`${name}:7051`), endpoint: external ? `${name}:7051` : "", internalEndpoint: `${name}.internal:7051`, metadata: new Uint8Array(0) };
}

/** The org of a member: the first letter of its name, upper case. */
function orgOf(pkiId: PKIidType): Uint8Array {
  return utf8(fromUtf8(pkiId).slice(0, 1).toUpperCase());
}

interface Sent {
  to: string;
  secret: boolean;
}

function context(members: NetworkMember[], sent: Sent[]): RoutingContext {
  const byId = new Map(members.map((m) => [fromUtf8(m.pkiId), m]));
  return {
    selfOrg: utf8("A"),
    propagatePeerNum: members.length,
    random: new SeededRandom(1n),
    logger: silentLogger,
    membership: () => members,
    orgOf,
    // Discovery's view of the same members.
    hasExternalEndpoint: (pkiId) => (byId.get(fromUtf8(pkiId))?.endpoint ?? "") !== "",
    channel: () => undefined,
    channelOfStateInfo: () => undefined,
    send: (msg: SignedGossipMessage, peers: RemotePeer[]) => {
      for (const p of peers) sent.push({ to: p.endpoint, secret: msg.envelope.secretEnvelope !== undefined });
    },
  };
}

function sortedSends(sent: Sent[]): string[] {
  return sent.map((s) => `${s.to}${s.secret ? " with secret" : ""}`).sort();
}

describe("routing alive messages", () => {
  const members = [member("a1"), member("a2", false), member("b1"), member("b2", false), member("c1")];

  it("another org's alive message: to our org and its own, only members with an external endpoint, the secret only to ours", () => {
    const sent: Sent[] = [];
    routeBatch([{ msg: new Speaker("b9:7051").alive(), filter: SEND_TO_ALL }], context(members, sent));
    assert.deepEqual(sortedSends(sent), ["a1.internal:7051 with secret", "b1.internal:7051"]);
  });

  it("our org's alive message: to every member, the secret only within our org", () => {
    const sent: Sent[] = [];
    routeBatch([{ msg: new Speaker("a9:7051").alive(), filter: SEND_TO_ALL }], context(members, sent));
    assert.deepEqual(sortedSends(sent), [
      "a1.internal:7051 with secret",
      "a2.internal:7051 with secret",
      "b1.internal:7051",
      "b2.internal:7051",
      "c1.internal:7051",
    ]);
  });
});
