import assert from "node:assert/strict";
import { generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import { CryptoError } from "../../../src/crypto/errors.js";
import {
  ecdsaSign,
  ecdsaVerify,
  isLowS,
  marshalEcdsaSignature,
  P256,
  p1363ToLowSDer,
  signatureToLowS,
  toLowS,
  unmarshalEcdsaSignature,
} from "../../../src/crypto/ecdsa.js";
import { bigintToBytes, bytesToBigint } from "../../../src/crypto/der.js";
import { codeOf } from "../../utils/error-code.js";

const cryptoCode = (fn: () => unknown): string | undefined => codeOf(fn, CryptoError);

const N = P256.n;
const HALF = P256.halfN;

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

test("P-256 constants", () => {
  assert.equal(N.toString(16), "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  assert.equal(HALF, (N - 1n) / 2n);
  assert.ok(isLowS(HALF));
  assert.ok(!isLowS(HALF + 1n));
});

test("toLowS known answers", () => {
  assert.equal(toLowS(N - 1n), 1n);
  assert.equal(toLowS(N - 0x1234n), 0x1234n);
  assert.equal(toLowS(HALF + 1n), HALF);
  assert.equal(toLowS(HALF), HALF);
  assert.equal(toLowS(7n), 7n);
});

test("DER marshalling as Go's asn1 writes it", () => {
  assert.equal(hex(marshalEcdsaSignature(1n, 1n)), "3006020101020101");
  // high bit set: a 0x00 sign byte is prepended
  assert.equal(hex(marshalEcdsaSignature(0x80n, 0x7fn)), "30070202008002017f");
  const big = marshalEcdsaSignature(N - 1n, N - 1n);
  assert.equal(big.byteLength, 2 + 2 * (2 + 33));
  assert.deepEqual(unmarshalEcdsaSignature(big), { r: N - 1n, s: N - 1n });
});

test("signatureToLowS turns a high-S signature into (r, n - s) and leaves low-S alone", () => {
  const high = marshalEcdsaSignature(0x1111n, N - 0x1234n);
  const low = signatureToLowS(high);
  assert.deepEqual(unmarshalEcdsaSignature(low), { r: 0x1111n, s: 0x1234n });
  assert.equal(hex(low), "3008020211110202" + "1234");
  const already = marshalEcdsaSignature(5n, 6n);
  assert.equal(signatureToLowS(already), already, "same object when nothing changes");
});

test("p1363ToLowSDer normalises a real high-S node signature to n - s, and both verify with OpenSSL", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const msg = Buffer.from("low-s known answer");
  let raw: Buffer | undefined;
  for (let i = 0; i < 200 && raw === undefined; i++) {
    const r = nodeSign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" });
    if (bytesToBigint(r.subarray(32)) > HALF) raw = r;
  }
  assert.ok(raw !== undefined, "found a high-S signature");
  const r = bytesToBigint(raw.subarray(0, 32));
  const s = bytesToBigint(raw.subarray(32));
  const der = p1363ToLowSDer(raw);
  assert.deepEqual(unmarshalEcdsaSignature(der), { r, s: N - s });
  assert.ok(nodeVerify("sha256", msg, { key: publicKey, dsaEncoding: "der" }, der));
  assert.ok(nodeVerify("sha256", msg, { key: publicKey, dsaEncoding: "ieee-p1363" }, raw));
  ecdsaVerify(publicKey, der, msg);
});

test("verification rejects a valid high-S signature as Fabric does", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const msg = Buffer.from("reject high s");
  const low = ecdsaSign(privateKey, msg);
  const { r, s } = unmarshalEcdsaSignature(low);
  assert.ok(isLowS(s));
  const high = marshalEcdsaSignature(r, N - s);
  assert.ok(nodeVerify("sha256", msg, { key: publicKey, dsaEncoding: "der" }, high), "mathematically valid");
  assert.equal(cryptoCode(() => ecdsaVerify(publicKey, high, msg)), "HIGH_S_SIGNATURE");
  assert.equal(cryptoCode(() => ecdsaVerify(publicKey, low, msg)), undefined);
});

test("strict DER: malformed signatures are BAD_SIGNATURE, never a crash", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const msg = Buffer.from("m");
  const good = ecdsaSign(privateKey, msg);
  const cases: Record<string, Uint8Array> = {
    empty: new Uint8Array(0),
    trailing: Buffer.concat([good, Buffer.from([0])]),
    truncated: good.subarray(0, good.byteLength - 1),
    "non-minimal integer": Buffer.from("300702020001020101", "hex"),
    "negative integer": Buffer.from("3006020181020101", "hex"),
    "zero r": Buffer.from("3006020100020101", "hex"),
    "long-form short length": Buffer.from("30810602010102010" + "1", "hex"),
    "indefinite length": Buffer.from("3080020101020101" + "0000", "hex"),
    "three integers": Buffer.from("3009020101020101020101", "hex"),
    "wrong outer tag": Buffer.from("3106020101020101", "hex"),
    "s equal to n": marshalEcdsaSignature(1n, N),
  };
  for (const [name, sig] of Object.entries(cases)) {
    assert.equal(cryptoCode(() => ecdsaVerify(publicKey, sig, msg)), "BAD_SIGNATURE", name);
  }
});

test("property: every message signs and verifies, signatures are low-S, a flipped bit fails", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), fc.nat(), (msg, bitSeed) => {
      const sig = ecdsaSign(privateKey, msg);
      assert.ok(isLowS(unmarshalEcdsaSignature(sig).s));
      ecdsaVerify(publicKey, sig, msg);
      const bit = bitSeed % (sig.byteLength * 8);
      const flipped = new Uint8Array(sig);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      const code = cryptoCode(() => ecdsaVerify(publicKey, flipped, msg));
      assert.ok(code === "BAD_SIGNATURE" || code === "HIGH_S_SIGNATURE", `flipped bit ${bit}: ${code}`);
      if (msg.byteLength > 0) {
        const other = new Uint8Array(msg);
        other[bitSeed % other.byteLength]! ^= 0x01;
        assert.equal(cryptoCode(() => ecdsaVerify(publicKey, sig, other)), "BAD_SIGNATURE");
      }
    }),
    { numRuns: 100 },
  );
});

test("property: DER round trip of arbitrary (r, s)", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: N - 1n }), fc.bigInt({ min: 1n, max: N - 1n }), (r, s) => {
      const der = marshalEcdsaSignature(r, s);
      assert.deepEqual(unmarshalEcdsaSignature(der), { r, s });
      assert.deepEqual(unmarshalEcdsaSignature(signatureToLowS(der)), { r, s: toLowS(s) });
      assert.equal(bytesToBigint(bigintToBytes(r)), r);
    }),
  );
});
