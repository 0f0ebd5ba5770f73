import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import {
  type BlockTransaction,
  collectionPvtRwsetMatches,
  PrivdataError,
  privateDataNeeds,
  pvtRwsetHashMatches,
  readBlockTransactions,
  readTransaction,
  sha256,
  TxError,
  transactionsFilter,
} from "../../../src/privdata/index.js";
import { HeaderType, Payload } from "../../../src/protos/gen/common/common.pb.js";
import { KVRWSet } from "../../../src/protos/gen/ledger/rwset/kvrwset/kv_rwset.pb.js";
import { TxReadWriteSet } from "../../../src/protos/gen/ledger/rwset/rwset.pb.js";
import { SerializedIdentity } from "../../../src/protos/gen/msp/identities.pb.js";
import { ChaincodeActionPayload, Transaction, TxValidationCode } from "../../../src/protos/gen/peer/transaction.pb.js";
import { fromHex, toHex, utf8 } from "../../../src/util/index.js";
import { BLOCK_COUNT, block, CHANNEL, endorserTx, type PvtTxRow, SKIP_WITHOUT_VECTORS, syntheticBlock, vectorJson } from "./fixtures.js";

function txAt(n: number, index: number): BlockTransaction {
  const read = readBlockTransactions(block(n))[index];
  assert.ok(read !== undefined, `block ${n} has no transaction ${index}`);
  if (!read.ok) throw read.error;
  return read.tx;
}

const certSha256 = (identity: Uint8Array): string => {
  const id = SerializedIdentity.decode(identity);
  return createHash("sha256").update(id.idBytes).digest("hex");
};

describe("a block's transactions, read from the Fabric v2.5.6 channel", { skip: SKIP_WITHOUT_VECTORS }, () => {
  const rows = SKIP_WITHOUT_VECTORS === false ? vectorJson<PvtTxRow[]>("pvt-transactions.json") : [];

  it("reads every transaction of the 49 blocks: block 0 is a config transaction, the rest one endorser transaction each", () => {
    for (let n = 0; n < BLOCK_COUNT; n++) {
      const reads = readBlockTransactions(block(n));
      assert.equal(reads.length, 1, `block ${n}`);
      const r = reads[0];
      assert.ok(r?.ok, `block ${n}: ${r?.ok === false ? r.error.message : ""}`);
      assert.equal(r.tx.channelId, CHANNEL);
      assert.equal(r.tx.type, n === 0 ? HeaderType.CONFIG : HeaderType.ENDORSER_TRANSACTION, `block ${n}`);
      assert.equal(r.tx.actions.length, n === 0 ? 0 : 1);
      if (n > 0) {
        assert.match(r.tx.txId, /^[0-9a-f]{64}$/);
        assert.ok(r.tx.creatorMspId === "Org1MSP" || r.tx.creatorMspId === "Org2MSP");
        assert.ok(r.tx.timestamp instanceof Date);
        assert.equal(r.tx.actions[0]?.responseStatus, 200);
      }
    }
  });

  it("every row of pvt-transactions.json: tx id, creator, endorsers, namespace, collection, pvt_rwset_hash, hashed writes", () => {
    assert.equal(rows.length, 30);
    for (const row of rows) {
      const where = `block ${row.block} ${row.collection}`;
      const tx = txAt(row.block, row.tx_index);
      assert.equal(tx.txId, row.tx_id, where);
      assert.equal(tx.creatorMspId, row.creator_mspid, where);
      const action = tx.actions[0];
      assert.ok(action !== undefined);
      assert.deepEqual(
        action.endorsements.map((e) => ({ mspid: SerializedIdentity.decode(e.endorser).mspid, cert_sha256: certSha256(e.endorser) })),
        row.endorsers,
        where,
      );
      const ns = action.namespaces.find((x) => x.namespace === row.namespace);
      const coll = ns?.collections.find((c) => c.collectionName === row.collection);
      assert.ok(coll !== undefined, where);
      assert.equal(toHex(coll.pvtRwsetHash), row.pvt_rwset_hash ?? "", where);
      assert.deepEqual(
        coll.hashed.hashedWrites.map((w) => [toHex(w.keyHash), toHex(w.valueHash)]),
        (row.hashed_rwset.hashed_writes ?? []).map((w) => [w.key_hash, w.value_hash]),
        where,
      );
      assert.equal(coll.hasWrites, (row.hashed_rwset.hashed_writes ?? []).length > 0, where);
      if (row.pvt_rwset_bytes_hex !== undefined) {
        const pvt = fromHex(row.pvt_rwset_bytes_hex);
        assert.equal(toHex(sha256(pvt)), row.pvt_rwset_hash, where);
        assert.ok(pvtRwsetHashMatches(pvt, coll.pvtRwsetHash), where);
        assert.ok(collectionPvtRwsetMatches({ collectionName: row.collection, rwset: pvt }, coll.pvtRwsetHash), where);
        const kv = KVRWSet.decode(pvt);
        assert.equal(kv.writes[0]?.key, row.key, where);
        assert.equal(new TextDecoder().decode(kv.writes[0]?.value), row.value, where);
        // The hashed write is sha256(key) over the public write set's hashed view.
        assert.equal(toHex(coll.hashed.hashedWrites[0]?.keyHash ?? new Uint8Array()), toHex(sha256(utf8(row.key ?? ""))), where);
      }
    }
  });

  it("privateDataNeeds of every block lists exactly the rows whose collections were written", () => {
    const needs: string[] = [];
    for (let n = 0; n < BLOCK_COUNT; n++) {
      const b = block(n);
      assert.ok(transactionsFilter(b) !== undefined, `block ${n} has the peer's TRANSACTIONS_FILTER`);
      const r = privateDataNeeds(b);
      assert.equal(r.blockNumber, BigInt(n));
      assert.ok(r.flagsKnown);
      assert.deepEqual(r.unreadable, []);
      assert.equal(r.txs.length, n === 0 ? 0 : 1, `block ${n}`);
      for (const tx of r.txs) {
        assert.equal(tx.invalid, false);
        for (const c of tx.collections) {
          needs.push(`${n}/${tx.txIndex}/${tx.txId}/${c.namespace}/${c.collection}/${toHex(c.expectedHash)}`);
          assert.equal(c.endorsers.length, 1);
        }
      }
    }
    const expected = rows
      .filter((r) => (r.hashed_rwset.hashed_writes ?? []).length > 0)
      .map((r) => `${r.block}/${r.tx_index}/${r.tx_id}/${r.namespace}/${r.collection}/${r.pvt_rwset_hash}`);
    assert.equal(expected.length, 28);
    assert.deepEqual(needs, expected);
  });

  it("flags mark a transaction invalid", () => {
    const r = privateDataNeeds(block(6), Uint8Array.of(TxValidationCode.MVCC_READ_CONFLICT));
    assert.equal(r.txs[0]?.invalid, true);
    assert.equal(r.txs[0]?.collections[0]?.collection, "collOrg1");
  });

  it("a changed byte of the private write set no longer matches", () => {
    const row = rows.find((r) => r.pvt_rwset_bytes_hex !== undefined);
    assert.ok(row?.pvt_rwset_bytes_hex !== undefined);
    const pvt = fromHex(row.pvt_rwset_bytes_hex);
    pvt[pvt.length - 1] = (pvt[pvt.length - 1] ?? 0) ^ 1;
    assert.equal(pvtRwsetHashMatches(pvt, fromHex(row.pvt_rwset_hash ?? "")), false);
    assert.equal(pvtRwsetHashMatches(fromHex(row.pvt_rwset_bytes_hex), new Uint8Array(0)), false);
  });
});

describe("malformed transactions give typed errors naming the transaction", () => {
  /** Truncated length-delimited field: no generated decoder accepts it. */
  const GARBAGE = Uint8Array.of(0x0a, 0x7f, 0x01);
  const cases: [string, Uint8Array, string][] = [
    ["an empty envelope", new Uint8Array(0), "NIL_ENVELOPE"],
    ["an envelope that does not decode", GARBAGE, "NIL_ENVELOPE"],
    ["a payload that does not decode", endorserTx("t", [], { payload: GARBAGE }), "BAD_PAYLOAD"],
    ["a payload without header", endorserTx("t", [], { payload: Payload.encode({ header: undefined, data: utf8("x") }).finish() }), "BAD_COMMON_HEADER"],
    ["a channel header that does not decode", endorserTx("t", [], { channelHeader: GARBAGE }), "BAD_CHANNEL_HEADER"],
    ["a signature header that does not decode", endorserTx("t", [], { signatureHeader: GARBAGE }), "BAD_COMMON_HEADER"],
    ["a transaction that does not decode", endorserTx("t", [], { transaction: GARBAGE }), "INVALID_ENDORSER_TRANSACTION"],
    ["a transaction without actions", endorserTx("t", [], { transaction: Transaction.encode({ actions: [] }).finish() }), "NIL_TXACTION"],
    ["an action payload that does not decode", endorserTx("t", [], { actionPayload: GARBAGE }), "INVALID_ENDORSER_TRANSACTION"],
    [
      "an action without its endorsed action",
      endorserTx("t", [], { actionPayload: ChaincodeActionPayload.encode({ chaincodeProposalPayload: new Uint8Array(0), action: undefined }).finish() }),
      "NIL_TXACTION",
    ],
    ["a proposal response payload that does not decode", endorserTx("t", [], { proposalResponsePayload: GARBAGE }), "BAD_RESPONSE_PAYLOAD"],
    ["a chaincode action that does not decode", endorserTx("t", [], { chaincodeAction: GARBAGE }), "INVALID_ENDORSER_TRANSACTION"],
    ["a read-write set that does not decode", endorserTx("t", [], { results: GARBAGE }), "BAD_RWSET"],
  ];
  for (const [what, env, code] of cases) {
    it(`${what}: ${code}`, () => {
      assert.throws(
        () => readTransaction(env, 7),
        (err: unknown) =>
          err instanceof TxError &&
          err.code === code &&
          err.txIndex === 7 &&
          err.validationCode === TxValidationCode[code as keyof typeof TxValidationCode] &&
          err.message.startsWith("transaction 7"),
      );
    });
  }

  it("a namespace's KVRWSet or a collection's HashedRWSet that does not decode is BAD_RWSET naming it", () => {
    const badNs = TxReadWriteSet.encode({ dataModel: 0, nsRwset: [{ namespace: "cc", rwset: GARBAGE, collectionHashedRwset: [] }] }).finish();
    assert.throws(() => readTransaction(endorserTx("tx1", [], { results: badNs }), 0), /transaction 0 \(tx1\).*namespace cc's KVRWSet/);
    const badColl = TxReadWriteSet.encode({
      dataModel: 0,
      nsRwset: [{ namespace: "cc", rwset: new Uint8Array(0), collectionHashedRwset: [{ collectionName: "c1", hashedRwset: GARBAGE, pvtRwsetHash: new Uint8Array(32) }] }],
    }).finish();
    assert.throws(
      () => readTransaction(endorserTx("tx2", [], { results: badColl }), 0),
      (err: unknown) => err instanceof TxError && err.code === "BAD_RWSET" && /collection cc\/c1's HashedRWSet/.test(err.message),
    );
  });

  it("a bad transaction in a block does not stop the others; privateDataNeeds reports it as unreadable", () => {
    const good = (id: string) => endorserTx(id, [{ namespace: "cc", collections: [{ name: "c1", hashedWrites: 1, pvtRwsetHash: new Uint8Array(32).fill(7) }] }]);
    const readOnly = endorserTx("ro", [{ namespace: "cc", collections: [{ name: "c1", hashedWrites: 0, pvtRwsetHash: new Uint8Array(32) }] }]);
    const b = syntheticBlock(9n, [good("a"), GARBAGE, readOnly, good("d")], [0, 0, 0, 11]);
    const reads = readBlockTransactions(b);
    assert.deepEqual(
      reads.map((r) => r.ok),
      [true, false, true, true],
    );
    const needs = privateDataNeeds(b);
    assert.equal(needs.flagsKnown, true);
    assert.deepEqual(
      needs.txs.map((t) => [t.txIndex, t.txId, t.invalid, t.collections.map((c) => c.collection)]),
      [
        [0, "a", false, ["c1"]],
        [2, "ro", false, []],
        [3, "d", true, ["c1"]],
      ],
    );
    assert.equal(needs.unreadable[0]?.txIndex, 1);
    // Without flags (an orderer's block), every transaction counts as valid.
    const unflagged = privateDataNeeds(syntheticBlock(9n, [good("a")]));
    assert.equal(unflagged.flagsKnown, false);
    assert.equal(unflagged.txs[0]?.invalid, false);
  });

  it("a block without data is BAD_BLOCK", () => {
    assert.throws(
      () => readBlockTransactions({ header: { number: 1n, previousHash: new Uint8Array(0), dataHash: new Uint8Array(0) }, data: undefined, metadata: undefined }),
      (err: unknown) => err instanceof PrivdataError && err.code === "BAD_BLOCK",
    );
  });
});
