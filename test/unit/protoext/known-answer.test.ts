import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DevMessageCryptoService } from "../../../src/crypto/index.js";
import { SignedGossipMessage, checkTagLegal } from "../../../src/protoext/index.js";
import { type GossipMessage, GossipMessage_Tag as Tag } from "../../../src/protos/gen/gossip/message.pb.js";
import { toHex, utf8 } from "../../../src/util/bytes.js";

describe("known answers", () => {
  it("a probe ConnEstablish signed with the development MCS", () => {
    const mcs = new DevMessageCryptoService();
    const endpoint = utf8("127.0.0.1:17052");
    const msg: GossipMessage = {
      nonce: 0n,
      channel: new Uint8Array(0),
      tag: Tag.EMPTY,
      content: { $case: "conn", value: { pkiId: endpoint, identity: endpoint, tlsCertHash: new Uint8Array(0), probe: true } },
    };
    const signed = SignedGossipMessage.sign(msg, (b) => mcs.sign(b));
    const ep = toHex(endpoint);
    // tag EMPTY; conn (field 14) of 36 bytes: pki_id, identity, probe = true.
    assert.equal(toHex(signed.envelope.payload), `1801` + `7224` + `0a0f${ep}` + `120f${ep}` + `2001`);
    assert.deepStrictEqual(signed.envelope.signature, signed.envelope.payload);
    // Envelope: payload (field 1) and signature (field 2), 40 bytes each.
    const p = toHex(signed.envelope.payload);
    assert.equal(toHex(signed.bytes), `0a28${p}1228${p}`);
    signed.verify(endpoint, (id, sig, m) => mcs.verify(id, sig, m));
    // Handshake messages have no tag rule: they never go through IsTagLegal.
    assert.match(checkTagLegal(msg) ?? "", /^Unknown message type/);
  });
});
