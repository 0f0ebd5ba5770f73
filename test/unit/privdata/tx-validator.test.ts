import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { channelConfigFromBlock, createChannelBundle } from "../../../src/channelconfig/index.js";
import { createSignedEnvelope } from "../../../src/deliver/index.js";
import {
  type BlockValidationContext,
  buildEndorserTransaction,
  buildLifecycleCommitTransaction,
  type CollectionStore,
  createCollectionStore,
  implicitCollectionName,
  parseSignaturePolicy,
  readBlockTransactions,
  type TxSigner,
  transactionsFilter,
  validateBlockTransactions,
  withTransactionsFilter,
} from "../../../src/privdata/index.js";
import { type Block, ChannelHeader, Envelope, HeaderType, Payload } from "../../../src/protos/gen/common/common.pb.js";
import { ChaincodeActionPayload, Transaction, TxValidationCode } from "../../../src/protos/gen/peer/transaction.pb.js";
import { ManualClock, utf8 } from "../../../src/util/index.js";
import { BLOCK_COUNT, block, CHANNEL, fixtureClock, SKIP_WITHOUT_VECTORS } from "./fixtures.js";
import { blockOf, createTxChannel, type TxChannel, twoCollections } from "./tx-fixtures.js";

const V = TxValidationCode;
const codes = (r: { txs: readonly { code: TxValidationCode }[] }): string[] => r.txs.map((t) => V[t.code] ?? String(t.code));

describe("block validation against Fabric v2.5.6's private-data channel", { skip: SKIP_WITHOUT_VECTORS }, () => {
  /** Validates blocks 0..last in order, learning each, and returns the state before `last + 1`. */
  const walk = (last: number, clock = fixtureClock()) => {
    const bundle = createChannelBundle(channelConfigFromBlock(block(0)), { clock });
    const store = createCollectionStore({ channelId: CHANNEL, applicationMspIds: () => ["Org1MSP", "Org2MSP"] });
    const txIds = new Set<string>();
    const ctx: BlockValidationContext = { bundle, definitions: store, hasTxId: (id) => txIds.has(id) };
    const results = [];
    for (let n = 0; n <= last; n++) {
      const b = block(n);
      const r = validateBlockTransactions(b, ctx);
      results.push({ block: b, result: r });
      store.learnFromBlock(b, r.flags);
      for (const t of r.txs) if (t.txId !== "") txIds.add(t.txId);
    }
    return { ctx, store, txIds, results };
  };

  test("every one of the 49 blocks validates as peer0.org1 flagged it (all VALID), learning the definitions along the chain", () => {
    const { results, store } = walk(BLOCK_COUNT - 1);
    for (const { block: b, result } of results) {
      assert.deepEqual(codes(result), ["VALID"], `block ${b.header?.number}: ${result.txs.map((t) => t.reason).join("; ")}`);
      assert.deepEqual(result.flags, transactionsFilter(b), `block ${b.header?.number}'s TRANSACTIONS_FILTER`);
    }
    assert.equal(store.definition("pvtcc")?.blockNumber, 3n);
  });

  const tamper = (n: number, edit: (env: Envelope) => Envelope): Block => {
    const b = block(n);
    const env = edit(Envelope.decode(b.data!.data[0]!));
    return { ...b, data: { data: [Envelope.encode(env).finish()] } };
  };

  test("tampered creator and endorser signatures, expired creators, duplicates and undefined chaincodes get Fabric's codes", () => {
    const { ctx, txIds } = walk(4);
    const b5 = block(5);
    assert.deepEqual(codes(validateBlockTransactions(b5, ctx)), ["VALID"]);

    const badCreatorSig = tamper(5, (e) => ({ ...e, signature: Uint8Array.from(e.signature, (x, i) => (i === 10 ? x ^ 1 : x)) }));
    assert.deepEqual(codes(validateBlockTransactions(badCreatorSig, ctx)), ["BAD_CREATOR_SIGNATURE"]);

    // The endorser's signature over the response payload, flipped: the payload changes, so the creator re-signs.
    const creatorSigned = tamper(5, (e) => {
      const p = Payload.decode(e.payload);
      const tx = Transaction.decode(p.data);
      const cap = ChaincodeActionPayload.decode(tx.actions[0]!.payload);
      const endorsement = cap.action!.endorsements[0]!;
      endorsement.signature = Uint8Array.from(endorsement.signature, (x, i) => (i === 12 ? x ^ 1 : x));
      tx.actions[0]!.payload = ChaincodeActionPayload.encode(cap).finish();
      return { ...e, payload: Payload.encode({ ...p, data: Transaction.encode(tx).finish() }).finish() };
    });
    // Without the creator's key the payload change breaks the creator's signature first, as on a Fabric peer.
    assert.deepEqual(codes(validateBlockTransactions(creatorSigned, ctx)), ["BAD_CREATOR_SIGNATURE"]);

    // The creator's certificate expired: Org1's client certificate is valid until 2036.
    const later = { ...ctx, bundle: createChannelBundle(channelConfigFromBlock(block(0)), { clock: new ManualClock(Date.parse("2040-01-01T00:00:00Z")) }) };
    const expired = validateBlockTransactions(b5, later);
    assert.deepEqual(codes(expired), ["BAD_CREATOR_SIGNATURE"]);
    assert.match(expired.txs[0]!.reason, /expired|not valid/i);

    // A tx ID already committed, and one repeated inside a block.
    const txId = validateBlockTransactions(b5, ctx).txs[0]!.txId;
    assert.deepEqual(codes(validateBlockTransactions(b5, { ...ctx, hasTxId: (id) => id === txId })), ["DUPLICATE_TXID"]);
    const twice = { ...b5, data: { data: [b5.data!.data[0]!, b5.data!.data[0]!] } };
    assert.deepEqual(codes(validateBlockTransactions(twice, ctx)), ["VALID", "DUPLICATE_TXID"]);
    assert.ok(txIds.size === 5);

    // Before block 3 committed the definition, pvtcc is not a chaincode of the channel.
    const early = walk(2);
    assert.deepEqual(codes(validateBlockTransactions(b5, early.ctx)), ["INVALID_CHAINCODE"]);
  });

  test("the approvals of blocks 1 and 2 (one org's peer each, writing that org's implicit collection) and the commit of block 3 (both orgs) are valid", () => {
    const { ctx } = walk(0);
    const endorsersOf = (b: Block): string[] => {
      const [r] = readBlockTransactions(b);
      assert.ok(r?.ok);
      return r.tx.actions[0]!.endorsements.map((e) => Buffer.from(e.endorser).toString("hex"));
    };
    assert.equal(endorsersOf(block(1)).length, 1);
    assert.equal(endorsersOf(block(2)).length, 1);
    assert.notDeepEqual(endorsersOf(block(1)), endorsersOf(block(2)));
    assert.equal(endorsersOf(block(3)).length, 2);
    for (const n of [1, 2, 3]) assert.deepEqual(codes(validateBlockTransactions(block(n), ctx)), ["VALID"], `block ${n}`);
  });
});

describe("block validation on a generated channel", () => {
  let ch: TxChannel;
  let store: CollectionStore;
  let ctx: BlockValidationContext;
  before(async () => {
    ch = await createTxChannel();
    store = createCollectionStore({ channelId: ch.channel, applicationMspIds: () => ["Org1MSP", "Org2MSP"] });
    ctx = { bundle: ch.bundle, definitions: store };
  });
  after(() => ch.cleanup());

  const commit = (endorsers: readonly TxSigner[]) =>
    buildLifecycleCommitTransaction({
      channelId: ch.channel,
      definition: {
        name: "pvtcc",
        sequence: 1n,
        collections: twoCollections(),
        endorsementPolicy: { Type: { $case: "signaturePolicy", value: parseSignaturePolicy("OR('Org1MSP.peer','Org2MSP.peer')") } },
      },
      creator: ch.clients[0]!,
      endorsers,
    });

  const invoke = (o: { creator?: TxSigner; endorsers?: readonly TxSigner[]; channelId?: string; collection?: string; publicWrite?: boolean }) =>
    buildEndorserTransaction({
      channelId: o.channelId ?? ch.channel,
      chaincode: "pvtcc",
      namespaces: [
        {
          namespace: "pvtcc",
          writes: o.publicWrite === false ? [] : [{ key: "k", value: utf8("v") }],
          collections: o.collection === undefined ? [] : [{ name: o.collection, writes: [{ key: "p", value: utf8("secret") }] }],
        },
      ],
      collectionConfigs: { pvtcc: twoCollections() },
      creator: o.creator ?? ch.clients[0]!,
      endorsers: o.endorsers ?? [ch.peers[0]!],
    }).envelopeBytes;

  test("the lifecycle commit needs a majority of the orgs' peers (LifecycleEndorsement), then defines the chaincode", () => {
    assert.deepEqual(codes(validateBlockTransactions(blockOf(1n, [commit([ch.peers[0]!]).envelopeBytes]), ctx)), ["ENDORSEMENT_POLICY_FAILURE"]);
    const b = blockOf(1n, [commit(ch.peers).envelopeBytes]);
    const r = validateBlockTransactions(b, ctx);
    assert.deepEqual(codes(r), ["VALID"]);
    store.learnFromBlock(b, r.flags);
    assert.equal(store.definition("pvtcc")?.sequence, 1n);
  });

  test("invocations: endorsement policy, collection policies, creators from outside the channel, tx ids and channels", () => {
    assert.ok(store.definition("pvtcc") !== undefined, "the previous test defined pvtcc");
    const r = validateBlockTransactions(
      blockOf(2n, [
        invoke({}), // VALID: Org1's peer satisfies OR(Org1.peer, Org2.peer)
        invoke({ endorsers: [ch.peers[1]!], collection: "collBoth" }), // VALID
        invoke({ endorsers: [ch.clients[1]!] }), // a client is not a peer
        invoke({ endorsers: [ch.outsider] }), // an endorser from outside the channel
        invoke({ creator: ch.outsider }), // a creator from outside the channel
        invoke({ creator: ch.orderer }), // the orderer's identity, a channel MSP: the creator checks pass
        invoke({ channelId: "otherchannel" }),
        invoke({ collection: implicitCollectionName("Org2MSP"), publicWrite: false }), // Org2's implicit collection needs Org2
        invoke({ endorsers: [ch.peers[1]!], collection: implicitCollectionName("Org2MSP"), publicWrite: false }),
        invoke({ collection: "noSuchCollection" }),
      ]),
      ctx,
    );
    assert.deepEqual(codes(r), [
      "VALID",
      "VALID",
      "ENDORSEMENT_POLICY_FAILURE",
      "ENDORSEMENT_POLICY_FAILURE",
      "BAD_CREATOR_SIGNATURE",
      "VALID",
      "TARGET_CHAIN_NOT_FOUND",
      "ENDORSEMENT_POLICY_FAILURE",
      "VALID",
      "ENDORSEMENT_POLICY_FAILURE",
    ]);
    assert.match(r.txs[4]!.reason, /Org3MSP/);
    assert.match(r.txs[7]!.reason, /implicit collection pvtcc\/_implicit_org_Org2MSP/);
  });

  test("an endorsement whose signature does not verify does not count: ENDORSEMENT_POLICY_FAILURE (the creator re-signed)", () => {
    const client = ch.clients[0]!;
    const env = Envelope.decode(invoke({}));
    const p = Payload.decode(env.payload);
    const tx = Transaction.decode(p.data);
    const cap = ChaincodeActionPayload.decode(tx.actions[0]!.payload);
    const e = cap.action!.endorsements[0]!;
    e.signature = Uint8Array.from(e.signature, (x, i) => (i === 12 ? x ^ 1 : x));
    tx.actions[0]!.payload = ChaincodeActionPayload.encode(cap).finish();
    const payload = Payload.encode({ ...p, data: Transaction.encode(tx).finish() }).finish();
    const tampered = Envelope.encode({ payload, signature: client.sign(payload) }).finish();
    const r = validateBlockTransactions(blockOf(3n, [tampered]), ctx);
    assert.deepEqual(codes(r), ["ENDORSEMENT_POLICY_FAILURE"]);
    assert.match(r.txs[0]!.reason, /BAD_SIGNATURE|does not verify/);
  });

  test("an undefined chaincode is INVALID_CHAINCODE unless definitions are not required", () => {
    const env = buildEndorserTransaction({
      channelId: ch.channel,
      chaincode: "nosuchcc",
      namespaces: [{ namespace: "nosuchcc", writes: [{ key: "k", value: utf8("v") }] }],
      creator: ch.clients[1]!,
      endorsers: [ch.peers[1]!],
    }).envelopeBytes;
    assert.deepEqual(codes(validateBlockTransactions(blockOf(3n, [env]), ctx)), ["INVALID_CHAINCODE"]);
    assert.deepEqual(codes(validateBlockTransactions(blockOf(3n, [env]), { ...ctx, requireDefinitions: false })), ["VALID"]);
  });

  test("malformed envelopes, a tx id that is not SHA-256(nonce || creator), config and other transaction types", () => {
    const client = ch.clients[0]!;
    const good = invoke({});
    // Re-sign a payload whose channel header names another tx id.
    const env = Envelope.decode(good);
    const p = Payload.decode(env.payload);
    const chdr = ChannelHeader.decode(p.header!.channelHeader);
    const payload = Payload.encode({ ...p, header: { ...p.header!, channelHeader: ChannelHeader.encode({ ...chdr, txId: "0".repeat(64) }).finish() } }).finish();
    const badTxId = Envelope.encode({ payload, signature: client.sign(payload) }).finish();
    // A payload whose proposal hash no longer matches: the action's proposal payload changed.
    const tx = Transaction.decode(p.data);
    const cap = ChaincodeActionPayload.decode(tx.actions[0]!.payload);
    tx.actions[0]!.payload = ChaincodeActionPayload.encode({ ...cap, chaincodeProposalPayload: utf8("other") }).finish();
    const payload2 = Payload.encode({ ...p, data: Transaction.encode(tx).finish() }).finish();
    const badHash = Envelope.encode({ payload: payload2, signature: client.sign(payload2) }).finish();
    const signed = (type: HeaderType, data: Uint8Array, signer: TxSigner = client) => Envelope.encode(createSignedEnvelope(signer, ch.channel, type, data)).finish();
    const r = validateBlockTransactions(
      blockOf(4n, [
        new Uint8Array(0),
        utf8("not an envelope at all"),
        badTxId,
        badHash,
        signed(HeaderType.CONFIG, utf8("garbage"), ch.orderer),
        signed(HeaderType.CONFIG_UPDATE, new Uint8Array(0)),
        signed(HeaderType.MESSAGE, new Uint8Array(0)),
        good,
      ]),
      ctx,
    );
    assert.deepEqual(codes(r), [
      "NIL_ENVELOPE",
      "INVALID_OTHER_REASON",
      "BAD_PROPOSAL_TXID",
      "INVALID_ENDORSER_TRANSACTION",
      "INVALID_CONFIG_TRANSACTION",
      "UNSUPPORTED_TX_PAYLOAD",
      "BAD_COMMON_HEADER",
      "VALID",
    ]);
  });

  test("the flags go into metadata index 2, the rest of the block unchanged", () => {
    const b = blockOf(5n, [invoke({}), invoke({ endorsers: [ch.clients[1]!] })]);
    const r = validateBlockTransactions(b, ctx);
    const flagged = withTransactionsFilter(b, r.flags);
    assert.deepEqual(transactionsFilter(flagged), Uint8Array.from([V.VALID, V.ENDORSEMENT_POLICY_FAILURE]));
    assert.deepEqual(flagged.data, b.data);
    assert.deepEqual(flagged.metadata?.metadata[0], b.metadata?.metadata[0]);
    assert.equal(transactionsFilter(b), undefined, "the block given is not changed");
    assert.throws(() => withTransactionsFilter(b, new Uint8Array(1)), /1 validation flags for a block of 2/);
  });
});
