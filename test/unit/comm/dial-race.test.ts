/**
 * Two peers that start sending to each other a little apart both dial. A dial whose peer's own connection
 * was adopted while it connected and pinged stops before opening a stream (the remote saw a ping only, as
 * from Fabric's Probe), so one handshake is made instead of two. Dials that cross within a round trip
 * still complete and are settled as before.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MemoryStream } from "../../../src/comm/memory/index.js";
import { createMemoryCommHarness, dataMsg, type HarnessPeer, type MemoryCommHarness } from "../../utils/comm-harness.js";

const ONE_WAY_MS = 10;

interface Pair {
  h: MemoryCommHarness;
  a: HarnessPeer;
  b: HarnessPeer;
  /** Streams the network opened between the two. */
  opened: () => number;
  /** "a" or "b" for each message that peer received. */
  got: string[];
}

/** Two peers, the streams the network opens between them, and what each received. */
async function pair(): Promise<Pair> {
  const h = createMemoryCommHarness({ latency: () => ONE_WAY_MS });
  const [a, b] = await h.createPeers(2);
  let opened = 0;
  const connect = h.network.connect.bind(h.network);
  h.network.connect = (dialer, acceptor): MemoryStream => {
    opened++;
    return connect(dialer, acceptor);
  };
  const got: string[] = [];
  a!.comm.accept(() => true, () => got.push("a"));
  b!.comm.accept(() => true, () => got.push("b"));
  return { h, a: a!, b: b!, opened: () => opened, got };
}

/** B sends, `aAfterMs` later A sends; once both arrived and the race is settled, `check` runs. */
async function crossingSends(aAfterMs: number, check: (p: Pair) => void): Promise<void> {
  const p = await pair();
  const { h, a, b, got } = p;
  try {
    b.comm.send(dataMsg(1), a.remote);
    if (aAfterMs > 0) await h.settle(aAfterMs);
    a.comm.send(dataMsg(2), b.remote);
    await h.waitFor("both messages delivered", () => got.length === 2, 5_000);
    const openedFirst = p.opened();
    await h.settle(3_000);
    check(p);
    // One connection each, and it carries traffic both ways afterwards, with no new stream.
    assert.equal(a.comm.stats().connections, 1);
    assert.equal(b.comm.stats().connections, 1);
    a.comm.send(dataMsg(3), b.remote);
    b.comm.send(dataMsg(4), a.remote);
    await h.waitFor("later messages delivered", () => got.length === 4, 5_000);
    assert.equal(p.opened(), openedFirst);
  } finally {
    await h.teardown();
  }
}

describe("comm: crossing dials", () => {
  it("a dial whose peer's connection came the other way meanwhile stops after its ping: one stream, one handshake", async () => {
    // B's connection reaches A after about two and a half round trips; A's dial starts before that.
    await crossingSends(25, ({ h, a, b, opened }) => {
      assert.equal(opened(), 1, "streams opened between the two");
      assert.equal(h.dialCount(a.endpoint, b.endpoint), 1, "A did dial (and stopped after its ping)");
    });
  });

  it("dials that cross in the same instant lose no message: a sender holding the retired connection writes to its successor", async () => {
    // Both handshakes complete at once on both sides. B's dial resolved with its own stream, which B then
    // retired for A's in the same instant; B's message went nowhere before.
    await crossingSends(0, ({ opened }) => assert.equal(opened(), 2));
  });

  it("dials that cross within a round trip both complete and are settled to one connection, as before", async () => {
    await crossingSends(1, ({ opened }) => assert.equal(opened(), 2));
  });
});
