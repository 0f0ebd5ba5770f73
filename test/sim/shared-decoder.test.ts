import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MessageError, SignedGossipMessage } from "../../src/protoext/index.js";
import { SharedFrameDecoder } from "../../src/sim/shared-decoder.js";
import { utf8 } from "../../src/util/index.js";
import { RemotePeer } from "../unit/discovery/recording-comm.js";

/** Alive messages of each endpoint, by sequence number (a peer as discovery's tests build one). */
const peers = new Map<string, RemotePeer>();
function aliveBytes(endpoint: string, seq: bigint): Uint8Array {
  let peer = peers.get(endpoint);
  if (peer === undefined) {
    peer = new RemotePeer(endpoint);
    peers.set(endpoint, peer);
  }
  return peer.alive({ seq, secret: false }).bytes;
}

function pkiIdOf(msg: SignedGossipMessage): Uint8Array | undefined {
  const c = msg.message.content;
  return c?.$case === "aliveMsg" ? c.value.membership?.pkiId : undefined;
}

describe("SharedFrameDecoder", () => {
  it("gives every receiver of the same frame one decoded message, equal to what each would decode", () => {
    const d = new SharedFrameDecoder();
    const frame = aliveBytes("p1:7051", 1n);
    const first = d.decode(frame);
    assert.equal(d.decode(frame), first);
    assert.deepEqual(first.message, SignedGossipMessage.fromEnvelopeBytes(frame).message);
    assert.equal(first.bytes, frame, "forwarded as the very bytes received");
    assert.deepEqual(d.stats(), { decodes: 1, hits: 1 });
  });

  it("points the PKI-IDs of different frames of one peer at one array of their own, not views of a frame", () => {
    const d = new SharedFrameDecoder();
    const a = pkiIdOf(d.decode(aliveBytes("p1:7051", 1n)))!;
    const b = pkiIdOf(d.decode(aliveBytes("p1:7051", 2n)))!;
    const other = pkiIdOf(d.decode(aliveBytes("p2:7051", 1n)))!;
    assert.equal(a, b);
    assert.deepEqual(a, utf8("p1:7051"));
    assert.equal(a.byteOffset, 0);
    assert.equal(a.buffer.byteLength, a.byteLength, "a copy, which holds no frame");
    assert.notEqual(other, a);
    // Equal bytes in another array are another frame: decoded again (the network hands on the same array).
    const copy = aliveBytes("p1:7051", 1n).slice();
    assert.notEqual(d.decode(copy), d.decode(aliveBytes("p1:7051", 1n)));
  });

  it("throws the decoder's error for a frame that does not decode, each time, remembering nothing", () => {
    const d = new SharedFrameDecoder();
    const bad = Uint8Array.of(0x0a, 0x05, 0x01);
    assert.throws(() => d.decode(bad), MessageError);
    assert.throws(() => d.decode(bad), MessageError);
    assert.deepEqual(d.stats(), { decodes: 0, hits: 0 });
  });
});
