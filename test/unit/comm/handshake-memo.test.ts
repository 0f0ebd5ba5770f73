/**
 * A peer's ConnEstablish carries no nonce or time, so the same peer sends the same bytes on every stream.
 * The receiving side verifies the signature of given bytes once (VerifiedHandshakes) and still checks the
 * identity's validity and the TLS binding on every stream; the sending side signs once per kind of stream.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PeerIdentityType } from "../../../src/api/index.js";
import { buildConnEstablish, CommError, checkConnEstablish, createComm } from "../../../src/comm/index.js";
import { VerifiedHandshakes } from "../../../src/comm/handshake.js";
import { MemoryNetwork, MemoryTransport } from "../../../src/comm/memory/index.js";
import { DevMessageCryptoService } from "../../../src/crypto/index.js";
import { CryptoError } from "../../../src/crypto/errors.js";
import { silentLogger } from "../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../src/metrics/index.js";
import { SignedGossipMessage } from "../../../src/protoext/index.js";
import { ManualClock, SeededRandom, utf8 } from "../../../src/util/index.js";

/** The development crypto, counting signatures made and checked, with identities that can be revoked. */
class CountingMcs extends DevMessageCryptoService {
  signs = 0;
  verifies = 0;
  readonly revoked = new Set<string>();
  override sign(msg: Uint8Array): Uint8Array {
    this.signs++;
    return super.sign(msg);
  }
  override verify(identity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void {
    this.verifies++;
    super.verify(identity, signature, message);
  }
  override validateIdentity(identity: PeerIdentityType): void {
    if (this.revoked.has(Buffer.from(identity).toString())) throw new CryptoError("REVOKED_IDENTITY", "revoked");
    super.validateIdentity(identity);
  }
}

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return err instanceof CommError ? err.code : "not a CommError";
  }
  return undefined;
};

test("a handshake seen before skips the signature check, never the identity check", () => {
  const mcs = new CountingMcs();
  const identity = utf8("peer1.org1.example.com:7051");
  const hello = buildConnEstablish({ pkiId: mcs.getPKIidOfCert(identity), identity, tlsCertHash: undefined, probe: false }, (m) => mcs.sign(m));
  const verified = new VerifiedHandshakes(4);
  const ctx = { mcs, clock: new ManualClock(), tlsEnabled: false, remoteCertHash: undefined, remoteAddress: "127.0.0.1:1", verified };
  for (let i = 0; i < 5; i++) checkConnEstablish(SignedGossipMessage.fromEnvelopeBytes(hello.bytes), ctx);
  assert.equal(mcs.verifies, 1, "five streams with one handshake: one verification");

  // The same signature over other bytes is checked, and refused.
  const forged = SignedGossipMessage.fromEnvelope({ ...hello.envelope, payload: Uint8Array.from([...hello.envelope.payload, 0]) });
  assert.equal(codeOf(() => checkConnEstablish(forged, ctx)), "BAD_SIGNATURE");
  assert.equal(mcs.verifies, 2);

  // A known handshake of an identity revoked since is refused before its signature is looked at.
  mcs.revoked.add("peer1.org1.example.com:7051");
  assert.notEqual(codeOf(() => checkConnEstablish(SignedGossipMessage.fromEnvelopeBytes(hello.bytes), ctx)), undefined);

  // Bounded: the oldest is forgotten and verified again.
  const others = Array.from({ length: 4 }, (_, i) => {
    const id = utf8(`peer${i + 2}.org1.example.com:7051`);
    return buildConnEstablish({ pkiId: mcs.getPKIidOfCert(id), identity: id, tlsCertHash: undefined, probe: false }, (m) => mcs.sign(m));
  });
  mcs.revoked.clear();
  for (const o of others) checkConnEstablish(SignedGossipMessage.fromEnvelopeBytes(o.bytes), ctx);
  const before = mcs.verifies;
  checkConnEstablish(SignedGossipMessage.fromEnvelopeBytes(hello.bytes), ctx);
  assert.equal(mcs.verifies, before + 1, "forgotten after 4 others");
});

test("comm signs its ConnEstablish once per kind of stream, not once per stream", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork(clock);
  const mcsA = new CountingMcs();
  const mcsB = new CountingMcs();
  const make = (endpoint: string, mcs: CountingMcs, seed: number) =>
    createComm({
      transport: new MemoryTransport(network, { endpoint }),
      clock,
      random: new SeededRandom(seed),
      logger: silentLogger,
      metrics: memoryMetricsProvider(),
      mcs,
      securityAdvisor: mcs,
      selfIdentity: utf8(endpoint),
    });
  const a = make("a.org1.example.com:7051", mcsA, 1);
  const b = make("b.org1.example.com:7051", mcsB, 2);
  await a.start();
  await b.start();
  try {
    const bId = utf8("b.org1.example.com:7051");
    const remoteB = { endpoint: "b.org1.example.com:7051", pkiId: mcsA.getPKIidOfCert(bId) };
    for (let i = 0; i < 4; i++) {
      const ok = a.probe(remoteB);
      await clock.advance(10);
      await ok;
    }
    for (let i = 0; i < 3; i++) {
      const got = a.handshake(remoteB);
      await clock.advance(10);
      await got;
    }
    assert.ok(mcsA.signs <= 2, `the dialer signed ${mcsA.signs} times for 7 streams (a probe and a handshake)`);
    assert.ok(mcsB.signs <= 2, `the acceptor signed ${mcsB.signs} times for 7 streams`);
    assert.ok(mcsA.verifies <= 2 && mcsB.verifies <= 2, `verifications: dialer ${mcsA.verifies}, acceptor ${mcsB.verifies}`);
  } finally {
    await a.stop();
    await b.stop();
  }
});
