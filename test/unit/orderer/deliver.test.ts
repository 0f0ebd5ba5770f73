import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { createSeekInfoEnvelope, createSignedEnvelope, type SeekTarget } from "../../../src/deliver/index.js";
import { rm } from "node:fs/promises";
import { createCrl, loadCa, writeCrl } from "../../../src/crypto/index.js";
import { openBlockStore } from "../../../src/ledger/block-store.js";
import { silentLogger } from "../../../src/logging/logger.js";
import { OrdererChain, buildBlock } from "../../../src/orderer/chain.js";
import { type DeliverContext, deliverResponseBlockBytes, evaluateSeek, streamBlocks } from "../../../src/orderer/deliver.js";
import { OrdererError } from "../../../src/orderer/errors.js";
import { readGenesisBlock } from "../../../src/orderer/genesis.js";
import { SEEK_MAX } from "../../../src/orderer/interface.js";
import { Block, Envelope, HeaderType, Status } from "../../../src/protos/gen/common/common.pb.js";
import { DeliverResponse } from "../../../src/protos/gen/orderer/ab.pb.js";
import { ManualClock } from "../../../src/util/manual-clock.js";
import { ordererFixture } from "./fixture.js";

const enc = new TextEncoder();

test("orderer deliver: SeekInfo evaluation, statuses, streaming, garbage never throws anything but OrdererError", async (t) => {
  const clock = new ManualClock();
  const fx = await ordererFixture(t, clock);
  const store = await openBlockStore(await fx.tmp());
  const chain = await OrdererChain.open("ch1", { batchSize: 1, batchTimeoutMs: 1_000, maxBlockBytes: 1 << 20 }, { store, signer: fx.orderer, clock, logger: silentLogger }, fx.genesis);
  const bundle = readGenesisBlock(fx.genesis, { signer: fx.orderer, clock }).bundle;
  t.after(async () => {
    await chain.close();
    await store.close();
  });
  for (let i = 0; i < 4; i++) chain.order(Envelope.encode(createSignedEnvelope(fx.member, "ch1", HeaderType.ENDORSER_TRANSACTION, enc.encode(`tx${i}`), { clock })).finish());
  await chain.flushed();
  assert.equal(store.height(), 5n);
  const ctx: DeliverContext = { channel: (n) => (n === "ch1" ? { chain, bundle } : undefined) };
  const seek = (start: SeekTarget, stop: SeekTarget, behavior: "block" | "fail" = "block", signer = fx.member, channel = "ch1") =>
    Envelope.encode(createSeekInfoEnvelope(signer, channel, { start, stop, behavior }, { clock })).finish();
  const code = (bytes: Uint8Array, context = ctx): string => {
    try {
      evaluateSeek(bytes, context);
      return "OK";
    } catch (err) {
      assert.ok(err instanceof OrdererError);
      return err.code;
    }
  };

  await t.test("positions", () => {
    const r1 = evaluateSeek(seek("oldest", "newest"), ctx);
    assert.deepEqual([r1.start, r1.stop, r1.waitForBlocks], [0n, 4n, true]);
    const r2 = evaluateSeek(seek("newest", SEEK_MAX, "fail"), ctx);
    assert.deepEqual([r2.start, r2.stop, r2.waitForBlocks], [4n, SEEK_MAX, false]);
    const r3 = evaluateSeek(seek(2n, 3n), ctx);
    assert.deepEqual([r3.start, r3.stop], [2n, 3n]);
    const r4 = evaluateSeek(seek("oldest", "oldest"), ctx);
    assert.deepEqual([r4.start, r4.stop], [0n, 0n]);
  });

  await t.test("statuses", () => {
    assert.equal(code(seek("oldest", "newest", "block", fx.outsider)), "FORBIDDEN");
    assert.equal(code(seek("oldest", "newest", "block", fx.orderer)), "OK");
    assert.equal(code(seek("oldest", "newest", "block", fx.memberPeer)), "OK", "a peer of a channel org is a reader");
    assert.equal(code(seek("oldest", "newest", "block", fx.member, "other")), "NOT_FOUND");
    assert.equal(code(seek(3n, 2n)), "BAD_REQUEST");
    assert.equal(code(seek(5n, 6n, "fail")), "NOT_FOUND");
    assert.equal(code(seek(5n, 6n, "block")), "OK");
    const tx = Envelope.encode(createSignedEnvelope(fx.member, "ch1", HeaderType.ENDORSER_TRANSACTION, new Uint8Array(0), { clock })).finish();
    assert.equal(code(tx), "BAD_REQUEST");
    const tampered = Envelope.decode(seek("oldest", "newest"));
    tampered.signature = Envelope.decode(seek("oldest", "newest")).signature;
    assert.equal(code(Envelope.encode(tampered).finish()), "FORBIDDEN");
  });

  await t.test("an identity of an org outside the channel is refused FORBIDDEN naming /Channel/Readers", () => {
    assert.throws(
      () => evaluateSeek(seek("oldest", "newest", "block", fx.outsider), ctx),
      (e: unknown) => e instanceof OrdererError && e.code === "FORBIDDEN" && /\/Channel\/Readers/.test(e.message),
    );
  });

  await t.test("an identity revoked by a CRL of the channel's MSP is refused FORBIDDEN", async () => {
    const org1 = fx.org("Org1MSP");
    const crl = await createCrl({ ca: await loadCa(org1.caDir), revoke: [{ certPem: Buffer.from(fx.member.idBytes).toString("latin1") }], clock });
    const crlFile = await writeCrl(org1.mspDir, crl);
    let revoked: Uint8Array;
    try {
      revoked = await fx.genesisOf("ch1", ["Org1MSP"]);
    } finally {
      await rm(crlFile);
    }
    const revokedCtx: DeliverContext = { channel: (n) => (n === "ch1" ? { chain, bundle: readGenesisBlock(revoked, { signer: fx.orderer, clock }).bundle } : undefined) };
    assert.throws(
      () => evaluateSeek(seek("oldest", "newest"), revokedCtx),
      (e: unknown) => e instanceof OrdererError && e.code === "FORBIDDEN" && /\/Channel\/Readers/.test(e.message) && /revoked/i.test(e.message),
    );
    assert.equal(code(seek("oldest", "newest", "block", fx.memberPeer), revokedCtx), "OK", "another identity of the org still reads");
  });

  await t.test("under mutual TLS the request must carry the hash of its connection's client certificate", () => {
    const hash = new Uint8Array(32).fill(7);
    const bound = { ...ctx, clientCertHash: hash };
    const withHash = (tlsCertHash?: Uint8Array) =>
      Envelope.encode(createSeekInfoEnvelope(fx.member, "ch1", { start: "oldest", stop: "newest" }, { clock, ...(tlsCertHash ? { tlsCertHash } : {}) })).finish();
    assert.throws(() => evaluateSeek(withHash(), bound), (e: unknown) => e instanceof OrdererError && e.code === "BAD_REQUEST" && /didn't include its TLS cert hash/.test(e.message));
    assert.throws(() => evaluateSeek(withHash(new Uint8Array(32).fill(8)), bound), (e: unknown) => e instanceof OrdererError && e.code === "BAD_REQUEST" && /claimed TLS cert hash/.test(e.message));
    assert.equal(evaluateSeek(withHash(hash), bound).start, 0n);
    // Without client certificates there is nothing to bind to: no hash is asked for.
    assert.equal(evaluateSeek(withHash(), ctx).start, 0n);
  });

  await t.test("streaming: FAIL_IF_NOT_READY ends NOT_FOUND at the height; frames decode as DeliverResponse{block}", async () => {
    const sent: Uint8Array[] = [];
    const status = await streamBlocks(evaluateSeek(seek(3n, 10n, "fail"), ctx), async (b) => void sent.push(b), new AbortController().signal);
    assert.equal(status, Status.NOT_FOUND);
    assert.equal(sent.length, 2);
    const first = DeliverResponse.decode(sent[0] ?? new Uint8Array(0));
    assert.equal(first.Type?.$case === "block" && first.Type.value.header?.number, 3n);
    for (const data of [[enc.encode("x")], [new Uint8Array(300_000).fill(7)]]) {
      const block = buildBlock(9n, new Uint8Array(32), data, fx.orderer);
      const framed = deliverResponseBlockBytes(Block.encode(block).finish());
      assert.deepEqual(framed, DeliverResponse.encode({ Type: { $case: "block", value: block } }).finish());
    }
  });

  await t.test("garbage input only ever yields an OrdererError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        code(bytes);
      }),
      { numRuns: 500 },
    );
    const valid = seek("oldest", "newest");
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 }), (pos, x) => {
        const b = valid.slice();
        b[pos] = (b[pos] ?? 0) ^ x;
        code(b);
      }),
      { numRuns: 300 },
    );
  });
});
