import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  createDeliverClient,
  DELIVER_BLOCKS_REJECTED_METRIC,
  DELIVER_RECONNECTS_METRIC,
  DeliverClientImpl,
  type DeliverClientOptions,
  DeliverError,
} from "../../../src/deliver/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { type Counter, createRegistry, promMetricsProvider, type Registry } from "../../../src/metrics/index.js";
import { Block, Status } from "../../../src/protos/gen/common/common.pb.js";
import { ManualClock, SeededRandom } from "../../../src/util/index.js";
import {
  blockResponse,
  CHANNEL,
  FakeConnector,
  FakeLedger,
  FakeMcs,
  fakeSigner,
  firstPickRandom,
  makeChain,
  serveChain,
  statusResponse,
  withBadSignature,
  withBrokenChain,
} from "./helpers.js";

async function until(clock: ManualClock, cond: () => boolean, stepMs = 10, maxSteps = 20_000): Promise<void> {
  for (let i = 0; i < maxSteps && !cond(); i++) await clock.advance(stepMs);
  assert.ok(cond(), "condition not reached in virtual time");
}

async function metric(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name) as Counter<string> | undefined;
  if (m === undefined) return 0;
  const v = (await m.get()).values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

function setup(
  endpoints: string[],
  options: Partial<DeliverClientOptions> = {},
  extra: { yieldCalls?: { n: number }; gossiped?: bigint[]; chainLength?: number } = {},
) {
  const clock = new ManualClock();
  const chain = makeChain(extra.chainLength ?? 12);
  const ledger = new FakeLedger(chain[0]!);
  const mcs = new FakeMcs();
  const connector = new FakeConnector();
  const registry = createRegistry();
  const client = new DeliverClientImpl(
    {
      channel: CHANNEL,
      endpoints,
      signer: fakeSigner,
      mcs,
      ledgerHeight: ledger.height,
      onBlock: ledger.onBlock,
      blockHashAt: ledger.blockHashAt,
      gossip: (b) => extra.gossiped?.push(b.header!.number),
      onGiveUp: () => {
        if (extra.yieldCalls) extra.yieldCalls.n++;
      },
      clock,
      random: firstPickRandom(),
      logger: silentLogger,
      metrics: promMetricsProvider(registry),
      connector,
    },
    options,
  );
  return { clock, chain, ledger, mcs, connector, registry, client };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe("deliver client", () => {
  test("asks from the ledger height and hands blocks on in order with their exact bytes, gossiping each", async (t) => {
    const gossiped: bigint[] = [];
    const { clock, chain, ledger, connector, client } = setup(["o1:7050"], {}, { gossiped });
    connector.scripts.set("o1:7050", serveChain(chain));
    t.after(() => client.stop());
    await client.start();
    await until(clock, () => ledger.blocks.length === chain.length);
    assert.deepEqual(ledger.numbers(), range(0, 12));
    assert.equal(connector.opened.length, 1);
    assert.equal(connector.opened[0]!.start, 1n);
    for (let i = 1; i < chain.length; i++) assert.deepEqual(ledger.bytes[i], Block.encode(chain[i]!).finish());
    assert.deepEqual(gossiped, range(1, 12).map(BigInt));
    assert.equal(client.currentEndpoint(), "o1:7050");
    await client.stop();
    assert.equal(connector.openStreams(), 0);
    assert.equal(clock.pendingTimers(), 0);
  });

  test("blockGossipEnabled=false hands blocks on without gossiping them", async (t) => {
    const gossiped: bigint[] = [];
    const { clock, chain, ledger, connector, client } = setup(["o1:7050"], { blockGossipEnabled: false }, { gossiped });
    connector.scripts.set("o1:7050", serveChain(chain));
    t.after(() => client.stop());
    await client.start();
    await until(clock, () => ledger.blocks.length === chain.length);
    assert.deepEqual(gossiped, []);
  });

  test("a block with a bad signature is rejected, counted, never handed on; the client fails over and resumes", async (t) => {
    const { clock, chain, ledger, connector, registry, client } = setup(["a:1", "b:1"]);
    const bad = withBadSignature(chain[5]!);
    connector.scripts.set("a:1", serveChain(chain, new Map([[5, bad]])));
    connector.scripts.set("b:1", serveChain(chain));
    t.after(() => client.stop());
    await client.start();
    await until(clock, () => ledger.blocks.length === chain.length);
    assert.deepEqual(ledger.numbers(), range(0, 12));
    assert.deepEqual(ledger.bytes[5], Block.encode(chain[5]!).finish());
    assert.deepEqual(
      connector.opened.map((o) => [o.endpoint, o.start]),
      [
        ["a:1", 1n],
        ["b:1", 5n],
      ],
    );
    assert.equal(await metric(registry, DELIVER_BLOCKS_REJECTED_METRIC, { channel: CHANNEL, reason: "verify_failed" }), 1);
    assert.equal(await metric(registry, DELIVER_RECONNECTS_METRIC, { channel: CHANNEL }), 1);
    assert.ok(connector.opened[0]!.stream.closed, "the stream of the bad orderer is closed");
  });

  test("a block that breaks the hash chain is rejected and counted; the other orderer's is taken", async (t) => {
    const { clock, chain, ledger, connector, registry, client } = setup(["a:1", "b:1"]);
    connector.scripts.set("a:1", serveChain(chain, new Map([[7, withBrokenChain(chain[7]!)]])));
    connector.scripts.set("b:1", serveChain(chain));
    t.after(() => client.stop());
    await client.start();
    await until(clock, () => ledger.blocks.length === chain.length);
    assert.deepEqual(ledger.numbers(), range(0, 12));
    assert.equal(await metric(registry, DELIVER_BLOCKS_REJECTED_METRIC, { channel: CHANNEL, reason: "hash_chain" }), 1);
    assert.equal(connector.opened[1]!.start, 7n);
  });

  test("the hash chain of the first block after (re)start is checked against the ledger", async (t) => {
    const { clock, chain, ledger, connector, registry, client } = setup(["a:1", "b:1"]);
    // a:1 serves a block 1 that does not link to the genesis block the ledger holds.
    connector.scripts.set("a:1", serveChain(chain, new Map([[1, withBrokenChain(chain[1]!)]])));
    connector.scripts.set("b:1", serveChain(chain));
    t.after(() => client.stop());
    await client.start();
    await until(clock, () => ledger.blocks.length === chain.length);
    assert.equal(await metric(registry, DELIVER_BLOCKS_REJECTED_METRIC, { channel: CHANNEL, reason: "hash_chain" }), 1);
  });

  test("a block refused by the MCS, a skipped number and a malformed response are each rejected and counted", async (t) => {
    const { clock, chain, ledger, mcs, connector, registry, client } = setup(["a:1", "b:1"]);
    mcs.refuse.add(3n);
    let aCalls = 0;
    connector.scripts.set("a:1", (start, stream) => {
      aCalls++;
      if (aCalls === 1) serveChain(chain)(start, stream); // refused at 3
      else if (aCalls === 2) stream.push(blockResponse(chain[Number(start) + 1]!)); // skips one
      else stream.push(new Uint8Array([0x12, 0x05, 0x01])); // truncated block field
    });
    let bCalls = 0;
    connector.scripts.set("b:1", (start, stream) => {
      bCalls++;
      if (bCalls === 1) {
        mcs.refuse.delete(3n);
        stream.push(blockResponse(chain[Number(start)]!)); // one good block, then the orderer hangs up
        stream.end();
      } else if (bCalls === 2) {
        stream.end();
      } else serveChain(chain)(start, stream);
    });
    t.after(() => client.stop());
    await client.start();
    await until(clock, () => ledger.blocks.length === chain.length);
    assert.deepEqual(ledger.numbers(), range(0, 12));
    assert.equal(await metric(registry, DELIVER_BLOCKS_REJECTED_METRIC, { channel: CHANNEL, reason: "verify_failed" }), 1);
    assert.equal(await metric(registry, DELIVER_BLOCKS_REJECTED_METRIC, { channel: CHANNEL, reason: "unexpected_number" }), 1);
    assert.equal(await metric(registry, DELIVER_BLOCKS_REJECTED_METRIC, { channel: CHANNEL, reason: "malformed" }), 1);
  });

  test("a status response or a stream error makes it reconnect from the ledger height", async (t) => {
    const { clock, chain, ledger, connector, registry, client } = setup(["o:1"]);
    let calls = 0;
    connector.scripts.set("o:1", (start, stream) => {
      calls++;
      const s = Number(start);
      if (calls === 1) {
        stream.push(blockResponse(chain[s]!));
        stream.push(statusResponse(Status.SERVICE_UNAVAILABLE));
      } else if (calls === 2) {
        stream.push(blockResponse(chain[s]!));
        stream.fail(new Error("UNAVAILABLE: connection reset"));
      } else serveChain(chain)(start, stream);
    });
    t.after(() => client.stop());
    await client.start();
    await until(clock, () => ledger.blocks.length === chain.length);
    assert.deepEqual(
      connector.opened.map((o) => o.start),
      [1n, 2n, 3n],
    );
    assert.equal(await metric(registry, DELIVER_RECONNECTS_METRIC, { channel: CHANNEL }), 2);
  });

  test("one orderer down: the other is used", async (t) => {
    const { clock, chain, ledger, connector, client } = setup(["down:1", "up:1"]);
    connector.scripts.set("up:1", serveChain(chain));
    t.after(() => client.stop());
    await client.start();
    await until(clock, () => ledger.blocks.length === chain.length);
    assert.deepEqual(
      connector.opened.map((o) => o.endpoint),
      ["up:1"],
    );
  });

  test("all orderers down beyond reconnectTotalTimeThreshold: an elected leader gives up once", async (t) => {
    const yieldCalls = { n: 0 };
    const { clock, chain, ledger, connector, client } = setup(["a:1", "b:1"], { reconnectTotalTimeThresholdMs: 5_000, backoffJitter: 0 }, { yieldCalls });
    t.after(() => client.stop());
    await client.start();
    await clock.advance(3_000);
    assert.equal(yieldCalls.n, 0);
    await until(clock, () => yieldCalls.n > 0, 50);
    assert.ok(clock.now() - 1_700_000_000_000 <= 5_000, "gave up no later than the threshold");
    assert.ok(client.gaveUp());
    await clock.advance(60_000);
    assert.equal(yieldCalls.n, 1);
    assert.equal(clock.pendingTimers(), 0, "the loop ended");
    // Leader again later: start() begins afresh.
    connector.scripts.set("b:1", serveChain(chain));
    await client.start();
    assert.equal(client.gaveUp(), false);
    await until(clock, () => ledger.blocks.length === chain.length);
    await client.stop();
  });

  test("a static leader ignores reconnectTotalTimeThreshold and keeps trying", async (t) => {
    const yieldCalls = { n: 0 };
    const { clock, chain, ledger, connector, client } = setup(
      ["a:1"],
      { reconnectTotalTimeThresholdMs: 1_000, reconnectBackoffThresholdMs: 2_000, yieldLeadership: false },
      { yieldCalls },
    );
    t.after(() => client.stop());
    await client.start();
    await clock.advance(20_000);
    assert.equal(yieldCalls.n, 0);
    connector.scripts.set("a:1", serveChain(chain));
    await until(clock, () => ledger.blocks.length === chain.length);
    assert.equal(client.gaveUp(), false);
  });

  test("a success resets the outage: the threshold counts from the last block", async (t) => {
    const yieldCalls = { n: 0 };
    const { clock, chain, ledger, connector, client } = setup(["a:1"], { reconnectTotalTimeThresholdMs: 2_000, backoffJitter: 0 }, { yieldCalls });
    let calls = 0;
    connector.scripts.set("a:1", (start, stream) => {
      calls++;
      // Every 4th connection gets one block, then the orderer hangs up; the others hang up at once.
      if (calls % 4 === 0 && Number(start) < chain.length) stream.push(blockResponse(chain[Number(start)]!));
      stream.end();
    });
    t.after(() => client.stop());
    await client.start();
    await until(clock, () => ledger.blocks.length === chain.length, 10);
    assert.equal(yieldCalls.n, 0);
  });

  test("backoff grows by the multiplier from the initial wait, capped at reconnectBackoffThreshold, within the jitter", () => {
    const base = setup(["a:1"], { initialBackoffMs: 100, backoffMultiplier: 2, backoffJitter: 0, reconnectBackoffThresholdMs: 1_000 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((f) => base.client.backoffMs(f)),
      [100, 200, 400, 800, 1_000, 1_000],
    );
    const fabric = setup(["a:1"], { initialBackoffMs: 100, backoffMultiplier: 1.2, backoffJitter: 0 });
    assert.ok(Math.abs(fabric.client.backoffMs(3) - 144) < 1e-9);
    const jittered = setup(["a:1"], { initialBackoffMs: 100, backoffMultiplier: 2, backoffJitter: 0.2 });
    for (let i = 0; i < 200; i++) {
      const d = jittered.client.backoffMs(2);
      assert.ok(d >= 180 && d <= 220, `wait ${d} within 200 ms +/- 10%`);
    }
  });

  test("stop() while onBlock is blocked returns, closes the stream and leaves no timer", async () => {
    const clock = new ManualClock();
    const chain = makeChain(5);
    const connector = new FakeConnector();
    connector.scripts.set("o:1", serveChain(chain));
    let entered = 0;
    const client = createDeliverClient({
      channel: CHANNEL,
      endpoints: ["o:1"],
      signer: fakeSigner,
      mcs: new FakeMcs(),
      ledgerHeight: () => 1n,
      onBlock: () => {
        entered++;
        return new Promise<void>(() => {}); // never resolves (a full state buffer)
      },
      clock,
      random: new SeededRandom(3),
      logger: silentLogger,
      connector,
    });
    await client.start();
    await until(clock, () => entered === 1);
    await client.stop();
    await client.stop();
    assert.equal(connector.openStreams(), 0);
    assert.equal(clock.pendingTimers(), 0);
    assert.equal(client.currentEndpoint(), undefined);
  });

  test("start and stop are idempotent; a stopped client can start again from the ledger height", async (t) => {
    const { clock, chain, ledger, connector, client } = setup(["o:1"]);
    connector.scripts.set("o:1", serveChain(chain.slice(0, 6)));
    t.after(() => client.stop());
    await client.start();
    await client.start();
    await until(clock, () => ledger.blocks.length === 6);
    await client.stop();
    connector.scripts.set("o:1", serveChain(chain));
    await client.start();
    await until(clock, () => ledger.blocks.length === chain.length);
    assert.deepEqual(
      connector.opened.map((o) => o.start),
      [1n, 6n],
    );
  });

  test("updateEndpoints without the current orderer reconnects at once to a listed one, without a failure", async (t) => {
    const { clock, chain, ledger, connector, registry, client } = setup(["a:1"]);
    connector.scripts.set("a:1", serveChain(chain.slice(0, 4)));
    connector.scripts.set("b:1", serveChain(chain));
    t.after(() => client.stop());
    await client.start();
    await until(clock, () => ledger.blocks.length === 4);
    client.updateEndpoints(["a:1", "b:1"]);
    await clock.advance(1_000);
    assert.equal(client.currentEndpoint(), "a:1", "still listed: stays");
    client.updateEndpoints(["b:1"]);
    await until(clock, () => ledger.blocks.length === chain.length, 1);
    assert.ok(clock.now() - 1_700_000_000_000 < 1_100, "no backoff wait");
    assert.deepEqual(
      connector.opened.map((o) => [o.endpoint, o.start]),
      [
        ["a:1", 1n],
        ["b:1", 4n],
      ],
    );
    assert.equal(await metric(registry, DELIVER_RECONNECTS_METRIC, { channel: CHANNEL }), 0);
    assert.throws(() => client.updateEndpoints([]), /at least one/);
  });

  test("invalid options are refused with INVALID_OPTIONS", () => {
    assert.throws(
      () => setup([]),
      (err: unknown) => err instanceof DeliverError && err.code === "INVALID_OPTIONS",
    );
    // connTimeout and the thresholds are config's rules (peer.deliveryclient.*, test/unit/config/peer-config.test.ts);
    // the client keeps only the guard that its reconnection wait stays above 0.
    assert.throws(() => setup(["a:1"], { backoffMultiplier: 0.5 }), /backoffMultiplier/);
    assert.throws(() => setup(["a:1"], { initialBackoffMs: 0 }), /initialBackoffMs/);
    assert.throws(() => setup(["a:1"], { reconnectBackoffThresholdMs: 0 }), /reconnectBackoffThresholdMs/);
  });
});
