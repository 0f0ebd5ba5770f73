import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { peekAlivePkiId, peekStateInfoPkiId } from "../../../src/protoext/index.js";
import { GossipMessage } from "../../../src/protos/gen/gossip/message.pb.js";
import { gossipMessage } from "./arbitraries.js";

describe("peekStateInfoPkiId", () => {
  it("finds the PKI-ID of an encoded StateInfo message, and nothing in other messages", () => {
    fc.assert(
      fc.property(gossipMessage, (m) => {
        const wire = GossipMessage.encode(m).finish();
        const peeked = peekStateInfoPkiId(wire);
        // An empty PKI-ID is not on the wire (proto3 default): nothing found, the caller decodes.
        if (m.content?.$case === "stateInfo" && m.content.value.pkiId.byteLength > 0) {
          assert.deepEqual(peeked && Buffer.from(peeked), Buffer.from(m.content.value.pkiId));
        } else assert.equal(peeked, undefined);
      }),
      { numRuns: 500 },
    );
  });

  it("gives up without throwing on truncated or malformed wire", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const peeked = peekStateInfoPkiId(b);
        assert.ok(peeked === undefined || (peeked.buffer === b.buffer && peeked.byteOffset + peeked.byteLength <= b.byteOffset + b.byteLength));
      }),
    );
    // A StateInfo (field 15) whose length runs past the end.
    assert.equal(peekStateInfoPkiId(Uint8Array.of((15 << 3) | 2, 10, (3 << 3) | 2, 1, 7)), undefined);
    assert.deepEqual([...(peekStateInfoPkiId(Uint8Array.of((15 << 3) | 2, 3, (3 << 3) | 2, 1, 7)) ?? [])], [7]);
  });
});

describe("peekAlivePkiId", () => {
  it("finds the PKI-ID of an encoded alive message, and nothing in other messages", () => {
    fc.assert(
      fc.property(gossipMessage, (m) => {
        const wire = GossipMessage.encode(m).finish();
        const peeked = peekAlivePkiId(wire);
        const pkiId = m.content?.$case === "aliveMsg" ? m.content.value.membership?.pkiId : undefined;
        if (pkiId !== undefined && pkiId.byteLength > 0) assert.deepEqual(peeked && Buffer.from(peeked), Buffer.from(pkiId));
        else assert.equal(peeked, undefined);
      }),
      { numRuns: 500 },
    );
  });

  it("gives up without throwing on truncated or malformed wire", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const peeked = peekAlivePkiId(b);
        assert.ok(peeked === undefined || (peeked.buffer === b.buffer && peeked.byteOffset + peeked.byteLength <= b.byteOffset + b.byteLength));
      }),
    );
    // alive_msg (5) > membership (1) > pki_id (3) = [9]; then the same with the membership's length past the end.
    assert.deepEqual([...(peekAlivePkiId(Uint8Array.of((5 << 3) | 2, 5, (1 << 3) | 2, 3, (3 << 3) | 2, 1, 9)) ?? [])], [9]);
    assert.equal(peekAlivePkiId(Uint8Array.of((5 << 3) | 2, 5, (1 << 3) | 2, 9, (3 << 3) | 2, 1, 9)), undefined);
  });
});
