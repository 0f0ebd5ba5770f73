import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { blockDataHash, blockHeaderBytes } from "../../src/crypto/block.js";
import { certHashOfPem } from "../../src/comm/grpc/index.js";
import { createSeekInfoEnvelope, createSignedEnvelope } from "../../src/deliver/index.js";
import { silentLogger } from "../../src/logging/logger.js";
import { channelConfigFromBlock, createChannelBundle, lastConfigIndex } from "../../src/channelconfig/index.js";
import { blockHeaderHash } from "../../src/crypto/index.js";
import {
  type DeliverItem,
  type OrdererClientOptions,
  SEEK_MAX,
  broadcast,
  broadcastAll,
  createOrderer,
  deliver,
} from "../../src/orderer/index.js";
import { Block, type Envelope, HeaderType, Status } from "../../src/protos/gen/common/common.pb.js";
import { SystemClock } from "../../src/util/system-clock.js";
import { ordererFixture } from "../unit/orderer/fixture.js";
import { tlsOrdererSetup } from "../utils/tls-orderer.js";
import { testClientOf } from "../utils/channel-setup.js";

const enc = new TextEncoder();

async function collect(it: AsyncIterable<DeliverItem>): Promise<{ blocks: Block[]; status: Status | undefined }> {
  const blocks: Block[] = [];
  for await (const item of it) {
    if ("status" in item) return { blocks, status: item.status };
    blocks.push(item.block);
  }
  return { blocks, status: undefined };
}

test("orderer over gRPC with mutual TLS: broadcast, deliver, access control, blocking deliver, restart", async (t) => {
  const { clock, fx, make, memberTls, outsiderTls } = await tlsOrdererSetup(t, { batchSize: 10, batchTimeoutMs: 300 });
  let orderer = make("127.0.0.1:0");
  await orderer.start();
  t.after(() => orderer.stop());
  const endpoint = (): string => orderer.address;
  const member: OrdererClientOptions = { tls: memberTls, dialTimeoutMs: 5_000 };
  const outsider: OrdererClientOptions = { tls: outsiderTls, dialTimeoutMs: 5_000 };
  // Mutual TLS: every Deliver request names the client's TLS certificate (Fabric's binding inspector).
  const memberBinding = { tlsCertHash: certHashOfPem(memberTls.cert) };
  const outsiderBinding = { tlsCertHash: certHashOfPem(outsiderTls.cert) };
  const tx = (i: number): Envelope => createSignedEnvelope(fx.member, "ch1", HeaderType.ENDORSER_TRANSACTION, enc.encode(`tx-${i}`), { clock });

  // What a peer joining from the genesis block verifies: block 0 is that block, every later one satisfies
  // /Channel/Orderer/BlockValidation and names config block 0 as the last config.
  const genesis = Block.decode(fx.genesis);
  const bundle = createChannelBundle(channelConfigFromBlock(genesis), { clock });
  const checkChain = (blocks: readonly Block[]): void => {
    let prev = new Uint8Array(0);
    blocks.forEach((b, i) => {
      const header = b.header;
      assert.ok(header);
      assert.equal(header.number, BigInt(i));
      if (i > 0) assert.deepEqual(header.previousHash, prev);
      assert.deepEqual(header.dataHash, blockDataHash(b.data));
      if (i === 0) assert.deepEqual(blockHeaderHash(header), blockHeaderHash(genesis.header!), "block 0 is the genesis block given");
      else {
        bundle.verifyBlock(b, header.number);
        fx.mcs.verifyBlock("ch1", header.number, b);
        assert.equal(lastConfigIndex(b), 0n);
      }
      prev = new Uint8Array(createHash("sha256").update(blockHeaderBytes(header)).digest());
    });
  };

  await t.test("25 broadcast envelopes become blocks 1..3 after the genesis block; deliver oldest..newest verifies", async () => {
    const res = await broadcastAll(endpoint(), Array.from({ length: 25 }, (_, i) => tx(i)), member);
    assert.deepEqual(
      res.map((r) => r.status),
      Array(25).fill(Status.SUCCESS),
    );
    await orderer.waitForHeight("ch1", 4n);
    const { blocks, status } = await collect(deliver(endpoint(), createSeekInfoEnvelope(fx.member, "ch1", { start: "oldest", stop: "newest" }, memberBinding), member));
    assert.equal(status, Status.SUCCESS);
    assert.equal(blocks.length, 4);
    assert.deepEqual(
      blocks.map((b) => b.data?.data.length),
      [1, 10, 10, 5],
    );
    checkChain(blocks);
  });

  await t.test("a non-member org is FORBIDDEN, an unknown channel NOT_FOUND, malformed input BAD_REQUEST", async () => {
    const seekOut = createSeekInfoEnvelope(fx.outsider, "ch1", { start: "oldest", stop: "newest" }, outsiderBinding);
    assert.equal((await collect(deliver(endpoint(), seekOut, outsider))).status, Status.FORBIDDEN);
    const txOut = createSignedEnvelope(fx.outsider, "ch1", HeaderType.ENDORSER_TRANSACTION, enc.encode("x"), { clock });
    assert.equal((await broadcast(endpoint(), txOut, outsider)).status, Status.FORBIDDEN);
    const forged = { ...tx(1000), signature: tx(1001).signature };
    assert.equal((await broadcast(endpoint(), forged, member)).status, Status.FORBIDDEN);
    // A peer of the member org reads, but only admins and clients write (configtxgen's default org Writers).
    const byPeer = await broadcast(endpoint(), createSignedEnvelope(fx.memberPeer, "ch1", HeaderType.ENDORSER_TRANSACTION, enc.encode("p"), { clock }), member);
    assert.equal(byPeer.status, Status.FORBIDDEN);
    assert.match(byPeer.info, /\/Channel\/Writers/);
    const peerSeek = createSeekInfoEnvelope(fx.memberPeer, "ch1", { start: "oldest", stop: "oldest" }, memberBinding);
    assert.equal((await collect(deliver(endpoint(), peerSeek, member))).status, Status.SUCCESS);
    // No config updates through this ordering service.
    const update = await broadcast(endpoint(), createSignedEnvelope(fx.member, "ch1", HeaderType.CONFIG_UPDATE, enc.encode("u"), { clock }), member);
    assert.equal(update.status, Status.BAD_REQUEST);
    const unknown = createSeekInfoEnvelope(fx.member, "nochannel", { start: "oldest", stop: "newest" }, memberBinding);
    assert.equal((await collect(deliver(endpoint(), unknown, member))).status, Status.NOT_FOUND);
    const txUnknown = createSignedEnvelope(fx.member, "nochannel", HeaderType.ENDORSER_TRANSACTION, enc.encode("x"), { clock });
    assert.equal((await broadcast(endpoint(), txUnknown, member)).status, Status.NOT_FOUND);
    const garbage: Envelope = { payload: enc.encode("not a payload \xff\xff"), signature: new Uint8Array(3) };
    assert.equal((await collect(deliver(endpoint(), garbage, member))).status, Status.BAD_REQUEST);
    assert.equal((await broadcast(endpoint(), garbage, member)).status, Status.BAD_REQUEST);
    const notSeek = createSignedEnvelope(fx.member, "ch1", HeaderType.DELIVER_SEEK_INFO, enc.encode("\xff\xff\xff"), { clock });
    assert.equal((await collect(deliver(endpoint(), notSeek, member))).status, Status.BAD_REQUEST);
    const backwards = createSeekInfoEnvelope(fx.member, "ch1", { start: 3n, stop: 1n }, memberBinding);
    assert.equal((await collect(deliver(endpoint(), backwards, member))).status, Status.BAD_REQUEST);
    const notReady = createSeekInfoEnvelope(fx.member, "ch1", { start: 100n, stop: 100n, behavior: "fail" }, memberBinding);
    assert.equal((await collect(deliver(endpoint(), notReady, member))).status, Status.NOT_FOUND);
    // The TLS binding: a request without the hash of the connection's client certificate, or with another one, is refused.
    const unbound = createSeekInfoEnvelope(fx.member, "ch1", { start: "oldest", stop: "newest" });
    assert.equal((await collect(deliver(endpoint(), unbound, member))).status, Status.BAD_REQUEST);
    const misbound = createSeekInfoEnvelope(fx.member, "ch1", { start: "oldest", stop: "newest" }, outsiderBinding);
    assert.equal((await collect(deliver(endpoint(), misbound, member))).status, Status.BAD_REQUEST);
    // the service still works
    assert.equal((await collect(deliver(endpoint(), createSeekInfoEnvelope(fx.member, "ch1", { start: "newest", stop: "newest" }, memberBinding), member))).blocks.length, 1);
  });

  await t.test("BLOCK_UNTIL_READY: a block cut after the request is delivered", async () => {
    const h = orderer.height("ch1") ?? 0n;
    const it = deliver(endpoint(), createSeekInfoEnvelope(fx.member, "ch1", { start: h, stop: h }, memberBinding), member);
    const first = it.next();
    await clock.sleep(200);
    assert.equal(orderer.height("ch1"), h);
    assert.equal((await broadcast(endpoint(), tx(500), member)).status, Status.SUCCESS);
    const got = await first;
    assert.ok(!got.done && "block" in got.value);
    assert.equal(got.value.block.header?.number, h);
    const end = await it.next();
    assert.ok(!end.done && "status" in end.value && end.value.status === Status.SUCCESS);
    assert.ok((await it.next()).done);
  });

  await t.test("restart keeps the blocks; a follower open during stop() does not hold it", async () => {
    const before = await collect(deliver(endpoint(), createSeekInfoEnvelope(fx.member, "ch1", { start: "oldest", stop: "newest" }, memberBinding), member));
    const follower = deliver(endpoint(), createSeekInfoEnvelope(fx.member, "ch1", { start: "oldest", stop: SEEK_MAX }, memberBinding), member);
    const firstFollowed = await follower.next();
    assert.ok(!firstFollowed.done && "block" in firstFollowed.value);
    const followerDone = (async () => {
      try {
        for (;;) if ((await follower.next()).done) return "done";
      } catch {
        return "ended";
      }
    })();
    await orderer.stop();
    assert.ok(["done", "ended"].includes(await followerDone));
    orderer = make("127.0.0.1:0");
    await orderer.start();
    assert.equal(orderer.height("ch1"), BigInt(before.blocks.length));
    const after = await collect(deliver(endpoint(), createSeekInfoEnvelope(fx.member, "ch1", { start: "oldest", stop: "newest" }, memberBinding), member));
    assert.deepEqual(after.blocks, before.blocks);
    assert.equal((await broadcast(endpoint(), tx(900), member)).status, Status.SUCCESS);
    await orderer.waitForHeight("ch1", BigInt(before.blocks.length + 1));
    const all = await collect(deliver(endpoint(), createSeekInfoEnvelope(fx.member, "ch1", { start: "oldest", stop: "newest", behavior: "fail" }, memberBinding), member));
    assert.equal(all.blocks.length, before.blocks.length + 1);
    checkChain(all.blocks);
  });

  await t.test("stop() leaves no timer behind and is idempotent", async () => {
    await orderer.stop();
    await orderer.stop();
    assert.equal(clock.pendingTimers(), 0);
  });
});

test("orderer in plaintext with two channels: each channel its own chain and members; restart re-serves them without genesis blocks", async (t) => {
  const clock = new SystemClock();
  const fx = await ordererFixture(t, clock);
  const dir = await fx.tmp();
  const org2Client = await testClientOf(fx.org("Org2MSP"));
  const genesisA = await fx.genesisOf("a", ["Org1MSP"]);
  const genesisB = await fx.genesisOf("b", ["Org2MSP"], { maxMessageCount: 2 });
  const make = (channels: Uint8Array[]) =>
    createOrderer({ listen: "127.0.0.1:0", dir, channels, batchTimeoutMs: 100 }, { signer: fx.orderer, clock, logger: silentLogger });
  let orderer = make([genesisA, genesisB]);
  await orderer.start();
  t.after(() => orderer.stop());
  assert.deepEqual(orderer.channels(), ["a", "b"]);
  const send = (signer: typeof fx.member, ch: string) =>
    broadcast(orderer.address, createSignedEnvelope(signer, ch, HeaderType.ENDORSER_TRANSACTION, enc.encode(ch), { clock }));
  assert.equal((await send(fx.member, "a")).status, Status.SUCCESS);
  assert.equal((await send(org2Client, "b")).status, Status.SUCCESS);
  assert.equal((await send(org2Client, "b")).status, Status.SUCCESS);
  assert.equal((await send(fx.member, "b")).status, Status.FORBIDDEN);
  assert.equal((await send(org2Client, "a")).status, Status.FORBIDDEN);
  await orderer.waitForHeight("a", 2n);
  await orderer.waitForHeight("b", 2n);
  const b = await collect(deliver(orderer.address, createSeekInfoEnvelope(fx.outsider, "b", { start: "oldest", stop: "newest" })));
  assert.equal(b.status, Status.SUCCESS);
  assert.deepEqual(
    b.blocks.map((x) => x.data?.data.length),
    [1, 2],
    "b's batch size (2) comes from its configuration",
  );
  assert.equal((await collect(deliver(orderer.address, createSeekInfoEnvelope(fx.member, "b", { start: "oldest", stop: "newest" })))).status, Status.FORBIDDEN);

  // Restart with no genesis block: both chains come back from the folder, with their members.
  await orderer.stop();
  orderer = make([]);
  await orderer.start();
  assert.deepEqual(orderer.channels(), ["a", "b"]);
  assert.equal(orderer.height("a"), 2n);
  assert.equal(orderer.height("b"), 2n);
  assert.equal((await send(org2Client, "a")).status, Status.FORBIDDEN);
  assert.equal((await send(fx.member, "a")).status, Status.SUCCESS);
  await orderer.waitForHeight("a", 3n);
  await orderer.stop();

  // The same genesis block again is fine; another one for a stored channel is refused.
  orderer = make([genesisA]);
  await orderer.start();
  assert.equal(orderer.height("a"), 3n);
  await orderer.stop();
  orderer = make([await fx.genesisOf("a", ["Org1MSP", "Org2MSP"])]);
  await assert.rejects(orderer.start(), (e: unknown) => e instanceof Error && "code" in e && e.code === "CONFIG" && /not block 0 of the chain stored/.test(e.message));
});

test("orderer: a genesis block whose orderer orgs do not include the orderer's MSP is refused", async (t) => {
  const clock = new SystemClock();
  const fx = await ordererFixture(t, clock);
  // Signed as Org1's peer: Org1MSP is no orderer org of ch1.
  assert.throws(
    () => createOrderer({ listen: "127.0.0.1:0", dir: "unused", channels: [fx.genesis] }, { signer: fx.memberPeer, clock, logger: silentLogger }),
    (e: unknown) => e instanceof Error && "code" in e && e.code === "ORDERER_ORG" && /Org1MSP is not one of the channel's orderer orgs \(OrdererMSP\)/.test(e.message),
  );
});
