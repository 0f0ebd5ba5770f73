import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { MessageCryptoService, OrgIdentityType, PKIidType, PeerIdentityType, SecurityAdvisor } from "../../../src/api/index.js";
import { DevMessageCryptoService } from "../../../src/crypto/dev-mcs.js";
import { CryptoError } from "../../../src/crypto/errors.js";
import {
  type IdentityMapper,
  type IdentityMapperComponents,
  IdentityError,
  MAX_TIMER_DELAY_MS,
  createIdentityMapper,
} from "../../../src/identity/index.js";
import { MemoryLogger, silentLogger } from "../../../src/logging/index.js";
import type { Block } from "../../../src/protos/gen/common/common.pb.js";
import { ManualClock, bytesEqual, fromUtf8, utf8 } from "../../../src/util/index.js";

const HOUR = 3_600_000;
const MIN = 60_000;

/**
 * A small MCS for expiry and revocation: an identity is "name|org|variant"; its PKI-ID is "name", so two
 * variants share a PKI-ID. Signatures equal the signed bytes.
 */
class FakeMcs implements MessageCryptoService, SecurityAdvisor {
  readonly expirations = new Map<string, Date>();
  readonly revoked = new Set<string>();
  readonly unclassifiable = new Set<string>();
  validations = 0;

  getPKIidOfCert(peerIdentity: PeerIdentityType): PKIidType {
    return utf8(fromUtf8(peerIdentity).split("|")[0]!);
  }
  verifyBlock(_channelId: string, _seqNum: bigint, _block: Block): void {}
  sign(msg: Uint8Array): Uint8Array {
    return msg.slice();
  }
  verify(_peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void {
    if (!bytesEqual(signature, message)) throw new CryptoError("BAD_SIGNATURE", "signature is not the message");
  }
  verifyByChannel(_c: string, peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void {
    this.verify(peerIdentity, signature, message);
  }
  validateIdentity(peerIdentity: PeerIdentityType): void {
    this.validations++;
    if (this.revoked.has(fromUtf8(peerIdentity))) throw new CryptoError("REVOKED_IDENTITY", "the certificate is revoked");
  }
  expiration(peerIdentity: PeerIdentityType): Date | undefined {
    const id = fromUtf8(peerIdentity);
    if (this.unclassifiable.has(id)) throw new CryptoError("MALFORMED_IDENTITY", "cannot parse");
    return this.expirations.get(id);
  }
  orgByPeerIdentity(peerIdentity: PeerIdentityType): OrgIdentityType {
    return utf8(fromUtf8(peerIdentity).split("|")[1] ?? "");
  }
}

const SELF = "self|ORG1|v1";
const idOf = (s: string): PeerIdentityType => utf8(s);
const pkiOf = (s: string): PKIidType => utf8(s.split("|")[0]!);

function setup(opts: { usageThresholdMs?: number; self?: string; prepare?: (mcs: FakeMcs) => void } = {}) {
  const clock = new ManualClock(0);
  const mcs = new FakeMcs();
  opts.prepare?.(mcs);
  const purged: string[] = [];
  const logger = new MemoryLogger();
  const components: IdentityMapperComponents = {
    mcs,
    securityAdvisor: mcs,
    selfIdentity: idOf(opts.self ?? SELF),
    clock,
    logger,
    onPurge: (pkiId, identity) => purged.push(`${fromUtf8(pkiId)}=${fromUtf8(identity)}`),
  };
  const mapper = createIdentityMapper(components, opts.usageThresholdMs === undefined ? {} : { usageThresholdMs: opts.usageThresholdMs });
  return { clock, mcs, mapper, purged, logger };
}

const put = (mapper: IdentityMapper, s: string): void => mapper.put(pkiOf(s), idOf(s));
const known = (mapper: IdentityMapper): string[] => mapper.identityInfo().map((i) => fromUtf8(i.identity)).sort();
const code = (c: string) => (err: unknown) => err instanceof IdentityError && err.code === c;

describe("identity mapper with the development MCS", () => {
  const dev = new DevMessageCryptoService();
  const make = () => {
    const clock = new ManualClock(0);
    const mapper = createIdentityMapper({ mcs: dev, securityAdvisor: dev, selfIdentity: utf8("peer0:7051"), clock, logger: silentLogger });
    return { clock, mapper };
  };

  it("stores our own identity at construction, with its organization", () => {
    const { mapper } = make();
    assert.deepEqual(mapper.get(utf8("peer0:7051")), utf8("peer0:7051"));
    const info = mapper.identityInfo();
    assert.equal(info.length, 1);
    assert.equal(fromUtf8(info[0]!.organization), "ORG1");
    assert.deepEqual(info[0]!.pkiId, utf8("peer0:7051"));
  });

  it("keeps the PKI-ID array the MCS computes (not one more copy per mapper), equal to the one given", () => {
    const { mapper } = make();
    const identity = utf8("peer2:7051");
    const given = utf8("peer2:7051");
    mapper.put(given, identity);
    const info = mapper.identityInfo().find((i) => fromUtf8(i.identity) === "peer2:7051");
    assert.ok(info !== undefined);
    assert.deepEqual(info.pkiId, given);
    // The development MCS's PKI-ID is the identity itself.
    assert.equal(info.pkiId, dev.getPKIidOfCert(identity));
  });

  it("put, get and verify a peer's identity", () => {
    const { mapper } = make();
    const p1 = utf8("peer1:7051");
    mapper.put(p1, p1);
    assert.deepEqual(mapper.get(p1), p1);
    const msg = utf8("hello");
    mapper.verify(p1, mapper.sign(msg), msg);
    assert.throws(() => mapper.verify(p1, utf8("forged"), msg), (err: unknown) => {
      assert.ok(err instanceof IdentityError);
      assert.equal(err.code, "BAD_SIGNATURE");
      assert.ok(err.cause instanceof CryptoError);
      return true;
    });
    assert.throws(() => mapper.verify(utf8("peer9:7051"), msg, msg), code("UNKNOWN_PKI_ID"));
    assert.equal(mapper.get(utf8("peer9:7051")), undefined);
    assert.deepEqual(mapper.getPKIidOfCert(p1), p1);
  });

  it("rejects a PKI-ID that is not the identity's", () => {
    const { mapper } = make();
    assert.throws(() => mapper.put(utf8("peer1:7051"), utf8("peer2:7051")), code("PKI_ID_MISMATCH"));
    assert.equal(mapper.get(utf8("peer1:7051")), undefined);
    assert.equal(mapper.get(utf8("peer2:7051")), undefined);
  });

  it("an identity that never expires schedules no timer", () => {
    const { clock, mapper } = make();
    mapper.put(utf8("peer1:7051"), utf8("peer1:7051"));
    assert.equal(clock.pendingTimers(), 0);
  });
});

describe("identity mapper: put", () => {
  it("rejects empty PKI-IDs and identities", () => {
    const { mapper } = setup();
    assert.throws(() => mapper.put(new Uint8Array(0), idOf("a|ORG1")), code("NO_PKI_ID"));
    assert.throws(() => mapper.put(pkiOf("a"), new Uint8Array(0)), code("NO_IDENTITY"));
  });

  it("rejects identities the MCS cannot classify or does not validate", () => {
    const { mcs, mapper } = setup();
    mcs.unclassifiable.add("a|ORG1");
    mcs.revoked.add("b|ORG1");
    assert.throws(() => put(mapper, "a|ORG1"), code("UNCLASSIFIABLE_IDENTITY"));
    assert.throws(() => put(mapper, "b|ORG1"), (err: unknown) => {
      assert.ok(err instanceof IdentityError && err.code === "INVALID_IDENTITY");
      assert.ok(err.cause instanceof CryptoError && err.cause.code === "REVOKED_IDENTITY");
      return true;
    });
    assert.deepEqual(known(mapper), [SELF]);
  });

  it("the first identity stored for a PKI-ID wins", () => {
    const { mapper } = setup();
    put(mapper, "a|ORG1|v1");
    put(mapper, "a|ORG1|v2");
    assert.equal(fromUtf8(mapper.get(pkiOf("a"))!), "a|ORG1|v1");
  });

  it("rejects an identity that has already expired", () => {
    const { clock, mapper } = setup({ prepare: (m) => m.expirations.set("old|ORG1", new Date(-1)) });
    assert.throws(() => put(mapper, "old|ORG1"), code("EXPIRED_IDENTITY"));
    assert.equal(mapper.get(pkiOf("old")), undefined);
    assert.equal(clock.pendingTimers(), 0);
  });

  it("fails construction when our own identity cannot be stored", () => {
    assert.throws(() => setup({ prepare: (m) => m.revoked.add(SELF) }), (err: unknown) => {
      assert.ok(err instanceof IdentityError && err.code === "SELF_IDENTITY");
      assert.ok(err.cause instanceof IdentityError && err.cause.code === "INVALID_IDENTITY");
      return true;
    });
  });

  it("rejects a usage threshold that is not positive", () => {
    assert.throws(() => setup({ usageThresholdMs: 0 }), code("INVALID_OPTIONS"));
    assert.throws(() => setup({ usageThresholdMs: -1 }), code("INVALID_OPTIONS"));
  });
});

describe("identity mapper: certificate expiration", () => {
  it("deletes an identity a millisecond after its expiration and calls onPurge", async (t) => {
    const { clock, mapper, purged } = setup({ prepare: (m) => m.expirations.set("a|ORG1", new Date(1000)) });
    t.after(() => mapper.stop());
    put(mapper, "a|ORG1");
    await clock.advanceTo(1000);
    assert.ok(mapper.get(pkiOf("a")));
    await clock.advanceTo(1001);
    assert.equal(mapper.get(pkiOf("a")), undefined);
    assert.deepEqual(purged, ["a=a|ORG1"]);
    assert.equal(clock.pendingTimers(), 0);
  });

  it("an array looked up before finds nothing once its identity is deleted, and the new identity once stored again", async (t) => {
    const { clock, mapper } = setup({ prepare: (m) => m.expirations.set("a|ORG1", new Date(1000)) });
    t.after(() => mapper.stop());
    put(mapper, "a|ORG1");
    const key = pkiOf("a");
    assert.equal(fromUtf8(mapper.orgOf(key)!), "ORG1");
    await clock.advanceTo(1001);
    assert.equal(mapper.get(key), undefined);
    assert.equal(mapper.orgOf(key), undefined);
    mapper.put(pkiOf("a"), idOf("a|ORG2"));
    assert.equal(fromUtf8(mapper.orgOf(key)!), "ORG2");
    assert.equal(fromUtf8(mapper.get(key)!), "a|ORG2");
  });

  it("accepts an identity expiring right now, and drops it a millisecond later", async () => {
    const { clock, mapper, purged } = setup({ prepare: (m) => m.expirations.set("a|ORG1", new Date(0)) });
    put(mapper, "a|ORG1");
    assert.ok(mapper.get(pkiOf("a")));
    await clock.advance(1);
    assert.deepEqual(purged, ["a=a|ORG1"]);
  });

  it("reaches an expiration years away through timeouts no longer than Node allows", async () => {
    const year = 365 * 24 * HOUR;
    const { clock, mapper, purged } = setup({ prepare: (m) => m.expirations.set("a|ORG1", new Date(year)) });
    const delays: number[] = [];
    const realSetTimeout = clock.setTimeout.bind(clock);
    clock.setTimeout = (fn, ms) => {
      delays.push(ms);
      return realSetTimeout(fn, ms);
    };
    put(mapper, "a|ORG1");
    await clock.advanceTo(year);
    assert.ok(mapper.get(pkiOf("a")), "not deleted before its expiration");
    await clock.advanceTo(year + 1);
    assert.deepEqual(purged, ["a=a|ORG1"]);
    assert.ok(delays.length > 1);
    for (const d of delays) assert.ok(d <= MAX_TIMER_DELAY_MS, `a ${d} ms timeout overflows Node's timer`);
  });

  it("our own identity is deleted when its certificate expires, as in Fabric", async () => {
    const { clock, mapper, purged } = setup({ prepare: (m) => m.expirations.set(SELF, new Date(500)) });
    await clock.advance(501);
    assert.deepEqual(purged, [`self=${SELF}`]);
    assert.equal(mapper.identityInfo().length, 0);
  });
});

describe("identity mapper: purge of unused identities", () => {
  it("every usageThreshold/10 removes identities unused for the threshold, never our own", async (t) => {
    const { clock, mapper, purged } = setup();
    t.after(() => mapper.stop());
    await mapper.start();
    put(mapper, "a|ORG1");
    put(mapper, "b|ORG1");
    await clock.advance(30 * MIN);
    assert.ok(mapper.get(pkiOf("b")), "b used at 30 min");
    await clock.advance(30 * MIN);
    assert.deepEqual(known(mapper), ["a|ORG1", "b|ORG1", SELF], "at 60 min a is exactly at the threshold");
    await clock.advance(6 * MIN);
    assert.deepEqual(known(mapper), ["b|ORG1", SELF], "a purged by the 66 min check");
    assert.deepEqual(purged, ["a=a|ORG1"]);
    await clock.advance(30 * MIN);
    assert.deepEqual(known(mapper), [SELF], "b purged by the 96 min check");
    await clock.advance(2 * HOUR);
    assert.deepEqual(known(mapper), [SELF], "our own identity stays after twice the threshold");
    assert.deepEqual(purged, ["a=a|ORG1", "b=b|ORG1"]);
  });

  it("verify counts as a use", async (t) => {
    const { clock, mapper } = setup({ usageThresholdMs: 1000 });
    t.after(() => mapper.stop());
    await mapper.start();
    put(mapper, "a|ORG1");
    for (let i = 0; i < 10; i++) {
      await clock.advance(500);
      mapper.verify(pkiOf("a"), utf8("m"), utf8("m"));
    }
    assert.ok(mapper.get(pkiOf("a")));
    await clock.advance(1200);
    assert.equal(mapper.get(pkiOf("a")), undefined);
  });

  it("orgOf answers the advisor's org of the stored identity, asking the advisor once, and counts as a use", async (t) => {
    const { clock, mcs, mapper } = setup({ usageThresholdMs: 1000 });
    t.after(() => mapper.stop());
    let asked = 0;
    const advisor = mcs.orgByPeerIdentity.bind(mcs);
    mcs.orgByPeerIdentity = (identity) => {
      asked++;
      return advisor(identity);
    };
    await mapper.start();
    put(mapper, "a|ORG2");
    assert.equal(fromUtf8(mapper.orgOf(pkiOf("a"))!), "ORG2");
    assert.equal(fromUtf8(mapper.orgOf(pkiOf("self"))!), "ORG1");
    assert.equal(mapper.orgOf(pkiOf("nobody")), undefined);
    for (let i = 0; i < 10; i++) {
      await clock.advance(500);
      assert.equal(fromUtf8(mapper.orgOf(pkiOf("a"))!), "ORG2");
    }
    assert.equal(asked, 1, "asked when a was stored, not per call");
    assert.deepEqual(mapper.orgOf(pkiOf("a")), mapper.identityInfo().find((i) => fromUtf8(i.pkiId) === "a")!.organization);
    await clock.advance(1200);
    assert.equal(mapper.orgOf(pkiOf("a")), undefined, "purged once unused: orgOf answers only for stored identities");
  });

  it("runs the purge as one chain of timeouts from start", async (t) => {
    const { clock, mapper } = setup();
    t.after(() => mapper.stop());
    assert.equal(clock.pendingTimers(), 0, "no timer before start");
    await mapper.start();
    await mapper.start();
    assert.equal(clock.pendingTimers(), 1);
    await clock.advance(5 * HOUR);
    assert.equal(clock.pendingTimers(), 1);
  });
});

describe("identity mapper: suspectPeers", () => {
  it("re-validates suspected identities and removes the revoked ones", () => {
    const { mcs, mapper, purged } = setup();
    put(mapper, "a|ORG1");
    put(mapper, "b|ORG2");
    put(mapper, "c|ORG2");
    mcs.revoked.add("a|ORG1");
    mcs.revoked.add("b|ORG2");
    // Only ORG2 is suspected: a stays although revoked.
    mapper.suspectPeers((_identity, info) => fromUtf8(info.organization) === "ORG2");
    assert.deepEqual(known(mapper), ["a|ORG1", "c|ORG2", SELF]);
    assert.deepEqual(purged, ["b=b|ORG2"]);
    mapper.suspectPeers(() => true);
    assert.deepEqual(known(mapper), ["c|ORG2", SELF]);
    assert.deepEqual(purged, ["b=b|ORG2", "a=a|ORG1"]);
  });

  it("does not re-validate identities that are not suspected", () => {
    const { mcs, mapper } = setup();
    put(mapper, "a|ORG1");
    const before = mcs.validations;
    mapper.suspectPeers(() => false);
    assert.equal(mcs.validations, before);
  });

  it("a removed identity's expiration timer is cancelled", () => {
    const { clock, mcs, mapper } = setup({ prepare: (m) => m.expirations.set("a|ORG1", new Date(HOUR)) });
    put(mapper, "a|ORG1");
    assert.equal(clock.pendingTimers(), 1);
    mcs.revoked.add("a|ORG1");
    mapper.suspectPeers(() => true);
    assert.equal(clock.pendingTimers(), 0);
  });

  it("a throwing onPurge is logged and the other removals still happen", () => {
    const clock = new ManualClock(0);
    const mcs = new FakeMcs();
    const logger = new MemoryLogger();
    let calls = 0;
    const mapper = createIdentityMapper({
      mcs,
      securityAdvisor: mcs,
      selfIdentity: idOf(SELF),
      clock,
      logger,
      onPurge: () => {
        calls++;
        throw new Error("close failed");
      },
    });
    put(mapper, "a|ORG1");
    put(mapper, "b|ORG1");
    mcs.revoked.add("a|ORG1");
    mcs.revoked.add("b|ORG1");
    mapper.suspectPeers(() => true);
    assert.equal(calls, 2);
    assert.deepEqual(known(mapper), [SELF]);
    assert.equal(logger.lines.filter((l) => l.level === "error").length, 2);
  });
});

describe("identity mapper: lifecycle", () => {
  it("stop leaves no timer, is idempotent, and refuses new identities", async () => {
    const { clock, mapper } = setup({
      prepare: (m) => {
        m.expirations.set("a|ORG1", new Date(HOUR));
        m.expirations.set(SELF, new Date(2 * HOUR));
      },
    });
    await mapper.start();
    put(mapper, "a|ORG1");
    assert.equal(clock.pendingTimers(), 3);
    await mapper.stop();
    await mapper.stop();
    assert.equal(clock.pendingTimers(), 0);
    assert.throws(() => put(mapper, "b|ORG1"), code("STOPPED"));
    await mapper.start();
    assert.equal(clock.pendingTimers(), 0, "a stopped mapper does not restart");
    await clock.advance(3 * HOUR);
    assert.ok(mapper.get(pkiOf("a")), "lookups still answer after stop");
  });

  it("property: after every deadline passed, exactly the identities without expiration remain, each expired one purged once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }), { maxLength: 12 }), async (exps) => {
        const names = exps.map((_, i) => `p${i}|ORG1`);
        const { clock, mapper, purged } = setup({
          prepare: (m) => {
            exps.forEach((e, i) => {
              if (e !== undefined) m.expirations.set(names[i]!, new Date(e));
            });
          },
        });
        for (const n of names) put(mapper, n);
        await clock.advanceTo(10_001);
        const expected = names.filter((_, i) => exps[i] === undefined);
        assert.deepEqual(known(mapper), [...expected, SELF].sort());
        assert.deepEqual(
          [...purged].sort(),
          names.filter((_, i) => exps[i] !== undefined).map((n) => `${n.split("|")[0]}=${n}`).sort(),
        );
        assert.equal(clock.pendingTimers(), 0);
        await mapper.stop();
      }),
      { numRuns: 40 },
    );
  });
});
