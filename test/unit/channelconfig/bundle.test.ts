import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ChannelConfigTracker,
  ChannelVerifyError,
  type ChannelVerifyErrorCode,
  channelConfigFromBlock,
  createChannelBundle,
  createChannelConfigTracker,
  lastConfigIndex,
  parseChannelConfig,
} from "../../../src/channelconfig/index.js";
import { blockDataHash, blockHeaderBytes, concatBytes, type SigningIdentity } from "../../../src/crypto/index.js";
import {
  type Block,
  BlockMetadataIndex,
  ChannelHeader,
  Envelope,
  Metadata,
  Payload,
  SignatureHeader,
} from "../../../src/protos/gen/common/common.pb.js";
import { block, fixtureClock, fixtureSigner } from "./vectors.js";
import { codeOf } from "../../utils/error-code.js";

const clock = fixtureClock();

const orderer = fixtureSigner("orderer", "OrdererMSP", "orderer.example.com");
const peer0Org1 = fixtureSigner("org1", "Org1MSP", "peer0.org1.example.com");
const peer1Org1 = fixtureSigner("org1", "Org1MSP", "peer1.org1.example.com");
const peer2Org1 = fixtureSigner("org1", "Org1MSP", "peer2.org1.example.com");
const peer0Org2 = fixtureSigner("org2", "Org2MSP", "peer0.org2.example.com");
const peer0Org3 = fixtureSigner("org3", "Org3MSP", "peer0.org3.example.com");

/** A tracker fed the fixture's blocks 1..upTo. */
function trackerAfter(upTo: number): ChannelConfigTracker {
  const t = createChannelConfigTracker(block(0), { clock });
  for (let n = 1; n <= upTo; n++) t.append(block(n));
  return t;
}

function refusal(fn: () => void): ChannelVerifyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ChannelVerifyError) return err;
    throw err;
  }
  assert.fail("expected a ChannelVerifyError");
}

/** A copy of `b` whose SIGNATURES metadata is re-signed by `by`, as an orderer signs (same value, fresh header). */
function resigned(b: Block, by: SigningIdentity): Block {
  const header = b.header!;
  const md = Metadata.decode(b.metadata!.metadata[BlockMetadataIndex.SIGNATURES]!);
  const signatureHeader = SignatureHeader.encode({ creator: by.serialized, nonce: new Uint8Array(24).fill(7) }).finish();
  const signature = by.sign(concatBytes(md.value, signatureHeader, blockHeaderBytes(header)));
  const metadata = [...b.metadata!.metadata];
  metadata[BlockMetadataIndex.SIGNATURES] = Metadata.encode({ value: md.value, signatures: [{ signatureHeader, signature }] }).finish();
  return { ...b, metadata: { metadata } };
}

/** A copy of `b` whose first envelope names `channelId`, with the data hash recomputed. */
function forChannel(b: Block, channelId: string): Block {
  const [first, ...rest] = b.data!.data;
  const env = Envelope.decode(first!);
  const payload = Payload.decode(env.payload);
  const ch = ChannelHeader.decode(payload.header!.channelHeader);
  const changed = Payload.encode({ ...payload, header: { ...payload.header!, channelHeader: ChannelHeader.encode({ ...ch, channelId }).finish() } }).finish();
  const data = { data: [Envelope.encode({ ...env, payload: changed }).finish(), ...rest] };
  return { ...b, data, header: { ...b.header!, dataHash: blockDataHash(data) } };
}

describe("the channel's configuration as its blocks go by (Fabric v2.5.6 fixture)", () => {
  it("trusts block 0 and verifies every block 1-9 under the configuration in force at its height", () => {
    const t = createChannelConfigTracker(block(0), { clock });
    assert.equal(t.channelId, "mychannel");
    assert.equal(t.height, 1n);
    const configBlocks: bigint[] = [];
    for (let n = 1; n <= 9; n++) {
      const b = block(n);
      // The orderer records, in a data block, the config block in force; a config block names itself.
      const recorded = lastConfigIndex(b);
      if (recorded !== BigInt(n)) assert.equal(t.configBlockNumber, recorded, `block ${n}`);
      const before = t.bundle;
      t.verifyBlock(b, BigInt(n));
      const next = t.append(b);
      if (next !== undefined) {
        configBlocks.push(BigInt(n));
        assert.notEqual(t.bundle, before);
        assert.equal(t.bundle.config.sequence, before.config.sequence + 1n);
      }
      assert.equal(t.height, BigInt(n + 1));
    }
    assert.deepEqual(configBlocks, [4n, 6n, 7n, 8n]);
    assert.equal(t.configBlockNumber, 8n);
  });

  it("block 0 itself carries no signature: it is trusted at join, and would be refused as NO_SIGNATURES", () => {
    const bundle = createChannelBundle(channelConfigFromBlock(block(0)), { clock });
    assert.equal(refusal(() => bundle.verifyBlock(block(0))).code, "NO_SIGNATURES");
  });

  it("after block 4 Org2 has its anchor; after block 6 peer2.org1 is revoked, peer1.org1 is not", () => {
    const t = trackerAfter(3);
    assert.deepEqual(t.bundle.config.applicationOrg("Org2MSP")?.anchorPeers, []);
    t.append(block(4));
    assert.deepEqual(t.bundle.config.applicationOrg("Org2MSP")?.anchorPeers, [{ host: "127.0.0.1", port: 26051 }]);
    t.append(block(5));
    t.bundle.msps.validate(peer2Org1.serialized);
    t.append(block(6));
    assert.throws(
      () => t.bundle.msps.validate(peer2Org1.serialized),
      (err: unknown) => (err as { code?: string }).code === "REVOKED_IDENTITY" && /revoked/i.test((err as Error).message),
    );
    t.bundle.msps.validate(peer1Org1.serialized);
  });

  it("after block 7 Org3MSP is an application org with anchor 127.0.0.1:26151 and may read the channel", () => {
    const t = trackerAfter(6);
    const msg = new TextEncoder().encode("a gossip message");
    assert.equal(t.bundle.config.applicationOrg("Org3MSP"), undefined);
    assert.equal(codeOf(() => t.bundle.verifyByChannel(peer0Org3.serialized, peer0Org3.sign(msg), msg)), "POLICY_NOT_SATISFIED");
    t.append(block(7));
    assert.deepEqual(t.bundle.config.applicationOrgs.map((o) => o.mspId), ["Org1MSP", "Org2MSP", "Org3MSP"]);
    assert.deepEqual(t.bundle.config.applicationOrg("Org3MSP")?.anchorPeers, [{ host: "127.0.0.1", port: 26151 }]);
    t.bundle.verifyByChannel(peer0Org3.serialized, peer0Org3.sign(msg), msg);
  });

  it("after block 8 the orderer endpoints are 25050 and 25150", () => {
    const t = trackerAfter(7);
    assert.deepEqual(t.bundle.config.ordererEndpoints, ["127.0.0.1:25050"]);
    t.append(block(8));
    assert.deepEqual(t.bundle.config.ordererEndpoints, ["127.0.0.1:25050", "127.0.0.1:25150"]);
    t.append(block(9));
    assert.equal(t.height, 10n);
  });

  it("takes blocks only in order, and a refused block changes nothing", () => {
    const t = trackerAfter(2);
    assert.equal(refusal(() => t.append(block(4))).code, "WRONG_SEQUENCE");
    assert.equal(refusal(() => t.append(resigned(block(3), peer0Org1))).code, "POLICY_NOT_SATISFIED");
    assert.equal(t.height, 3n);
    t.append(block(3));
    assert.equal(refusal(() => t.verifyBlock(block(4), 5n)).code, "WRONG_SEQUENCE");
  });
});

describe("refused blocks and messages, with their typed reasons", () => {
  const expectRefusal = (code: ChannelVerifyErrorCode, fn: () => void): ChannelVerifyError => {
    const e = refusal(fn);
    assert.equal(e.code, code, e.message);
    return e;
  };

  it("a block signed by an identity outside the orderer org: POLICY_NOT_SATISFIED", () => {
    const t = trackerAfter(4);
    // Re-signed by the orderer, the copy verifies: the construction of the signed bytes is Fabric's.
    t.verifyBlock(resigned(block(5), orderer));
    const e = expectRefusal("POLICY_NOT_SATISFIED", () => t.verifyBlock(resigned(block(5), peer0Org1)));
    assert.ok(e.policyError !== undefined);
    assert.match(e.message, /\/Channel\/Orderer\/BlockValidation/);
    assert.ok(e.policyError.unsatisfied.some((u) => u.includes("OrdererMSP")), e.message);
    // An org the channel does not know yet: its signature is not even counted.
    const unknown = expectRefusal("POLICY_NOT_SATISFIED", () => t.verifyBlock(resigned(block(5), peer0Org3)));
    assert.deepEqual(unknown.policyError?.rejected.map((r) => r.code), ["UNKNOWN_MSP"]);
  });

  it("a block signed by a revoked identity (peer2.org1 after block 6): refused, and the MSP says it is revoked", () => {
    const t = trackerAfter(6);
    expectRefusal("POLICY_NOT_SATISFIED", () => t.verifyBlock(resigned(block(7), peer2Org1)));
    assert.equal(codeOf(() => t.bundle.msps.validate(peer2Org1.serialized)), "REVOKED_IDENTITY");
    // Its gossip messages are refused too; before block 6 they were accepted.
    const msg = new TextEncoder().encode("a gossip message");
    const readers = expectRefusal("POLICY_NOT_SATISFIED", () => t.bundle.verifyByChannel(peer2Org1.serialized, peer2Org1.sign(msg), msg));
    assert.ok(readers.policyError?.unsatisfied.some((u) => /revoked/i.test(u)), readers.message);
    trackerAfter(5).bundle.verifyByChannel(peer2Org1.serialized, peer2Org1.sign(msg), msg);
    t.bundle.verifyByChannel(peer1Org1.serialized, peer1Org1.sign(msg), msg);
  });

  it("a block for another channel: WRONG_CHANNEL, even when the orderer signed it", () => {
    const t = trackerAfter(4);
    const other = createChannelBundle(parseChannelConfig("otherchannel", t.bundle.config.config), { clock });
    expectRefusal("WRONG_CHANNEL", () => other.verifyBlock(block(5)));
    const moved = resigned(forChannel(block(5), "otherchannel"), orderer);
    other.verifyBlock(moved);
    expectRefusal("WRONG_CHANNEL", () => t.verifyBlock(moved));
  });

  it("a tampered data block: BAD_DATA_HASH", () => {
    const t = trackerAfter(4);
    const b = block(5);
    const entries = b.data!.data.map((d) => new Uint8Array(d));
    const second = entries[1]!;
    second[second.length - 1]! ^= 1;
    expectRefusal("BAD_DATA_HASH", () => t.verifyBlock({ ...b, data: { data: entries } }));
    // Without metadata a block has no signatures at all.
    expectRefusal("NO_SIGNATURES", () => t.verifyBlock({ ...b, metadata: { metadata: [] } }));
  });

  it("the orderer may not read the application channel; members of both orgs may", () => {
    const t = trackerAfter(1);
    const msg = new TextEncoder().encode("a gossip message");
    t.bundle.verifyByChannel(peer0Org2.serialized, peer0Org2.sign(msg), msg);
    expectRefusal("POLICY_NOT_SATISFIED", () => t.bundle.verifyByChannel(orderer.serialized, orderer.sign(msg), msg));
    expectRefusal("POLICY_NOT_SATISFIED", () => t.bundle.verifyByChannel(peer0Org1.serialized, peer0Org1.sign(new TextEncoder().encode("else")), msg));
  });
});
