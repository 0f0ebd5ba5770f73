import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { countEnvelopeFields, MAX_DECODED_FIELDS } from "../../../src/protoext/decode-budget.js";
import { MessageError, SignedGossipMessage } from "../../../src/protoext/index.js";
import { Envelope, GossipMessage, GossipMessage_Tag } from "../../../src/protos/gen/gossip/message.pb.js";
import { envelope, gossipMessage } from "./arbitraries.js";

/** A varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** Field `field` as length-delimited `body`. */
function ld(field: number, body: Uint8Array): Uint8Array {
  return Uint8Array.from([...varint((field << 3) | 2), ...varint(body.byteLength), ...body]);
}

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

/** `n` copies of `unit`. */
function repeat(unit: number[], n: number): Uint8Array {
  const out = new Uint8Array(unit.length * n);
  for (let i = 0; i < n; i++) out.set(unit, i * unit.length);
  return out;
}

/** An envelope whose payload is `payload` (a GossipMessage's wire). */
const envelopeOf = (payload: Uint8Array): Uint8Array => ld(1, payload);

/** Decoded sub-messages and repeated elements: each stands for at least one field the decoder visited. */
function decodedElements(v: unknown, root = true): number {
  if (v === undefined || v === null || typeof v !== "object" || v instanceof Uint8Array) return 0;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + 1 + decodedElements(x, true) - (typeof x === "object" && !(x instanceof Uint8Array) ? 1 : 0), 0);
  let n = root ? 0 : 1;
  for (const [k, x] of Object.entries(v)) {
    // The oneof wrapper { $case, value } is one field: its value is the message.
    if (k === "content" && x !== undefined) n += decodedElements((x as { value: unknown }).value, false);
    else n += decodedElements(x, false);
  }
  return n;
}

describe("decode budget", () => {
  it("refuses a membership response of 200,000 empty envelopes before decoding it", () => {
    const memRes = ld(7, repeat([0x0a, 0x00], 200_000));
    const bytes = envelopeOf(memRes);
    const heap0 = process.memoryUsage().heapUsed;
    assert.throws(
      () => SignedGossipMessage.fromEnvelopeBytes(bytes),
      (err: unknown) => err instanceof MessageError && err.code === "TOO_MANY_FIELDS" && /more than 131072 fields/.test(err.message),
    );
    // Decoding it took ~85 MB and ~0.8 s; the walk allocates nothing per field, so nothing near that is used.
    assert.ok(process.memoryUsage().heapUsed - heap0 < 20 * 1024 * 1024);
  });

  it("counts what a group, a zero tag or a sub-message that ends early would hide", () => {
    const many = repeat([0x12, 0x00], MAX_DECODED_FIELDS + 10); // DataDigest.digests, empty
    // A skipped group before the elements.
    const group = Uint8Array.from([(15 << 3) | 3, 0x08, 0x01, (15 << 3) | 4]);
    assert.equal(countEnvelopeFields(envelopeOf(ld(10, concat(group, many)))).count, MAX_DECODED_FIELDS + 1);
    // A sub-message that an end-group tag ends early: the decoder reads on in the parent from there, inside
    // the length the sub-message claimed, and finds the elements (a walk that jumped to the end would not).
    const digest = ld(10, many);
    const earlyEnd = concat(Uint8Array.from([(5 << 3) | 2, ...varint(digest.byteLength + 1), (1 << 3) | 4]), digest);
    const c = countEnvelopeFields(envelopeOf(earlyEnd));
    assert.equal(c.count, MAX_DECODED_FIELDS + 1);
    // The last payload of an envelope is the one decoded.
    const twoPayloads = concat(envelopeOf(Uint8Array.of()), envelopeOf(ld(10, many)));
    assert.equal(countEnvelopeFields(twoPayloads).count, MAX_DECODED_FIELDS + 1);
    // Elements inside a private-data message's collection configurations.
    const configs = ld(25, ld(1, ld(6, repeat([0x0a, 0x00], MAX_DECODED_FIELDS)))); // PrivateDataMessage{PrivatePayload{collection_configs{config*}}}
    assert.throws(() => SignedGossipMessage.fromEnvelopeBytes(envelopeOf(configs)), (err: unknown) => err instanceof MessageError && err.code === "TOO_MANY_FIELDS");
    // Inside an envelope of a membership response, decoded later by fromEnvelope.
    const inner = Envelope.decode(envelopeOf(ld(10, many)));
    assert.throws(() => SignedGossipMessage.fromEnvelope(inner), (err: unknown) => err instanceof MessageError && err.code === "TOO_MANY_FIELDS");
  });

  it("refuses malformed wire: a truncated varint, a length past the end, wire type 7, unbalanced groups", () => {
    const cases = [
      Uint8Array.of(0x0a, 0x80), // length varint cut short
      Uint8Array.of(0x0a, 0x05, 0x01), // length past the end
      envelopeOf(Uint8Array.of(0x0f)), // field 1, wire type 7
      envelopeOf(Uint8Array.of((9 << 3) | 3, (10 << 3) | 3, (11 << 3) | 4)), // a nested group ended by another field's end tag
    ];
    for (const bytes of cases) {
      assert.equal(countEnvelopeFields(bytes).malformed, true, `${Buffer.from(bytes).toString("hex")}`);
      assert.throws(() => SignedGossipMessage.fromEnvelopeBytes(bytes), (err: unknown) => err instanceof MessageError && err.code === "MALFORMED_MESSAGE");
    }
  });

  it("frames of at most twice the budget in bytes, which are decoded without the walk, cannot hold more fields than the budget", () => {
    // Densest wire: two-byte fields (an empty digest each) filling a frame of exactly 2 x MAX_DECODED_FIELDS bytes.
    const digests = (n: number): Uint8Array => envelopeOf(ld(10, repeat([0x12, 0x00], n)));
    let n = MAX_DECODED_FIELDS;
    while (digests(n).byteLength > 2 * MAX_DECODED_FIELDS) n--;
    const bytes = digests(n);
    assert.ok(bytes.byteLength <= 2 * MAX_DECODED_FIELDS && digests(n + 1).byteLength > 2 * MAX_DECODED_FIELDS);
    assert.ok(countEnvelopeFields(bytes).count <= MAX_DECODED_FIELDS);
    const m = SignedGossipMessage.fromEnvelopeBytes(bytes).message;
    assert.equal(m.content?.$case === "dataDig" ? m.content.value.digests.length : -1, n);
  });

  it("lets honest messages through: a membership response of 10,000 signed members", () => {
    const alive = Array.from({ length: 10_000 }, (_, i) =>
      SignedGossipMessage.sign(
        {
          nonce: 0n,
          channel: new Uint8Array(0),
          tag: GossipMessage_Tag.EMPTY,
          content: { $case: "aliveMsg", value: { membership: { endpoint: `peer${i}:7051`, metadata: new Uint8Array(0), pkiId: Uint8Array.of(i & 255, i >> 8) }, timestamp: { incNum: 1n, seqNum: 2n }, identity: new Uint8Array(0) } },
        },
        () => Uint8Array.of(1, 2, 3),
      ).envelope,
    );
    const res = SignedGossipMessage.noopSign({ nonce: 0n, channel: new Uint8Array(0), tag: GossipMessage_Tag.EMPTY, content: { $case: "memRes", value: { alive, dead: [] } } });
    const back = SignedGossipMessage.fromEnvelopeBytes(res.bytes);
    const content = back.message.content;
    assert.ok(content?.$case === "memRes");
    assert.equal(content.value.alive.length, 10_000);
    assert.equal(SignedGossipMessage.fromEnvelope(content.value.alive[9_999]!).message.content?.$case, "aliveMsg");
  });

  it("never counts fewer fields than the decoder builds elements, for any message and any mutation of it", () => {
    const mutated = fc.tuple(gossipMessage, envelope, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("set", "insert", "delete")), { maxLength: 4 }));
    fc.assert(
      fc.property(mutated, ([m, env, edits]) => {
        const wire = Envelope.encode({ ...env, payload: GossipMessage.encode(m).finish() }).finish();
        const bytes = [...wire];
        for (const [at, value, op] of edits) {
          const i = bytes.length === 0 ? 0 : at % bytes.length;
          if (op === "set") bytes[i] = value;
          else if (op === "insert") bytes.splice(i, 0, value);
          else bytes.splice(i, 1);
        }
        const input = Uint8Array.from(bytes);
        const counted = countEnvelopeFields(input);
        let decoded: { envelope: Envelope; message: GossipMessage };
        try {
          const e = Envelope.decode(input);
          decoded = { envelope: e, message: GossipMessage.decode(e.payload) };
        } catch {
          return; // the decoder refuses it too
        }
        if (edits.length === 0) assert.equal(counted.malformed, false);
        if (counted.malformed) return;
        const built = decodedElements(decoded.envelope) + decodedElements(decoded.message);
        assert.ok(counted.count >= built, `counted ${counted.count} < ${built} elements built from ${Buffer.from(input).toString("hex")}`);
      }),
      { numRuns: 2_000, seed: 20_241_205 },
    );
  });
});
