/** The simulator's shared verification memo gives every answer an unmemoized MspVerifier gives. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CryptoError, createCa, createSigningIdentity, issueCertificate, type MspOrgMaterial, MspVerifier } from "../../src/crypto/index.js";
import { MemoizingMspVerifier } from "../../src/sim/crypto.js";
import { ManualClock } from "../../src/util/manual-clock.js";

const enc = new TextEncoder();

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (err) {
    return err instanceof CryptoError ? err.code : `other: ${String(err)}`;
  }
}

test("memoized verification: same verdicts as MspVerifier, failures never remembered, expiry checked on every hit", async () => {
  const now = Date.UTC(2025, 0, 1);
  const clock = new ManualClock(now);
  const ca = await createCa({ commonName: "ca.org1.example.com", organization: "org1.example.com", clock });
  const orgs: MspOrgMaterial[] = [{ mspId: "Org1MSP", rootCerts: [ca.certPem], intermediateCerts: [], crls: [], tlsRootCerts: [], tlsIntermediateCerts: [] }];
  const issue = async (cn: string, notAfter?: Date) => {
    const m = await issueCertificate({ ca, commonName: cn, clock, ...(notAfter === undefined ? {} : { notAfter }) });
    return createSigningIdentity({ mspId: "Org1MSP", certPem: m.certPem, keyPem: m.keyPem });
  };
  const alice = await issue("alice.org1.example.com", new Date(now + 60_000));
  const bob = await issue("bob.org1.example.com");
  const memo = new MemoizingMspVerifier(orgs, { clock, memoSize: 4 });
  const plain = new MspVerifier(orgs, { clock });

  const msg = enc.encode("an alive message");
  const other = enc.encode("another message");
  const sig = alice.sign(msg);
  const forged = bob.sign(msg);
  const cases: [string, () => [Uint8Array, Uint8Array, Uint8Array]][] = [
    ["valid", () => [alice.serialized, sig, msg]],
    ["other message, same signature", () => [alice.serialized, sig, other]],
    ["other identity, same signature", () => [bob.serialized, sig, msg]],
    ["signature by someone else", () => [alice.serialized, forged, msg]],
    ["not an identity", () => [enc.encode("garbage"), sig, msg]],
  ];
  // Twice each, interleaved, so the valid triple is memoized before the bad ones are tried.
  for (let round = 0; round < 2; round++) {
    for (const [name, args] of cases) {
      assert.equal(codeOf(() => memo.verify(...args())), codeOf(() => plain.verify(...args())), `${name}, round ${round}`);
    }
  }
  assert.equal(memo.memoHits, 1, "only the valid triple's second check came from the memo");
  assert.equal(memo.verify(alice.serialized, sig, msg).mspId, "Org1MSP");
  assert.equal(memo.memoHits, 2);

  // Bounded: after more distinct triples than it holds, the first is verified afresh (and still verifies).
  for (let i = 0; i < 10; i++) {
    const m = enc.encode(`filler ${i}`);
    memo.verify(bob.serialized, bob.sign(m), m);
  }
  const hits = memo.memoHits;
  memo.verify(alice.serialized, sig, msg);
  assert.equal(memo.memoHits, hits, "evicted: a miss");
  memo.verify(alice.serialized, sig, msg);
  assert.equal(memo.memoHits, hits + 1);

  // Alice's certificate expires: the memoized triple is refused as MspVerifier refuses it.
  await clock.advance(120_000);
  assert.equal(codeOf(() => memo.verify(alice.serialized, sig, msg)), "EXPIRED_IDENTITY");
  assert.equal(codeOf(() => plain.verify(alice.serialized, sig, msg)), "EXPIRED_IDENTITY");

  // New orgs forget everything remembered.
  memo.verify(bob.serialized, forged, msg);
  const before = memo.memoHits;
  memo.verify(bob.serialized, forged, msg);
  assert.equal(memo.memoHits, before + 1, "remembered");
  memo.setOrgs([]);
  assert.equal(codeOf(() => memo.verify(bob.serialized, forged, msg)), "UNKNOWN_MSP");
});
