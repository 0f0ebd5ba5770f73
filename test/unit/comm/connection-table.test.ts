/**
 * The connection table: a peer's connection found by key and by PKI-ID array agree through every
 * replacement and removal, also for an array looked up before the change.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pkiHex } from "../../../src/api/index.js";
import type { Connection } from "../../../src/comm/connection.js";
import { ConnectionTable } from "../../../src/comm/connection-table.js";

/** The table only holds connections: a named stand-in is enough to tell them apart. */
function conn(name: string): Connection {
  return { name } as unknown as Connection;
}

describe("ConnectionTable", () => {
  it("finds a peer's connection by PKI-ID array after it was replaced, removed and set again", () => {
    const table = new ConnectionTable();
    const id = Uint8Array.from([1, 2, 3]);
    const key = pkiHex(id);
    assert.equal(table.of(id), undefined, "no connection yet");
    const first = conn("first");
    table.set(key, first);
    assert.equal(table.of(id), first);
    assert.equal(table.of(id), first, "asked again: the remembered slot");
    const second = conn("second");
    table.set(key, second);
    assert.equal(table.of(id), second, "a replacement is seen through the remembered slot");
    table.delete(key);
    assert.equal(table.of(id), undefined, "removed");
    assert.equal(table.get(key), undefined);
    const third = conn("third");
    table.set(key, third);
    assert.equal(table.of(id), third, "a new connection after removal");
    assert.equal(table.of(Uint8Array.from([1, 2, 3])), third, "another array with the same bytes");
    assert.deepEqual([...table.values()], [third]);
    table.clear();
    assert.equal(table.of(id), undefined, "cleared");
    assert.equal(table.size, 0);
  });
});
