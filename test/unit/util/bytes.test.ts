import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { pkiHex, pkiKey } from "../../../src/api/index.js";
import { bytesEqual, startsBuffer } from "../../../src/util/index.js";

describe("bytesEqual", () => {
  it("agrees with Buffer.equals for short and long arrays, views included", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), fc.nat(4), (a, b, cut) => {
        const whole = Buffer.concat([Buffer.alloc(cut), a]);
        const view = new Uint8Array(whole.buffer, whole.byteOffset + cut, a.byteLength);
        assert.equal(bytesEqual(view, b), Buffer.from(a).equals(Buffer.from(b)));
        assert.equal(bytesEqual(view, a.slice()), true);
        assert.equal(bytesEqual(a, a), true);
      }),
    );
  });
});

describe("startsBuffer", () => {
  it("tells a copy from a field's view into a frame", () => {
    const frame = Uint8Array.from([0x1a, 3, 4, 5, 6]);
    assert.equal(startsBuffer(frame), true);
    assert.equal(startsBuffer(frame.subarray(2, 5)), false);
    assert.equal(startsBuffer(frame.subarray(2, 5).slice()), true);
    assert.equal(startsBuffer(new Uint8Array(Buffer.from("p0:7051"))), true);
  });

  it("keeps pkiKey's answer the same for views and copies of one PKI-ID", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (id) => {
        const frame = Buffer.concat([Buffer.from([7, 7]), id, Buffer.from([9])]);
        const view = new Uint8Array(frame.buffer, frame.byteOffset + 2, id.byteLength);
        const copy = view.slice();
        assert.equal(pkiKey(view), pkiHex(id));
        assert.equal(pkiKey(view), pkiHex(id), "asked twice about a view");
        assert.equal(pkiKey(copy), pkiHex(id));
        assert.equal(pkiKey(copy), pkiHex(id), "asked twice about a copy (remembered)");
      }),
    );
  });
});
