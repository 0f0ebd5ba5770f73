import assert from "node:assert/strict";
import { test } from "node:test";
import { Block } from "../../../src/protos/gen/common/common.pb.js";
import { GossipMessage_Tag, PvtDataPayload } from "../../../src/protos/gen/gossip/message.pb.js";
import { createStateProvider, DEFAULT_STATE_PROVIDER_OPTIONS, StateError, validateStateRequest } from "../../../src/state/index.js";
import { ManualClock, SeededRandom, fromUtf8, utf8 } from "../../../src/util/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../src/metrics/index.js";
import {
  CHANNEL,
  dataMsg,
  FakeGossip,
  FakeLedger,
  makeBlock,
  makePayload,
  memberOf,
  received,
  StateHarness,
  stateRequest,
  stateResponse,
} from "./harness.js";

const range = (from: number, to: number): bigint[] => Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));

test("defaults are Fabric's", () => {
  assert.deepEqual(
    {
      enabled: DEFAULT_STATE_PROVIDER_OPTIONS.enabled,
      checkIntervalMs: DEFAULT_STATE_PROVIDER_OPTIONS.checkIntervalMs,
      responseTimeoutMs: DEFAULT_STATE_PROVIDER_OPTIONS.responseTimeoutMs,
      batchSize: DEFAULT_STATE_PROVIDER_OPTIONS.batchSize,
      blockBufferSize: DEFAULT_STATE_PROVIDER_OPTIONS.blockBufferSize,
      maxRetries: DEFAULT_STATE_PROVIDER_OPTIONS.maxRetries,
      channelSize: DEFAULT_STATE_PROVIDER_OPTIONS.channelSize,
    },
    { enabled: false, checkIntervalMs: 10_000, responseTimeoutMs: 3_000, batchSize: 10, blockBufferSize: 20, maxRetries: 3, channelSize: 100 },
  );
});

test("out-of-order blocks from gossip are committed strictly in order, publishing each height", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const p = await h.add("p0", 1);
  assert.deepEqual(p.gossip.heights, [1n], "the starting height is published");
  for (const n of [5, 3, 2, 4, 1]) p.gossip.gossipIn(dataMsg(n));
  await h.clock.advance(1);
  assert.deepEqual(p.ledger.committedNumbers(), range(0, 5));
  assert.deepEqual(p.gossip.heights, [1n, 2n, 3n, 4n, 5n, 6n]);
  assert.equal(p.state.height(), 6n);
  assert.equal(p.state.bufferSize(), 0);
  const text = await p.metrics.metrics();
  assert.match(text, /gossip_state_height\{channel="testchannel"\} 6/);
  assert.match(text, /gossip_state_commit_duration_count\{channel="testchannel"\} 5/);
  assert.match(text, /gossip_payload_buffer_size\{channel="testchannel"\} 0/);
});

test("commits wait for the missing block, and slow commits keep the order", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const p = await h.add("p0", 1);
  p.ledger.commitDelayMs = 20;
  for (const n of [2, 3, 4]) p.gossip.gossipIn(dataMsg(n));
  await h.clock.advance(100);
  assert.equal(p.ledger.height(), 1n, "nothing commits while block 1 is missing");
  assert.equal(p.state.bufferSize(), 3);
  p.gossip.gossipIn(dataMsg(1));
  p.gossip.gossipIn(dataMsg(6));
  await h.clock.advance(30);
  p.gossip.gossipIn(dataMsg(5));
  await h.clock.advance(200);
  assert.deepEqual(p.ledger.committedNumbers(), range(0, 6));
});

test("duplicates and old blocks are ignored; other channels' blocks are not taken", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const p = await h.add("p0", 3);
  p.gossip.gossipIn(dataMsg(1));
  p.gossip.gossipIn(dataMsg(2));
  p.gossip.gossipIn(dataMsg(3));
  p.gossip.gossipIn(dataMsg(3));
  p.gossip.gossipIn(dataMsg(4, "otherchannel"));
  await h.clock.advance(1);
  p.gossip.gossipIn(dataMsg(3));
  await h.clock.advance(1);
  assert.deepEqual(p.ledger.committedNumbers(), range(0, 3));
  assert.equal(p.state.bufferSize(), 0);
});

test("over-population: blocks at or beyond height + blockBufferSize are rejected (TestOverPopulation)", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const p = await h.add("p0", 1);
  for (let n = 1; n <= 4; n++) p.gossip.gossipIn(dataMsg(n));
  for (let n = 10; n <= 200; n++) p.gossip.gossipIn(dataMsg(n));
  // Blocks 1-4 were buffered before any commit, so the window is 1 + 20: 10..20 fit, 21.. do not.
  assert.equal(p.state.bufferSize(), 4 + 11);
  await h.clock.advance(10);
  assert.deepEqual(p.ledger.committedNumbers(), range(0, 4));
  assert.equal(p.state.bufferSize(), 11);
});

test("addPayload from the deliver client blocks while the buffer holds more than 2 x blockBufferSize", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const p = await h.add("p0", 1);
  // Block 1 is missing, so nothing commits and the buffer fills: 41 payloads go in at once.
  for (let n = 2; n <= 42; n++) await p.state.addPayload(makePayload(n));
  assert.equal(p.state.bufferSize(), 41);
  let done = false;
  const pending = p.state.addPayload(makePayload(43)).then(() => {
    done = true;
  });
  await h.clock.advance(1_000);
  assert.equal(done, false, "the 42nd waits");
  p.gossip.gossipIn(dataMsg(1));
  await h.clock.advance(100);
  await pending;
  assert.equal(done, true);
  await h.clock.advance(10);
  assert.deepEqual(p.ledger.committedNumbers(), range(0, 43));
});

test("non-blocking commit mode rejects a deliver block too far ahead", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const p = await h.add("p0", 1, { nonBlockingCommitMode: true });
  await p.state.addPayload(makePayload(20));
  await assert.rejects(p.state.addPayload(makePayload(21)), (e: unknown) => e instanceof StateError && e.code === "BUFFER_FULL");
});

test("a peer far behind catches up by anti-entropy, in batches of at most batchSize + 1 blocks", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  await h.add("full", 51);
  const late = await h.add("late", 1, { enabled: true });
  await h.clock.advance(9_999);
  assert.equal(late.gossip.stateRequests().length, 0, "nothing before checkInterval");
  await h.clock.advance(100);
  assert.equal(late.ledger.height(), 51n);
  assert.deepEqual(late.ledger.committedNumbers(), range(0, 50));
  const reqs = late.gossip.stateRequests();
  assert.deepEqual(
    reqs.map((r) => [r.start, r.end]),
    [
      [1n, 11n],
      [12n, 22n],
      [23n, 33n],
      [34n, 44n],
      [45n, 50n],
    ],
  );
  for (const r of reqs) {
    assert.equal(r.msg.tag, GossipMessage_Tag.CHAN_OR_ORG);
    assert.equal(fromUtf8(r.msg.channel), CHANNEL);
    assert.ok(r.end - r.start <= 10n);
    assert.equal(fromUtf8(r.to[0]!.pkiId), "full");
  }
  assert.equal(new Set(reqs.map((r) => r.nonce)).size, reqs.length, "a fresh nonce per batch");
  assert.equal(late.gossip.heights.at(-1), 51n);
});

test("a pushed block too far ahead starts anti-entropy at once, not checkInterval later", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  await h.add("full", 41);
  const late = await h.add("late", 1, { enabled: true });
  await h.clock.advance(100);
  assert.equal(late.gossip.stateRequests().length, 0, "nothing before a push or checkInterval");
  late.gossip.gossipIn(dataMsg(5));
  assert.equal(late.gossip.stateRequests().length, 0, "a block within blockBufferSize is buffered, nothing asked");
  late.gossip.gossipIn(dataMsg(40));
  late.gossip.gossipIn(dataMsg(40));
  await h.clock.advance(100);
  assert.equal(late.ledger.height(), 41n, "caught up to the heights StateInfo reports, well before checkInterval");
  assert.equal(new Set(late.gossip.stateRequests().map((r) => r.start)).size, late.gossip.stateRequests().length, "one round: no batch asked twice");
  // Caught up, a far block (a peer's claim beyond every known height) asks nothing more.
  const asked = late.gossip.stateRequests().length;
  late.gossip.gossipIn(dataMsg(70));
  await h.clock.advance(100);
  assert.equal(late.gossip.stateRequests().length, asked);
});

test("gapFillDelay: a gap gossip left is filled by state transfer after the delay; off (Fabric) it waits for checkInterval", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  await h.add("full", 12);
  const filling = await h.add("filling", 1, { enabled: true, gapFillDelayMs: 1_000 });
  const fabric = await h.add("fabric", 1, { enabled: true });
  // Blocks 1-9 never came by gossip; 10 and 11 did (within blockBufferSize: buffered, nothing rejected).
  for (const p of [filling, fabric]) for (const n of [10, 11]) p.gossip.gossipIn(dataMsg(n));
  await h.clock.advance(900);
  assert.equal(filling.gossip.stateRequests().length, 0, "nothing before the delay");
  await h.clock.advance(200);
  assert.equal(filling.ledger.height(), 12n, "the gap filled and the buffered blocks committed");
  assert.equal(fabric.gossip.stateRequests().length, 0, "without the delay nothing is asked yet");
  assert.equal(fabric.ledger.height(), 1n);
  await h.clock.advance(9_000);
  assert.equal(fabric.ledger.height(), 12n, "Fabric's round at checkInterval");
  // No gap, no request: blocks in order commit without asking.
  const asked = filling.gossip.stateRequests().length;
  filling.gossip.gossipIn(dataMsg(12));
  await h.clock.advance(2_000);
  assert.equal(filling.ledger.height(), 13n);
  assert.equal(filling.gossip.stateRequests().length, asked);
});

test("gapFillDelay: blocks gossip brought count as available though StateInfo does not report them yet", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const full = await h.add("full", 31);
  const late = await h.add("late", 1, { enabled: true, gapFillDelayMs: 1_000 });
  const fabric = await h.add("fabric", 1, { enabled: true });
  // "full" committed up to 30 but last reported height 11 (StateInfo is published every 4 s).
  full.gossip.reportHeight(11n);
  for (const p of [late, fabric]) p.gossip.gossipIn(dataMsg(30));
  await h.clock.advance(100);
  assert.equal(late.ledger.height(), 31n, "up to the block gossip brought, from the peer reporting the most");
  assert.equal(fabric.ledger.height(), 11n, "Fabric: up to the reported height");
});

test("15 missing blocks take exactly 2 state requests (TestNewGossipStateProvider_BatchingOfStateRequest)", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  await h.add("full", 16);
  const late = await h.add("late", 1, { enabled: true });
  await h.clock.advance(10_100);
  assert.equal(late.ledger.height(), 16n);
  assert.equal(late.gossip.stateRequests().length, 2);
});

test("requests go to a random peer whose height covers the batch end", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  await h.add("short", 5);
  await h.add("tall1", 30);
  await h.add("tall2", 30);
  const late = await h.add("late", 1, { enabled: true });
  await h.clock.advance(10_100);
  assert.equal(late.ledger.height(), 30n);
  const targets = late.gossip.stateRequests().map((r) => fromUtf8(r.to[0]!.pkiId));
  assert.ok(!targets.includes("short"), `asked ${targets.join(",")}`);
});

test("state.enabled false: no requests, but requests are still served", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const full = await h.add("full", 30);
  const late = await h.add("late", 1);
  await h.clock.advance(60_000);
  assert.equal(late.gossip.stateRequests().length, 0);
  assert.equal(late.ledger.height(), 1n);
  const responses: bigint[][] = [];
  full.gossip.directIn(
    received(stateRequest(3n, 8n), "late", (m) => {
      if (m.content?.$case === "stateResponse") responses.push(m.content.value.payloads.map((p) => p.seqNum));
    }),
  );
  await h.clock.advance(1);
  assert.deepEqual(responses, [range(3, 8)]);
});

test("serving: the response carries the request's nonce, CHAN_OR_ORG, the channel, and stops at our height", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const full = await h.add("full", 10);
  await h.add("asker", 1);
  const replies: Array<{ nonce: bigint; tag: number; channel: string; seqs: bigint[]; blocks: bigint[] }> = [];
  full.gossip.directIn(
    received(stateRequest(5n, 15n, 4242n), "asker", (m) => {
      if (m.content?.$case !== "stateResponse") return;
      replies.push({
        nonce: m.nonce,
        tag: m.tag,
        channel: fromUtf8(m.channel),
        seqs: m.content.value.payloads.map((p) => p.seqNum),
        blocks: m.content.value.payloads.map((p) => Block.decode(p.data).header!.number),
      });
    }),
  );
  await h.clock.advance(1);
  assert.deepEqual(replies, [{ nonce: 4242n, tag: GossipMessage_Tag.CHAN_OR_ORG, channel: CHANNEL, seqs: range(5, 9), blocks: range(5, 9) }]);
});

test("a request larger than batchSize, or with start > end, is not served (TestStateRequestValidator)", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const full = await h.add("full", 50);
  await h.add("asker", 1);
  let replies = 0;
  const respond = (): void => {
    replies++;
  };
  full.gossip.directIn(received(stateRequest(1n, 12n), "asker", respond));
  full.gossip.directIn(received(stateRequest(9n, 8n), "asker", respond));
  await h.clock.advance(1);
  assert.equal(replies, 0);
  full.gossip.directIn(received(stateRequest(1n, 11n), "asker", respond));
  await h.clock.advance(1);
  assert.equal(replies, 1, "end - start == batchSize is served");
  assert.equal(validateStateRequest({ startSeqNum: 10n, endSeqNum: 10n }, 10n), undefined);
  assert.match(validateStateRequest({ startSeqNum: 10n, endSeqNum: 21n }, 10n) ?? "", /batching size/);
  assert.match(validateStateRequest({ startSeqNum: 10n, endSeqNum: 9n }, 10n) ?? "", /invalid sequence interval/);
});

test("a peer that is not a member of the channel is not served; wrong-channel requests are not taken", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const full = await h.add("full", 20);
  let replies = 0;
  full.gossip.directIn(
    received(stateRequest(1n, 5n), "stranger", () => {
      replies++;
    }),
  );
  await h.add("member", 1);
  full.gossip.directIn(
    received(stateRequest(1n, 5n, 1n, "otherchannel"), "member", () => {
      replies++;
    }),
  );
  await h.clock.advance(1);
  assert.equal(replies, 0);
  full.gossip.directIn(
    received(stateRequest(1n, 5n), "member", () => {
      replies++;
    }),
  );
  await h.clock.advance(1);
  assert.equal(replies, 1);
});

test("with verifyByChannel, a member whose handshake fails the channel's Readers policy is not served", async (t) => {
  const clock = new ManualClock();
  const ledger = new FakeLedger(clock, 10);
  const gossip = new FakeGossip(undefined, "full", ledger);
  gossip.extraMembers.push(memberOf("reader", 1n), memberOf("outsider", 1n));
  const state = createStateProvider(CHANNEL, {
    gossip,
    ledger,
    mcs: {
      verifyBlock: () => {},
      verifyByChannel: (_c, identity) => {
        if (fromUtf8(identity) !== "reader") throw new Error("not a reader");
      },
    },
    clock,
    random: new SeededRandom(1),
    logger: silentLogger,
    metrics: memoryMetricsProvider(),
  });
  await state.start();
  t.after(() => state.stop());
  let replies = 0;
  for (const who of ["reader", "outsider"]) {
    const msg = received(stateRequest(1n, 2n), who, () => {
      replies++;
    });
    msg.connectionInfo.auth = { signedData: utf8("hs"), signature: utf8("sig") };
    gossip.directIn(msg);
  }
  await clock.advance(1);
  assert.equal(replies, 1);
});

test("a response with a wrong nonce is not used; the batch is asked again with its own nonce", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const late = await h.add("late", 1, { enabled: true });
  late.gossip.extraMembers.push(memberOf("liar", 5n));
  await h.clock.advance(10_000);
  const [first] = late.gossip.stateRequests();
  assert.ok(first);
  assert.deepEqual([first.start, first.end], [1n, 4n]);
  late.gossip.directIn(received(stateResponse(first.nonce + 1n, range(1, 4)), "liar"));
  await h.clock.advance(1);
  assert.equal(late.ledger.height(), 1n, "payloads of a response with another nonce are not used");
  const reqs = late.gossip.stateRequests();
  assert.equal(reqs.length, 2, "Fabric resends at once after a mismatched response");
  assert.equal(reqs[1]!.nonce, first.nonce, "a batch keeps its nonce across retries");
  late.gossip.directIn(received(stateResponse(first.nonce, range(1, 4)), "liar"));
  await h.clock.advance(1);
  assert.equal(late.ledger.height(), 5n);
});

test("responses that arrive when no transfer is active are dropped", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const late = await h.add("late", 1, { enabled: true });
  late.gossip.extraMembers.push(memberOf("pusher", 5n));
  late.gossip.directIn(received(stateResponse(1n, range(1, 4)), "pusher"));
  await h.clock.advance(1);
  assert.equal(late.ledger.height(), 1n);
});

test("retries after timeouts: maxRetries + 1 sends responseTimeout apart, then the round gives up until the next one", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const late = await h.add("late", 1, { enabled: true });
  late.gossip.extraMembers.push(memberOf("silent", 5n));
  await h.clock.advance(10_000);
  assert.equal(late.gossip.stateRequests().length, 1);
  await h.clock.advance(3_000);
  assert.equal(late.gossip.stateRequests().length, 2);
  await h.clock.advance(6_000);
  assert.equal(late.gossip.stateRequests().length, 4);
  await h.clock.advance(3_000);
  assert.equal(late.gossip.stateRequests().length, 4, "given up after 1 + maxRetries tries");
  // The round ended at 22 s; the next starts checkInterval later.
  await h.clock.advance(9_990);
  assert.equal(late.gossip.stateRequests().length, 4);
  await h.clock.advance(20);
  assert.equal(late.gossip.stateRequests().length, 5);
  assert.equal(new Set(late.gossip.stateRequests().map((r) => r.nonce)).size, 2, "a new round, a new nonce");
});

test("a lost response is recovered by the retry", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  await h.add("full", 8);
  const late = await h.add("late", 1, { enabled: true });
  let dropped = 0;
  h.net.drop = (_from, _to, msg) => msg.content?.$case === "stateResponse" && dropped++ < 2;
  await h.clock.advance(10_000 + 2 * 3_000 + 10);
  assert.equal(late.ledger.height(), 8n);
  assert.equal(late.gossip.stateRequests().length, 3);
});

test("a response whose block fails verification is not committed", async (t) => {
  const clock = new ManualClock();
  const ledger = new FakeLedger(clock, 1);
  const gossip = new FakeGossip(undefined, "late", ledger);
  gossip.extraMembers.push(memberOf("evil", 4n));
  const state = createStateProvider(
    CHANNEL,
    {
      gossip,
      ledger,
      mcs: {
        verifyBlock: (_c, seq) => {
          if (seq === 2n) throw new Error("bad orderer signature");
        },
      },
      clock,
      random: new SeededRandom(1),
      logger: silentLogger,
      metrics: memoryMetricsProvider(),
    },
    { enabled: true },
  );
  await state.start();
  t.after(() => state.stop());
  await clock.advance(10_000);
  const nonce = gossip.stateRequests()[0]!.nonce;
  gossip.directIn(received(stateResponse(nonce, [2n, 3n]), "evil"));
  await clock.advance(1);
  assert.equal(ledger.height(), 1n);
  assert.equal(state.bufferSize(), 0);
  assert.equal(gossip.stateRequests().length, 2, "asked again");
});

test("private data travels in state responses and is committed with its block", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const full = await h.add("full", 4);
  const pvt = { txSeqInBlock: 0n, payload: utf8("secret") };
  full.ledger.pvtDataFor = async (seq, requester) => (seq === 2n && fromUtf8(requester.identity) === "late" ? [pvt] : undefined);
  const late = await h.add("late", 1, { enabled: true });
  await h.clock.advance(10_100);
  assert.equal(late.ledger.height(), 4n);
  assert.deepEqual(late.ledger.pvt.get(2n), [pvt]);
  assert.equal(late.ledger.pvt.get(1n), undefined);
  assert.deepEqual(PvtDataPayload.decode(PvtDataPayload.encode(pvt).finish()), pvt);
});

test("a commit failure halts chain processing (Fabric panics)", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const p = await h.add("p0", 1);
  p.ledger.failAt = 3n;
  for (let n = 1; n <= 5; n++) p.gossip.gossipIn(dataMsg(n));
  await h.clock.advance(10);
  assert.equal(p.ledger.height(), 3n);
  assert.match(p.state.haltedReason()?.message ?? "", /disk full/);
  p.gossip.gossipIn(dataMsg(6));
  await h.clock.advance(10);
  assert.equal(p.ledger.height(), 3n);
});

test("a payload whose block does not match its sequence is dropped and the gap can be filled again", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const p = await h.add("p0", 1);
  p.gossip.gossipIn({ ...dataMsg(1), content: { $case: "dataMsg", value: { payload: { ...makePayload(2), seqNum: 1n } } } });
  p.gossip.gossipIn(dataMsg(2));
  await h.clock.advance(10);
  assert.equal(p.ledger.height(), 1n);
  p.gossip.gossipIn(dataMsg(1));
  await h.clock.advance(10);
  assert.deepEqual(p.ledger.committedNumbers(), range(0, 2));
});

test("a ledger at height 0 cannot start; bad options are refused", async () => {
  const clock = new ManualClock();
  const ledger = new FakeLedger(clock, 0);
  const components = {
    gossip: new FakeGossip(undefined, "p", ledger),
    ledger,
    mcs: { verifyBlock: () => {} },
    clock,
    random: new SeededRandom(1),
    logger: silentLogger,
    metrics: memoryMetricsProvider(),
  };
  await assert.rejects(createStateProvider(CHANNEL, components).start(), (e: unknown) => e instanceof StateError && e.code === "ZERO_HEIGHT");
  // The other state rules are config's (peer.gossip.state.*): test/unit/config/gossip-config-errors.test.ts.
  assert.throws(() => createStateProvider(CHANNEL, components, { checkIntervalMs: 0 }), (e: unknown) => e instanceof StateError && e.code === "INVALID_OPTIONS");
});

test("stop() leaves no timers, unsubscribes, ends a waiting add and a transfer in flight", async () => {
  const h = new StateHarness();
  await h.add("silent", 100);
  const late = await h.add("late", 1, { enabled: true });
  h.net.drop = () => true;
  for (let n = 2; n <= 42; n++) await late.state.addPayload(makePayload(n));
  const waiting = late.state.addPayload(makePayload(43));
  await h.clock.advance(10_500);
  assert.equal(late.gossip.stateRequests().length, 1, "a transfer is waiting for its response");
  await h.stopAll();
  await assert.rejects(waiting, (e: unknown) => e instanceof StateError && e.code === "STOPPED");
  assert.equal(h.clock.pendingTimers(), 0);
  assert.equal(late.gossip.subs.length + late.gossip.direct.length, 0);
  await assert.rejects(late.state.addPayload(makePayload(1)), (e: unknown) => e instanceof StateError && e.code === "STOPPED");
  await late.state.stop();
  await h.clock.advance(60_000);
  assert.equal(late.gossip.stateRequests().length, 1);
});

test("a large gap with slow commits never grows the buffer beyond 2 x blockBufferSize + batchSize (TestLargeBlockGap)", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  await h.add("full", 500);
  const late = await h.add("late", 1, { enabled: true });
  late.ledger.commitDelayMs = 20;
  let maxBuffer = 0;
  const deadline = h.clock.now() + 60_000;
  while (late.ledger.height() < 500n && h.clock.now() < deadline) {
    await h.clock.advance(10);
    maxBuffer = Math.max(maxBuffer, late.state.bufferSize());
  }
  assert.equal(late.ledger.height(), 500n);
  assert.ok(maxBuffer <= 2 * 20 + 10, `buffer peaked at ${maxBuffer}`);
  assert.ok(maxBuffer > 20, `the blocking add was exercised (peak ${maxBuffer})`);
});

test("a response that would exceed the message size limit carries the first blocks that fit, and a late peer still catches up whole", async (t) => {
  const h = new StateHarness();
  t.after(() => h.stopAll());
  const blockBytes = Block.encode(makeBlock(5n)).finish().byteLength;
  // Room for three payloads beside the response's fixed overhead.
  const maxMessageBytes = 1024 + 3 * (blockBytes + 30);
  const full = await h.add("full", 30, { maxMessageBytes });
  await h.add("asker", 1);
  const seqs: bigint[][] = [];
  full.gossip.directIn(
    received(stateRequest(5n, 12n), "asker", (m) => {
      if (m.content?.$case === "stateResponse") seqs.push(m.content.value.payloads.map((p) => p.seqNum));
    }),
  );
  await h.clock.advance(1);
  assert.deepEqual(seqs, [range(5, 7)], "contiguous from the start, within the limit");

  const late = await h.add("late", 1, { enabled: true });
  await h.clock.advance(10_100);
  assert.equal(late.ledger.height(), 30n);
  assert.deepEqual(late.ledger.committedNumbers(), range(0, 29));
  const reqs = late.gossip.stateRequests();
  assert.deepEqual(reqs.slice(0, 2).map((r) => [r.start, r.end]), [[1n, 11n], [4n, 14n]], "the next request starts after the last block received");
});
