/** The fast suite's development crypto with orgs (SimDevCrypto). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CryptoError } from "../../src/crypto/index.js";
import { SimDevCrypto } from "../../src/sim/crypto.js";
import { fromUtf8, utf8 } from "../../src/util/bytes.js";

test("SimDevCrypto: an identity's org is the MSP ID before '|', one shared array per org; unknown orgs are refused", () => {
  const mcs = new SimDevCrypto(new Set(["Org1MSP", "Org2MSP"]), (ch) => (ch === "c1" ? new Set(["Org1MSP"]) : undefined));
  const a = utf8("Org1MSP|p0:7051");
  const b = utf8("Org1MSP|p4:7051");
  const c = utf8("Org2MSP|p1:7051");
  assert.equal(fromUtf8(mcs.orgByPeerIdentity(a)), "Org1MSP");
  assert.equal(fromUtf8(mcs.orgByPeerIdentity(c)), "Org2MSP");
  assert.equal(mcs.orgByPeerIdentity(a), mcs.orgByPeerIdentity(b));
  assert.equal(mcs.orgByPeerIdentity(utf8("no-org")).byteLength, 0);
  assert.throws(() => mcs.validateIdentity(utf8("Org9MSP|p9:7051")), (e: unknown) => e instanceof CryptoError && e.code === "UNKNOWN_MSP");
  const msg = utf8("hello");
  mcs.verifyByChannel("c1", a, msg, msg);
  assert.throws(() => mcs.verifyByChannel("c1", c, msg, msg), (e: unknown) => e instanceof CryptoError && e.code === "CHANNEL_ACCESS_DENIED");
});
