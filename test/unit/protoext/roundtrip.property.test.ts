import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BinaryWriter as BufWriter } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { Envelope, GossipMessage } from "../../../src/protos/gen/gossip/message.pb.js";
import type { BinaryWriter } from "../../../src/protos/wire/writer.js";
import { CONTENT_CASES, envelope, gossipMessage, gossipMessageOf } from "./arbitraries.js";

/** The bytes bufbuild's own writer produces: the reference our writer must match byte for byte. */
function referenceEncode<T>(codec: { encode(m: T, w?: BinaryWriter): BinaryWriter }, m: T): Uint8Array {
  // The generated code only calls methods both writers share, so bufbuild's writer can stand in at runtime.
  return (codec.encode(m, new BufWriter() as unknown as BinaryWriter) as unknown as BufWriter).finish();
}

const RUNS = 200;

describe("GossipMessage encode/decode round trip", () => {
  for (const c of CONTENT_CASES) {
    it(`${c}: decode(encode(m)) equals m, uint64 exact`, () => {
      fc.assert(
        fc.property(gossipMessageOf(c), (m) => {
          const bytes = GossipMessage.encode(m).finish();
          const back = GossipMessage.decode(bytes);
          assert.deepStrictEqual(back, m);
          assert.equal(back.content?.$case, c);
        }),
        { numRuns: RUNS },
      );
    });

    it(`${c}: our writer's bytes equal @bufbuild/protobuf's BinaryWriter's`, () => {
      fc.assert(
        fc.property(gossipMessageOf(c), (m) => {
          assert.deepStrictEqual(GossipMessage.encode(m).finish(), referenceEncode(GossipMessage, m));
        }),
        { numRuns: RUNS },
      );
    });
  }

  it("a message inside an envelope survives encode, envelope encode, envelope decode, decode", () => {
    fc.assert(
      fc.property(gossipMessage, envelope, (m, env) => {
        const payload = GossipMessage.encode(m).finish();
        const wire = Envelope.encode({ ...env, payload }).finish();
        assert.deepStrictEqual(wire, referenceEncode(Envelope, { ...env, payload }));
        const decoded = Envelope.decode(wire);
        assert.deepStrictEqual(decoded.payload, payload);
        assert.deepStrictEqual(decoded.signature, env.signature);
        assert.deepStrictEqual(decoded.secretEnvelope, env.secretEnvelope);
        assert.deepStrictEqual(GossipMessage.decode(decoded.payload), m);
      }),
      { numRuns: RUNS },
    );
  });

  it("uint64 extremes are exact on the wire", () => {
    const max = (1n << 64n) - 1n;
    const bytes = GossipMessage.encode({ nonce: max, channel: new Uint8Array(0), tag: 0, content: undefined }).finish();
    // Field 1 varint: ten bytes, nine 0xff and a final 0x01.
    assert.deepStrictEqual([...bytes], [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert.equal(GossipMessage.decode(bytes).nonce, max);
  });
});
