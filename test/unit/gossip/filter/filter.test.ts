import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { NetworkMember } from "../../../../src/discovery/index.js";
import { type RoutingFilter, anyMatch, combine, first, selectAll, selectNone, selectPeers, selectPeersPreferring } from "../../../../src/gossip/filter/index.js";
import { SeededRandom, fromUtf8, utf8 } from "../../../../src/util/index.js";

/** A member with more fields than the filter needs, as discovery's NetworkMember has. */
interface Member {
  endpoint: string;
  internalEndpoint: string;
  pkiId: Uint8Array;
  metadata: Uint8Array;
  org: string;
}

const member = (i: number, org = "A", internal = true): Member => ({
  endpoint: `ext${i}:7051`,
  internalEndpoint: internal ? `int${i}:7051` : "",
  pkiId: utf8(`p${i}`),
  metadata: new Uint8Array(0),
  org,
});

const pool = (n: number): Member[] => Array.from({ length: n }, (_, i) => member(i, i % 2 === 0 ? "A" : "B", i % 3 !== 0));
const inOrg =
  (org: string): RoutingFilter<Member> =>
  (m) =>
    m.org === org;

describe("filter: policies (Fabric's gossip/filter)", () => {
  it("selectAll selects every member and selectNone none", () => {
    const m = member(1);
    assert.equal(selectAll(m), true);
    assert.equal(selectNone(m), false);
  });

  it("combine is a logical AND that stops at the first refusal; no filters selects all", () => {
    const calls: string[] = [];
    const f =
      (name: string, ok: boolean): RoutingFilter<Member> =>
      () => {
        calls.push(name);
        return ok;
      };
    assert.equal(combine(f("a", true), f("b", true))(member(0)), true);
    assert.deepEqual(calls, ["a", "b"]);
    calls.length = 0;
    assert.equal(combine(f("a", true), f("b", false), f("c", true))(member(0)), false);
    assert.deepEqual(calls, ["a", "b"]);
    assert.equal(combine<Member>()(member(0)), true);
    assert.equal(combine<Member>(selectAll, selectNone)(member(0)), false);
  });
});

describe("filter: selectPeers", () => {
  it("returns k distinct matching peers addressed by their preferred endpoint", () => {
    const rng = new SeededRandom(1);
    const peers = pool(12);
    const got = selectPeers(3, peers, inOrg("A"), rng);
    assert.equal(got.length, 3);
    assert.equal(new Set(got.map((p) => fromUtf8(p.pkiId))).size, 3);
    for (const p of got) {
      const m = peers.find((x) => x.pkiId === p.pkiId)!;
      assert.equal(m.org, "A");
      assert.equal(p.endpoint, m.internalEndpoint !== "" ? m.internalEndpoint : m.endpoint);
    }
  });

  it("prefers the internal endpoint and falls back to the external one", () => {
    const rng = new SeededRandom(2);
    assert.deepEqual(selectPeers(1, [member(4, "A", true)], selectAll, rng), [{ endpoint: "int4:7051", pkiId: utf8("p4") }]);
    assert.deepEqual(selectPeers(1, [member(5, "A", false)], selectAll, rng), [{ endpoint: "ext5:7051", pkiId: utf8("p5") }]);
  });

  it("returns every match when fewer than k match, and nothing for k <= 0 or an empty pool", () => {
    const rng = new SeededRandom(3);
    const peers = pool(7);
    const matches = peers.filter((m) => m.org === "B").length;
    assert.equal(selectPeers(100, peers, inOrg("B"), rng).length, matches);
    assert.deepEqual(selectPeers(0, peers, selectAll, rng), []);
    assert.deepEqual(selectPeers(-1, peers, selectAll, rng), []);
    assert.deepEqual(selectPeers(3, [], selectAll, rng), []);
    assert.deepEqual(selectPeers(3, peers, selectNone, rng), []);
  });

  it("stops walking the pool once k peers are found", () => {
    const rng = new SeededRandom(4);
    let calls = 0;
    const counting: RoutingFilter<Member> = () => {
      calls++;
      return true;
    };
    selectPeers(2, pool(1000), counting, rng);
    assert.equal(calls, 2);
  });

  it("draws uniformly: every matching peer is picked about equally often, a refused one never", () => {
    const rng = new SeededRandom(5);
    const peers = pool(6);
    const counts = new Map<string, number>();
    const draws = 6000;
    for (let i = 0; i < draws; i++) {
      for (const p of selectPeers(1, peers, inOrg("A"), rng)) {
        const id = fromUtf8(p.pkiId);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    }
    assert.deepEqual([...counts.keys()].sort(), ["p0", "p2", "p4"]);
    for (const c of counts.values()) assert.ok(Math.abs(c - draws / 3) < draws * 0.05, `count ${c} is far from ${draws / 3}`);
  });

  it("is reproducible for a seed", () => {
    const a = selectPeers(4, pool(30), selectAll, new SeededRandom(99)).map((p) => p.endpoint);
    const b = selectPeers(4, pool(30), selectAll, new SeededRandom(99)).map((p) => p.endpoint);
    assert.deepEqual(a, b);
  });

  it("selects the same inside another selection's filter, and after a filter threw", () => {
    const alone = selectPeers(4, pool(30), selectAll, new SeededRandom(5)).map((p) => p.endpoint);
    let nested: string[] = [];
    const outer = selectPeers(
      1,
      pool(10),
      () => {
        nested = selectPeers(4, pool(30), selectAll, new SeededRandom(5)).map((p) => p.endpoint);
        return true;
      },
      new SeededRandom(1),
    );
    assert.equal(outer.length, 1);
    assert.deepEqual(nested, alone, "a selection inside a filter");
    assert.throws(() =>
      selectPeersPreferring(
        2,
        pool(10),
        () => {
          throw new Error("filter failed");
        },
        new SeededRandom(1),
        () => true,
      ),
    );
    assert.deepEqual(selectPeers(4, pool(30), selectAll, new SeededRandom(5)).map((p) => p.endpoint), alone, "after a filter threw");
  });

  it("property: min(k, matches) distinct matching peers", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: -2, max: 45 }),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        fc.integer(),
        (n, k, accept, seed) => {
          const peers = pool(n);
          const filter: RoutingFilter<Member> = (m) => accept[Number(fromUtf8(m.pkiId).slice(1))]!;
          const got = selectPeers(k, peers, filter, new SeededRandom(seed));
          const matches = peers.filter(filter);
          assert.equal(got.length, Math.max(0, Math.min(k, matches.length)));
          const ids = got.map((p) => fromUtf8(p.pkiId));
          assert.equal(new Set(ids).size, ids.length);
          for (const id of ids) assert.ok(matches.some((m) => fromUtf8(m.pkiId) === id));
        },
      ),
    );
  });
});

describe("filter: on discovery's NetworkMember", () => {
  it("a RoutingFilter defaults to NetworkMember and the selection helpers take NetworkMembers", () => {
    const members: NetworkMember[] = [
      { endpoint: "a:1", internalEndpoint: "", pkiId: utf8("a"), metadata: new Uint8Array(0) },
      { endpoint: "", internalEndpoint: "b-int:1", pkiId: utf8("b"), metadata: new Uint8Array(0) },
    ];
    const hasExternal: RoutingFilter = (m) => m.endpoint !== "";
    assert.deepEqual(selectPeers(5, members, combine(selectAll, hasExternal), new SeededRandom(7)), [{ endpoint: "a:1", pkiId: utf8("a") }]);
    assert.deepEqual(first(members, (m) => m.endpoint === ""), { endpoint: "b-int:1", pkiId: utf8("b") });
    assert.deepEqual(anyMatch(members, hasExternal), [members[0]]);
  });
});

describe("filter: first and anyMatch", () => {
  it("first returns the first match in pool order, or undefined", () => {
    const peers = pool(6);
    assert.deepEqual(first(peers, inOrg("B")), { endpoint: "int1:7051", pkiId: utf8("p1") });
    assert.deepEqual(first(peers, (m) => m.endpoint === "ext3:7051"), { endpoint: "ext3:7051", pkiId: utf8("p3") });
    assert.equal(first(peers, selectNone), undefined);
    assert.equal(first([], selectAll), undefined);
  });

  it("anyMatch keeps, in order and as given, the members passing at least one filter", () => {
    const peers = pool(6);
    const got = anyMatch(peers, (m) => m.endpoint === "ext5:7051", (m) => m.endpoint === "ext0:7051");
    assert.deepEqual(got, [peers[0], peers[5]]);
    assert.equal(got[0], peers[0], "the member objects themselves are returned");
    assert.deepEqual(anyMatch(peers), []);
    assert.deepEqual(anyMatch(peers, selectAll), peers);
  });
});

describe("filter: selectPeersPreferring (members heard from directly first)", () => {
  const direct = (m: Member): boolean => m.org === "A";

  it("with every candidate preferred, it picks exactly what selectPeers picks for the same seed", () => {
    const p = Array.from({ length: 40 }, (_, i) => member(i, "A"));
    for (let seed = 1; seed <= 20; seed++) {
      assert.deepEqual(selectPeersPreferring(3, p, selectAll, new SeededRandom(seed), direct), selectPeers(3, p, selectAll, new SeededRandom(seed)));
    }
  });

  it("second-hand members take at most floor(k/2) places while preferred ones can take the rest", () => {
    // 2 members heard from directly among 1,000 invented ones (the attack): each pick holds both.
    const p = [member(0, "A"), member(1, "A"), ...Array.from({ length: 1_000 }, (_, i) => member(i + 2, "B"))];
    const random = new SeededRandom(7);
    for (let round = 0; round < 200; round++) {
      const got = selectPeersPreferring(3, p, selectAll, random, direct);
      assert.equal(got.length, 3);
      assert.deepEqual(got.filter((r) => r.endpoint === "int0:7051" || r.endpoint === "int1:7051").length, 2, `round ${round}`);
      assert.equal(new Set(got.map((r) => r.endpoint)).size, 3, "distinct");
    }
    // Plain uniform selection would almost never reach them.
    let plainHits = 0;
    for (let round = 0; round < 200; round++) plainHits += selectPeers(3, p, selectAll, random).filter((r) => r.endpoint === "int0:7051").length;
    assert.ok(plainHits < 10, `uniform: ${plainHits} of 200 picks reached member 0`);
  });

  it("places no preferred member can take still go to second-hand members, and filters apply to both", () => {
    const p = [member(0, "A"), ...Array.from({ length: 10 }, (_, i) => member(i + 1, "B"))];
    const got = selectPeersPreferring(5, p, selectAll, new SeededRandom(3), direct);
    assert.equal(got.length, 5, "one preferred and four second-hand");
    assert.ok(got.some((r) => r.endpoint === "int0:7051"));
    const none = selectPeersPreferring(5, p, (m) => m.org === "B" && m.endpoint !== "ext1:7051", new SeededRandom(3), direct);
    assert.equal(none.length, 5);
    assert.ok(none.every((r) => r.endpoint !== "int0:7051" && r.endpoint !== "int1:7051"));
    assert.deepEqual(selectPeersPreferring(0, p, selectAll, new SeededRandom(3), direct), []);
    assert.deepEqual(selectPeersPreferring(3, [], selectAll, new SeededRandom(3), direct), []);
  });
});
