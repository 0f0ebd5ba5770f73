import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import {
  blockDataHash,
  blockHeaderBytes,
  channelIdOfBlock,
  concatBytes,
  createBlockSignatureMetadata,
} from "../../../src/crypto/block.js";
import { CryptoError } from "../../../src/crypto/errors.js";
import { loadPeerMaterial, loadVerifierOrgs } from "../../../src/crypto/generate.js";
import { MspMessageCryptoServiceImpl } from "../../../src/crypto/mcs.js";
import { MspVerifier } from "../../../src/crypto/msp.js";
import {
  type Block,
  type BlockHeader,
  ChannelHeader,
  Envelope,
  Metadata,
  Payload,
  SignatureHeader,
} from "../../../src/protos/gen/common/common.pb.js";
import { ManualClock } from "../../../src/util/manual-clock.js";
import { generatedMaterial, nodeDir } from "./fixture.js";
import { codeOf } from "../../utils/error-code.js";

const cryptoCode = (fn: () => unknown): string | undefined => codeOf(fn, CryptoError);

const enc = new TextEncoder();
const dec = new TextDecoder();

function envelope(channelId: string, body: string): Uint8Array {
  const channelHeader = ChannelHeader.encode({
    type: 3,
    version: 0,
    timestamp: undefined,
    channelId,
    txId: body,
    epoch: 0n,
    extension: new Uint8Array(0),
    tlsCertHash: new Uint8Array(0),
  }).finish();
  const payload = Payload.encode({ header: { channelHeader, signatureHeader: new Uint8Array(0) }, data: enc.encode(body) }).finish();
  return Envelope.encode({ payload, signature: new Uint8Array(0) }).finish();
}

function makeBlock(channelId: string, number: bigint, signer?: { serialized: Uint8Array; sign(m: Uint8Array): Uint8Array }): Block {
  const data = { data: [envelope(channelId, `tx-a-${number}`), envelope(channelId, `tx-b-${number}`)] };
  const header: BlockHeader = { number, previousHash: new Uint8Array(32).fill(7), dataHash: blockDataHash(data) };
  const sigs = signer === undefined ? Metadata.encode({ value: new Uint8Array(0), signatures: [] }).finish() : createBlockSignatureMetadata(header, [signer]);
  return { header, data, metadata: { metadata: [sigs, new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)] } };
}

test("BlockHeaderBytes known answers (Go asn1.Marshal of {Number *big.Int, PreviousHash, DataHash})", () => {
  const hex = (h: BlockHeader): string => Buffer.from(blockHeaderBytes(h)).toString("hex");
  assert.equal(hex({ number: 0n, previousHash: new Uint8Array(0), dataHash: new Uint8Array(0) }), "3007020100" + "0400" + "0400");
  assert.equal(hex({ number: 128n, previousHash: Uint8Array.of(1), dataHash: Uint8Array.of(2, 3) }), "300b02020080" + "040101" + "04020203");
  assert.equal(
    hex({ number: 0xffffffffffffffffn, previousHash: new Uint8Array(0), dataHash: new Uint8Array(0) }),
    "300f020900ffffffffffffffff" + "0400" + "0400",
  );
  const long = blockHeaderBytes({ number: 1n, previousHash: new Uint8Array(200), dataHash: new Uint8Array(32) });
  assert.equal(Buffer.from(long.subarray(0, 4)).toString("hex"), "3081f0" + "02", "long-form length");
});

test("BlockDataHash is SHA-256 over the concatenated entries", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (entries) => {
      const expected = createHash("sha256").update(Buffer.concat(entries)).digest();
      assert.deepEqual(Buffer.from(blockDataHash({ data: entries })), expected);
    }),
  );
  assert.equal(
    Buffer.from(blockDataHash(undefined)).toString("hex"),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

test("MspMessageCryptoService", async (t) => {
  const m = await generatedMaterial(t);
  const clock = new ManualClock(Date.now());
  const orgs = await loadVerifierOrgs(m.root);
  const peer1 = await loadPeerMaterial(nodeDir(m, "peer0.org1.example.com"));
  const peer2 = await loadPeerMaterial(nodeDir(m, "peer0.org2.example.com"));
  const orderer = await loadPeerMaterial(nodeDir(m, "orderer.example.com"));
  const channels = new Map<string, ReadonlySet<string>>([["mychannel", new Set(["Org1MSP"])]]);
  const newMcs = (signer = peer1.signingIdentity, ordererChecked = true): MspMessageCryptoServiceImpl =>
    new MspMessageCryptoServiceImpl(
      { signer, verifier: new MspVerifier(orgs, { clock }) },
      {
        channelOrgs: (c) => channels.get(c),
        ordererOrgs: ordererChecked ? (c) => (channels.has(c) ? new Set(["OrdererMSP"]) : undefined) : undefined,
      },
    );

  await t.test("PKI-ID, org, expiration, sign/verify", () => {
    const mcs = newMcs();
    const id1 = peer1.signingIdentity.serialized;
    assert.deepEqual(mcs.getPKIidOfCert(id1), peer1.signingIdentity.pkiId);
    assert.deepEqual(mcs.selfPkiId, peer1.signingIdentity.pkiId);
    assert.deepEqual(mcs.selfIdentity, id1);
    assert.equal(dec.decode(mcs.orgByPeerIdentity(peer2.signingIdentity.serialized)), "Org2MSP");
    assert.equal(mcs.orgByPeerIdentity(enc.encode("nonsense")).byteLength, 0);
    // One array per org, whoever asks: identity mappers keep the org of every member.
    assert.equal(mcs.orgByPeerIdentity(peer2.signingIdentity.serialized), mcs.orgByPeerIdentity(peer2.signingIdentity.serialized));
    assert.equal(dec.decode(mcs.orgByPeerIdentity(id1)), "Org1MSP");
    assert.deepEqual(mcs.expiration(id1), peer1.signingIdentity.notAfter);
    mcs.validateIdentity(peer2.signingIdentity.serialized);
    const msg = enc.encode("alive");
    const sig = mcs.sign(msg);
    mcs.verify(id1, sig, msg);
    // a peer of another org verifies it too
    newMcs(peer2.signingIdentity).verify(id1, sig, msg);
    assert.equal(cryptoCode(() => mcs.verify(peer2.signingIdentity.serialized, sig, msg)), "BAD_SIGNATURE");
    assert.equal(cryptoCode(() => mcs.getPKIidOfCert(new Uint8Array(0))), "MALFORMED_IDENTITY");
  });

  await t.test("property: any message signs and verifies, a flipped bit fails", () => {
    const mcs = newMcs();
    const id1 = peer1.signingIdentity.serialized;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.nat(), (msg, seed) => {
        const sig = mcs.sign(msg);
        mcs.verify(id1, sig, msg);
        const flipped = new Uint8Array(sig);
        const bit = seed % (sig.byteLength * 8);
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        const code = cryptoCode(() => mcs.verify(id1, flipped, msg));
        assert.ok(code === "BAD_SIGNATURE" || code === "HIGH_S_SIGNATURE");
      }),
      { numRuns: 50 },
    );
    assert.equal(mcs.stats().certParses, 1, "the identity was parsed once");
  });

  await t.test("verifyByChannel: membership by org, unknown channel", () => {
    const mcs = newMcs();
    const msg = enc.encode("stateinfo");
    mcs.verifyByChannel("mychannel", peer1.signingIdentity.serialized, peer1.signingIdentity.sign(msg), msg);
    assert.equal(
      cryptoCode(() => mcs.verifyByChannel("mychannel", peer2.signingIdentity.serialized, peer2.signingIdentity.sign(msg), msg)),
      "CHANNEL_ACCESS_DENIED",
    );
    assert.equal(
      cryptoCode(() => mcs.verifyByChannel("other", peer1.signingIdentity.serialized, peer1.signingIdentity.sign(msg), msg)),
      "UNKNOWN_CHANNEL",
    );
    assert.equal(
      cryptoCode(() => mcs.verifyByChannel("mychannel", peer1.signingIdentity.serialized, peer2.signingIdentity.sign(msg), msg)),
      "BAD_SIGNATURE",
    );
  });

  await t.test("verifyBlock accepts a good block", () => {
    const mcs = newMcs();
    const block = makeBlock("mychannel", 5n, orderer.signingIdentity);
    assert.equal(channelIdOfBlock(block.data), "mychannel");
    mcs.verifyBlock("mychannel", 5n, block);
    // without orderer orgs only the hash is checked
    newMcs(peer1.signingIdentity, false).verifyBlock("mychannel", 5n, makeBlock("mychannel", 5n));
  });

  await t.test("verifyBlock rejects a bad data hash, wrong seq and wrong channel", () => {
    const mcs = newMcs();
    const block = makeBlock("mychannel", 5n, orderer.signingIdentity);
    const tampered: Block = { ...block, data: { data: [...block.data!.data, envelope("mychannel", "injected")] } };
    assert.equal(cryptoCode(() => mcs.verifyBlock("mychannel", 5n, tampered)), "BAD_BLOCK");
    assert.equal(cryptoCode(() => mcs.verifyBlock("mychannel", 6n, block)), "BAD_BLOCK");
    assert.equal(cryptoCode(() => mcs.verifyBlock("other", 5n, block)), "BAD_BLOCK");
    assert.equal(cryptoCode(() => mcs.verifyBlock("mychannel", 5n, { ...block, header: undefined })), "BAD_BLOCK");
    assert.equal(cryptoCode(() => mcs.verifyBlock("mychannel", 5n, { ...block, metadata: { metadata: [] } })), "BAD_BLOCK");
    assert.equal(cryptoCode(() => mcs.verifyBlock("mychannel", 5n, { ...block, data: { data: [] } })), "BAD_BLOCK");
    assert.equal(
      cryptoCode(() => mcs.verifyBlock("mychannel", 5n, { ...block, metadata: { metadata: [Uint8Array.of(0x0a, 0x7f)] } })),
      "BAD_BLOCK",
      "undecodable metadata",
    );
  });

  await t.test("verifyBlock rejects bad orderer signatures", () => {
    const mcs = newMcs();
    // signed by a peer, not by the orderer org
    assert.equal(cryptoCode(() => mcs.verifyBlock("mychannel", 5n, makeBlock("mychannel", 5n, peer1.signingIdentity))), "BAD_BLOCK");
    // no signatures
    assert.equal(cryptoCode(() => mcs.verifyBlock("mychannel", 5n, makeBlock("mychannel", 5n))), "BAD_BLOCK");
    // corrupted signature
    const block = makeBlock("mychannel", 5n, orderer.signingIdentity);
    const md = Metadata.decode(block.metadata!.metadata[0]!);
    const sig = new Uint8Array(md.signatures[0]!.signature);
    sig[sig.byteLength - 1]! ^= 1;
    const corrupted = Metadata.encode({ value: md.value, signatures: [{ ...md.signatures[0]!, signature: sig }] }).finish();
    assert.equal(cryptoCode(() => mcs.verifyBlock("mychannel", 5n, { ...block, metadata: { metadata: [corrupted] } })), "BAD_BLOCK");
    // a signature of another block's header does not carry over
    const other = makeBlock("mychannel", 5n, orderer.signingIdentity);
    const swapped: Block = { ...other, header: { ...other.header!, previousHash: new Uint8Array(32).fill(9) } };
    assert.equal(cryptoCode(() => mcs.verifyBlock("mychannel", 5n, swapped)), "BAD_BLOCK");
    // the signed bytes are value || signature_header || BlockHeaderBytes(header)
    const shdr = md.signatures[0]!.signatureHeader;
    assert.deepEqual(SignatureHeader.decode(shdr).creator, orderer.signingIdentity.serialized);
    orderer.signingIdentity.verify(md.signatures[0]!.signature, concatBytes(md.value, shdr, blockHeaderBytes(block.header!)));
  });

  await t.test("the local MSP must be in the verifier set", () => {
    assert.throws(
      () => new MspMessageCryptoServiceImpl({ signer: peer1.signingIdentity, verifier: new MspVerifier(orgs.filter((o) => o.mspId !== "Org1MSP"), { clock }) }),
      (e: unknown) => e instanceof CryptoError && e.code === "MSP_CONFIG",
    );
  });
});
