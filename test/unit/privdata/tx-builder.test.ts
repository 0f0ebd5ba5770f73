import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  buildEndorserTransaction,
  buildLifecycleCommitTransaction,
  createCollectionStore,
  lifecycleCommitNamespace,
  PrivdataError,
  privateDataNeeds,
  pvtRwsetHashMatches,
  readBlockTransactions,
} from "../../../src/privdata/index.js";
import { ChannelHeader, HeaderType, Payload, SignatureHeader } from "../../../src/protos/gen/common/common.pb.js";
import { HashedRWSet, KVRWSet } from "../../../src/protos/gen/ledger/rwset/kvrwset/kv_rwset.pb.js";
import { ChaincodeInvocationSpec } from "../../../src/protos/gen/peer/chaincode.pb.js";
import { CommitChaincodeDefinitionArgs } from "../../../src/protos/gen/peer/lifecycle/lifecycle.pb.js";
import { ApplicationPolicy } from "../../../src/protos/gen/peer/policy.pb.js";
import { ChaincodeHeaderExtension, ChaincodeProposalPayload, Proposal } from "../../../src/protos/gen/peer/proposal.pb.js";
import { ChaincodeActionPayload, Transaction } from "../../../src/protos/gen/peer/transaction.pb.js";
import { TxPvtReadWriteSetWithConfigInfo } from "../../../src/protos/gen/transientstore/transientstore.pb.js";
import { fromHex, toHex, utf8 } from "../../../src/util/index.js";
import { block, CHANNEL, type PvtTxRow, SKIP_WITHOUT_VECTORS, vectorJson } from "./fixtures.js";
import { blockOf, createTxChannel, type TxChannel, twoCollections } from "./tx-fixtures.js";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

describe("transaction builder", () => {
  let ch: TxChannel;
  before(async () => {
    ch = await createTxChannel();
  });
  after(() => ch.cleanup());

  const build = (nonce?: Uint8Array) =>
    buildEndorserTransaction({
      channelId: ch.channel,
      chaincode: "pvtcc",
      args: [utf8("putPrivate"), utf8("collBoth"), utf8("k1")],
      transient: { value: utf8("both-value-1") },
      namespaces: [
        {
          namespace: "pvtcc",
          writes: [{ key: "pub-b", value: utf8("2") }, { key: "pub-a", value: utf8("1") }],
          collections: [
            { name: "collOrg1", writes: [{ key: "o1", value: utf8("org1-secret-1") }] },
            { name: "collBoth", writes: [{ key: "k1", value: utf8("both-value-1") }, { key: "gone", isDelete: true }] },
            { name: "readOnly", reads: [{ key: "r1", version: { blockNum: 3n, txNum: 0n } }] },
          ],
        },
      ],
      creator: ch.clients[0]!,
      endorsers: ch.peers,
      collectionConfigs: { pvtcc: twoCollections() },
      endorsedAt: 7n,
      timestamp: new Date("2026-12-05T01:02:03.456Z"),
      ...(nonce === undefined ? {} : { nonce }),
    });

  test("the envelope reads back through readBlockTransactions: headers, tx id, creator, namespaces, hashes, endorsements", () => {
    const nonce = new Uint8Array(24).fill(9);
    const tx = build(nonce);
    assert.equal(tx.txId, sha(Buffer.concat([nonce, ch.clients[0]!.serialized])));
    const [read] = readBlockTransactions(blockOf(1n, [tx.envelopeBytes]));
    assert.ok(read?.ok);
    const r = read.tx;
    assert.equal(r.type, HeaderType.ENDORSER_TRANSACTION);
    assert.equal(r.txId, tx.txId);
    assert.equal(r.channelId, ch.channel);
    assert.equal(r.creatorMspId, "Org1MSP");
    assert.deepEqual(r.nonce, nonce);
    assert.equal(r.timestamp?.toISOString(), "2026-12-05T01:02:03.456Z");
    ch.clients[0]!.verify(r.signature, r.payload);
    const action = r.actions[0]!;
    assert.equal(action.chaincodeId?.name, "pvtcc");
    assert.equal(action.responseStatus, 200);
    assert.equal(action.endorsements.length, 2);
    action.endorsements.forEach((e, i) => {
      assert.deepEqual(e.endorser, ch.peers[i]!.serialized);
      ch.peers[i]!.verify(e.signature, Buffer.concat([action.proposalResponsePayload, e.endorser]));
    });
    const ns = action.namespaces[0]!;
    assert.equal(ns.namespace, "pvtcc");
    // Keys and collections sorted by their bytes, as Fabric's rwset builder does.
    assert.deepEqual(ns.kvRwSet.writes.map((w) => w.key), ["pub-a", "pub-b"]);
    assert.deepEqual(ns.collections.map((c) => c.collectionName), ["collBoth", "collOrg1", "readOnly"]);
    const both = ns.collections[0]!;
    assert.deepEqual(
      both.hashed.hashedWrites.map((w) => [toHex(w.keyHash), toHex(w.valueHash), w.isDelete]),
      [
        [sha(utf8("gone")), "", true],
        [sha(utf8("k1")), sha(utf8("both-value-1")), false],
      ],
    );
    const readOnly = ns.collections[2]!;
    assert.equal(readOnly.hasWrites, false);
    assert.equal(readOnly.pvtRwsetHash.length, 0);
    assert.equal(toHex(readOnly.hashed.hashedReads[0]!.keyHash), sha(utf8("r1")));
  });

  test("privateDataNeeds lists the written collections, and the private write sets match their hashes", () => {
    const tx = build();
    const needs = privateDataNeeds(blockOf(2n, [tx.envelopeBytes]));
    const t0 = needs.txs[0]!;
    assert.equal(t0.txId, tx.txId);
    assert.deepEqual(t0.collections.map((c) => c.collection), ["collBoth", "collOrg1"]);
    const pvt = tx.pvtRwset!;
    assert.equal(pvt.nsPvtRwset.length, 1);
    const colls = pvt.nsPvtRwset[0]!.collectionPvtRwset;
    assert.deepEqual(colls.map((c) => c.collectionName), ["collBoth", "collOrg1"]);
    for (const need of t0.collections) {
      const c = colls.find((x) => x.collectionName === need.collection)!;
      assert.ok(pvtRwsetHashMatches(c.rwset, need.expectedHash), need.collection);
      assert.equal(need.endorsers.length, 2);
    }
    // The private KVRWSet holds the writes only, keys sorted, values in clear.
    assert.deepEqual(
      KVRWSet.decode(colls[0]!.rwset).writes.map((w) => [w.key, Buffer.from(w.value).toString(), w.isDelete]),
      [
        ["gone", "", true],
        ["k1", "both-value-1", false],
      ],
    );
    // The distributable form: endorsed_at and the namespace's collection configs, surviving the wire.
    const wire = TxPvtReadWriteSetWithConfigInfo.decode(TxPvtReadWriteSetWithConfigInfo.encode(tx.pvtWithConfig!).finish());
    assert.equal(wire.endorsedAt, 7n);
    assert.deepEqual(Object.keys(wire.collectionConfigs), ["pvtcc"]);
    assert.equal(wire.collectionConfigs.pvtcc?.config.length, 2);
    assert.deepEqual(wire.pvtRwset, tx.pvtRwset);
  });

  test("the transaction carries the proposal payload without its transient map, and the proposal hash covers exactly that", () => {
    const tx = build();
    const payload = Payload.decode(tx.envelope.payload);
    const chdr = ChannelHeader.decode(payload.header!.channelHeader);
    assert.equal(ChaincodeHeaderExtension.decode(chdr.extension).chaincodeId?.name, "pvtcc");
    const t = Transaction.decode(payload.data);
    assert.deepEqual(t.actions[0]!.header, payload.header!.signatureHeader);
    const cap = ChaincodeActionPayload.decode(t.actions[0]!.payload);
    const ccpp = ChaincodeProposalPayload.decode(cap.chaincodeProposalPayload);
    assert.deepEqual(ccpp.TransientMap, {});
    const spec = ChaincodeInvocationSpec.decode(ccpp.input).chaincodeSpec!;
    assert.deepEqual(spec.input?.args.map((a) => Buffer.from(a).toString()), ["putPrivate", "collBoth", "k1"]);
    const expected = sha(Buffer.concat([payload.header!.channelHeader, payload.header!.signatureHeader, cap.chaincodeProposalPayload]));
    const [read] = readBlockTransactions(blockOf(1n, [tx.envelopeBytes]));
    assert.ok(read?.ok);
    assert.equal(toHex(read.tx.actions[0]!.proposalHash), expected);
    // The signed proposal is the client's, and it still has the transient value.
    const proposal = Proposal.decode(tx.signedProposal.proposalBytes);
    ch.clients[0]!.verify(tx.signedProposal.signature, tx.signedProposal.proposalBytes);
    assert.equal(Buffer.from(ChaincodeProposalPayload.decode(proposal.payload).TransientMap.value!).toString(), "both-value-1");
    assert.deepEqual(SignatureHeader.decode(payload.header!.signatureHeader).creator, ch.clients[0]!.serialized);
  });

  test("a transaction without private writes has no private write set", () => {
    const tx = buildEndorserTransaction({
      channelId: ch.channel,
      chaincode: "pvtcc",
      namespaces: [{ namespace: "pvtcc", writes: [{ key: "k", value: utf8("v") }] }],
      creator: ch.clients[1]!,
      endorsers: [ch.peers[1]!],
    });
    assert.equal(tx.pvtRwset, undefined);
    assert.equal(tx.pvtWithConfig, undefined);
    assert.equal(privateDataNeeds(blockOf(1n, [tx.envelopeBytes])).txs[0]?.collections.length, 0);
  });

  test("bad specs are refused with BAD_TX_SPEC", () => {
    const base = { channelId: ch.channel, chaincode: "cc", creator: ch.clients[0]!, endorsers: ch.peers };
    const refused = (f: () => unknown, why: RegExp): void =>
      assert.throws(f, (err: unknown) => err instanceof PrivdataError && err.code === "BAD_TX_SPEC" && why.test(err.message));
    refused(() => buildEndorserTransaction({ ...base, endorsers: [], namespaces: [] }), /at least one endorser/);
    refused(
      () => buildEndorserTransaction({ ...base, namespaces: [{ namespace: "cc", writes: [{ key: "a", value: utf8("1") }, { key: "a", value: utf8("2") }] }] }),
      /"a" appears twice/,
    );
    refused(
      () => buildEndorserTransaction({ ...base, namespaces: [{ namespace: "cc", collections: [{ name: "c", writes: [{ key: "a", value: utf8("1") }] }] }] }),
      /no collection configs/,
    );
  });

  test("a lifecycle commit defines the chaincode: the collection store learns its collections and policy from the block", () => {
    const tx = buildLifecycleCommitTransaction({
      channelId: ch.channel,
      definition: { name: "pvtcc", sequence: 1n, collections: twoCollections() },
      creator: ch.clients[0]!,
      endorsers: ch.peers,
    });
    const store = createCollectionStore({ channelId: ch.channel, applicationMspIds: () => ["Org1MSP", "Org2MSP"] });
    const learned = store.learnFromBlock(blockOf(1n, [tx.envelopeBytes]));
    assert.deepEqual(learned.problems, []);
    assert.equal(learned.updated.length, 1);
    const def = store.definition("pvtcc")!;
    assert.equal(def.sequence, 1n);
    assert.equal(def.txId, tx.txId);
    assert.deepEqual(def.collections.map((c) => [c.name, c.blockToLive, c.memberOrgs]), [
      ["collOrg1", 3n, ["Org1MSP"]],
      ["collBoth", 0n, ["Org1MSP", "Org2MSP"]],
    ]);
    assert.equal(def.endorsementInfo?.version, "1.0");
    assert.equal(def.validationInfo?.validationPlugin, "vscc");
    assert.deepEqual(ApplicationPolicy.decode(def.validationInfo!.validationParameter).Type, {
      $case: "channelConfigPolicyReference",
      value: "/Channel/Application/Endorsement",
    });
    const [read] = readBlockTransactions(blockOf(1n, [tx.envelopeBytes]));
    assert.ok(read?.ok);
    assert.equal(read.tx.actions[0]!.chaincodeId?.version, "syscc");
  });
});

describe("transaction builder against Fabric v2.5.6's blocks", { skip: SKIP_WITHOUT_VECTORS }, () => {
  test("private write sets are the bytes Fabric's endorsers disseminated, with the block's hashes", () => {
    const rows = vectorJson<PvtTxRow[]>("pvt-transactions.json").filter((r) => r.pvt_rwset_bytes_hex !== undefined && r.key !== undefined);
    assert.ok(rows.length >= 20);
    const signer = { serialized: utf8("x"), sign: () => new Uint8Array(0) };
    for (const row of rows) {
      const tx = buildEndorserTransaction({
        channelId: CHANNEL,
        chaincode: row.namespace,
        namespaces: [{ namespace: row.namespace, collections: [{ name: row.collection, writes: [{ key: row.key!, value: utf8(row.value!) }] }] }],
        collectionConfigs: { [row.namespace]: { config: [] } },
        creator: signer,
        endorsers: [signer],
      });
      const c = tx.pvtRwset!.nsPvtRwset[0]!.collectionPvtRwset[0]!;
      assert.equal(toHex(c.rwset), row.pvt_rwset_bytes_hex, `block ${row.block}`);
      const hashed = HashedRWSet.decode(tx.rwset.nsRwset[0]!.collectionHashedRwset[0]!.hashedRwset);
      assert.deepEqual(
        hashed.hashedWrites.map((w) => ({ key_hash: toHex(w.keyHash), value_hash: toHex(w.valueHash) })),
        (row.hashed_rwset.hashed_writes ?? []).map((w) => ({ key_hash: w.key_hash, value_hash: w.value_hash })),
      );
      assert.ok(pvtRwsetHashMatches(c.rwset, fromHex(row.pvt_rwset_hash!)));
    }
  });

  test("the _lifecycle writes of block 3's CommitChaincodeDefinition are reproduced byte for byte from its arguments", () => {
    const [read] = readBlockTransactions(block(3));
    assert.ok(read?.ok);
    const cap = ChaincodeActionPayload.decode(Transaction.decode(Payload.decode(read.tx.payload).data).actions[0]!.payload);
    const args = ChaincodeInvocationSpec.decode(ChaincodeProposalPayload.decode(cap.chaincodeProposalPayload).input).chaincodeSpec!.input!.args;
    assert.equal(Buffer.from(args[0]!).toString(), "CommitChaincodeDefinition");
    const a = CommitChaincodeDefinitionArgs.decode(args[1]!);
    const ns = lifecycleCommitNamespace({
      name: a.name,
      sequence: a.sequence,
      version: a.version,
      endorsementPlugin: a.endorsementPlugin,
      validationPlugin: a.validationPlugin,
      endorsementPolicy: ApplicationPolicy.decode(a.validationParameter),
      ...(a.collections === undefined ? {} : { collections: a.collections }),
      initRequired: a.initRequired,
    });
    const fabric = read.tx.actions[0]!.namespaces.find((n) => n.namespace === "_lifecycle")!;
    const ours = [...ns.writes!].sort((x, y) => (x.key < y.key ? -1 : 1));
    assert.deepEqual(
      ours.map((w) => [w.key, toHex(w.value!)]),
      fabric.kvRwSet.writes.map((w) => [w.key, toHex(w.value)]),
    );
    assert.deepEqual(
      [...ns.reads!].map((r) => r.key).sort(),
      fabric.kvRwSet.reads.map((r) => r.key),
    );
  });
});
