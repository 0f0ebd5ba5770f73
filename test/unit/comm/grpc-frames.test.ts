import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { frameMessage, GrpcFrameError, GrpcFrameReader } from "../../../src/comm/grpc/grpc-frames.js";

function messages(sizes: number[]): Uint8Array[] {
  return sizes.map((n, i) => Uint8Array.from({ length: n }, (_, j) => (i * 31 + j) & 0xff));
}

/** Reads `stream` cut at `cuts` (offsets), returning what the reader handed on. */
function readCut(stream: Buffer, cuts: number[], max = 1 << 20): Uint8Array[] {
  const out: Uint8Array[] = [];
  const reader = new GrpcFrameReader(max, (m) => out.push(new Uint8Array(m)));
  let at = 0;
  for (const c of [...cuts, stream.byteLength]) {
    reader.push(stream.subarray(at, c));
    at = c;
  }
  assert.equal(reader.pendingBytes, 0);
  return out;
}

describe("gRPC frames", () => {
  it("frames a message with a zero flag and its big-endian length", () => {
    const f = frameMessage(Uint8Array.from([7, 8, 9]));
    assert.deepEqual([...f], [0, 0, 0, 0, 3, 7, 8, 9]);
    assert.deepEqual([...frameMessage(new Uint8Array(0))], [0, 0, 0, 0, 0]);
  });

  it("reads back messages whatever the chunks: whole, several per chunk, split in the prefix or the body, byte by byte", () => {
    const msgs = messages([0, 1, 5, 300, 70_000, 2, 0]);
    const stream = Buffer.concat(msgs.map(frameMessage));
    const cutsets: number[][] = [
      [],
      [3],
      [5, 6, 7],
      [10, 200, 400, 401, 402, 30_000, 60_000, 70_100],
      Array.from({ length: 50 }, (_, i) => 1 + i * 1_409),
      Array.from({ length: 400 }, (_, i) => i + 1),
    ];
    for (const cuts of cutsets) assert.deepEqual(readCut(stream, cuts), msgs, `cuts ${cuts.slice(0, 5).join(",")}...`);
  });

  it("holds an incomplete message until its last byte, then hands it on once", () => {
    const out: Uint8Array[] = [];
    const reader = new GrpcFrameReader(1 << 20, (m) => out.push(m));
    const f = frameMessage(messages([1_000])[0]!);
    reader.push(f.subarray(0, 2));
    reader.push(f.subarray(2, 600));
    assert.equal(out.length, 0);
    assert.equal(reader.pendingBytes, 600);
    reader.push(f.subarray(600));
    assert.equal(out.length, 1);
    assert.equal(reader.pendingBytes, 0);
    assert.deepEqual(out[0], new Uint8Array(f.subarray(5)));
  });

  it("hands a small message of a large chunk on as a copy, so that keeping it does not keep the chunk", () => {
    const out: Uint8Array[] = [];
    const reader = new GrpcFrameReader(1 << 20, (m) => out.push(m));
    const chunk = Buffer.concat([frameMessage(new Uint8Array(10)), frameMessage(new Uint8Array(10_000))]);
    reader.push(chunk);
    assert.equal(out.length, 2);
    assert.notEqual(out[0]!.buffer, chunk.buffer, "10 bytes of a 10 KB chunk: copied");
    assert.equal(out[1]!.buffer, chunk.buffer, "most of the chunk: a view");
  });

  it("copies a message that fills its chunk when the chunk is a view of a larger read, as Node's HTTP/2 hands DATA on", () => {
    // Node's http2 gives each DATA chunk as a view of its 64 KiB socket read buffer.
    const read = Buffer.alloc(65_536);
    const whole = frameMessage(messages([300])[0]!);
    whole.copy(read, 1_000);
    const chunk = read.subarray(1_000, 1_000 + whole.byteLength);
    const out: Uint8Array[] = [];
    new GrpcFrameReader(1 << 20, (m) => out.push(m)).push(chunk);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], new Uint8Array(whole.subarray(5)));
    assert.notEqual(out[0]!.buffer, read.buffer, "300 bytes of a 64 KiB read: copied, so that storing it keeps 300 bytes");
    assert.equal(out[0]!.buffer.byteLength, 300);
    // A message that is most of the read is still a view.
    const big = frameMessage(messages([60_000])[0]!);
    const bigRead = Buffer.alloc(65_536);
    big.copy(bigRead, 16);
    const bigOut: Uint8Array[] = [];
    new GrpcFrameReader(1 << 20, (m) => bigOut.push(m)).push(bigRead.subarray(16, 16 + big.byteLength));
    assert.equal(bigOut[0]!.buffer, bigRead.buffer);
  });

  it("refuses a compressed message and one above the limit, by their prefix alone", () => {
    const reader = new GrpcFrameReader(100, () => assert.fail("nothing is handed on"));
    const compressed = Buffer.from([1, 0, 0, 0, 1, 0]);
    assert.throws(() => reader.push(compressed), (e: unknown) => e instanceof GrpcFrameError && e.code === "COMPRESSED");
    const big = new GrpcFrameReader(100, () => assert.fail("nothing is handed on"));
    // Only the prefix has arrived: the 4 GiB are never waited for.
    assert.throws(() => big.push(Buffer.from([0, 0xff, 0xff, 0xff, 0xff])), (e: unknown) => e instanceof GrpcFrameError && e.code === "TOO_LARGE" && /4294967295 bytes/.test(e.message));
    const split = new GrpcFrameReader(100, () => assert.fail("nothing is handed on"));
    split.push(Buffer.from([0, 0]));
    assert.throws(() => split.push(Buffer.from([0, 1, 0])), (e: unknown) => e instanceof GrpcFrameError && e.code === "TOO_LARGE");
  });
});
