import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BinaryWriter as BufWriter } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { BinaryWriter } from "../../../src/protos/wire/writer.js";

/** The calls generated code makes on a writer; both writers have them. */
interface Writer {
  uint32(v: number): unknown;
  int32(v: number): unknown;
  uint64(v: bigint | number | string): unknown;
  int64(v: bigint | number | string): unknown;
  bool(v: boolean): unknown;
  string(v: string): unknown;
  bytes(v: Uint8Array): unknown;
  fork(): unknown;
  join(): unknown;
  finish(): Uint8Array;
}

type Op =
  | { k: "uint32" | "int32"; v: number }
  | { k: "uint64" | "int64"; v: bigint | number | string }
  | { k: "bool"; v: boolean }
  | { k: "string"; v: string }
  | { k: "bytes"; v: Uint8Array }
  | { k: "fork"; ops: Op[] };

const U64_MAX = (1n << 64n) - 1n;
/** Where a varint grows by a byte: 2^7k - 1 and 2^7k. */
const VARINT_EDGES = Array.from({ length: 9 }, (_, i) => 1n << BigInt(7 * (i + 1))).flatMap((v) => [v - 1n, v]);
const UINT32_EDGES = VARINT_EDGES.filter((v) => v < 1n << 32n).map(Number);
/** Every bit length equally often, so every varint size (1..10 bytes) is exercised. */
const bitsUpTo = (max: number) =>
  fc.integer({ min: 0, max }).chain((bits) => fc.bigInt({ min: bits === 0 ? 0n : 1n << BigInt(bits - 1), max: (1n << BigInt(bits)) - 1n }));
const u64 = fc.oneof(bitsUpTo(64), fc.constantFrom(0n, (1n << 32n) - 1n, 1n << 32n, U64_MAX, ...VARINT_EDGES));
const i64 = fc.oneof(
  bitsUpTo(63),
  bitsUpTo(63).map((v) => -v),
  fc.constantFrom(-1n, -(1n << 63n), (1n << 63n) - 1n),
);
/** Strings as JavaScript has them: any UTF-16 units, lone surrogates included (both writers emit U+FFFD). */
const anyString = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 30 }),
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.string({ unit: "grapheme-ascii", minLength: 30, maxLength: 300 }),
  fc.string({ unit: "binary", minLength: 60, maxLength: 200 }),
);

const { ops } = fc.letrec<{ op: Op; ops: Op[] }>((tie) => ({
  op: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ k: fc.constant("uint32" as const), v: fc.oneof(fc.nat(), fc.constantFrom(0, 0xffff_ffff, ...UINT32_EDGES)) }),
    fc.record({ k: fc.constant("int32" as const), v: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }) }),
    fc.record({ k: fc.constant("uint64" as const), v: fc.oneof(u64, u64.map(String), fc.nat({ max: Number.MAX_SAFE_INTEGER })) }),
    fc.record({ k: fc.constant("int64" as const), v: fc.oneof(i64, i64.map(String), fc.integer()) }),
    fc.record({ k: fc.constant("bool" as const), v: fc.boolean() }),
    fc.record({ k: fc.constant("string" as const), v: anyString }),
    fc.record({
      k: fc.constant("bytes" as const),
      v: fc.oneof(
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ minLength: 100, maxLength: 20000 }),
        fc.constantFrom(127, 128, 16383, 16384).map((n) => new Uint8Array(n).fill(n & 0xff)),
      ),
    }),
    fc.record({ k: fc.constant("fork" as const), ops: tie("ops") }),
  ),
  ops: fc.array(tie("op"), { maxLength: 8 }),
}));

function apply(w: Writer, list: Op[]): void {
  for (const op of list) {
    switch (op.k) {
      case "uint32":
        w.uint32(op.v);
        break;
      case "int32":
        w.int32(op.v);
        break;
      case "uint64":
        w.uint64(op.v);
        break;
      case "int64":
        w.int64(op.v);
        break;
      case "bool":
        w.bool(op.v);
        break;
      case "string":
        w.string(op.v);
        break;
      case "bytes":
        w.bytes(op.v);
        break;
      case "fork":
        w.fork();
        apply(w, op.ops);
        w.join();
        break;
    }
  }
}

describe("BinaryWriter (src/protos/wire)", () => {
  it("writes exactly the bytes of @bufbuild/protobuf's BinaryWriter for any sequence of calls", () => {
    fc.assert(
      fc.property(ops, (list) => {
        const ours = new BinaryWriter();
        const theirs = new BufWriter();
        apply(ours, list);
        apply(theirs, list);
        assert.deepStrictEqual(ours.finish(), theirs.finish());
      }),
      { numRuns: 1000 },
    );
  });

  it("is reusable after finish(), like bufbuild's", () => {
    const w = new BinaryWriter();
    w.uint32(8).uint64(5n);
    assert.deepStrictEqual([...w.finish()], [8, 5]);
    w.fork().bytes(new Uint8Array([1, 2])).join();
    assert.deepStrictEqual([...w.finish()], [3, 2, 1, 2]);
  });

  it("keeps a fork's length when it needs several bytes, without copying the payload", () => {
    const big = new Uint8Array(300).fill(7);
    const out = new BinaryWriter().uint32(10).fork().uint32(10).fork().bytes(big).join().join().finish();
    const ref = new BufWriter().uint32(10).fork().uint32(10).fork().bytes(big).join().join().finish();
    assert.deepStrictEqual(out, ref);
  });

  it("rejects values outside a field's range, as bufbuild's does", () => {
    const bad: [string, (w: Writer) => unknown][] = [
      ["uint32 -1", (w) => w.uint32(-1)],
      ["uint32 2^32", (w) => w.uint32(2 ** 32)],
      ["uint32 1.5", (w) => w.uint32(1.5)],
      ["int32 2^31", (w) => w.int32(2 ** 31)],
      ["uint64 -1", (w) => w.uint64(-1n)],
      ["uint64 2^64", (w) => w.uint64(1n << 64n)],
      ["uint64 'x'", (w) => w.uint64("x")],
      ["int64 2^63", (w) => w.int64(1n << 63n)],
      ["int64 -2^63-1", (w) => w.int64(-(1n << 63n) - 1n)],
    ];
    for (const [name, call] of bad) {
      assert.throws(() => call(new BufWriter()), `bufbuild accepts ${name}`);
      assert.throws(() => call(new BinaryWriter()), `ours accepts ${name}`);
    }
  });

  it("refuses to finish with an open fork and to join without one", () => {
    assert.throws(() => new BinaryWriter().fork().finish(), /fork/);
    assert.throws(() => new BinaryWriter().join(), /fork/);
  });

  it("returns outputs that do not overlap, pooled or not", () => {
    const a = new BinaryWriter().bytes(new Uint8Array(10).fill(1)).finish();
    const b = new BinaryWriter().bytes(new Uint8Array(10).fill(2)).finish();
    const c = new BinaryWriter().bytes(new Uint8Array(10_000).fill(3)).finish();
    assert.deepStrictEqual([...a], [10, ...new Array(10).fill(1)]);
    assert.deepStrictEqual([...b], [10, ...new Array(10).fill(2)]);
    assert.equal(c.length, 10_002);
    assert.ok(c.every((x, i) => i < 2 || x === 3));
  });
});
