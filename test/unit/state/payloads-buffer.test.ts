import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PayloadsBuffer } from "../../../src/state/index.js";
import { makePayload } from "./harness.js";

test("pushes out of order, signals ready only when the next expected arrives, pops in order", () => {
  let ready = 0;
  const sizes: number[] = [];
  const b = new PayloadsBuffer(5n, { onReady: () => ready++, onSizeChange: (s) => sizes.push(s) });
  assert.equal(b.next(), 5n);
  assert.equal(b.push(makePayload(7)), true);
  assert.equal(b.push(makePayload(6)), true);
  assert.equal(ready, 0);
  assert.equal(b.isReady(), false);
  assert.equal(b.pop(), undefined);
  assert.equal(b.push(makePayload(5)), true);
  assert.equal(ready, 1);
  assert.equal(b.size(), 3);
  assert.deepEqual([b.pop()?.seqNum, b.pop()?.seqNum, b.pop()?.seqNum, b.pop()], [5n, 6n, 7n, undefined]);
  assert.equal(b.next(), 8n);
  assert.equal(b.size(), 0);
  assert.deepEqual(sizes, [1, 2, 3, 2, 1, 0]);
});

test("duplicates and payloads below next are ignored", () => {
  let ready = 0;
  const b = new PayloadsBuffer(3n, { onReady: () => ready++ });
  assert.equal(b.push(makePayload(2)), false, "below next");
  assert.equal(b.push(makePayload(3)), true);
  assert.equal(b.push(makePayload(3)), false, "duplicate");
  assert.equal(ready, 1, "a duplicate does not signal again");
  assert.equal(b.size(), 1);
  b.pop();
  assert.equal(b.push(makePayload(3)), false, "already popped");
  assert.equal(b.size(), 0);
});

test("reset moves next and drops what is below it", () => {
  let ready = 0;
  const b = new PayloadsBuffer(1n, { onReady: () => ready++ });
  b.push(makePayload(2));
  b.push(makePayload(4));
  b.reset(3n);
  assert.equal(b.size(), 1);
  assert.equal(b.has(4n), true);
  assert.equal(ready, 0);
  b.reset(4n);
  assert.equal(ready, 1, "reset onto a held payload signals ready");
  assert.equal(b.pop()?.seqNum, 4n);
});

test("property: any order of pushes, with repeats, pops exactly the consecutive run from next", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 120 }), fc.integer({ min: 0, max: 10 }), (seqs, start) => {
      const b = new PayloadsBuffer(BigInt(start));
      for (const s of seqs) b.push(makePayload(s));
      const present = new Set(seqs.filter((s) => s >= start));
      assert.equal(b.size(), present.size);
      const popped: number[] = [];
      for (let p = b.pop(); p !== undefined; p = b.pop()) popped.push(Number(p.seqNum));
      const expected: number[] = [];
      for (let s = start; present.has(s); s++) expected.push(s);
      assert.deepEqual(popped, expected);
      assert.equal(b.size(), present.size - expected.length);
      assert.equal(b.next(), BigInt(start + expected.length));
    }),
  );
});
