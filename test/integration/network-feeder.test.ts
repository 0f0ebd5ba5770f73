import assert from "node:assert/strict";
import { test } from "node:test";
import { channelConfigFromBlock, createChannelBundle, decodeBlock } from "../../src/channelconfig/index.js";
import { NetworkError, TxFeeder } from "../../src/cli/network/index.js";
import { certHashOfPem } from "../../src/comm/grpc/index.js";
import { createSeekInfoEnvelope } from "../../src/deliver/index.js";
import { deliver } from "../../src/orderer/index.js";
import { createCollectionStore, readBlockTransactions, validateBlockTransactions } from "../../src/privdata/index.js";
import { HeaderType } from "../../src/protos/gen/common/common.pb.js";
import { TxValidationCode } from "../../src/protos/gen/peer/transaction.pb.js";
import { SystemClock } from "../../src/util/index.js";
import { tlsOrdererSetup } from "../utils/tls-orderer.js";

/**
 * The transaction feeder of `network up` against a real orderer over gRPC with mutual TLS: every
 * envelope it sends is answered and ends up in a block exactly once as an endorser transaction the block
 * reader decodes down to its write (endorsed by the Org1 peer, signed by the Org1 client) and the validator
 * finds well formed and signed; refusals are counted, it comes back after the orderer restarts, and stop()
 * ends the feeding.
 */
test("network feeder: steady broadcast over mutual TLS, refusals counted, reconnect after an orderer restart", async (t) => {
  const { fx, make, memberTls, outsiderTls } = await tlsOrdererSetup(t, { batchSize: 10, batchTimeoutMs: 200 });
  let orderer = make("127.0.0.1:0");
  await orderer.start();
  t.after(() => orderer.stop());
  const address = orderer.address;
  const feeders: TxFeeder[] = [];
  t.after(async () => {
    for (const f of feeders) await f.stop();
  });
  const feeder = (signer = fx.member, tls = memberTls, endpoint = address): TxFeeder => {
    const f = new TxFeeder({ endpoint, channel: "ch1", signer, endorsers: [fx.memberPeer], rate: 200, size: 100, tls, dialTimeoutMs: 3_000 });
    feeders.push(f);
    return f;
  };
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const bundle = createChannelBundle(channelConfigFromBlock(decodeBlock(fx.genesis)), { clock: new SystemClock() });
  /**
   * Transactions in blocks 1.. of the chain, each read back: an ENDORSER_TRANSACTION of feedcc by the member
   * client, one public write of 100 bytes, endorsed by the member's peer; each block validates with every
   * transaction flagged INVALID_CHAINCODE only (feedcc has no definition on ch1), VALID when definitions
   * are not required.
   */
  const txsInChain = async (): Promise<number> => {
    const height = orderer.height("ch1") ?? 0n;
    let n = 0;
    const seek = createSeekInfoEnvelope(fx.member, "ch1", { start: 1n, stop: height - 1n, behavior: "fail" }, { tlsCertHash: certHashOfPem(memberTls.cert) });
    const store = createCollectionStore({ channelId: "ch1", applicationMspIds: () => ["Org1MSP"] });
    for await (const item of deliver(address, seek, { tls: memberTls })) {
      if (!("block" in item)) break;
      for (const read of readBlockTransactions(item.block)) {
        assert.ok(read.ok, read.ok ? "" : read.error.message);
        const tx = read.tx;
        assert.equal(tx.type, HeaderType.ENDORSER_TRANSACTION);
        assert.equal(tx.creatorMspId, "Org1MSP");
        fx.verifier.verify(tx.creator, tx.signature, tx.payload);
        const action = tx.actions[0]!;
        assert.equal(action.chaincodeId?.name, "feedcc");
        assert.deepEqual(action.endorsements.map((e) => Buffer.from(e.endorser).toString("hex")), [Buffer.from(fx.memberPeer.serialized).toString("hex")]);
        const writes = action.namespaces[0]!.kvRwSet.writes;
        assert.equal(writes.length, 1);
        assert.equal(writes[0]!.value.length, 100);
        n++;
      }
      const strict = validateBlockTransactions(item.block, { bundle, definitions: store });
      assert.ok(strict.txs.every((t) => t.code === TxValidationCode.INVALID_CHAINCODE), strict.txs.map((t) => t.reason).join("; "));
      const lenient = validateBlockTransactions(item.block, { bundle, definitions: store, requireDefinitions: false });
      assert.ok(lenient.txs.every((t) => t.code === TxValidationCode.VALID), lenient.txs.map((t) => t.reason).join("; "));
    }
    return n;
  };

  await t.test("a member's transactions are all accepted and each is in the chain once; stop() stops sending", async () => {
    const f = feeder();
    await f.start();
    await orderer.waitForHeight("ch1", 6n);
    await f.stop();
    const s = f.stats();
    assert.ok(s.sent >= 50, `sent ${s.sent}`);
    assert.deepEqual({ ...s, sent: 0 }, { sent: 0, succeeded: s.sent, rejected: 0, lost: 0, failed: 0, lastError: undefined });
    assert.equal(f.running, false);
    await sleep(400); // the pending batch is cut after 200 ms
    assert.equal(await txsInChain(), s.sent);
    assert.equal(f.stats().sent, s.sent, "nothing is sent after stop()");
  });

  await t.test("an identity of a non-member org is refused: counted with the orderer's reason", async () => {
    const f = feeder(fx.outsider, outsiderTls);
    await f.start();
    await sleep(300);
    await f.stop();
    const s = f.stats();
    assert.ok(s.sent > 0);
    assert.equal(s.succeeded, 0);
    assert.equal(s.rejected, s.sent);
    assert.match(s.lastError ?? "", /^FORBIDDEN: .*does not satisfy \/Channel\/Writers.*Org2MSP.* is not one of the channel's MSPs/);
  });

  await t.test("after the orderer restarts on the same address, feeding resumes", async () => {
    const f = feeder();
    await f.start();
    await sleep(200);
    await orderer.stop();
    await sleep(300);
    const during = f.stats();
    assert.match(during.lastError ?? "", /broadcast stream|ended/);
    orderer = make(address);
    await orderer.start();
    const before = during.succeeded;
    for (let i = 0; i < 100 && f.stats().succeeded <= before + 20; i++) await sleep(100);
    await f.stop();
    assert.ok(f.stats().succeeded > before + 20, `succeeded ${before} -> ${f.stats().succeeded}`);
  });

  await t.test("an orderer nobody listens on: start() fails naming it", async () => {
    const f = new TxFeeder({ endpoint: "127.0.0.1:1", channel: "ch1", signer: fx.member, rate: 10, size: 1, dialTimeoutMs: 500 });
    await assert.rejects(f.start(), (e: unknown) => e instanceof NetworkError && e.code === "FEED_FAILED" && e.message.includes("127.0.0.1:1"));
    assert.equal(f.running, false);
    assert.throws(() => new TxFeeder({ endpoint: "x:1", channel: "ch1", signer: fx.member, rate: 0, size: 1 }), /tx rate must be a positive number/);
  });
});
