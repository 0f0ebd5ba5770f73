/**
 * The membership view discovery keeps up to date per change (membershipView / membershipVersion /
 * getMembership): it changes on every kind of change to the alive view and on nothing else, and
 * always says what a from-scratch build from the alive messages would.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PkiHex } from "../../../src/api/identity.js";
import { AliveView } from "../../../src/discovery/alive-view.js";
import type { Discovery, NetworkMember } from "../../../src/discovery/index.js";
import { SignedGossipMessage } from "../../../src/protoext/signed-message.js";
import { fromUtf8, utf8 } from "../../../src/util/bytes.js";
import { SeededRandom } from "../../../src/util/random.js";
import { endpoints, TEST_OPTIONS, TestNetwork } from "./harness.js";
import { fixture, memRes, RemotePeer } from "./recording-comm.js";

const EXPIRATION = TEST_OPTIONS.aliveExpirationTimeoutMs!;
const CHECK = TEST_OPTIONS.aliveExpirationCheckIntervalMs!;

function ids(members: readonly NetworkMember[]): string[] {
  return members.map((m) => fromUtf8(m.pkiId));
}

/** Asserts the view changed: a new version and a new array instance. Returns the new state. */
function changed(d: Discovery, before: { version: number; view: readonly NetworkMember[] }, what: string): { version: number; view: readonly NetworkMember[] } {
  const version = d.membershipVersion();
  const view = d.membershipView();
  assert.ok(version > before.version, `${what}: the version grows`);
  assert.notEqual(view, before.view, `${what}: a new view`);
  return { version, view };
}

function unchanged(d: Discovery, before: { version: number; view: readonly NetworkMember[] }, what: string): void {
  assert.equal(d.membershipVersion(), before.version, `${what}: same version`);
  assert.equal(d.membershipView(), before.view, `${what}: same view instance`);
}

function state(d: Discovery): { version: number; view: readonly NetworkMember[] } {
  return { version: d.membershipVersion(), view: d.membershipView() };
}

describe("AliveView", () => {
  const msg = SignedGossipMessage.noopSign({ nonce: 0n, channel: new Uint8Array(0), tag: 0, content: { $case: "empty", value: {} } });
  const member = (name: string, endpoint = name): NetworkMember => ({ pkiId: utf8(name), endpoint, internalEndpoint: "", metadata: new Uint8Array(0) });
  const k = (name: string): PkiHex => name as PkiHex;

  it("keeps a Map's order: a known key stays in place, a new one goes last, a delete closes the gap", () => {
    const v = new AliveView();
    for (const n of ["a", "b", "c", "d"]) v.set(k(n), msg, member(n));
    v.set(k("b"), msg, member("b", "b2"));
    assert.deepEqual(ids(v.members()), ["a", "b", "c", "d"]);
    assert.equal(v.members()[1]!.endpoint, "b2");
    assert.equal(v.delete(k("b")), true);
    assert.equal(v.delete(k("b")), false);
    v.set(k("b"), msg, member("b"));
    v.set(k("c"), msg, member("c", "c2"));
    assert.deepEqual(ids(v.members()), ["a", "c", "d", "b"]);
    assert.equal(v.members()[1]!.endpoint, "c2", "indices were renumbered after the delete");
    assert.equal(v.size, 4);
    assert.ok(v.has(k("a")) && !v.has(k("z")));
    assert.equal(v.get(k("a")), msg);
    assert.equal([...v.messages()].length, 4);
  });

  it("hands out a frozen array that stays the same until a change, and never changes once handed out", () => {
    const v = new AliveView();
    v.set(k("a"), msg, member("a"));
    v.set(k("b"), msg, member("b"));
    const first = v.members();
    const version = v.version;
    assert.equal(v.members(), first);
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first[0]));
    assert.throws(() => (first as NetworkMember[]).push(member("x")), TypeError);
    assert.throws(() => {
      (first[0] as { endpoint: string }).endpoint = "changed";
    }, TypeError);
    v.set(k("a"), msg, member("a", "a2"));
    v.delete(k("b"));
    v.set(k("c"), msg, member("c"));
    assert.deepEqual(ids(first), ["a", "b"], "the old array is a snapshot");
    assert.equal(first[0]!.endpoint, "a");
    assert.deepEqual(ids(v.members()), ["a", "c"]);
    assert.equal(v.version, version + 3, "one version per change");
  });

  it("lends its array to a read: unchanged while the read runs, changed in place after it, never copied for it", () => {
    const v = new AliveView();
    for (const n of ["a", "b"]) v.set(k(n), msg, member(n));
    let lent: readonly NetworkMember[] = [];
    const length = v.read((members) => {
      lent = members;
      // A change while the read runs goes to a copy: the lent array is as it was.
      v.set(k("a"), msg, member("a", "a2"));
      v.delete(k("b"));
      v.read((inner) => assert.deepEqual(ids(inner), ["a"], "a nested read sees the change"));
      return members.length;
    });
    assert.equal(length, 2);
    assert.deepEqual(ids(lent), ["a", "b"]);
    assert.equal(lent[0]!.endpoint, "a");
    // After the read, a change needs no copy: the next read is lent the very array the change was made to.
    const before = v.read((members) => members);
    v.set(k("a"), msg, member("a", "a3"));
    v.set(k("c"), msg, member("c"));
    assert.equal(
      v.read((members) => members),
      before,
      "changed in place",
    );
    assert.deepEqual(ids(before), ["a", "c"]);
    // A hand-out still freezes: the next change copies.
    const handed = v.members();
    v.set(k("d"), msg, member("d"));
    assert.deepEqual(ids(handed), ["a", "c"]);
    assert.deepEqual(ids(v.read((members) => members)), ["a", "c", "d"]);
  });

  it("matches a Map under random changes (fast path and copies alike)", () => {
    const rnd = new SeededRandom(3);
    const v = new AliveView();
    const ref = new Map<string, string>();
    let held: readonly NetworkMember[] = [];
    let heldRef: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      const name = `m${rnd.int(40)}`;
      const r = rnd.int(10);
      if (r < 3) {
        assert.equal(v.delete(k(name)), ref.delete(name));
      } else if (r < 9) {
        const ep = `${name}-${i}`;
        v.set(k(name), msg, member(name, ep));
        ref.set(name, ep);
      } else {
        assert.deepEqual(ids(held), heldRef, "a view handed out earlier did not change");
        held = v.members();
        heldRef = [...ref.keys()];
      }
      if (i % 50 === 0) {
        assert.deepEqual(
          v.members().map((m) => [fromUtf8(m.pkiId), m.endpoint]),
          [...ref.entries()],
        );
      }
    }
  });
});

describe("discovery's membership view", () => {
  it("changes on learn, refresh, expiration, presumed death, resurrection and purge; stays the same in between", async () => {
    const f = await fixture();
    const d = f.disc;
    const p1 = new RemotePeer("p1:7051", 1_000n, "10.0.0.1:7051");
    const p2 = new RemotePeer("p2:7051", 1_000n, "10.0.0.2:7051");
    let s = state(d);
    assert.deepEqual(s.view, []);

    // Learned from a pushed alive message.
    f.comm.deliver(p1.alive(), p1.pkiId);
    s = changed(d, s, "learn");
    assert.deepEqual(ids(s.view), ["p1:7051"]);
    assert.equal(s.view[0]!.internalEndpoint, "10.0.0.1:7051");
    await f.clock.advance(CHECK);
    unchanged(d, s, "time passes with no change");

    // Learned from a MembershipResponse.
    f.comm.deliver(memRes(0n, [p2.alive()]), p1.pkiId);
    s = changed(d, s, "learn from a response");
    assert.deepEqual(ids(s.view), ["p1:7051", "p2:7051"]);

    // A stale duplicate changes nothing; a newer alive message refreshes the member in place.
    const a1 = p1.alive({ metadata: "m1" });
    f.comm.deliver(a1, p1.pkiId);
    s = changed(d, s, "refresh");
    assert.deepEqual(ids(s.view), ["p1:7051", "p2:7051"], "a refresh keeps the order");
    assert.equal(fromUtf8(s.view[0]!.metadata), "m1");
    assert.deepEqual(s.view[0]!.envelope, a1.envelope);
    f.comm.deliver(a1, p1.pkiId);
    unchanged(d, s, "a duplicate");

    // A newer message without a secret keeps the known internal endpoint (as lookup says).
    f.comm.deliver(p1.alive({ secret: false }), p1.pkiId);
    s = changed(d, s, "refresh without a secret");
    assert.equal(s.view[0]!.internalEndpoint, "10.0.0.1:7051");

    // Presumed dead by comm.
    for (const l of f.comm.deadListeners) l(p2.pkiId);
    s = changed(d, s, "presumed dead");
    assert.deepEqual(ids(s.view), ["p1:7051"]);

    // Resurrected by a newer alive message.
    f.comm.deliver(p2.alive(), p2.pkiId);
    s = changed(d, s, "resurrection");
    assert.deepEqual(ids(s.view), ["p1:7051", "p2:7051"]);

    // Expired for silence (p1 keeps talking).
    for (let t = 0; t <= EXPIRATION + CHECK; t += CHECK) {
      f.comm.deliver(p1.alive(), p1.pkiId);
      await f.clock.advance(CHECK);
    }
    assert.deepEqual(ids(d.membershipView()), ["p1:7051"], "p2 expired");
    s = state(d);

    // Purged on an identity switch.
    for (const l of f.comm.switchListeners) l(p1.pkiId);
    s = changed(d, s, "purge");
    assert.deepEqual(s.view, []);

    // getMembership is a copy of the view the caller may change.
    f.comm.deliver(p2.alive(), p2.pkiId);
    const copy = d.getMembership();
    assert.notEqual(copy, d.membershipView());
    assert.deepEqual(copy, [...d.membershipView()]);
    copy.pop();
    assert.equal(d.membershipView().length, 1);

    await d.stop();
    assert.deepEqual(d.membershipView(), [], "empty once stopped");
    assert.deepEqual(d.getMembership(), []);
  });

  it("always equals a view built from scratch, over a churning network", async () => {
    const net = new TestNetwork({ seed: 5 });
    const eps = endpoints("n", 8);
    for (const [i, e] of eps.entries()) net.add({ endpoint: e, bootstrap: i === 0 ? [] : [eps[0]!], externalEndpoint: i % 3 === 2 ? "" : e });
    await net.startAll();
    const rnd = new SeededRandom(9);
    let checks = 0;
    for (let step = 0; step < 60; step++) {
      await net.clock.advance(250);
      if (step % 6 === 5) {
        const node = net.nodes[1 + rnd.int(net.nodes.length - 1)]!;
        if (node.up) await node.stop();
        else await node.start();
      }
      for (const n of net.nodes) {
        if (!n.up) continue;
        const d = n.d;
        const view = d.membershipView();
        const dead = new Set(d.getDeadMembers().map((m) => fromUtf8(m.pkiId)));
        for (const m of view) {
          // What getMembership built from scratch: the member from its latest alive message, the internal endpoint from lookup.
          const known = d.lookup(m.pkiId)!;
          assert.ok(known !== undefined, "every member is known");
          assert.equal(m.internalEndpoint, known.internalEndpoint);
          assert.equal(m.endpoint, known.endpoint);
          const alive = SignedGossipMessage.fromEnvelope(m.envelope!).message.content;
          assert.equal(alive?.$case, "aliveMsg");
          if (alive?.$case === "aliveMsg") assert.deepEqual(alive.value.membership?.pkiId, m.pkiId);
          assert.ok(!dead.has(fromUtf8(m.pkiId)), "no member is both alive and dead");
          checks++;
        }
        assert.equal(new Set(ids(view)).size, view.length, "no member twice");
        assert.equal(d.membershipView(), view, "no change without an event");
      }
    }
    assert.ok(checks > 500);
    await net.shutdown();
  });
});
