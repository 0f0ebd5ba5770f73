/**
 * A connection's send queue against a remote that stops reading: plain sends stop at sendBuffSize,
 * blocking sends (responses, acks) at BLOCKING_QUEUE_FACTOR x sendBuffSize, so a member that keeps
 * asking but never reads cannot grow it without end; a sender that waits for each write is always
 * queued. What a retired connection hands over is kept.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pkiHex } from "../../../src/api/index.js";
import { BLOCKING_QUEUE_FACTOR, Connection } from "../../../src/comm/connection.js";
import type { RawStream } from "../../../src/comm/index.js";

/** A stream whose writes never complete until `release()`: a remote that reads nothing. */
class StalledStream implements RawStream {
  readonly remoteAddress = "10.0.0.9:7051";
  readonly remoteCertHash = undefined;
  readonly written: Uint8Array[] = [];
  #waiting: (() => void)[] = [];

  write(bytes: Uint8Array): Promise<void> {
    this.written.push(bytes);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  /** The remote reads again: every pending and later write completes. */
  release(): void {
    for (const r of this.#waiting.splice(0)) r();
    this.write = (bytes) => {
      this.written.push(bytes);
      return Promise.resolve();
    };
  }
  onData(): void {}
  onClose(): void {}
  close(): void {}
}

/**
 * A stream with writeNow that takes `room` writes at once, then holds the next up until `release()`;
 * `fail()` makes every later write fail.
 */
class PushBackStream implements RawStream {
  readonly remoteAddress = "10.0.0.9:7051";
  readonly remoteCertHash = undefined;
  readonly written: Uint8Array[] = [];
  #waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #failing = false;

  constructor(public room: number) {}

  write(bytes: Uint8Array): Promise<void> {
    return this.writeNow(bytes) ?? Promise.resolve();
  }
  writeNow(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#failing) return Promise.reject(new Error("stream broke"));
    this.written.push(bytes);
    if (this.room > 0) {
      this.room--;
      return undefined;
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }
  release(room: number): void {
    this.room = room;
    for (const w of this.#waiting.splice(0)) w.resolve();
  }
  fail(): void {
    this.#failing = true;
    for (const w of this.#waiting.splice(0)) w.reject(new Error("stream broke"));
  }
  onData(): void {}
  onClose(): void {}
  close(): void {}
}

const SEND_BUFF_SIZE = 5;

function connection(stream: RawStream): { conn: Connection; failures: Error[] } {
  const failures: Error[] = [];
  const conn = new Connection(
    { key: pkiHex(new Uint8Array([0xab])), info: { id: new Uint8Array([0xab]), identity: new Uint8Array(0), endpoint: "p9:7051", auth: undefined }, stream, outbound: true, since: 0 },
    { sendBuffSize: SEND_BUFF_SIZE, onSent: () => {}, onWriteFailure: (_c, err) => failures.push(err) },
  );
  return { conn, failures };
}

const frame = (i: number): Uint8Array => Uint8Array.of(i & 0xff, i >> 8);

describe("connection send queue", () => {
  it("drops plain sends at sendBuffSize and blocking sends at BLOCKING_QUEUE_FACTOR x sendBuffSize, telling the blocking sender", async () => {
    const stream = new StalledStream();
    const { conn } = connection(stream);
    // The first frame goes to the transport and stays there; the queue behind it fills.
    assert.equal(conn.enqueue(frame(0), false), true);
    await Promise.resolve();
    assert.equal(stream.written.length, 1);
    let plain = 0;
    for (let i = 1; i <= 3 * SEND_BUFF_SIZE; i++) if (conn.enqueue(frame(i), false)) plain++;
    assert.equal(plain, SEND_BUFF_SIZE, "plain sends queued behind a stalled transport");
    const errors: Error[] = [];
    let blocking = 0;
    for (let i = 0; i < 10 * SEND_BUFF_SIZE; i++) if (conn.enqueue(frame(100 + i), true, (e) => errors.push(e))) blocking++;
    const cap = BLOCKING_QUEUE_FACTOR * SEND_BUFF_SIZE;
    assert.equal(blocking, cap - SEND_BUFF_SIZE, "blocking sends fill the queue up to the cap, not beyond");
    assert.equal(errors.length, 10 * SEND_BUFF_SIZE - blocking, "each refused blocking send is told");
    assert.match(errors[0]!.message, /send queue to p9:7051 full/);
    // A sender that waits for each write (sendAndWait) paces itself: it is queued even now.
    let written = 0;
    assert.equal(
      conn.enqueue(frame(999), true, undefined, () => written++),
      true,
    );
    // Once the remote reads again, everything queued is written, in order, and nothing else.
    stream.release();
    await conn.drained();
    assert.equal(stream.written.length, 1 + cap + 1);
    assert.deepEqual(stream.written[1], frame(1));
    assert.deepEqual(stream.written[cap], frame(100 + blocking - 1));
    assert.deepEqual(stream.written[cap + 1], frame(999));
    assert.equal(written, 1);
  });

  it("a successor takes over everything a retired connection held, even beyond its own cap", async () => {
    const stream = new StalledStream();
    const { conn } = connection(stream);
    conn.enqueue(frame(0), false);
    await Promise.resolve();
    for (let i = 1; i <= BLOCKING_QUEUE_FACTOR * SEND_BUFF_SIZE; i++) assert.equal(conn.enqueue(frame(i), true), true);
    const next = new StalledStream();
    const { conn: successor } = connection(next);
    successor.enqueue(frame(500), false);
    await Promise.resolve();
    for (let i = 1; i < BLOCKING_QUEUE_FACTOR * SEND_BUFF_SIZE; i++) successor.enqueue(frame(500 + i), true);
    conn.retire(successor, false);
    assert.equal(successor.enqueue(frame(999), true), false, "the successor is full");
    next.release();
    await successor.drained();
    assert.equal(next.written.length, 2 * BLOCKING_QUEUE_FACTOR * SEND_BUFF_SIZE, "the successor's own and the retired connection's messages");
  });

  it("writes at once while the transport takes them (writeNow), and queues behind a write it holds up, in order", async () => {
    const stream = new PushBackStream(2);
    const sent: number[] = [];
    const failures: Error[] = [];
    const conn = new Connection(
      { key: pkiHex(new Uint8Array([0xab])), info: { id: new Uint8Array([0xab]), identity: new Uint8Array(0), endpoint: "p9:7051", auth: undefined }, stream, outbound: true, since: 0 },
      { sendBuffSize: SEND_BUFF_SIZE, onSent: () => sent.push(sent.length), onWriteFailure: (_c, err) => failures.push(err) },
    );
    const written: number[] = [];
    for (let i = 0; i < 2; i++) conn.enqueue(frame(i), true, undefined, () => written.push(i));
    // Taken at once: written and counted before enqueue returns, with no turn of the microtask queue.
    assert.equal(stream.written.length, 2);
    assert.deepEqual(written, [0, 1]);
    assert.equal(sent.length, 2);
    // The third is held up; the ones behind it wait in the queue, within its bounds.
    for (let i = 2; i < 2 + 3 * SEND_BUFF_SIZE; i++) conn.enqueue(frame(i), false, undefined, () => written.push(i));
    assert.equal(stream.written.length, 3, "nothing overtakes the write the transport holds up");
    stream.release(100);
    await conn.drained();
    assert.deepEqual(
      stream.written.map((b) => b[0]),
      Array.from({ length: 3 + SEND_BUFF_SIZE }, (_, i) => i),
      "the held-up write, then the queue up to sendBuffSize, in order",
    );
    assert.deepEqual(written, stream.written.map((b) => b[0]));
    // Taken at once again now that the writer is idle.
    conn.enqueue(frame(50), false);
    assert.equal(stream.written.at(-1)?.[0], 50);
    // A write that fails tells its sender and the connection's owner, once.
    stream.room = 0;
    const errors: Error[] = [];
    conn.enqueue(frame(60), true, (e) => errors.push(e));
    stream.fail();
    await conn.drained();
    assert.deepEqual(
      errors.map((e) => e.message),
      ["stream broke"],
    );
    assert.equal(failures.length, 1);
  });
});
