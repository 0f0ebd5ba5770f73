import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Registry } from "prom-client";
import { silentLogger } from "../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../src/metrics/index.js";
import { createPrivdataMetrics, openPvtDataHandler, type PvtDataHandler, type PvtDataHandlerLedger, sha256 } from "../../../src/privdata/index.js";
import type { Block } from "../../../src/protos/gen/common/common.pb.js";
import { AdminServer, createPvtDataViews, type PvtDataViews, PvtViewError } from "../../../src/service/index.js";
import { ManualClock, toHex } from "../../../src/util/index.js";
import { blockOf, CC, COLLECTIONS_JSON, kvBytes, pvtTx, transientData } from "../privdata/coordinator-helpers.js";

/** A block store in memory. */
function memoryLedger(): PvtDataHandlerLedger & { blocks: Block[] } {
  const blocks: Block[] = [];
  return {
    blocks,
    height: () => BigInt(blocks.length),
    getBlock: async (n) => {
      const b = blocks[Number(n)];
      if (b === undefined) throw new Error(`no block ${n}`);
      return b;
    },
    iterate: async function* (from, to) {
      for (let n = from; n < (to ?? BigInt(blocks.length)); n++) yield blocks[Number(n)]!;
    },
    append: async (b) => {
      if (b.header?.number !== BigInt(blocks.length)) throw new Error("not the next block");
      blocks.push(b);
    },
  };
}

/**
 * An Org1 peer of channel "ch" without peers to pull from: block 1 carries tx1 (collOrg1 and collBoth, both
 * from the transient store), block 2 tx2 (collOrg1, never received: missing) and tx3 (collOrg2, Org2 only:
 * ineligible); tx4's data waits in the transient store for its block.
 */
async function setup(): Promise<{ h: PvtDataHandler; ledger: ReturnType<typeof memoryLedger>; views: PvtDataViews; commitEmpty: () => Promise<void> }> {
  const ledger = memoryLedger();
  ledger.blocks.push(blockOf(0n, []));
  const h = await openPvtDataHandler(
    {
      channel: "ch",
      ledger,
      msps: () => undefined,
      applicationMspIds: () => ["Org1MSP", "Org2MSP"],
      applicationCapabilities: () => ["V2_5"],
      localMspId: "Org1MSP",
      selfSignedData: undefined,
      clock: new ManualClock(0),
      logger: silentLogger,
      metrics: createPrivdataMetrics(memoryMetricsProvider()),
    },
    { collectionsFiles: [{ chaincode: CC, json: COLLECTIONS_JSON }] },
  );
  await h.transientStore.persist("tx1", 1n, transientData({ collOrg1: "tx1/collOrg1", collBoth: "tx1/collBoth" }));
  await h.commitBlock(blockOf(1n, [pvtTx("tx1", ["collOrg1", "collBoth"])]));
  await h.commitBlock(blockOf(2n, [pvtTx("tx2", ["collOrg1"]), pvtTx("tx3", ["collOrg2"])]));
  await h.transientStore.persist("tx4", 3n, transientData({ collBoth: "tx4/collBoth" }));
  const views = createPvtDataViews({
    channel: (name) => {
      if (name !== "ch") throw new Error("not joined");
      return { ledger, pvt: h };
    },
    localMspId: "Org1MSP",
  });
  const commitEmpty = async (): Promise<void> => {
    await h.commitBlock(blockOf(ledger.height(), []));
  };
  return { h, ledger, views, commitEmpty };
}

const hashOf = (tag: string): string => toHex(sha256(kvBytes(tag)));

describe("private data views", () => {
  test("a transaction: held (hash checked, values on request), then purged after blockToLive; missing, ineligible, transient, unknown", async (t) => {
    const { h, views, commitEmpty } = await setup();
    t.after(() => h.stop());

    const v1 = await views.tx("ch", "tx1", false);
    assert.equal(v1.height, "3");
    assert.equal(v1.pvtHeight, "3");
    assert.equal(v1.txs.length, 1);
    const tx1 = v1.txs[0]!;
    assert.deepEqual({ block: tx1.block, txIndex: tx1.txIndex }, { block: "1", txIndex: 0 });
    assert.deepEqual(
      tx1.collections.map((c) => [c.collection, c.status, c.eligible, c.blockToLive, c.expiresAtBlock, c.hash === c.expectedHash, c.writes]),
      [
        ["collOrg1", "held", true, "0", null, true, undefined],
        ["collBoth", "held", true, "3", "5", true, undefined],
      ],
    );
    assert.equal(tx1.collections[0]?.expectedHash, hashOf("tx1/collOrg1"));
    const withValues = await views.tx("ch", "tx1", true);
    assert.deepEqual(withValues.txs[0]?.collections[0]?.writes, [{ key: "k-tx1/collOrg1", isDelete: false, value: Buffer.from("v-tx1/collOrg1").toString("base64") }]);

    const v2 = await views.block("ch", 2n, false);
    assert.deepEqual(
      v2.txs.map((x) => [x.txId, x.txIndex, x.collections.map((c) => [c.collection, c.status, c.eligible, c.deprioritized, c.hash])]),
      [
        ["tx2", 0, [["collOrg1", "missing", true, false, undefined]]],
        ["tx3", 1, [["collOrg2", "missing", false, undefined, undefined]]],
      ],
    );

    const v4 = await views.tx("ch", "tx4", true);
    assert.deepEqual(
      v4.txs.map((x) => [x.block, x.collections.map((c) => [c.collection, c.status, c.eligible, c.expectedHash, c.hash, c.writes?.[0]?.key])]),
      [[null, [["collBoth", "transient", true, null, hashOf("tx4/collBoth"), "k-tx4/collBoth"]]]],
    );

    await assert.rejects(views.tx("ch", "nope", false), (e: unknown) => e instanceof PvtViewError && e.code === "NOT_FOUND");
    await assert.rejects(views.tx("other", "tx1", false), (e: unknown) => e instanceof PvtViewError && e.code === "UNKNOWN_CHANNEL");
    await assert.rejects(views.block("ch", 3n, false), (e: unknown) => e instanceof PvtViewError && e.code === "NOT_FOUND");

    // Blocks 3 and 4 keep collBoth of block 1; block 5's commit purges it (1 + 3 + 1).
    await commitEmpty();
    await commitEmpty();
    assert.equal((await views.tx("ch", "tx1", false)).txs[0]?.collections[1]?.status, "held");
    await commitEmpty();
    const after = await views.tx("ch", "tx1", true);
    assert.deepEqual(
      after.txs[0]?.collections.map((c) => [c.collection, c.status, c.hash === undefined, c.writes === undefined]),
      [
        ["collOrg1", "held", false, false],
        ["collBoth", "purged", true, true],
      ],
    );
  });

  test("the summary counts per collection what is held, missing, purged (and purged since open) and transient", async (t) => {
    const { h, views, commitEmpty } = await setup();
    t.after(() => h.stop());
    for (let i = 0; i < 3; i++) await commitEmpty();
    const s = await views.summary("ch");
    assert.equal(s.mspId, "Org1MSP");
    assert.equal(s.height, "6");
    const row = (coll: string) => {
      const c = s.collections.find((x) => x.collection === coll);
      assert.ok(c !== undefined, coll);
      return [c.eligible, c.memberOrgs, c.committed, c.missingEligible, c.missingIneligible, c.purged, c.absent, c.transient, c.purgedSinceOpen];
    };
    const none = { held: 0, missingEligible: 0, missingIneligible: 0 };
    assert.deepEqual(row("collOrg1"), [true, ["Org1MSP"], 1, 1, 0, 0, 0, 0, none]);
    assert.deepEqual(row("collBoth"), [true, ["Org1MSP", "Org2MSP"], 0, 0, 0, 1, 0, 1, { held: 1, missingEligible: 0, missingIneligible: 0 }]);
    assert.deepEqual(row("collOrg2"), [false, ["Org2MSP"], 0, 0, 1, 0, 0, 0, none]);
    assert.deepEqual(
      s.collections.map((c) => c.collection),
      ["collBoth", "collOrg1", "collOrg2"],
      "the chaincode's explicit collections, sorted; implicit ones only once used",
    );
  });

  test("over the admin endpoint: the view and the summary as JSON, bad queries 400, unknown channel or transaction 404", async (t) => {
    const { h, views } = await setup();
    t.after(() => h.stop());
    const server = new AdminServer({
      listen: "127.0.0.1:0",
      registry: new Registry(),
      membership: () => ({ self: { endpoint: "", internalEndpoint: "", org: "", pkiId: "" }, alive: [], dead: [], channels: {} }),
      logger: silentLogger,
      now: () => new Date(0),
      privateDataViews: views,
    });
    await server.start();
    t.after(() => server.stop());
    const get = (path: string): Promise<Response> => fetch(`http://${server.address}${path}`);

    const ok = await get("/v1/channels/ch/private-data?tx=tx1&values=true");
    assert.equal(ok.status, 200);
    const body = (await ok.json()) as { txs: { collections: { status: string; writes?: unknown[] }[] }[] };
    assert.deepEqual(
      body.txs[0]?.collections.map((c) => [c.status, c.writes?.length]),
      [
        ["held", 1],
        ["held", 1],
      ],
    );
    const block = (await (await get("/v1/channels/ch/private-data?block=2")).json()) as { txs: unknown[] };
    assert.equal(block.txs.length, 2);
    const summary = await get("/v1/channels/ch/private-data/summary");
    assert.equal(summary.status, 200);
    assert.equal(((await summary.json()) as { collections: unknown[] }).collections.length, 3);

    for (const [path, status, code] of [
      ["/v1/channels/ch/private-data", 400, "BAD_REQUEST"],
      ["/v1/channels/ch/private-data?tx=tx1&block=1", 400, "BAD_REQUEST"],
      ["/v1/channels/ch/private-data?block=-1", 400, "BAD_REQUEST"],
      ["/v1/channels/ch/private-data?tx=tx1&values=yes", 400, "BAD_REQUEST"],
      ["/v1/channels/%E0%A4%A/private-data?tx=tx1", 400, "BAD_REQUEST"],
      ["/v1/channels/ch/private-data?tx=nope", 404, "NOT_FOUND"],
      ["/v1/channels/ch/private-data?block=99", 404, "NOT_FOUND"],
      ["/v1/channels/other/private-data/summary", 404, "UNKNOWN_CHANNEL"],
    ] as const) {
      const r = await get(path);
      assert.equal(r.status, status, path);
      assert.equal(((await r.json()) as { code: string }).code, code, path);
    }
  });
});
