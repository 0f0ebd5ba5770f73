import { preferredEndpoint } from "../../../../src/discovery/index.js";
import assert from "node:assert/strict";
import { test } from "node:test";
import { pkiHex } from "../../../../src/api/index.js";
import { DEFAULT_DIGEST_WAIT_TIME_MS, DEFAULT_REQUEST_WAIT_TIME_MS, DEFAULT_RESPONSE_WAIT_TIME_MS } from "../../../../src/gossip/algo/index.js";
import {
  createPullMediator,
  digestOfItemId,
  itemIdOfDigest,
  type PullHookMsgType,
  type PullMember,
  selectEndpoints,
} from "../../../../src/gossip/pull/index.js";
import { MemoryLogger } from "../../../../src/logging/index.js";
import { checkTagLegal, SignedGossipMessage } from "../../../../src/protoext/index.js";
import { Envelope, GossipMessage_Tag, PullMsgType } from "../../../../src/protos/gen/gossip/message.pb.js";
import { bytesEqual, fromUtf8, ManualClock, SeededRandom, utf8 } from "../../../../src/util/index.js";
import { blockId, blockMsg, CHANNEL, identityMsg, LATENCY_MS, PULL_INTERVAL_MS, PullHarness, type WireRecord } from "./harness.js";

const ROUND_DONE_MS = PULL_INTERVAL_MS + DEFAULT_DIGEST_WAIT_TIME_MS + 3 * LATENCY_MS + 1;

function ids(h: PullHarness, i: number): string[] {
  return h.nodes[i]!.mediator.itemIds().sort((a, b) => Number(a) - Number(b));
}

function pullNonce(rec: WireRecord): bigint {
  const c = rec.msg.message.content;
  switch (c?.$case) {
    case "hello":
    case "dataDig":
    case "dataReq":
    case "dataUpdate":
      return c.value.nonce;
    default:
      throw new Error("not a pull message");
  }
}

function digestsOf(rec: WireRecord): string[] {
  const c = rec.msg.message.content;
  if (c?.$case === "dataDig" || c?.$case === "dataReq") return c.value.digests.map((d) => fromUtf8(d));
  throw new Error("not a digest or request");
}

test("items reach every peer by pull alone within pullInterval + digestWait + three latencies", async (t) => {
  const h = new PullHarness({ nodes: 5 });
  t.after(() => h.stop());
  for (const [i, n] of h.nodes.entries()) n.mediator.add(blockMsg(BigInt(i + 1)));
  h.nodes[0]!.mediator.add(blockMsg(6n));
  h.nodes[0]!.mediator.add(blockMsg(7n));
  await h.startAll();

  await h.clock.advance(PULL_INTERVAL_MS + DEFAULT_DIGEST_WAIT_TIME_MS - 1);
  for (let i = 1; i < 5; i++) assert.deepEqual(ids(h, i), [String(i + 1)], `peer${i} before the requests`);
  await h.clock.advanceTo(ROUND_DONE_MS);
  const all = ["1", "2", "3", "4", "5", "6", "7"];
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(ids(h, i), all, `peer${i} after one round`);
    const node = h.nodes[i]!;
    assert.deepEqual(node.consumed.map(blockId).sort(), all.filter((id) => id !== String(i + 1) && (i !== 0 || Number(id) < 6)).sort());
    // What was pulled is served as received: the stored envelope is the original's bytes.
    for (const id of node.mediator.itemIds()) assert.ok(bytesEqual(Envelope.encode(node.mediator.get(id)!.envelope).finish(), blockMsg(BigInt(id)).bytes));
  }
});

test("with 3 of 9 peers per round, blocks held by one peer spread to all, staggered starts", async (t) => {
  const h = new PullHarness({ nodes: 10, peerCountToSelect: 3, seed: 7 });
  t.after(() => h.stop());
  for (let s = 1n; s <= 5n; s++) h.nodes[0]!.mediator.add(blockMsg(s));
  for (const n of h.nodes) {
    await n.mediator.start();
    await h.clock.advance(50);
  }
  await h.clock.advance(8 * PULL_INTERVAL_MS);
  for (let i = 0; i < 10; i++) assert.deepEqual(ids(h, i), ["1", "2", "3", "4", "5"], `peer${i}`);
});

test("requests that arrive after requestWaitTime are not served", async (t) => {
  for (const [reqLatency, served] of [
    [400, true],
    [600, false],
  ] as const) {
    const h = new PullHarness({ nodes: 2 });
    t.after(() => h.stop());
    // The hello arrives at +10, so the responder honours the nonce until +1510; the request leaves at +1000.
    h.latency = (rec) => (rec.msg.message.content?.$case === "dataReq" ? reqLatency : LATENCY_MS);
    h.nodes[0]!.mediator.add(blockMsg(1n));
    await h.startAll();
    await h.clock.advance(PULL_INTERVAL_MS + DEFAULT_REQUEST_WAIT_TIME_MS + 200);
    assert.equal(h.sent("dataReq", 1, 0).length, 1);
    assert.equal(h.sent("dataUpdate").length, served ? 1 : 0, `request latency ${reqLatency}`);
    assert.deepEqual(ids(h, 1), served ? ["1"] : []);
    await h.stop();
  }
});

test("responses that arrive after responseWaitTime are not taken into the store (the consumer still sees them, as in Fabric)", async (t) => {
  for (const [resLatency, accepted] of [
    [1_900, true],
    [2_100, false],
  ] as const) {
    const h = new PullHarness({ nodes: 2 });
    t.after(() => h.stop());
    // The request arrives at +1010 and is answered at once; the initiator ends its round at +3000.
    h.latency = (rec) => (rec.msg.message.content?.$case === "dataUpdate" ? resLatency : LATENCY_MS);
    h.nodes[0]!.mediator.add(blockMsg(1n));
    await h.startAll();
    await h.clock.advance(PULL_INTERVAL_MS + DEFAULT_DIGEST_WAIT_TIME_MS + DEFAULT_RESPONSE_WAIT_TIME_MS + 200);
    assert.equal(h.sent("dataUpdate").length, 1);
    const late = h.nodes[1]!;
    assert.deepEqual(late.mediator.itemIds(), accepted ? ["1"] : [], `response latency ${resLatency}`);
    assert.equal(late.mediator.get("1") !== undefined, accepted);
    assert.deepEqual(late.consumed.map(blockId), ["1"]);
    // Not in the store means not advertised: peer1 answers a hello with no digest.
    const before = h.sent("dataDig", 1).length;
    h.nodes[1]!.mediator.handleMessage(h.received(0, 1, hello(77n)));
    await h.clock.advance(LATENCY_MS);
    assert.equal(h.sent("dataDig", 1).length - before, accepted ? 1 : 0);
    await h.stop();
  }
});

/** A block hello with `nonce`, as a peer would send it. */
function hello(nonce: bigint): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: CHANNEL,
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "hello", value: { nonce, metadata: new Uint8Array(0), msgType: PullMsgType.BLOCK_MSG } },
  });
}

test("egress filter: items hidden from one requester are neither advertised nor served to it", async (t) => {
  const h: PullHarness = new PullHarness({
    nodes: 2,
    adapter: (i) =>
      i === 0
        ? {
            egressDigestFilter: (hello) => (item) => !(pkiHex(hello.connectionInfo.id) === pkiHex(h.nodes[1]!.pkiId) && item === "2"),
          }
        : {},
  });
  t.after(() => h.stop());
  for (const s of [1n, 2n, 3n]) h.nodes[0]!.mediator.add(blockMsg(s));
  await h.startAll();
  await h.clock.advance(3 * PULL_INTERVAL_MS);
  assert.deepEqual(ids(h, 1), ["1", "3"]);
  for (const d of h.sent("dataDig", 0, 1)) assert.deepEqual(digestsOf(d).sort(), ["1", "3"]);

  // A forged request for the hidden item, with a nonce peer0 honours, gets nothing.
  const nonce = 4242n;
  h.nodes[0]!.mediator.handleMessage(h.received(1, 0, hello(nonce)));
  const req = SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: CHANNEL,
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "dataReq", value: { nonce, digests: [utf8("2")], msgType: PullMsgType.BLOCK_MSG } },
  });
  const updatesBefore = h.sent("dataUpdate", 0).length;
  h.nodes[0]!.mediator.handleMessage(h.received(1, 0, req));
  await h.clock.advance(100);
  assert.equal(h.sent("dataUpdate", 0).length, updatesBefore);
});

test("ingress filter: digest entries it removes are never requested", async (t) => {
  const h = new PullHarness({
    nodes: 2,
    adapter: (i) =>
      i === 1
        ? {
            // Like the channel's block puller: drop digests below our height (here 3).
            ingressDigestFilter: (dig) => ({ ...dig, digests: dig.digests.filter((d) => Number(fromUtf8(d)) >= 3) }),
          }
        : {},
  });
  t.after(() => h.stop());
  for (const s of [1n, 2n, 3n, 4n]) h.nodes[0]!.mediator.add(blockMsg(s));
  await h.startAll();
  await h.clock.advance(2 * PULL_INTERVAL_MS);
  assert.deepEqual(ids(h, 1), ["3", "4"]);
  for (const r of h.sent("dataReq", 1)) for (const d of digestsOf(r)) assert.ok(Number(d) >= 3);
});

test("each missing item is requested from exactly one of its owners per round", async (t) => {
  const h = new PullHarness({ nodes: 4, seed: 3 });
  t.after(() => h.stop());
  for (let i = 1; i < 4; i++) for (let s = 1n; s <= 6n; s++) h.nodes[i]!.mediator.add(blockMsg(s));
  await h.startAll();
  await h.clock.advanceTo(ROUND_DONE_MS);
  const reqs = h.sent("dataReq", 0);
  const requested = reqs.flatMap(digestsOf).sort();
  assert.deepEqual(requested, ["1", "2", "3", "4", "5", "6"], "each item once");
  const hellos = h.sent("hello", 0);
  for (const r of reqs) {
    const hello = hellos.find((x) => x.to === r.to)!;
    assert.equal(pullNonce(r), pullNonce(hello), "the request carries the nonce of the hello sent to that owner");
  }
  // Owners that hold everything request nothing from each other.
  for (let i = 1; i < 4; i++) assert.equal(h.sent("dataReq", i).length, 0);
  assert.deepEqual(ids(h, 0), ["1", "2", "3", "4", "5", "6"]);
});

test("nonces are unique and every phase echoes the hello's nonce", async (t) => {
  const h = new PullHarness({ nodes: 4 });
  t.after(() => h.stop());
  for (const [i, n] of h.nodes.entries()) n.mediator.add(blockMsg(BigInt(i)));
  await h.startAll();
  await h.clock.advance(3 * PULL_INTERVAL_MS);
  const hellos = h.sent("hello");
  assert.equal(hellos.length, 3 * 4 * 3);
  const byNonce = new Map(hellos.map((r) => [pullNonce(r), r]));
  assert.equal(byNonce.size, hellos.length, "no nonce used twice");
  for (const rec of h.wire) {
    const hello = byNonce.get(pullNonce(rec));
    assert.ok(hello !== undefined, `${rec.msg.message.content?.$case} with an unknown nonce`);
    const [initiator, responder] = rec.via === "send" ? [rec.from, rec.to] : [rec.to, rec.from];
    assert.deepEqual([initiator, responder], [hello.from, hello.to]);
  }
});

test("wire shape: NoopSigned, configured channel and tag, msg_type, pull nonce inside, outer nonce 0, stored envelopes byte for byte", async (t) => {
  const h = new PullHarness({ nodes: 2, withInternalEndpoint: (i) => i === 1 });
  t.after(() => h.stop());
  const original = blockMsg(9n);
  h.nodes[1]!.mediator.add(original);
  await h.startAll();
  await h.clock.advanceTo(ROUND_DONE_MS);

  const hello = h.sent("hello", 0, 1)[0]!;
  const digest = h.sent("dataDig", 1, 0)[0]!;
  const req = h.sent("dataReq", 0, 1)[0]!;
  const update = h.sent("dataUpdate", 1, 0)[0]!;
  assert.deepEqual(
    [hello, digest, req, update].map((r) => r.via),
    ["send", "respond", "send", "respond"],
  );
  // Hello and request go to the member's preferred (internal) endpoint and PKI-ID.
  for (const r of [hello, req]) {
    assert.equal(r.peer?.endpoint, "peer1.internal:7051");
    assert.ok(bytesEqual(r.peer!.pkiId, h.nodes[1]!.pkiId));
  }
  const nonce = pullNonce(hello);
  for (const r of [hello, digest, req, update]) {
    const decoded = h.received(r.from, r.to, r.msg).message;
    assert.equal(decoded.isSigned(), false);
    assert.equal(decoded.envelope.signature.byteLength, 0);
    assert.equal(decoded.envelope.secretEnvelope, undefined);
    assert.equal(decoded.message.nonce, 0n);
    assert.ok(bytesEqual(decoded.message.channel, CHANNEL));
    assert.equal(decoded.message.tag, GossipMessage_Tag.CHAN_AND_ORG);
    assert.equal(checkTagLegal(decoded.message), undefined);
    const c = decoded.message.content!;
    assert.ok(c.$case === "hello" || c.$case === "dataDig" || c.$case === "dataReq" || c.$case === "dataUpdate");
    assert.equal(c.value.msgType, PullMsgType.BLOCK_MSG);
    assert.equal(c.value.nonce, nonce);
    if (c.$case === "hello") assert.equal(c.value.metadata.byteLength, 0);
    if (c.$case === "dataDig" || c.$case === "dataReq") assert.deepEqual(c.value.digests, [utf8("9")]);
    if (c.$case === "dataUpdate") {
      assert.equal(c.value.data.length, 1);
      assert.ok(bytesEqual(Envelope.encode(c.value.data[0]!).finish(), original.bytes));
    }
  }
  // The update carries the stored envelope object itself, not a re-signed copy.
  const sentUpdate = update.msg.message.content;
  assert.ok(sentUpdate?.$case === "dataUpdate");
  assert.equal(sentUpdate.value.data[0], original.envelope);
});

test("identity pull: tag EMPTY, no channel, raw PKI-IDs as digests and hex item IDs", async (t) => {
  const h = new PullHarness({ nodes: 3, msgType: PullMsgType.IDENTITY_MSG });
  t.after(() => h.stop());
  for (const n of h.nodes) n.mediator.add(identityMsg(n.pkiId));
  await h.startAll();
  await h.clock.advanceTo(ROUND_DONE_MS);
  const all = h.nodes.map((n) => pkiHex(n.pkiId)).sort();
  for (const n of h.nodes) assert.deepEqual(n.mediator.itemIds().sort(), all);
  for (const rec of h.wire) {
    assert.equal(rec.msg.message.tag, GossipMessage_Tag.EMPTY);
    assert.equal(rec.msg.message.channel.byteLength, 0);
    assert.equal(checkTagLegal(rec.msg.message), undefined);
    const c = rec.msg.message.content;
    if (c?.$case === "dataDig" || c?.$case === "dataReq") {
      for (const d of c.value.digests) {
        assert.equal(d.byteLength, 32);
        assert.ok(all.includes(pkiHex(d)));
      }
    }
    // Pulled identities keep their signatures.
    if (c?.$case === "dataUpdate") for (const e of c.value.data) assert.equal(e.signature.byteLength, 32);
  }
});

test("item IDs: decimal digests as text, identity digests as hex, both ways", () => {
  assert.equal(itemIdOfDigest(PullMsgType.BLOCK_MSG, utf8("123")), "123");
  assert.deepEqual(digestOfItemId(PullMsgType.BLOCK_MSG, "123"), utf8("123"));
  const pki = new Uint8Array([0, 1, 0xab, 0xff]);
  assert.equal(itemIdOfDigest(PullMsgType.IDENTITY_MSG, pki), "0001abff");
  assert.deepEqual(digestOfItemId(PullMsgType.IDENTITY_MSG, "0001abff"), pki);
});

test("hooks run per phase with the item IDs and, for responses, the messages", async (t) => {
  const h = new PullHarness({ nodes: 2 });
  t.after(() => h.stop());
  const seen: [number, PullHookMsgType, string[], number][] = [];
  for (const n of h.nodes) {
    for (const type of ["hello", "digest", "request", "response"] as const) {
      n.mediator.registerMsgHook(type, (itemIds, items) => seen.push([n.index, type, itemIds, items.length]));
    }
  }
  h.nodes[1]!.mediator.registerMsgHook("response", () => {
    throw new Error("a broken hook");
  });
  h.nodes[0]!.mediator.add(blockMsg(1n));
  await h.nodes[1]!.mediator.start();
  await h.nodes[0]!.mediator.start();
  await h.clock.advanceTo(ROUND_DONE_MS);
  // Both peers said hello; only peer0 holds anything, so peer1 alone gets a digest, peer0 a request.
  assert.deepEqual(
    seen.map((e) => JSON.stringify(e)).sort(),
    [
      [0, "hello", [], 0],
      [1, "hello", [], 0],
      [1, "digest", ["1"], 0],
      [0, "request", ["1"], 0],
      [1, "response", ["1"], 1],
    ]
      .map((e) => JSON.stringify(e))
      .sort(),
  );
  assert.deepEqual(ids(h, 1), ["1"], "a throwing hook does not undo the update");
});

test("other messages are ignored; a bad envelope drops the whole update with a warning, never a throw", async () => {
  const clock = new ManualClock(0);
  const logger = new MemoryLogger();
  const consumed: SignedGossipMessage[] = [];
  const sent: unknown[] = [];
  const mediator = createPullMediator(
    { id: "p", pullIntervalMs: PULL_INTERVAL_MS, channel: CHANNEL, peerCountToSelect: 1, tag: GossipMessage_Tag.CHAN_AND_ORG, msgType: PullMsgType.BLOCK_MSG },
    { sender: (m) => sent.push(m), membership: () => [], idExtractor: blockId, msgConsumer: (m) => consumed.push(m) },
    { clock, random: new SeededRandom(1), logger },
  );
  await mediator.start();
  const h = new PullHarness({ nodes: 2 });
  const ctx = (msg: SignedGossipMessage) => {
    const r = h.received(0, 1, msg);
    return { ...r, respond: (m: unknown) => sent.push(m) };
  };

  // An identity hello to a block mediator, and a block: ignored (no digest although we hold items).
  mediator.add(blockMsg(1n));
  mediator.handleMessage(
    ctx(SignedGossipMessage.noopSign({ nonce: 0n, channel: new Uint8Array(0), tag: GossipMessage_Tag.EMPTY, content: { $case: "hello", value: { nonce: 1n, metadata: new Uint8Array(0), msgType: PullMsgType.IDENTITY_MSG } } })),
  );
  mediator.handleMessage(ctx(blockMsg(5n)));
  assert.equal(sent.length, 0);
  assert.equal(clock.pendingTimers(), 1, "only the next round");

  // An update with a good and an undecodable envelope.
  const bad: Envelope = { payload: new Uint8Array([0xff, 0xff, 0xff]), signature: new Uint8Array(0), secretEnvelope: undefined };
  const update = SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: CHANNEL,
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "dataUpdate", value: { nonce: 3n, data: [blockMsg(2n).envelope, bad], msgType: PullMsgType.BLOCK_MSG } },
  });
  assert.doesNotThrow(() => mediator.handleMessage(ctx(update)));
  assert.equal(consumed.length, 0);
  assert.deepEqual(mediator.itemIds(), ["1"]);
  const warn = logger.lines.find((l) => l.level === "warn");
  assert.match(warn?.msg ?? "", /invalid message; update dropped/);
  // An envelope that decodes but is not what the extractor understands: dropped the same way.
  const notBlock = SignedGossipMessage.noopSign({ nonce: 0n, channel: CHANNEL, tag: GossipMessage_Tag.CHAN_AND_ORG, content: { $case: "empty", value: {} } });
  const update2 = SignedGossipMessage.noopSign({
    ...update.message,
    content: { $case: "dataUpdate", value: { nonce: 3n, data: [notBlock.envelope], msgType: PullMsgType.BLOCK_MSG } },
  });
  assert.doesNotThrow(() => mediator.handleMessage(ctx(update2)));
  assert.equal(consumed.length, 0);

  await mediator.stop();
  assert.equal(clock.pendingTimers(), 0);
});

test("stop() leaves no timers, and a stopped mediator answers nothing", async (t) => {
  const h = new PullHarness({ nodes: 4 });
  t.after(() => h.stop());
  for (const [i, n] of h.nodes.entries()) n.mediator.add(blockMsg(BigInt(i)));
  await h.startAll();
  await h.clock.advance(PULL_INTERVAL_MS + DEFAULT_DIGEST_WAIT_TIME_MS + LATENCY_MS / 2); // requests in flight
  assert.ok(h.inFlight() > 0);
  await h.stop();
  await h.stop();
  assert.equal(h.clock.pendingTimers(), 0);

  const before = h.wire.length;
  h.nodes[0]!.mediator.handleMessage(h.received(1, 0, hello(78n)));
  assert.equal(h.clock.pendingTimers(), 0);
  await h.clock.advance(10 * PULL_INTERVAL_MS);
  assert.equal(h.wire.length, before);
});

test("hello and request are not sent when no member has the chosen endpoint any more", async () => {
  const clock = new ManualClock(0);
  const logger = new MemoryLogger();
  const sent: unknown[] = [];
  const member: PullMember = { endpoint: "a:1", internalEndpoint: "", pkiId: new Uint8Array([1]) };
  const members: PullMember[] = [member];
  let calls = 0;
  const mediator = createPullMediator(
    { id: "p", pullIntervalMs: PULL_INTERVAL_MS, channel: CHANNEL, peerCountToSelect: 3, tag: GossipMessage_Tag.CHAN_AND_ORG, msgType: PullMsgType.BLOCK_MSG },
    {
      sender: (m, ...peers) => sent.push([m, peers]),
      membership: () => {
        // The member disappears between selection and sending.
        calls++;
        return calls % 2 === 1 ? members : [];
      },
      idExtractor: blockId,
      msgConsumer: () => {},
    },
    { clock, random: new SeededRandom(1), logger },
  );
  await mediator.start();
  await clock.advance(PULL_INTERVAL_MS);
  assert.equal(calls, 2);
  assert.equal(sent.length, 0);
  assert.ok(logger.lines.some((l) => /not sent/.test(l.msg)));
  await mediator.stop();
});

test("selectEndpoints picks min(k, n) distinct members by preferred endpoint", () => {
  const pool: PullMember[] = Array.from({ length: 5 }, (_, i) => ({
    endpoint: `e${i}:7051`,
    internalEndpoint: i % 2 === 0 ? `i${i}:7051` : "",
    pkiId: new Uint8Array([i]),
  }));
  const random = new SeededRandom(9);
  const three = selectEndpoints(3, pool, random);
  assert.equal(three.length, 3);
  assert.equal(new Set(three.map((p) => p.endpoint)).size, 3);
  for (const p of three) assert.equal(p.endpoint, preferredEndpoint(pool[p.pkiId[0]!]!));
  assert.equal(selectEndpoints(10, pool, random).length, 5);
  assert.equal(selectEndpoints(0, pool, random).length, 0);
  assert.equal(selectEndpoints(3, [], random).length, 0);
  assert.equal(preferredEndpoint({ endpoint: "ext" }), "ext");
  assert.equal(preferredEndpoint({ endpoint: "ext", internalEndpoint: "int" }), "int");
});

test("engine timings from the config drive the phases", async (t) => {
  const h = new PullHarness({ nodes: 2, config: { pullIntervalMs: 1_000, pullEngine: { digestWaitTimeMs: 100, requestWaitTimeMs: 200, responseWaitTimeMs: 200 } } });
  t.after(() => h.stop());
  h.nodes[0]!.mediator.add(blockMsg(1n));
  await h.startAll();
  await h.clock.advance(1_000 + 100 - 1);
  assert.equal(h.sent("dataReq").length, 0);
  await h.clock.advance(1 + 2 * LATENCY_MS + 1);
  assert.deepEqual(ids(h, 1), ["1"]);
  assert.equal(DEFAULT_RESPONSE_WAIT_TIME_MS, 2_000);
});

test("remove forgets an item: no longer advertised or served", async (t) => {
  const h = new PullHarness({ nodes: 2 });
  t.after(() => h.stop());
  h.nodes[0]!.mediator.add(blockMsg(1n));
  h.nodes[0]!.mediator.add(blockMsg(2n));
  h.nodes[0]!.mediator.remove("1");
  h.nodes[0]!.mediator.remove("nope");
  assert.deepEqual(ids(h, 0), ["2"]);
  assert.equal(h.nodes[0]!.mediator.get("1"), undefined);
  await h.startAll();
  await h.clock.advanceTo(ROUND_DONE_MS);
  assert.deepEqual(ids(h, 1), ["2"]);
  for (const d of h.sent("dataDig", 0)) assert.deepEqual(digestsOf(d), ["2"]);
});

test("a response larger than the message size limit goes as several DataUpdates within it, with the request's nonce; an item above the limit alone is left out", async (t) => {
  const limit = 1024 + 3 * 3_100;
  const big = (seq: bigint, bytes: number): SignedGossipMessage =>
    SignedGossipMessage.noopSign({
      nonce: 0n,
      channel: CHANNEL,
      tag: GossipMessage_Tag.CHAN_AND_ORG,
      content: { $case: "dataMsg", value: { payload: { seqNum: seq, data: new Uint8Array(bytes).fill(Number(seq)), privateData: [] } } },
    });
  const logger = new MemoryLogger();
  const h = new PullHarness({ nodes: 2, config: { maxMessageBytes: limit }, logger });
  t.after(() => h.stop());
  for (let s = 1n; s <= 7n; s++) h.nodes[0]!.mediator.add(big(s, 3_000));
  h.nodes[0]!.mediator.add(big(8n, limit));
  await h.startAll();
  await h.clock.advanceTo(ROUND_DONE_MS);

  const updates = h.sent("dataUpdate", 0);
  assert.equal(updates.length, 3, "7 items of ~3 KB in messages of at most 3 items");
  const request = h.sent("dataReq", 1)[0]!;
  for (const u of updates) {
    assert.ok(u.msg.envelope.payload.byteLength + 16 <= limit, `a DataUpdate of ${u.msg.envelope.payload.byteLength} bytes fits ${limit}`);
    assert.equal(pullNonce(u), pullNonce(request), "every part carries the request's nonce");
  }
  assert.deepEqual(ids(h, 1), ["1", "2", "3", "4", "5", "6", "7"], "every part was taken while the round collected");
  assert.ok(logger.lines.some((l) => l.level === "warn" && /larger than the message size limit/.test(l.msg)), "the oversized item is reported");
});
