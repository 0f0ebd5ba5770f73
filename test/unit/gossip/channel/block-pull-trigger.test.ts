/**
 * The channel's opt-in block pull option (not in Fabric; `peer.gossip.blockPullInterval`): block
 * pull rounds on their own interval, and a round at once when a pushed block reveals a gap. Off by
 * default, in which case the channel pulls only every pullInterval, as Fabric does. Virtual time.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveChannelConfig } from "../../../../src/gossip/channel/index.js";
import { PullMsgType } from "../../../../src/protos/gen/gossip/message.pb.js";
import { ManualClock } from "../../../../src/util/index.js";
import { blockMsg, type ChannelFixture, digestMsg, FakeAdapter, newChannel, ORG1, pki, received, stateInfoMsg } from "./harness.js";

const PEER1 = pki("peer1InOrg1");
/** harness TEST_CONFIG: pullInterval 1 s, digest wait 150 ms, response wait 300 ms. */
const PULL_MS = 1_000;
const DIGEST_MS = 150;
const RESPONSE_MS = 300;
const BLOCK_PULL_MS = 500;

/** A channel with one same-org peer whose StateInfo we hold (so block pull has someone to ask). */
async function channel(blockPullIntervalMs: number, ledgerHeight = 1n, maxBlockCountToStore = 100): Promise<{ f: ChannelFixture; times: number[] }> {
  const adapter = new FakeAdapter();
  adapter.addMember(PEER1, ORG1);
  const clock = new ManualClock(0);
  const f = await newChannel({ adapter, clock, config: { blockPullIntervalMs, maxBlockCountToStore } });
  f.gc.handleMessage(received(stateInfoMsg(PEER1, 1n), PEER1));
  f.gc.updateLedgerHeight(ledgerHeight);
  const times: number[] = [];
  blockHelloTimes(f, times, 0);
  return { f, times };
}

/** Records the virtual times (ms since the channel started) at which block pull hellos were sent. */
function blockHelloTimes(f: ChannelFixture, log: number[], startedAt: number): void {
  f.adapter.onSend = (msg) => {
    const c = msg.message.content;
    if (c?.$case === "hello" && c.value.msgType === PullMsgType.BLOCK_MSG) log.push(f.clock.monotonic() - startedAt);
  };
}

function lastHelloNonce(f: ChannelFixture): bigint {
  const hellos = f.adapter.sentOf("hello");
  const c = hellos[hellos.length - 1]?.msg.message.content;
  if (c?.$case !== "hello") throw new Error("no hello sent");
  return c.value.nonce;
}

describe("channel: opt-in block pull interval and gap trigger", () => {
  it("off (Fabric's behaviour): block pull every pullInterval, and a gap in pushed blocks triggers nothing", async (t) => {
    const { f, times } = await channel(0);
    t.after(() => f.gc.stop());
    await f.clock.advance(400);
    f.gc.handleMessage(received(blockMsg(3n), PEER1));
    assert.equal(f.adapter.demuxed.length > 0, true, "the block was accepted");
    await f.clock.advance(2 * PULL_MS - 400);
    assert.deepEqual(times, [PULL_MS, 2 * PULL_MS]);
  });

  it("on: block pull rounds every blockPullInterval instead of pullInterval", async (t) => {
    const { f, times } = await channel(BLOCK_PULL_MS);
    t.after(() => f.gc.stop());
    await f.clock.advance(4 * BLOCK_PULL_MS);
    assert.deepEqual(times, [500, 1_000, 1_500, 2_000]);
  });

  it("on: a pushed block with a missing predecessor starts a round at once; one without a gap does not", async (t) => {
    const { f, times } = await channel(BLOCK_PULL_MS, 5n);
    t.after(() => f.gc.stop());
    await f.clock.advance(100);
    // Block 5 is the next one expected at height 5: no gap.
    f.gc.handleMessage(received(blockMsg(5n), PEER1));
    assert.deepEqual(times, []);
    // Block 7 while 6 is neither held nor committed: a gap.
    await f.clock.advance(100);
    f.gc.handleMessage(received(blockMsg(7n), PEER1));
    assert.deepEqual(times, [200]);
    // The peer's digest lists 6; we request it after the digest wait.
    f.gc.handleMessage(received(digestMsg(lastHelloNonce(f), ["6", "7"]), PEER1));
    await f.clock.advance(DIGEST_MS);
    const req = f.adapter.sentOf("dataReq").at(-1)?.msg.message.content;
    assert.equal(req?.$case, "dataReq");
    if (req?.$case === "dataReq") assert.deepEqual(req.value.digests.map((d) => new TextDecoder().decode(d)), ["6"]);
    // The periodic schedule restarted from the triggered round: next at 200 + 500.
    await f.clock.advance(700 - 200 - DIGEST_MS - 1);
    assert.deepEqual(times, [200]);
    await f.clock.advance(1);
    assert.deepEqual(times, [200, 700]);
  });

  it("on: a gap seen during a round starts the next round when that round ends, not an overlapping one", async (t) => {
    const { f, times } = await channel(BLOCK_PULL_MS, 1n);
    t.after(() => f.gc.stop());
    await f.clock.advance(BLOCK_PULL_MS + 10);
    assert.deepEqual(times, [500]);
    f.gc.handleMessage(received(blockMsg(3n), PEER1));
    f.gc.handleMessage(received(blockMsg(4n), PEER1));
    await f.clock.advance(DIGEST_MS + RESPONSE_MS - 10);
    assert.deepEqual(times, [500, 500 + DIGEST_MS + RESPONSE_MS]);
  });

  it("on: missing blocks further below the pushed one than maxBlockCountToStore are left to state transfer", async (t) => {
    const { f, times } = await channel(BLOCK_PULL_MS, 1n, 3);
    t.after(() => f.gc.stop());
    // Height 1 with a window of 3: block 10 sees 7, 8, 9 missing and pulls.
    f.gc.handleMessage(received(blockMsg(10n), PEER1));
    assert.deepEqual(times, [0]);
    f.gc.handleMessage(received(blockMsg(11n), PEER1));
    f.gc.handleMessage(received(blockMsg(12n), PEER1));
    await f.clock.advance(2 * (DIGEST_MS + RESPONSE_MS));
    // 11 and 12 came during that round (8, 9 missing): one more round when it ended, at 450.
    assert.deepEqual(times, [0, DIGEST_MS + RESPONSE_MS]);
    // Block 13: 10, 11, 12 are held; 1..9 are still missing but beyond the window: no round.
    f.gc.handleMessage(received(blockMsg(13n), PEER1));
    assert.deepEqual(times, [0, DIGEST_MS + RESPONSE_MS]);
  });

  // Its range (0 or more, and above digestWaitTime + responseWaitTime) is config's rule on
  // peer.gossip.blockPullInterval: test/unit/config/block-pull-interval.test.ts.
  it("the option is off unless given, and 0 is off", () => {
    assert.equal(resolveChannelConfig({}).blockPullIntervalMs, undefined, "off unless given");
    assert.equal(resolveChannelConfig({ blockPullIntervalMs: 0 }).blockPullIntervalMs, 0);
  });
});
