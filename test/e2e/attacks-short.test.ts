/**
 * The attack suite's CI version against real processes (bench/attacks.ts has the full one): an
 * orderer and three peers with mutual TLS and MSP identities carry honest blocks while, in turn,
 * - forged handshakes arrive, each on a new TLS connection from 127.0.0.12;
 * - 2,000 silent TCP connections are held from 127.0.0.2;
 * - an insider sends each peer a membership response listing 200 members minted by its org's CA;
 * - a peer that is not the leader is killed with SIGKILL and restarted at once, three times.
 * It fails when a bound is exceeded: more than 10 log lines a second on a peer during an attack, a
 * /healthz slower than 1 s (or unanswered), a forged handshake accepted, or a restart that does not
 * start, or honest block p99 above 2 x the baseline + 100 ms (the suite's 50 ms slack doubled: the
 * attackers share a busy two-core machine with the peers).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatAttackTable, runAttackSuite } from "../../bench/attacks.js";

describe("attacks against real peer processes (short)", { timeout: 300_000 }, () => {
  it("forged handshakes, silent connections, fake members and kill -9 restarts stay within their bounds", async (t) => {
    const started = performance.now();
    const res = await runAttackSuite({ short: true, p99SlackMs: 100, log: (line) => t.diagnostic(line) });
    t.diagnostic(`${((performance.now() - started) / 1000).toFixed(0)} s in all`);
    for (const line of formatAttackTable(res).split("\n")) t.diagnostic(line);
    assert.deepEqual(
      res.rows.map((r) => r.id),
      ["2", "5", "1", "6"],
    );
    const byId = new Map(res.rows.map((r) => [r.id, r]));
    // Each attack really ran: the peers saw and refused it.
    assert.ok(byId.get("2")!.frames >= 50, `forged handshakes sent: ${byId.get("2")!.frames}`);
    assert.match(byId.get("2")!.refused, /BAD_SIGNATURE/);
    assert.match(byId.get("5")!.refused, /sockets refused/);
    assert.match(byId.get("6")!.notes, /^3\/3 restarts started/);
    const failed = res.rows.flatMap((r) => r.failures.filter((f) => !isP99(f)).map((f) => `attack ${r.id} (${r.attack}): ${f}`));
    assert.deepEqual(failed, []);
    latencyMisses = res.rows.flatMap((r) => r.failures.filter(isP99).map((f) => `attack ${r.id} (${r.attack}): ${f}`));
  });

  // Met for forged handshakes, silent connections and fake members since routing prefers members heard from
  // directly and the transport refuses known offenders at accept; for kill -9 restarts since gaps are filled by
  // state transfer (gapFillDelay) and handshakes cost no signature (the restarted peer itself is not counted).
  it("honest block p99 stays within 2 x baseline + 100 ms under each attack", () => {
    assert.deepEqual(latencyMisses, []);
  });
});

let latencyMisses: string[] = [];

function isP99(failure: string): boolean {
  return failure.startsWith("honest p99");
}
