import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  InvalidationResult as R,
  SignedGossipMessage,
  comparePeerTime,
  createGossipMessageComparator,
  gossipMessagePartition,
  peerTimeBefore,
  peerTimeEqual,
} from "../../../src/protoext/index.js";
import { type GossipMessage, GossipMessage_Tag as Tag, type PeerTime } from "../../../src/protos/gen/gossip/message.pb.js";
import { utf8 } from "../../../src/util/bytes.js";
import { peerTime } from "./arbitraries.js";

const pt = (incNum: bigint, seqNum: bigint): PeerTime => ({ incNum, seqNum });
const wrap = (tag: Tag, content: GossipMessage["content"]) =>
  SignedGossipMessage.noopSign({ nonce: 0n, channel: new Uint8Array(0), tag, content });

const alive = (pki: string, ts: PeerTime) =>
  wrap(Tag.EMPTY, {
    $case: "aliveMsg",
    value: { membership: { endpoint: pki, metadata: new Uint8Array(0), pkiId: utf8(pki) }, timestamp: ts, identity: new Uint8Array(0) },
  });
const stateInfo = (pki: string, ts: PeerTime) =>
  wrap(Tag.CHAN_OR_ORG, {
    $case: "stateInfo",
    value: { timestamp: ts, pkiId: utf8(pki), channelMAC: new Uint8Array(0), properties: undefined },
  });
const leadership = (pki: string, ts: PeerTime) =>
  wrap(Tag.CHAN_AND_ORG, { $case: "leadershipMsg", value: { pkiId: utf8(pki), timestamp: ts, isDeclaration: true } });
const identity = (pki: string, cert: string) =>
  wrap(Tag.ORG_ONLY, { $case: "peerIdentity", value: { pkiId: utf8(pki), cert: utf8(cert), metadata: new Uint8Array(0) } });
const block = (seqNum: bigint) =>
  wrap(Tag.CHAN_AND_ORG, { $case: "dataMsg", value: { payload: { seqNum, data: new Uint8Array(0), privateData: [] } } });

describe("PeerTime ordering", () => {
  it("is lexicographic on (inc_num, seq_num) with exact uint64s", () => {
    const max = (1n << 64n) - 1n;
    assert.equal(comparePeerTime(pt(1n, 0n), pt(0n, max)), 1);
    assert.equal(comparePeerTime(pt(5n, 1n), pt(5n, 2n)), -1);
    assert.equal(comparePeerTime(pt(max, max - 1n), pt(max, max)), -1);
    assert.equal(comparePeerTime(pt(7n, 7n), pt(7n, 7n)), 0);
    assert.ok(peerTimeBefore(pt(1n, 9n), pt(2n, 0n)));
    assert.ok(peerTimeEqual(pt(3n, 4n), pt(3n, 4n)));
    assert.equal(comparePeerTime(undefined, pt(0n, 0n)), 0);
  });

  it("is a total order, antisymmetric and transitive", () => {
    fc.assert(
      fc.property(peerTime, peerTime, peerTime, (a, b, c) => {
        // === rather than assert.equal: for equal times the negation is -0, which Object.is tells from 0.
        assert.ok(Math.sign(comparePeerTime(a, b)) === -Math.sign(comparePeerTime(b, a)));
        if (comparePeerTime(a, b) <= 0 && comparePeerTime(b, c) <= 0) assert.ok(comparePeerTime(a, c) <= 0);
      }),
    );
  });
});

describe("createGossipMessageComparator (Fabric's NewGossipMessageComparator)", () => {
  const cmp = createGossipMessageComparator(5);

  for (const [kind, make] of [
    ["alive", alive],
    ["state info", stateInfo],
    ["leadership", leadership],
  ] as const) {
    it(`${kind}: same PKI-ID compared by PeerTime, a tie is invalidated; other PKI-IDs no action`, () => {
      assert.equal(cmp(make("A", pt(2n, 1n)), make("A", pt(1n, 9n))), R.Invalidates);
      assert.equal(cmp(make("A", pt(1n, 9n)), make("A", pt(2n, 1n))), R.Invalidated);
      assert.equal(cmp(make("A", pt(1n, 3n)), make("A", pt(1n, 2n))), R.Invalidates);
      assert.equal(cmp(make("A", pt(1n, 2n)), make("A", pt(1n, 3n))), R.Invalidated);
      assert.equal(cmp(make("A", pt(1n, 2n)), make("A", pt(1n, 2n))), R.Invalidated);
      assert.equal(cmp(make("A", pt(9n, 9n)), make("B", pt(1n, 1n))), R.NoAction);
    });
  }

  it("identity: the stored one is kept for the same PKI-ID", () => {
    assert.equal(cmp(identity("A", "new"), identity("A", "old")), R.Invalidated);
    assert.equal(cmp(identity("A", "x"), identity("B", "x")), R.NoAction);
  });

  it("blocks: same seq invalidated; within maxBlocks no action; beyond it the newer evicts the older", () => {
    assert.equal(cmp(block(10n), block(10n)), R.Invalidated);
    assert.equal(cmp(block(15n), block(10n)), R.NoAction);
    assert.equal(cmp(block(10n), block(15n)), R.NoAction);
    assert.equal(cmp(block(16n), block(10n)), R.Invalidates);
    assert.equal(cmp(block(10n), block(16n)), R.Invalidated);
    const max = (1n << 64n) - 1n;
    assert.equal(cmp(block(max), block(0n)), R.Invalidates);
  });

  it("different kinds, and kinds without a rule, are no action", () => {
    assert.equal(cmp(alive("A", pt(1n, 1n)), stateInfo("A", pt(1n, 1n))), R.NoAction);
    assert.equal(cmp(block(1n), identity("A", "c")), R.NoAction);
    const ack = wrap(Tag.UNDEFINED, { $case: "ack", value: { error: "" } });
    assert.equal(cmp(ack, ack), R.NoAction);
  });
});

describe("gossipMessagePartition", () => {
  it("keys messages by kind and PKI-ID, the same message asked twice or not", () => {
    const a1 = alive("p1", pt(1n, 1n));
    const a2 = alive("p2", pt(1n, 1n));
    const s1 = stateInfo("p1", pt(1n, 1n));
    assert.equal(gossipMessagePartition(a1), `a${Buffer.from("p1").toString("hex")}`);
    assert.equal(gossipMessagePartition(a1), gossipMessagePartition(alive("p1", pt(2n, 0n))));
    assert.equal(gossipMessagePartition(a2), `a${Buffer.from("p2").toString("hex")}`);
    assert.equal(gossipMessagePartition(a2), gossipMessagePartition(a2));
    assert.equal(gossipMessagePartition(s1), `s${Buffer.from("p1").toString("hex")}`);
    assert.equal(gossipMessagePartition(a1), `a${Buffer.from("p1").toString("hex")}`);
  });
});
