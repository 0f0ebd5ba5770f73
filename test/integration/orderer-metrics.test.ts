/** The orderer records its metrics (chain height, blocks cut, envelopes ordered) on the provider it is given. */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers/promises";
import { test } from "node:test";
import { createSignedEnvelope } from "../../src/deliver/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { memoryMetricsProvider } from "../../src/metrics/index.js";
import { broadcast, createOrderer, ORDERER_BLOCKS_CUT, ORDERER_LEDGER_HEIGHT, ORDERER_TRANSACTIONS_ORDERED } from "../../src/orderer/index.js";
import { HeaderType, Status } from "../../src/protos/gen/common/common.pb.js";
import { SystemClock } from "../../src/util/index.js";
import { ordererFixture } from "../unit/orderer/fixture.js";

const enc = new TextEncoder();

test("orderer metrics: height from the start (genesis), then per cut block; envelopes counted per channel", async (t) => {
  const clock = new SystemClock();
  const fx = await ordererFixture(t, clock);
  const metrics = memoryMetricsProvider();
  const orderer = createOrderer(
    {
      listen: "127.0.0.1:0",
      dir: await fx.tmp(),
      channels: [await fx.genesisOf("a", ["Org1MSP"]), await fx.genesisOf("b", ["Org1MSP"])],
      batchSize: 2,
      batchTimeoutMs: 100,
    },
    { signer: fx.orderer, clock, logger: silentLogger, metrics },
  );
  await orderer.start();
  t.after(() => orderer.stop());
  const height = (channel: string): number => metrics.value(ORDERER_LEDGER_HEIGHT.name, { channel });
  assert.equal(height("a"), 1, "the genesis block");
  assert.equal(height("b"), 1);
  assert.equal(metrics.value(ORDERER_BLOCKS_CUT.name), 0, "the genesis block is not cut from envelopes");

  const send = (ch: string, i: number) => broadcast(orderer.address, createSignedEnvelope(fx.member, ch, HeaderType.ENDORSER_TRANSACTION, enc.encode(`${ch}${i}`), { clock }));
  for (let i = 0; i < 3; i++) assert.equal((await send("a", i)).status, Status.SUCCESS);
  await orderer.waitForHeight("a", 3n);
  // The metrics are updated right after the block is written, in the same turn as the height wait may resolve.
  for (let i = 0; i < 100 && height("a") < 3; i++) await setImmediate();
  assert.equal(height("a"), 3);
  assert.equal(height("b"), 1);
  assert.equal(metrics.value(ORDERER_BLOCKS_CUT.name, { channel: "a" }), 2);
  assert.equal(metrics.value(ORDERER_TRANSACTIONS_ORDERED.name, { channel: "a" }), 3);
  assert.equal(metrics.value(ORDERER_TRANSACTIONS_ORDERED.name, { channel: "b" }), 0);
});
