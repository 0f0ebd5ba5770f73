/** PkiIdMemo: an entry found by key is remembered by array, and asked for by key again once it is no longer live. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type PkiHex, PkiIdMemo, pkiHex } from "../../../src/api/index.js";

interface Entry {
  name: string;
  live: boolean;
}

describe("PkiIdMemo", () => {
  it("asks by key once per array while the entry lives, again after it died; views into a larger buffer are not remembered", () => {
    const byKey = new Map<PkiHex, Entry>();
    const asked: PkiHex[] = [];
    const memo = new PkiIdMemo<Entry>(
      (key) => {
        asked.push(key);
        return byKey.get(key);
      },
      (e) => e.live,
    );
    const id = Uint8Array.from([7, 8, 9]);
    const key = pkiHex(id);
    assert.equal(memo.get(id), undefined, "unknown");
    const first: Entry = { name: "first", live: true };
    byKey.set(key, first);
    assert.equal(memo.get(id), first);
    assert.equal(memo.get(id), first);
    assert.equal(asked.length, 2, "the second lookup of the same array is remembered");
    first.live = false;
    const second: Entry = { name: "second", live: true };
    byKey.set(key, second);
    assert.equal(memo.get(id), second, "a dead entry sends the lookup back to the key");
    const view = new Uint8Array([0, 7, 8, 9]).subarray(1);
    assert.equal(memo.get(view), second);
    assert.equal(memo.get(view), second);
    assert.equal(asked.length, 5, "a view is asked by key every time");
  });
});
