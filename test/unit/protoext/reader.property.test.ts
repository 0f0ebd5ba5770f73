import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BinaryReader as BufbuildReader, BinaryWriter as BufbuildWriter } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { GossipMessage } from "../../../src/protos/gen/gossip/message.pb.js";
import { BinaryReader, EMPTY_BYTES } from "../../../src/protos/wire/index.js";
import { gossipMessage } from "./arbitraries.js";

/** The reads ts-proto's decoders make, with the arguments they pass. */
type Op = "uint32" | "int32" | "uint64" | "int64" | "bool" | "bytes" | "string" | "tag" | { skip: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.constantFrom<Op>("uint32", "int32", "uint64", "int64", "bool", "bytes", "string", "tag"),
  fc.integer({ min: 0, max: 7 }).map((skip) => ({ skip })),
);

type Outcome = { value: unknown } | { error: string; kind: string };

function apply(reader: BinaryReader | BufbuildReader, o: Op): Outcome {
  try {
    let value: unknown;
    if (typeof o === "object") value = reader.skip(o.skip);
    else if (o === "tag") value = reader.tag();
    else value = reader[o]();
    // Bytes are compared by content: both readers return views into the same input.
    return { value: value instanceof Uint8Array ? Buffer.from(value).toString("hex") : value };
  } catch (err) {
    return { error: (err as Error).message, kind: (err as Error).constructor.name };
  }
}

/** Runs the same reads on both readers and asserts the same values, errors and positions. */
function sameReads(bytes: Uint8Array, ops: Op[]): void {
  const ours = new BinaryReader(bytes);
  const theirs = new BufbuildReader(bytes);
  assert.equal(ours.len, theirs.len);
  for (const o of ops) {
    const a = apply(ours, o);
    const b = apply(theirs, o);
    assert.deepEqual(a, b, `${JSON.stringify(o)} at ${theirs.pos} of ${Buffer.from(bytes).toString("hex")}`);
    if ("error" in b) return;
    assert.equal(ours.pos, theirs.pos);
  }
}

/** Bytes that read as protobuf fields more often than random bytes do: varints, tags and lengths. */
const wireLike = fc
  .array(
    fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) => new BufbuildWriter().uint64(v).finish()),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v) => new BufbuildWriter().int64(v).finish()),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((v) => new BufbuildWriter().int32(v).finish()),
      fc.string({ unit: "binary", maxLength: 40 }).map((s) => new BufbuildWriter().string(s).finish()),
      fc.uint8Array({ maxLength: 40 }).map((b) => new BufbuildWriter().bytes(b).finish()),
      fc.uint8Array({ maxLength: 12 }),
    ),
    { maxLength: 12 },
  )
  .map((parts) => Buffer.concat(parts))
  .chain((b) => fc.integer({ min: 0, max: b.byteLength }).map((cut) => new Uint8Array(b.subarray(0, cut))));

describe("BinaryReader (src/protos/wire/reader.ts)", () => {
  it("reads valid and malformed bytes as bufbuild's reader does: same values, same errors, same positions", () => {
    fc.assert(fc.property(fc.oneof(wireLike, fc.uint8Array({ maxLength: 64 })), fc.array(op, { minLength: 1, maxLength: 16 }), sameReads), { numRuns: 3000 });
  });

  it("reads 64-bit varints at their extremes and over-long varints as bufbuild's does", () => {
    const cases = [
      [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
      [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
      [0xff, 0xff, 0xff, 0xff, 0x7f],
      [0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
      [0x80],
    ];
    for (const c of cases) for (const o of ["uint32", "int32", "uint64", "int64", "bool", "tag"] as const) sameReads(Uint8Array.from(c), [o, o]);
  });

  it("skips nested groups as bufbuild's does, and refuses a mismatched end tag or a nesting too deep", () => {
    const group = (field: number, inner: number[]): number[] => [(field << 3) | 3, ...inner, (field << 3) | 4];
    sameReads(Uint8Array.from(group(1, group(2, [(3 << 3) | 0, 5]))), ["tag", { skip: 3 }]);
    sameReads(Uint8Array.from([(1 << 3) | 3, (2 << 3) | 4]), ["tag", { skip: 3 }]);
    let deep: number[] = [];
    for (let i = 0; i < 120; i++) deep = group(1, deep);
    sameReads(Uint8Array.from(deep), ["tag", { skip: 3 }]);
  });

  it("decodes gossip messages to what they were, with empty bytes fields sharing one array", () => {
    fc.assert(
      fc.property(gossipMessage, (m) => {
        const decoded = GossipMessage.decode(GossipMessage.encode(m).finish());
        assert.deepEqual(decoded, m);
      }),
      { numRuns: 300 },
    );
    const empty = GossipMessage.decode(new Uint8Array(0));
    assert.equal(empty.channel, EMPTY_BYTES);
    assert.equal(EMPTY_BYTES.byteLength, 0);
  });
});
