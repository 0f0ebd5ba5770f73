import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { createMessageStore } from "../../../../src/gossip/msgstore/index.js";
import { GossipMessage_Tag } from "../../../../src/protos/gen/gossip/message.pb.js";
import { alivePartition, createGossipMessageComparator, type MessageReplacingPolicy, peekAlivePkiId, SignedGossipMessage } from "../../../../src/protoext/index.js";
import { bytesEqual } from "../../../../src/util/index.js";
import { utf8 } from "../../../../src/util/index.js";

type Spec = { kind: "alive" | "stateInfo" | "data" | "identity"; peer: number; inc: number; seq: number };

function build(s: Spec): SignedGossipMessage {
  const pkiId = utf8(`peer-${s.peer}`);
  const timestamp = { incNum: BigInt(s.inc), seqNum: BigInt(s.seq) };
  const base = { nonce: 0n, channel: new Uint8Array(0) };
  switch (s.kind) {
    case "alive":
      return SignedGossipMessage.noopSign({ ...base, tag: GossipMessage_Tag.EMPTY, content: { $case: "aliveMsg", value: { membership: { endpoint: "", metadata: new Uint8Array(0), pkiId }, timestamp, identity: new Uint8Array(0) } } });
    case "stateInfo":
      return SignedGossipMessage.noopSign({ ...base, tag: GossipMessage_Tag.CHAN_OR_ORG, content: { $case: "stateInfo", value: { timestamp, pkiId, channelMAC: new Uint8Array(0), properties: undefined } } });
    case "identity":
      return SignedGossipMessage.noopSign({ ...base, tag: GossipMessage_Tag.EMPTY, content: { $case: "peerIdentity", value: { pkiId, cert: pkiId, metadata: new Uint8Array(0) } } });
    default:
      return SignedGossipMessage.noopSign({ ...base, tag: GossipMessage_Tag.CHAN_AND_ORG, content: { $case: "dataMsg", value: { payload: { seqNum: BigInt(s.seq), data: new Uint8Array(0), privateData: [] } } } });
  }
}

const spec = fc.record({
  kind: fc.constantFrom<Spec["kind"]>("alive", "stateInfo", "data", "identity"),
  peer: fc.integer({ min: 0, max: 4 }),
  inc: fc.integer({ min: 0, max: 3 }),
  seq: fc.integer({ min: 0, max: 30 }),
});

test("a store that compares within partitions decides exactly as one that compares with everything", () => {
  fc.assert(
    fc.property(fc.array(spec, { maxLength: 80 }), fc.integer({ min: 0, max: 12 }), (specs, maxBlocks) => {
      const partitioned = createGossipMessageComparator(maxBlocks);
      assert.ok(partitioned.partition !== undefined);
      const flat: MessageReplacingPolicy<SignedGossipMessage> = (a, b) => partitioned(a, b);
      const evictedA: SignedGossipMessage[] = [];
      const evictedB: SignedGossipMessage[] = [];
      const a = createMessageStore(partitioned, (m) => evictedA.push(m));
      const b = createMessageStore(flat, (m) => evictedB.push(m));
      for (const s of specs) {
        const m = build(s);
        assert.equal(a.checkValid(m), b.checkValid(m));
        assert.equal(a.add(m), b.add(m));
      }
      const ids = (xs: SignedGossipMessage[]) => xs.map((m) => Buffer.from(m.bytes).toString("hex")).sort();
      assert.deepEqual(ids(a.get()), ids(b.get()));
      assert.deepEqual(ids(evictedA), ids(evictedB));
      // Purging empties some partitions and shrinks others; adding again must still decide the same.
      const odd = (m: SignedGossipMessage) => m.bytes.byteLength % 2 === 1;
      a.purge(odd);
      b.purge(odd);
      assert.deepEqual(ids(a.get()), ids(b.get()));
      for (const s of specs) {
        const m = build({ ...s, seq: s.seq + 1 });
        assert.equal(a.checkValid(m), b.checkValid(m));
        assert.equal(a.add(m), b.add(m));
      }
      assert.deepEqual(ids(a.get()), ids(b.get()));
      assert.deepEqual(ids(evictedA), ids(evictedB));
    }),
    { numRuns: 300 },
  );
});

test("an alive message whose payload the store holds, found by its peeked partition, is one checkValid refuses", () => {
  fc.assert(
    fc.property(fc.array(spec, { maxLength: 60 }), fc.array(spec, { minLength: 1, maxLength: 20 }), (stored, probes) => {
      const store = createMessageStore(createGossipMessageComparator(0));
      for (const s of stored) store.add(build(s));
      for (const p of probes) {
        const m = build(p);
        const pkiId = peekAlivePkiId(m.envelope.payload);
        if (p.kind !== "alive") {
          assert.equal(pkiId, undefined);
          continue;
        }
        assert.ok(pkiId !== undefined);
        const held = store.holds(alivePartition(pkiId), (h) => bytesEqual(h.envelope.payload, m.envelope.payload));
        // Held exactly when an identical alive message was stored and not replaced since.
        const identicalStored = store.get().some((h) => bytesEqual(h.envelope.payload, m.envelope.payload));
        assert.equal(held, identicalStored);
        if (held) assert.equal(store.checkValid(m), false);
      }
    }),
    { numRuns: 300 },
  );
});
