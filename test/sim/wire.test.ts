/**
 * The simulator's frame scanner: the message type and channel of an encoded envelope, read off the wire
 * without decoding it; anything malformed is "other", never an exception.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SignedGossipMessage } from "../../src/protoext/index.js";
import { GossipMessage_Tag } from "../../src/protos/gen/gossip/message.pb.js";
import { FRAME_TYPES, type FrameInfo, scanFrame } from "../../src/sim/index.js";
import { fromUtf8, utf8 } from "../../src/util/index.js";

const info = (): FrameInfo => ({ type: -1, channelStart: -1, channelEnd: -1 });

test("scanFrame: type and channel of encoded envelopes; truncations and garbage are 'other'", () => {
  const data = SignedGossipMessage.noopSign({
    nonce: 300n,
    channel: utf8("mychannel"),
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "dataMsg", value: { payload: { seqNum: 7n, data: new Uint8Array(200).fill(1), privateData: [] } } },
  }).envelope;
  const alive = SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: new Uint8Array(0),
    tag: GossipMessage_Tag.EMPTY,
    content: { $case: "aliveMsg", value: { membership: { endpoint: "p1:7051", metadata: new Uint8Array(0), pkiId: utf8("p1") }, timestamp: { incNum: 1n, seqNum: 2n }, identity: new Uint8Array(0) } },
  }).envelope;
  const encode = (env: typeof data): Uint8Array => SignedGossipMessage.fromEnvelope(env).bytes;
  const d = scanFrame(encode(data), info());
  assert.equal(FRAME_TYPES[d.type], "data");
  assert.equal(fromUtf8(encode(data).subarray(d.channelStart, d.channelEnd)), "mychannel");
  const a = scanFrame(encode(alive), info());
  assert.equal(FRAME_TYPES[a.type], "alive");
  assert.equal(a.channelEnd - a.channelStart, 0, "no channel");
  // Every truncation of a frame, and bytes that are no protobuf at all, scan as "other" (or the type, once the
  // content's key is in) without throwing.
  const bytes = encode(data);
  for (let n = 0; n < bytes.length; n++) {
    const t = FRAME_TYPES[scanFrame(bytes.subarray(0, n), info()).type];
    assert.ok(t === "other" || t === "data", `truncated at ${n}: ${t}`);
  }
  assert.equal(FRAME_TYPES[scanFrame(Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), info()).type], "other");
  assert.equal(FRAME_TYPES[scanFrame(new Uint8Array(0), info()).type], "other");
});
