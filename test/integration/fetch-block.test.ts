/**
 * fetchBlock against the test orderer over mutual TLS (it requires client certificates and checks
 * the TLS binding): the genesis block comes through the deliver connector, which puts the hash of
 * the peer's TLS certificate in the request; without that hash the orderer refuses ("client didn't
 * include its TLS cert hash"), which is how the service's genesis fetch failed before.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createSeekInfoEnvelope, DeliverError, fetchBlock } from "../../src/deliver/index.js";
import { deliver } from "../../src/orderer/index.js";
import { Block, Status } from "../../src/protos/gen/common/common.pb.js";
import { tlsOrdererSetup } from "../utils/tls-orderer.js";

test("fetchBlock gets one block from an orderer that requires client certificates, and names each endpoint's failure", async (t) => {
  const { clock, fx, make, memberTls, outsiderTls } = await tlsOrdererSetup(t, { batchSize: 10, batchTimeoutMs: 200 });
  const orderer = make("127.0.0.1:0");
  await orderer.start();
  t.after(() => orderer.stop());
  const endpoint = orderer.address;

  // What the service did before: the test orderer's client, a SeekInfo without the TLS binding.
  let unboundStatus: Status | undefined;
  for await (const item of deliver(endpoint, createSeekInfoEnvelope(fx.member, "ch1", { start: 0n, stop: 0n }, { clock }), { tls: memberTls, dialTimeoutMs: 5_000 })) {
    if ("status" in item) unboundStatus = item.status;
  }
  assert.equal(unboundStatus, Status.BAD_REQUEST, "an unbound request is refused");

  // A dead endpoint first: fetchBlock moves on to the next one.
  const bytes = await fetchBlock({ channel: "ch1", number: 0n, endpoints: ["127.0.0.1:1", endpoint], signer: fx.member, tls: memberTls, clock, connTimeoutMs: 1_000 });
  const genesis = Block.decode(bytes);
  assert.equal(genesis.header?.number, 0n);
  // The orderer serves the channel's genesis block exactly as it was given (unsigned, as configtxgen makes it).
  assert.deepEqual(bytes, fx.genesis);

  // A peer of another org is bound correctly but not a reader of ch1; with the dead endpoint, both failures are named.
  await assert.rejects(
    fetchBlock({ channel: "ch1", number: 0n, endpoints: ["127.0.0.1:1", endpoint], signer: fx.outsider, tls: outsiderTls, clock, connTimeoutMs: 1_000 }),
    (e: unknown) =>
      e instanceof DeliverError &&
      e.code === "FETCH_FAILED" &&
      e.message.includes("127.0.0.1:1: ") &&
      e.message.includes(`${endpoint}: status FORBIDDEN`),
  );

  // A block the orderer does not have yet: BLOCK_UNTIL_READY waits, bounded by waitMs.
  await assert.rejects(
    fetchBlock({ channel: "ch1", number: 5n, endpoints: [endpoint], signer: fx.member, tls: memberTls, clock, waitMs: 300 }),
    (e: unknown) => e instanceof DeliverError && e.code === "FETCH_FAILED" && /no block within 300 ms/.test(e.message),
  );
});
