import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { computeTxId, createSeekInfoEnvelope, decodeDeliverResponse, MAX_UINT64 } from "../../../src/deliver/index.js";
import { ChannelHeader, HeaderType, Payload, SignatureHeader, Status } from "../../../src/protos/gen/common/common.pb.js";
import { SeekInfo, SeekInfo_SeekBehavior } from "../../../src/protos/gen/orderer/ab.pb.js";
import { ManualClock, SeededRandom } from "../../../src/util/index.js";
import { blockResponse, CHANNEL, fakeSigner, makeChain, statusResponse } from "./helpers.js";

describe("SeekInfo envelope", () => {
  test("is Fabric's signed DELIVER_SEEK_INFO from the given height to MaxUint64, BLOCK_UNTIL_READY, with the TLS binding", () => {
    const clock = new ManualClock(1_700_000_123_456);
    const tlsCertHash = new Uint8Array(32).fill(9);
    const env = createSeekInfoEnvelope(fakeSigner, CHANNEL, { start: 42n, stop: MAX_UINT64 }, { clock, random: new SeededRandom(1), tlsCertHash });
    assert.deepEqual(env.signature, fakeSigner.sign(env.payload));
    const payload = Payload.decode(env.payload);
    const ch = ChannelHeader.decode(payload.header!.channelHeader);
    const sh = SignatureHeader.decode(payload.header!.signatureHeader);
    assert.equal(ch.type, HeaderType.DELIVER_SEEK_INFO);
    assert.equal(ch.version, 0);
    assert.equal(ch.channelId, CHANNEL);
    assert.equal(ch.epoch, 0n);
    assert.equal(ch.timestamp?.getTime(), 1_700_000_123_000);
    assert.deepEqual(ch.tlsCertHash, tlsCertHash);
    assert.deepEqual(sh.creator, fakeSigner.serialized);
    assert.equal(sh.nonce.byteLength, 24);
    assert.equal(ch.txId, computeTxId(sh.nonce, sh.creator));
    const info = SeekInfo.decode(payload.data);
    assert.deepEqual(info.start?.Type, { $case: "specified", value: { number: 42n } });
    assert.deepEqual(info.stop?.Type, { $case: "specified", value: { number: MAX_UINT64 } });
    assert.equal(info.behavior, SeekInfo_SeekBehavior.BLOCK_UNTIL_READY);
  });

  test("nonces differ between envelopes", () => {
    const clock = new ManualClock();
    const random = new SeededRandom(2);
    const nonce = (): Uint8Array => {
      const env = createSeekInfoEnvelope(fakeSigner, CHANNEL, { start: 1n }, { clock, random });
      return SignatureHeader.decode(Payload.decode(env.payload).header!.signatureHeader).nonce;
    };
    assert.notDeepEqual(nonce(), nonce());
  });
});

describe("DeliverResponse decoding", () => {
  test("a block keeps the exact bytes the orderer sent", () => {
    const block = makeChain(3)[2]!;
    const msg = decodeDeliverResponse(blockResponse(block));
    assert.equal(msg.kind, "block");
    if (msg.kind !== "block") return;
    assert.equal(msg.block.header?.number, 2n);
    const resp = blockResponse(block);
    // field 2, length-delimited: the block bytes follow the tag and the length varint
    const decoded = decodeDeliverResponse(resp);
    assert.ok(decoded.kind === "block" && Buffer.from(resp).includes(Buffer.from(decoded.bytes)));
  });

  test("a status, an empty response and garbage", () => {
    assert.deepEqual(decodeDeliverResponse(statusResponse(Status.NOT_FOUND)), { kind: "status", status: Status.NOT_FOUND });
    assert.deepEqual(decodeDeliverResponse(statusResponse(Status.SUCCESS)), { kind: "status", status: Status.SUCCESS });
    assert.deepEqual(decodeDeliverResponse(new Uint8Array(0)), { kind: "malformed", error: "DeliverResponse carries neither a status nor a block" });
    assert.equal(decodeDeliverResponse(new Uint8Array([0x12, 0x10, 0x01])).kind, "malformed");
    assert.equal(decodeDeliverResponse(new Uint8Array([0xff, 0xff, 0xff])).kind, "malformed");
  });
});
