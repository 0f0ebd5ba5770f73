import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { blockDataHash, blockHeaderBytes } from "../../src/crypto/block.js";
import { certHashOfPem } from "../../src/comm/grpc/index.js";
import { createSeekInfoEnvelope, createSignedEnvelope } from "../../src/deliver/index.js";
import { silentLogger } from "../../src/logging/logger.js";
import {
  type DeliverItem,
  type OrdererClientOptions,
  SEEK_MAX,
  broadcast,
  broadcastAll,
  createOrderer,
  deliver,
} from "../../src/orderer/index.js";
import { type Block, type Envelope, HeaderType, Status } from "../../src/protos/gen/common/common.pb.js";
import { SystemClock } from "../../src/util/system-clock.js";
import { ordererFixture } from "../unit/orderer/fixture.js";
import { tlsOrdererSetup } from "../utils/tls-orderer.js";

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

  const checkChain = (blocks: readonly Block[]): void => {
    let prev = new Uint8Array(0);
    blocks.forEach((b, i) => {
      const header = b.header;
      assert.ok(header);
      assert.equal(header.number, BigInt(i));
      if (i > 0) assert.deepEqual(header.previousHash, prev);
      assert.deepEqual(header.dataHash, blockDataHash(b.data));
      fx.mcs.verifyBlock("ch1", header.number, b);
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

test("orderer in plaintext with two channels: each channel its own chain, membership per channel", async (t) => {
  const clock = new SystemClock();
  const fx = await ordererFixture(t, clock);
  const orderer = createOrderer(
    {
      listen: "127.0.0.1:0",
      channels: [
        { name: "a", dir: await fx.tmp(), memberOrgs: ["Org1MSP"] },
        { name: "b", dir: await fx.tmp(), memberOrgs: ["Org2MSP"] },
      ],
      batchSize: 2,
      batchTimeoutMs: 100,
    },
    { signer: fx.orderer, verifier: fx.verifier, clock, logger: silentLogger },
  );
  await orderer.start();
  t.after(() => orderer.stop());
  const send = (signer: typeof fx.member, ch: string) =>
    broadcast(orderer.address, createSignedEnvelope(signer, ch, HeaderType.ENDORSER_TRANSACTION, enc.encode(ch), { clock }));
  assert.equal((await send(fx.member, "a")).status, Status.SUCCESS);
  assert.equal((await send(fx.outsider, "b")).status, Status.SUCCESS);
  assert.equal((await send(fx.outsider, "b")).status, Status.SUCCESS);
  assert.equal((await send(fx.member, "b")).status, Status.FORBIDDEN);
  assert.equal((await send(fx.outsider, "a")).status, Status.FORBIDDEN);
  await orderer.waitForHeight("a", 2n);
  await orderer.waitForHeight("b", 2n);
  const b = await collect(deliver(orderer.address, createSeekInfoEnvelope(fx.outsider, "b", { start: "oldest", stop: "newest" })));
  assert.equal(b.status, Status.SUCCESS);
  assert.deepEqual(
    b.blocks.map((x) => x.data?.data.length),
    [1, 2],
  );
  assert.equal((await collect(deliver(orderer.address, createSeekInfoEnvelope(fx.member, "b", { start: "oldest", stop: "newest" })))).status, Status.FORBIDDEN);
});
