import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { peekAlivePkiId, peekStateInfoPkiId } from "../../../src/protoext/index.js";
import { GossipMessage } from "../../../src/protos/gen/gossip/message.pb.js";
import { gossipMessage } from "./arbitraries.js";

/** Each peek, the PKI-ID a decoder finds where it looks, and hand-made wire: what it finds, or undefined. */
const peeks = [
  {
    name: "peekStateInfoPkiId",
    peek: peekStateInfoPkiId,
    pkiIdOf: (m: GossipMessage) => (m.content?.$case === "stateInfo" ? m.content.value.pkiId : undefined),
    // state_info (15) > pki_id (3) = [7]; then the StateInfo's length past the end.
    found: Uint8Array.of((15 << 3) | 2, 3, (3 << 3) | 2, 1, 7),
    overrun: Uint8Array.of((15 << 3) | 2, 10, (3 << 3) | 2, 1, 7),
    want: [7],
  },
  {
    name: "peekAlivePkiId",
    peek: peekAlivePkiId,
    pkiIdOf: (m: GossipMessage) => (m.content?.$case === "aliveMsg" ? m.content.value.membership?.pkiId : undefined),
    // alive_msg (5) > membership (1) > pki_id (3) = [9]; then the membership's length past the end.
    found: Uint8Array.of((5 << 3) | 2, 5, (1 << 3) | 2, 3, (3 << 3) | 2, 1, 9),
    overrun: Uint8Array.of((5 << 3) | 2, 5, (1 << 3) | 2, 9, (3 << 3) | 2, 1, 9),
    want: [9],
  },
];

for (const { name, peek, pkiIdOf, found, overrun, want } of peeks) {
  describe(name, () => {
    it("finds the PKI-ID of its kind of encoded message, and nothing in other messages", () => {
      fc.assert(
        fc.property(gossipMessage, (m) => {
          const peeked = peek(GossipMessage.encode(m).finish());
          // An empty PKI-ID is not on the wire (proto3 default): nothing found, the caller decodes.
          const pkiId = pkiIdOf(m);
          if (pkiId !== undefined && pkiId.byteLength > 0) assert.deepEqual(peeked && Buffer.from(peeked), Buffer.from(pkiId));
          else assert.equal(peeked, undefined);
        }),
        { numRuns: 500 },
      );
    });

    it("gives up without throwing on truncated or malformed wire", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
          const peeked = peek(b);
          assert.ok(peeked === undefined || (peeked.buffer === b.buffer && peeked.byteOffset + peeked.byteLength <= b.byteOffset + b.byteLength));
        }),
      );
      assert.deepEqual([...(peek(found) ?? [])], want);
      assert.equal(peek(overrun), undefined);
    });
  });
}
