import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Signer, Verifier } from "../../../src/api/crypto.js";
import { DevMessageCryptoService } from "../../../src/crypto/index.js";
import { MessageError, SignedGossipMessage } from "../../../src/protoext/index.js";
import { Envelope, type GossipMessage, GossipMessage_Tag as Tag, type Secret } from "../../../src/protos/gen/gossip/message.pb.js";
import { utf8 } from "../../../src/util/bytes.js";

const mcs = new DevMessageCryptoService();
const signer: Signer = (b) => mcs.sign(b);
const verifier: Verifier = (id, sig, msg) => mcs.verify(id, sig, msg);
const ID = utf8("127.0.0.1:7051");
const EMPTY = new Uint8Array(0);

const aliveMsg: GossipMessage = {
  nonce: 0n,
  channel: EMPTY,
  tag: Tag.EMPTY,
  content: {
    $case: "aliveMsg",
    value: {
      membership: { endpoint: "peer0:7051", metadata: EMPTY, pkiId: ID },
      timestamp: { incNum: 1_700_000_000_000_000_000n, seqNum: 3n },
      identity: ID,
    },
  },
};
const secret: Secret = { content: { $case: "internalEndpoint", value: "10.0.0.5:7051" } };

function assertCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof MessageError && err.code === code, `expected ${code}`);
}

describe("SignedGossipMessage", () => {
  it("sign puts the exact payload bytes under the signature, and verifies", () => {
    const m = SignedGossipMessage.sign(aliveMsg, signer);
    assert.deepStrictEqual(m.envelope.signature, m.envelope.payload);
    assert.ok(m.isSigned());
    m.verify(ID, verifier);
    const back = SignedGossipMessage.fromEnvelopeBytes(m.bytes);
    assert.deepStrictEqual(back.message, aliveMsg);
    back.verify(ID, verifier);
  });

  it("sign keeps an existing secret envelope, which still verifies", () => {
    const first = SignedGossipMessage.sign(aliveMsg, signer).withSecret(secret, signer);
    assert.equal(first.internalEndpoint(), "10.0.0.5:7051");
    const next: GossipMessage = { ...aliveMsg, nonce: 99n };
    const resigned = SignedGossipMessage.sign(next, signer, first.envelope.secretEnvelope);
    assert.equal(resigned.envelope.secretEnvelope, first.envelope.secretEnvelope);
    assert.equal(resigned.internalEndpoint(), "10.0.0.5:7051");
    resigned.verify(ID, verifier);
    const wire = SignedGossipMessage.fromEnvelopeBytes(resigned.bytes);
    assert.deepStrictEqual(wire.envelope.secretEnvelope, first.envelope.secretEnvelope);
    wire.verify(ID, verifier);
  });

  it("withoutSecret strips the secret and the outer signature stays valid", () => {
    const withSecret = SignedGossipMessage.sign(aliveMsg, signer).withSecret(secret, signer);
    const stripped = withSecret.withoutSecret();
    assert.equal(stripped.envelope.secretEnvelope, undefined);
    assert.equal(stripped.internalEndpoint(), "");
    assert.ok(stripped.size < withSecret.size);
    stripped.verify(ID, verifier);
  });

  it("verify rejects an empty payload", () => {
    const m = SignedGossipMessage.fromEnvelope({ payload: EMPTY, signature: utf8("sig"), secretEnvelope: undefined });
    assertCode(() => m.verify(ID, verifier), "EMPTY_PAYLOAD");
  });

  it("verify rejects an empty signature (NoopSign)", () => {
    const m = SignedGossipMessage.noopSign(aliveMsg);
    assert.equal(m.isSigned(), false);
    assertCode(() => m.verify(ID, verifier), "EMPTY_SIGNATURE");
  });

  it("verify rejects a signature that does not verify", () => {
    const m = SignedGossipMessage.sign(aliveMsg, () => utf8("forged"));
    assertCode(() => m.verify(ID, verifier), "BAD_SIGNATURE");
  });

  it("verify rejects a bad or empty secret signature", () => {
    const base = SignedGossipMessage.sign(aliveMsg, signer);
    assertCode(() => base.withSecret(secret, () => utf8("forged")).verify(ID, verifier), "BAD_SECRET");
    assertCode(() => base.withSecret(secret, () => EMPTY).verify(ID, verifier), "BAD_SECRET");
  });

  it("fromEnvelopeBytes keeps the received bytes, even when a re-encode would differ", () => {
    const encoded = SignedGossipMessage.sign(aliveMsg, signer).bytes;
    // Field 15, varint 1: unknown to the decoder, so dropped by a re-encode.
    const raw = new Uint8Array([...encoded, 0x78, 0x01]);
    const m = SignedGossipMessage.fromEnvelopeBytes(raw);
    assert.equal(m.bytes, raw);
    assert.equal(m.size, raw.byteLength);
    assert.notDeepStrictEqual(Envelope.encode(m.envelope).finish(), raw);
    m.verify(ID, verifier);
  });

  it("fromEnvelopeBytes refuses bytes that are not an envelope", () => {
    assertCode(() => SignedGossipMessage.fromEnvelopeBytes(new Uint8Array([0x0a, 0x05, 0x01])), "MALFORMED_MESSAGE");
  });
  it("decoded messages share one empty array for their empty bytes fields, and keep the others byte for byte", () => {
    const a = SignedGossipMessage.fromEnvelopeBytes(SignedGossipMessage.sign(aliveMsg, signer).bytes);
    const withMeta: GossipMessage = {
      ...aliveMsg,
      content: {
        $case: "aliveMsg",
        value: { membership: { endpoint: "peer1:7051", metadata: utf8("m"), pkiId: ID }, timestamp: { incNum: 1n, seqNum: 1n }, identity: EMPTY },
      },
    };
    const b = SignedGossipMessage.fromEnvelope(Envelope.decode(SignedGossipMessage.sign(withMeta, signer).bytes));
    const av = a.message.content?.$case === "aliveMsg" ? a.message.content.value : undefined;
    const bv = b.message.content?.$case === "aliveMsg" ? b.message.content.value : undefined;
    assert.ok(av !== undefined && bv !== undefined);
    // Empty fields: one shared zero-length array (absent on the wire, so the decoder made them).
    assert.equal(a.message.channel.byteLength, 0);
    assert.equal(a.message.channel, b.message.channel);
    assert.equal(av.membership?.metadata, a.message.channel);
    assert.equal(bv.identity, a.message.channel);
    // Non-empty fields are what was sent.
    assert.deepStrictEqual(av.identity, ID);
    assert.deepStrictEqual(bv.membership?.metadata, utf8("m"));
    assert.deepStrictEqual(av.membership?.pkiId, ID);
  });

  it("decoded PKI-IDs are arrays of their own, not views of the frame", () => {
    const stateInfo: GossipMessage = {
      nonce: 0n,
      channel: EMPTY,
      tag: Tag.CHAN_OR_ORG,
      content: { $case: "stateInfo", value: { timestamp: { incNum: 1n, seqNum: 2n }, pkiId: ID, channelMAC: utf8("mac"), properties: undefined } },
    };
    for (const original of [aliveMsg, stateInfo]) {
      // The frame inside a larger buffer, as a received frame is.
      const bytes = SignedGossipMessage.sign(original, signer).bytes;
      const frame = new Uint8Array(bytes.byteLength + 8).subarray(8);
      frame.set(bytes);
      const m = SignedGossipMessage.fromEnvelopeBytes(frame);
      const c = m.message.content;
      const pkiId = c?.$case === "aliveMsg" ? c.value.membership?.pkiId : c?.$case === "stateInfo" ? c.value.pkiId : undefined;
      assert.ok(pkiId !== undefined);
      assert.deepStrictEqual(pkiId, ID);
      // Its own buffer: what the lookups by PKI-ID remember (a view would pin the frame).
      assert.equal(pkiId.byteOffset, 0);
      assert.equal(pkiId.buffer.byteLength, ID.byteLength);
      frame.fill(0);
      assert.deepStrictEqual(pkiId, ID, "unchanged when the frame is overwritten");
    }
  });
});
