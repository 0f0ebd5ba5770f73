import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  DEFAULT_MAX_MESSAGE_SIZE_BYTES,
  blockDigest,
  checkSize,
  digestKey,
  parseBlockDigest,
  resolveMaxMessageSize,
} from "../../../src/protoext/index.js";
import { utf8 } from "../../../src/util/bytes.js";

describe("message size limits", () => {
  it("defaults to Fabric's 100 MiB, and zero or unset means the default", () => {
    assert.equal(DEFAULT_MAX_MESSAGE_SIZE_BYTES, 104857600);
    assert.equal(resolveMaxMessageSize(undefined), 104857600);
    assert.equal(resolveMaxMessageSize(0), 104857600);
    assert.equal(resolveMaxMessageSize(1024), 1024);
    assert.throws(() => resolveMaxMessageSize(-1), RangeError);
    assert.throws(() => resolveMaxMessageSize(1.5), RangeError);
  });

  it("checkSize accepts up to the limit and gives a reason beyond it", () => {
    assert.equal(checkSize(new Uint8Array(10), 10), undefined);
    assert.match(checkSize(new Uint8Array(11), 10) ?? "", /11 bytes exceeds the maximum of 10 bytes/);
    assert.equal(checkSize(DEFAULT_MAX_MESSAGE_SIZE_BYTES), undefined);
    assert.notEqual(checkSize(DEFAULT_MAX_MESSAGE_SIZE_BYTES + 1), undefined);
  });
});

describe("block digests", () => {
  it("are the decimal ASCII sequence number", () => {
    assert.deepStrictEqual(blockDigest(0n), utf8("0"));
    assert.deepStrictEqual(blockDigest(18446744073709551615n), utf8("18446744073709551615"));
    assert.equal(digestKey(blockDigest(42n), true), "42");
    assert.equal(digestKey(new Uint8Array([0xde, 0xad]), false), "dead");
  });

  it("parse back exactly for every uint64", () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (seq) => parseBlockDigest(blockDigest(seq)) === seq));
  });

  it("parse as Go's strconv.ParseUint(s, 10, 64) does", () => {
    assert.equal(parseBlockDigest(utf8("007")), 7n);
    assert.equal(parseBlockDigest(utf8("00000000000000000000000000018446744073709551615")), 18446744073709551615n);
    for (const bad of ["", "-1", "+1", " 1", "1 ", "0x10", "1e3", "18446744073709551616", "١٢"]) {
      assert.equal(parseBlockDigest(utf8(bad)), undefined, JSON.stringify(bad));
    }
  });
});
