import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MessageStoreError, createMessageStore } from "../../../../src/gossip/msgstore/index.js";
import { MemoryLogger } from "../../../../src/logging/index.js";
import { InvalidationResult as R, SignedGossipMessage, createGossipMessageComparator } from "../../../../src/protoext/index.js";
import { GossipMessage_Tag as Tag } from "../../../../src/protos/gen/gossip/message.pb.js";
import { ManualClock } from "../../../../src/util/index.js";

/** A versioned item: of the same key, the higher version wins and an equal one is a duplicate. */
interface Item {
  key: string;
  ver: number;
  id: number;
}

const byVersion = (a: Item, b: Item): R => {
  if (a.key !== b.key) return R.NoAction;
  return a.ver > b.ver ? R.Invalidates : R.Invalidated;
};

let nextId = 0;
const item = (key: string, ver: number): Item => ({ key, ver, id: nextId++ });

/** Block-like numbers: equal is a duplicate, more than `w` apart the higher evicts the lower. */
const windowPolicy =
  (w: number) =>
  (a: number, b: number): R => {
    if (a === b) return R.Invalidated;
    if (Math.abs(a - b) <= w) return R.NoAction;
    return a > b ? R.Invalidates : R.Invalidated;
  };

describe("msgstore: invalidation (Fabric's NewMessageStore)", () => {
  it("a newer message evicts the older one and the trigger sees the evicted message", () => {
    const triggered: Item[] = [];
    const store = createMessageStore<Item>(byVersion, (m) => triggered.push(m));
    const a1 = item("a", 1);
    const b1 = item("b", 1);
    const a2 = item("a", 2);
    assert.equal(store.add(a1), true);
    assert.equal(store.add(b1), true);
    assert.equal(store.add(a2), true);
    assert.deepEqual(store.get(), [b1, a2]);
    assert.deepEqual(triggered, [a1]);
    assert.equal(store.size(), 2);
  });

  it("an older or duplicate message is rejected and changes nothing", () => {
    const triggered: Item[] = [];
    const store = createMessageStore<Item>(byVersion, (m) => triggered.push(m));
    const a5 = item("a", 5);
    store.add(a5);
    assert.equal(store.add(item("a", 4)), false);
    assert.equal(store.add(item("a", 5)), false);
    assert.deepEqual(store.get(), [a5]);
    assert.deepEqual(triggered, []);
  });

  it("checkValid answers as add would, without changing the store", () => {
    const triggered: Item[] = [];
    const store = createMessageStore<Item>(byVersion, (m) => triggered.push(m));
    const a1 = item("a", 1);
    store.add(a1);
    assert.equal(store.checkValid(item("a", 0)), false);
    assert.equal(store.checkValid(item("a", 1)), false);
    assert.equal(store.checkValid(item("a", 2)), true);
    assert.equal(store.checkValid(item("z", 0)), true);
    assert.deepEqual(store.get(), [a1]);
    assert.deepEqual(triggered, []);
  });

  it("as in Fabric, messages evicted before a stored one rejects the new message stay evicted", () => {
    // An inconsistent policy: 10 evicts 1, but the stored 2 rejects 10.
    const policy = (a: number, b: number): R => {
      if (a === 10 && b === 1) return R.Invalidates;
      if (a === 10 && b === 2) return R.Invalidated;
      return R.NoAction;
    };
    const triggered: number[] = [];
    const store = createMessageStore<number>(policy, (m) => triggered.push(m));
    store.add(1);
    store.add(2);
    store.add(3);
    assert.equal(store.add(10), false);
    assert.deepEqual(store.get(), [2, 3]);
    assert.deepEqual(triggered, [1]);
  });

  it("purge removes what the predicate selects and calls the trigger for each", () => {
    const triggered: number[] = [];
    const store = createMessageStore<number>(() => R.NoAction, (m) => triggered.push(m));
    for (let i = 0; i < 6; i++) store.add(i);
    store.purge((m) => m % 2 === 0);
    assert.deepEqual(store.get(), [1, 3, 5]);
    assert.deepEqual(triggered, [0, 2, 4]);
    store.purge(() => false);
    assert.deepEqual(triggered, [0, 2, 4]);
  });

  it("get returns a fresh array the caller may change", () => {
    const store = createMessageStore<number>(() => R.NoAction);
    store.add(1);
    const got = store.get();
    got.push(2);
    assert.deepEqual(store.get(), [1]);
  });

  it("a trigger may read the store: it runs after the store was updated", () => {
    let seen: Item[] = [];
    const store = createMessageStore<Item>(byVersion, () => {
      seen = store.get();
    });
    store.add(item("a", 1));
    const a2 = item("a", 2);
    store.add(a2);
    assert.deepEqual(seen, [a2]);
  });

  it("with Fabric's comparator, blocks form a sliding window of maxBlocks + 1 sequence numbers", () => {
    const block = (seqNum: bigint) =>
      SignedGossipMessage.noopSign({
        nonce: 0n,
        channel: new Uint8Array(0),
        tag: Tag.CHAN_AND_ORG,
        content: { $case: "dataMsg", value: { payload: { seqNum, data: new Uint8Array(0), privateData: [] } } },
      });
    const seqOf = (m: SignedGossipMessage): bigint => (m.message.content?.$case === "dataMsg" ? (m.message.content.value.payload?.seqNum ?? -1n) : -1n);
    const evicted: bigint[] = [];
    const store = createMessageStore(createGossipMessageComparator(5), (m) => evicted.push(seqOf(m)));
    for (let s = 1n; s <= 20n; s++) assert.equal(store.add(block(s)), true);
    assert.deepEqual(store.get().map(seqOf), [15n, 16n, 17n, 18n, 19n, 20n]);
    assert.deepEqual(evicted, Array.from({ length: 14 }, (_, i) => BigInt(i + 1)));
    assert.equal(store.add(block(17n)), false, "a duplicate block is rejected");
    assert.equal(store.add(block(3n)), false, "a block below the window is rejected");
  });

  it("a store without TTL runs no timer", () => {
    const clock = new ManualClock(0);
    const before = clock.pendingTimers();
    const store = createMessageStore<number>(() => R.NoAction);
    store.add(1);
    assert.equal(clock.pendingTimers(), before);
    store.stop();
    store.stop();
    assert.deepEqual(store.get(), [1], "the store stays usable after stop");
  });
});

describe("msgstore: expiration (Fabric's NewMessageStoreExpirable)", () => {
  const TTL = 1000;

  function expirable(onExpire?: (m: Item) => void) {
    const clock = new ManualClock(0);
    const triggered: Item[] = [];
    const expired: Item[] = [];
    const store = createMessageStore<Item>(byVersion, (m) => triggered.push(m), {
      ttlMs: TTL,
      clock,
      onExpire: onExpire ?? ((m) => expired.push(m)),
    });
    return { clock, store, triggered, expired };
  }

  it("rejects a TTL that is not positive", () => {
    const clock = new ManualClock(0);
    for (const ttlMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => createMessageStore<number>(() => R.NoAction, undefined, { ttlMs, clock }),
        (err: unknown) => err instanceof MessageStoreError && err.code === "INVALID_OPTIONS",
      );
    }
    assert.equal(clock.pendingTimers(), 0);
  });

  it("checks every TTL/100 as one chain of timeouts", async (t) => {
    const { clock, store } = expirable();
    t.after(() => store.stop());
    assert.equal(clock.pendingTimers(), 1);
    await clock.advance(TTL * 3);
    assert.equal(clock.pendingTimers(), 1);
  });

  it("a message older than the TTL is hidden and reported once, yet still rejects old replays until 2xTTL", async (t) => {
    const { clock, store, expired, triggered } = expirable();
    t.after(() => store.stop());
    const a5 = item("a", 5);
    store.add(a5);
    await clock.advance(TTL);
    assert.deepEqual(store.get(), [a5], "exactly TTL old is not yet expired");
    assert.deepEqual(expired, []);

    await clock.advance(TTL / 100);
    assert.deepEqual(store.get(), []);
    assert.equal(store.size(), 0);
    assert.deepEqual(expired, [a5]);

    // An old replay is still rejected while the expired message is remembered.
    assert.equal(store.checkValid(item("a", 4)), false);
    assert.equal(store.add(item("a", 5)), false);
    await clock.advance(TTL - TTL / 100);
    assert.equal(clock.now(), 2 * TTL);
    assert.equal(store.add(item("a", 3)), false);
    assert.deepEqual(expired, [a5], "the expiration callback runs once per message");

    await clock.advance(TTL / 100);
    assert.equal(store.checkValid(item("a", 3)), true, "physically deleted after 2xTTL");
    assert.deepEqual(triggered, [], "physical deletion is not an invalidation");
  });

  it("a newer message evicts an expired one through the trigger and is visible", async (t) => {
    const { clock, store, triggered } = expirable();
    t.after(() => store.stop());
    const a1 = item("a", 1);
    store.add(a1);
    await clock.advance(TTL + 50);
    assert.equal(store.size(), 0);
    const a2 = item("a", 2);
    assert.equal(store.add(a2), true);
    assert.deepEqual(triggered, [a1]);
    assert.deepEqual(store.get(), [a2]);
    assert.equal(store.size(), 1);
  });

  it("purge also removes expired messages", async (t) => {
    const { clock, store, triggered } = expirable();
    t.after(() => store.stop());
    const a1 = item("a", 1);
    store.add(a1);
    await clock.advance(TTL + 50);
    store.purge(() => true);
    assert.deepEqual(triggered, [a1]);
    assert.equal(store.checkValid(item("a", 0)), true);
  });

  it("each message expires on its own age", async (t) => {
    const { clock, store, expired } = expirable();
    t.after(() => store.stop());
    const a = item("a", 1);
    store.add(a);
    await clock.advance(500);
    const b = item("b", 1);
    store.add(b);
    await clock.advance(520);
    assert.deepEqual(expired, [a]);
    assert.deepEqual(store.get(), [b]);
    await clock.advance(500);
    assert.deepEqual(expired, [a, b]);
    assert.equal(store.size(), 0);
  });

  it("a throwing expiration callback is logged and the check chain goes on", async (t) => {
    const clock = new ManualClock(0);
    const logger = new MemoryLogger();
    const seen: number[] = [];
    const store = createMessageStore<number>(() => R.NoAction, undefined, {
      ttlMs: 100,
      clock,
      logger,
      onExpire: (m) => {
        seen.push(m);
        if (m === 1) throw new Error("boom");
      },
    });
    t.after(() => store.stop());
    store.add(1);
    store.add(2);
    await clock.advance(105);
    assert.deepEqual(seen, [1, 2]);
    assert.ok(logger.lines.some((e) => e.level === "error"));
    store.add(3);
    await clock.advance(105);
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it("stop leaves no timer, is idempotent, and nothing expires afterwards", async () => {
    const { clock, store, expired } = expirable();
    store.add(item("a", 1));
    store.stop();
    store.stop();
    assert.equal(clock.pendingTimers(), 0);
    await clock.advance(TTL * 5);
    assert.deepEqual(expired, []);
    assert.equal(store.size(), 1);
  });

  it("a tiny TTL checks at most every millisecond", async (t) => {
    const clock = new ManualClock(0);
    const expired: number[] = [];
    const store = createMessageStore<number>(() => R.NoAction, undefined, { ttlMs: 10, clock, onExpire: (m) => expired.push(m) });
    t.after(() => store.stop());
    store.add(7);
    await clock.advance(10);
    assert.deepEqual(expired, []);
    await clock.advance(1);
    assert.deepEqual(expired, [7]);
  });
});

describe("msgstore: properties", () => {
  const ops = fc.array(fc.record({ key: fc.constantFrom("a", "b", "c", "d"), ver: fc.integer({ min: 0, max: 6 }) }), {
    maxLength: 60,
  });

  it("never holds two items where one invalidates the other, and keeps the first item of each key's highest version", () => {
    fc.assert(
      fc.property(ops, (seq) => {
        const triggered: Item[] = [];
        const store = createMessageStore<Item>(byVersion, (m) => triggered.push(m));
        const accepted: Item[] = [];
        const added = seq.map(({ key, ver }) => item(key, ver));
        for (const it of added) {
          const valid = store.checkValid(it);
          const ok = store.add(it);
          assert.equal(ok, valid, "add accepts exactly what checkValid allowed");
          if (ok) accepted.push(it);
        }
        const held = store.get();
        for (const x of held) for (const y of held) if (x !== y) assert.equal(byVersion(x, y), R.NoAction);
        // Model: per key, the first item carrying the key's maximal version.
        const expected = new Map<string, Item>();
        for (const it of added) {
          const cur = expected.get(it.key);
          if (cur === undefined || it.ver > cur.ver) expected.set(it.key, it);
        }
        assert.deepEqual(new Set(held), new Set(expected.values()));
        // Conservation: every accepted item is either held or was evicted exactly once.
        assert.equal(new Set(triggered).size, triggered.length);
        assert.deepEqual(new Set([...held, ...triggered]), new Set(accepted));
        for (const x of triggered) assert.ok(!held.includes(x));
        assert.equal(store.size(), held.length);
      }),
    );
  });

  it("a block-like window policy never lets two held items conflict", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 80 }), (w, seq) => {
        const policy = windowPolicy(w);
        const store = createMessageStore<number>(policy);
        for (const n of seq) store.add(n);
        const held = store.get();
        for (let i = 0; i < held.length; i++) {
          for (let j = 0; j < held.length; j++) if (i !== j) assert.equal(policy(held[i]!, held[j]!), R.NoAction);
        }
        if (seq.length > 0) assert.ok(held.includes(Math.max(...seq)), "the highest number is always held");
      }),
    );
  });

  it("in virtual time, nothing older than TTL plus one check interval is visible and each expiry is reported once", async () => {
    const TTL = 100;
    const step = fc.oneof(
      fc.record({ kind: fc.constant("add" as const), key: fc.constantFrom("a", "b", "c"), ver: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 1, max: 120 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 25 }), async (steps) => {
        const clock = new ManualClock(0);
        const addedAt = new Map<Item, number>();
        const expired: Item[] = [];
        const store = createMessageStore<Item>(byVersion, undefined, { ttlMs: TTL, clock, onExpire: (m) => expired.push(m) });
        try {
          for (const s of steps) {
            if (s.kind === "add") {
              const it = item(s.key, s.ver);
              if (store.add(it)) addedAt.set(it, clock.now());
            } else {
              await clock.advance(s.ms);
            }
            const now = clock.now();
            const held = store.get();
            assert.equal(store.size(), held.length);
            for (const x of held) assert.ok(now - addedAt.get(x)! <= TTL + TTL / 100, "an old message is still visible");
            for (const x of expired) {
              assert.ok(now - addedAt.get(x)! > TTL, "expired too early");
              assert.ok(!held.includes(x));
            }
            assert.equal(new Set(expired).size, expired.length);
            for (const x of held) for (const y of held) if (x !== y) assert.equal(byVersion(x, y), R.NoAction);
          }
        } finally {
          store.stop();
        }
        assert.equal(clock.pendingTimers(), 0);
      }),
      { numRuns: 60 },
    );
  });
});
