import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { generateMAC } from "../../../../src/gossip/channel/index.js";
import { MAC_MEMO_CHANNELS, MAC_MEMO_LIMIT, macMemoChannels } from "../../../../src/gossip/channel/mac.js";

const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

describe("generateMAC (Fabric's channel.GenerateMAC)", () => {
  it("is SHA-256(pkiId || channel), per channel and PKI-ID, also when remembered", () => {
    const a = new Uint8Array(32).fill(1);
    const b = new Uint8Array(32).fill(2);
    for (let round = 0; round < 2; round++) {
      assert.deepEqual(generateMAC(a, "ch1"), sha256(a, new TextEncoder().encode("ch1")));
      assert.deepEqual(generateMAC(b, "ch1"), sha256(b, new TextEncoder().encode("ch1")));
      assert.deepEqual(generateMAC(a, "ch2"), sha256(a, new TextEncoder().encode("ch2")));
    }
    // Another array with the same bytes gets the same MAC.
    assert.deepEqual(generateMAC(Uint8Array.from(a), "ch1"), generateMAC(a, "ch1"));
    assert.notDeepEqual(generateMAC(a, "ch1"), generateMAC(b, "ch1"));
  });

  it("stays correct past the memo's bound (many unknown PKI-IDs)", () => {
    const ch = "bounded";
    const ids = Array.from({ length: MAC_MEMO_LIMIT + 10 }, (_, i) => {
      const id = new Uint8Array(8);
      new DataView(id.buffer).setUint32(0, i);
      return id;
    });
    for (const id of ids) generateMAC(id, ch);
    for (const id of [ids[0]!, ids[MAC_MEMO_LIMIT]!, ids[ids.length - 1]!]) {
      assert.deepEqual(generateMAC(id, ch), sha256(id, new TextEncoder().encode(ch)));
    }
  });

  it("remembers at most MAC_MEMO_CHANNELS channels: channel after channel joined and left does not grow it", () => {
    const id = new Uint8Array(32).fill(7);
    for (let i = 0; i < MAC_MEMO_CHANNELS + 500; i++) generateMAC(id, `joined-${i}`);
    assert.equal(macMemoChannels(), MAC_MEMO_CHANNELS);
    // A channel dropped from the memo is computed again, the same.
    assert.deepEqual(generateMAC(id, "joined-0"), sha256(id, new TextEncoder().encode("joined-0")));
    assert.equal(macMemoChannels(), MAC_MEMO_CHANNELS);
  });
});
