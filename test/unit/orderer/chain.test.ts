import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { blockDataHash, blockHeaderBytes } from "../../../src/crypto/block.js";
import { createSignedEnvelope } from "../../../src/deliver/index.js";
import { openBlockStore } from "../../../src/ledger/block-store.js";
import { silentLogger } from "../../../src/logging/logger.js";
import { channelConfigFromBlock, createChannelBundle } from "../../../src/channelconfig/index.js";
import { BLOCK_METADATA_ENTRIES, OrdererChain } from "../../../src/orderer/chain.js";
import { OrdererError } from "../../../src/orderer/errors.js";
import { Block, Envelope, HeaderType } from "../../../src/protos/gen/common/common.pb.js";
import { ManualClock } from "../../../src/util/manual-clock.js";
import { ordererFixture } from "./fixture.js";

const enc = new TextEncoder();

test("orderer chain: cutting by size and by timeout in virtual time, Fabric-format signed blocks, restart", async (t) => {
  const clock = new ManualClock();
  const fx = await ordererFixture(t, clock);
  const dir = await fx.tmp();
  const tx = (i: number, size = 0): Uint8Array =>
    Envelope.encode(
      createSignedEnvelope(fx.member, "ch1", HeaderType.ENDORSER_TRANSACTION, size > 0 ? new Uint8Array(size).fill(i) : enc.encode(`tx-${i}`), { clock }),
    ).finish();
  // Peers verify blocks against /Channel/Orderer/BlockValidation of the channel's configuration.
  const bundle = createChannelBundle(channelConfigFromBlock(Block.decode(fx.genesis)), { clock });
  const open = async (opts: { batchSize: number; batchTimeoutMs: number; maxBlockBytes: number; preferredMaxBytes?: number } = { batchSize: 3, batchTimeoutMs: 2_000, maxBlockBytes: 100_000 }, genesis: Uint8Array | undefined = fx.genesis) => {
    const store = await openBlockStore(dir);
    try {
      const chain = await OrdererChain.open("ch1", opts, { store, signer: fx.orderer, clock, logger: silentLogger }, genesis);
      return { store, chain };
    } catch (err) {
      await store.close();
      throw err;
    }
  };

  await t.test("the genesis block given is block 0, stored unchanged; another genesis block for the stored chain is refused", async () => {
    const { store, chain } = await open();
    assert.equal(store.height(), 1n);
    assert.deepEqual(await store.getBlockBytes(0n), fx.genesis);
    await chain.close();
    await store.close();
    const other = await fx.genesisOf("ch1", ["Org1MSP", "Org2MSP"]);
    await assert.rejects(open(undefined, other), (e: unknown) => e instanceof OrdererError && e.code === "CONFIG" && /not block 0 of the chain stored/.test(e.message));
    // Without a genesis block a stored chain opens as it is.
    const again = await open(undefined, undefined);
    assert.equal(again.store.height(), 1n);
    await again.chain.close();
    await again.store.close();
  });

  await t.test("an empty store without a genesis block is refused", async () => {
    const store = await openBlockStore(await fx.tmp());
    await assert.rejects(
      OrdererChain.open("ch1", { batchSize: 1, batchTimeoutMs: 1, maxBlockBytes: 1000 }, { store, signer: fx.orderer, clock, logger: silentLogger }),
      (e: unknown) => e instanceof OrdererError && e.code === "CONFIG" && /no genesis block/.test(e.message),
    );
    await store.close();
  });

  await t.test("by size: batchSize messages cut at once; the rest waits for the timeout from the first pending message", async () => {
    const { store, chain } = await open();
    for (let i = 0; i < 7; i++) chain.order(tx(i));
    await chain.flushed();
    assert.equal(store.height(), 3n);
    assert.equal(chain.pendingCount(), 1);
    await clock.advance(1_000);
    chain.order(tx(7));
    await clock.advance(999);
    await chain.flushed();
    assert.equal(store.height(), 3n, "not before batchTimeout since the first pending message");
    await clock.advance(1);
    await chain.flushed();
    assert.equal(store.height(), 4n);
    assert.equal((await store.getBlock(3n)).data?.data.length, 2);
    assert.equal(clock.pendingTimers(), 0);
    // a lone message is cut by the timeout alone
    chain.order(tx(8));
    await clock.advance(2_000);
    await chain.flushed();
    assert.equal(store.height(), 5n);
    await chain.close();
    await store.close();
  });

  await t.test("by bytes: a batch is cut before it would exceed maxBlockBytes; a larger message is refused", async () => {
    const envs = [tx(1, 1_200), tx(2, 1_200), tx(3, 1_200)];
    const size = envs[0]?.byteLength ?? 0;
    const { store, chain } = await open({ batchSize: 100, batchTimeoutMs: 2_000, maxBlockBytes: Math.floor(size * 2.5) });
    const h0 = store.height();
    for (const e of envs) chain.order(e);
    await chain.flushed();
    assert.equal(store.height(), h0 + 1n);
    assert.equal((await store.getBlock(h0)).data?.data.length, 2);
    assert.throws(() => chain.order(tx(4, size * 3)), (e: unknown) => e instanceof OrdererError && e.code === "BAD_REQUEST");
    await chain.close();
    assert.equal(store.height(), h0 + 2n, "close cuts the pending batch");
    assert.throws(() => chain.order(tx(5)), (e: unknown) => e instanceof OrdererError && e.code === "SERVICE_UNAVAILABLE");
    await store.close();
  });

  await t.test("PreferredMaxBytes as Fabric's blockcutter: a batch is cut before it would pass it; a larger message is a block of its own", async () => {
    const small = tx(11, 500);
    const big = tx(12, 3_000);
    const size = small.byteLength;
    const { store, chain } = await open({ batchSize: 100, batchTimeoutMs: 2_000, maxBlockBytes: 100_000, preferredMaxBytes: Math.floor(size * 2.5) });
    const h0 = store.height();
    chain.order(small);
    chain.order(tx(13, 500));
    chain.order(big); // cuts the two pending, then goes alone
    await chain.flushed();
    assert.equal(store.height(), h0 + 2n);
    assert.equal((await store.getBlock(h0)).data?.data.length, 2);
    assert.equal((await store.getBlock(h0 + 1n)).data?.data.length, 1);
    assert.equal(chain.pendingCount(), 0);
    assert.equal(clock.pendingTimers(), 0, "nothing pending, no batch timer");
    await chain.close();
    await store.close();
  });

  await t.test("every block: number, hash chain, data hash, 5 metadata entries, orderer signature; restart continues the chain", async () => {
    const { store, chain } = await open();
    const h0 = store.height();
    for (let i = 0; i < 3; i++) chain.order(tx(100 + i));
    await chain.close();
    await store.close();
    const again = await open();
    assert.equal(again.store.height(), h0 + 1n, "no second genesis block");
    for (let i = 0; i < 3; i++) again.chain.order(tx(200 + i));
    await again.chain.flushed();
    let prev: Uint8Array = new Uint8Array(0);
    let n = 0n;
    for await (const b of again.store.iterate(0n)) {
      assert.equal(b.header?.number, n);
      if (n > 0n) assert.deepEqual(b.header?.previousHash, prev);
      assert.deepEqual(b.header?.dataHash, blockDataHash(b.data));
      assert.equal(b.metadata?.metadata.length, BLOCK_METADATA_ENTRIES);
      // Block 0 is the genesis block as configtxgen makes it (unsigned; peers trust the block they join from).
      if (n > 0n) bundle.verifyBlock(b, n);
      prev = new Uint8Array(createHash("sha256").update(blockHeaderBytes(b.header ?? { number: 0n, previousHash: prev, dataHash: prev })).digest());
      n++;
    }
    assert.equal(n, h0 + 2n);
    await again.chain.close();
    await again.store.close();
  });
});
