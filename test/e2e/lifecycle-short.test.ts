/**
 * Resource lifecycle, the CI version of `npm run bench -- lifecycle` (RELIABILITY.md S21): a peer with an
 * MSP identity starts, joins a channel of its own (ledger, state, Deliver toward an orderer that does not
 * answer) and stops, 50 times; then a development-crypto peer takes 500 connections (TCP, gossip streams
 * with a handshake, Pings) that a child process opens and closes. The peers run in this process, where
 * active handles, timers and the heap (after a full collection) must come back to their baseline (at most 5 % above).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatPart, runLifecycle } from "../../bench/lifecycle.js";

describe("resource lifecycle (short)", { timeout: 120_000 }, () => {
  it("50 channel join and stop cycles and 500 connections leave handles, timers and heap at their baseline", async (t) => {
    const r = await runLifecycle({ cycles: 50, connections: 500, log: (line) => t.diagnostic(line) });
    for (const p of r.parts) t.diagnostic(formatPart(p));
    assert.equal(r.parts.length, 2);
    const conn = r.parts[1]!;
    // The connections really were made: the peer answered every gossip stream's handshake and every Ping.
    assert.match(conn.notes, /"answered":167/);
    assert.match(conn.notes, /"pingOk":166/);
    assert.deepEqual(
      r.parts.flatMap((p) => p.failures.map((f) => `${p.name}: ${f}`)),
      [],
    );
  });
});
