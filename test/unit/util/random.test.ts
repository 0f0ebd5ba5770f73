import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { SeededRandom, SystemRandom } from "../../../src/util/index.js";

test("the same seed gives the same sequence, another seed another", () => {
  const a = new SeededRandom(7);
  const b = new SeededRandom(7);
  const c = new SeededRandom(8);
  const seq = (r: SeededRandom) => Array.from({ length: 20 }, () => r.uint64());
  const sa = seq(a);
  assert.deepEqual(sa, seq(b));
  assert.notDeepEqual(sa, seq(c));
});

test("float is in [0,1), int in [0,n), and uint64 covers the high bits", () => {
  const r = new SeededRandom(42n);
  let high = false;
  for (let i = 0; i < 10_000; i++) {
    const f = r.float();
    assert.ok(f >= 0 && f < 1);
    const n = r.int(7);
    assert.ok(Number.isInteger(n) && n >= 0 && n < 7);
    if (r.uint64() >= 1n << 63n) high = true;
  }
  assert.ok(high, "some uint64 values must exceed 2^63");
});

test("indices are distinct, in range, and min(k, n) of them", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 60 }), fc.integer(), (n, k, seed) => {
      const idx = new SeededRandom(seed).indices(k, n);
      assert.equal(idx.length, Math.min(k, n));
      assert.equal(new Set(idx).size, idx.length);
      for (const i of idx) assert.ok(i >= 0 && i < n);
    }),
  );
});

test("shuffle is a permutation; SystemRandom behaves like SeededRandom's contract", () => {
  const items = Array.from({ length: 30 }, (_, i) => i);
  for (const r of [new SeededRandom(1), new SystemRandom()]) {
    const s = r.shuffle(items);
    assert.deepEqual(s.slice().sort((a, b) => a - b), items);
    const f = r.float();
    assert.ok(f >= 0 && f < 1);
  }
  const sys = new SystemRandom();
  assert.notEqual(sys.uint64(), sys.uint64());
});

test("hex and equality agree with Buffer's for short and long arrays", async () => {
  const { bytesEqual, prefixedHex, toHex } = await import("../../../src/util/index.js");
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), (a, b) => {
      assert.equal(toHex(a), Buffer.from(a).toString("hex"));
      assert.equal(prefixedHex("a", a), `a${Buffer.from(a).toString("hex")}`);
      assert.equal(bytesEqual(a, b), Buffer.from(a).equals(Buffer.from(b)));
      assert.ok(bytesEqual(a, a.slice()));
    }),
  );
});
