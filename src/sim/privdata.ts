import { createGenesisBlock } from "../channelconfig/index.js";
import { NONCE_SIZE } from "../crypto/index.js";
import {
  type BuiltEndorserTx,
  buildEndorserTransaction,
  buildLifecycleCommitTransaction,
  DEFAULT_BTL_PULL_MARGIN,
  implicitCollectionName,
  type PvtDataStore,
  parseSignaturePolicy,
  type TxPvtData,
} from "../privdata/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import type { CollectionConfigPackage, StaticCollectionConfig } from "../protos/gen/peer/collection.pb.js";
import { type Clock, GossipError, type SeededRandom, utf8 } from "../util/index.js";
import type { SimMspMaterial } from "./crypto.js";
import { SimError } from "./errors.js";
import type { PrivateDataFigures, PvtSimEvent, SimPrivateDataOptions } from "./interface.js";
import type { InvariantChecker } from "./invariants.js";
import type { SimChannel, SimPeer } from "./peer.js";
import { fillRandom } from "./rng.js";
import type { TraceHasher } from "./trace.js";

/** The chaincode a private-data run defines in its first transaction and invokes afterwards. */
export const SIM_PVT_CHAINCODE = "pvtcc";
/** Its collection of the first org only (blockToLive 0: kept forever). */
export const SIM_COLL_ORG1 = "collOrg1";
/** Its collection of the first two orgs (one org in a one-org run), with the short blockToLive. */
export const SIM_COLL_SHARED = "collOrg12";
/** Bytes of the envelope and block overhead a padded public value leaves room for. */
const TX_OVERHEAD_BYTES = 4_096;

/** One private write set written into a block: where it is and who may hold it. */
export interface PvtWriteSetTruth {
  seq: number;
  txIndex: number;
  txId: string;
  collection: string;
  members: ReadonlySet<string>;
  /** blockToLive (0: forever). */
  btl: number;
}

/**
 * Where a peer stands with one write set at the end of a run: "held"; "missing" (recorded, to reconcile);
 * "purged" (its blockToLive passed at the peer); "presumed-purged" (not held nor recorded: the pull judged
 * it purged by Fabric's btlPullMargin rule); "ineligible" (the peer's org is outside the collection).
 */
export type PvtOutcomeStatus = "held" | "missing" | "purged" | "presumed-purged" | "ineligible";

export interface PvtOutcome {
  peer: string;
  txId: string;
  collection: string;
  seq: number;
  status: PvtOutcomeStatus;
  /** For "missing": the reconciler asked for it and got nothing (Fabric's deprioritized list). */
  deprioritized?: boolean;
}

/** What the driver needs of the simulator. */
export interface PvtDriverHost {
  clock: Clock;
  /** Virtual ms since the run started. */
  now(): number;
  peers: readonly SimPeer[];
  checker: InvariantChecker;
  trace: TraceHasher;
  emit(e: PvtSimEvent): void;
}

/** A transaction endorsed and ready for the ordering service. */
interface ReadyTx {
  tx: BuiltEndorserTx;
  collection: string | undefined;
}

function staticCollection(name: string, members: readonly string[], requiredPeerCount: number, maximumPeerCount: number, blockToLive: bigint): StaticCollectionConfig {
  return {
    name,
    memberOrgsPolicy: { payload: { $case: "signaturePolicy", value: parseSignaturePolicy(`OR(${members.map((m) => `'${m}.member'`).join(",")})`) } },
    requiredPeerCount,
    maximumPeerCount,
    blockToLive,
    memberOnlyRead: true,
    memberOnlyWrite: false,
    endorsementPolicy: undefined,
  };
}

/**
 * A simulated channel's genesis block as configtxgen makes it: every org of the channel with its CA and
 * anchor peer, the orderer org with the simulated ordering service's endpoint. Timestamp and nonce come
 * from the run, so the block (and every hash after it) is the same for the same seed.
 */
export function simGenesisBlock(channel: SimChannel, msp: SimMspMaterial, ordererMspId: string, clock: Clock, rng: SeededRandom): Block {
  const pem = (mspId: string): string => {
    const p = msp.caPems.get(mspId);
    if (p === undefined) throw new SimError("SETUP_FAILED", `channel ${channel.name}: no CA certificate for ${mspId}`);
    return p;
  };
  return createGenesisBlock({
    channel: channel.name,
    applicationOrgs: channel.def.orgs.map((o) => ({ mspId: o.mspId, rootCerts: [pem(o.mspId)], anchorPeers: o.anchorPeers })),
    ordererOrgs: [{ mspId: ordererMspId, rootCerts: [pem(ordererMspId)], endpoints: channel.def.orderer.endpoints }],
    timestamp: new Date(clock.now()),
    nonce: fillRandom(rng, new Uint8Array(24)),
  });
}

/**
 * The private data of a run, on one channel: the transactions (the `_lifecycle` definition of
 * `pvtcc` with `collOrg1` and `collOrg12`, then invocations, a share of them with a private write),
 * their endorsement (a running peer of an org the collection admits distributes the write set through
 * its own gossip service before the transaction is ordered; a failed distribution makes the client try
 * another endorser, as Fabric's endorsement fails then), the ground truth of what each block holds,
 * and the invariants: no peer of an org outside a collection ever holds its data (checked at each
 * commit and at the end), and at the end every eligible running peer holds each unexpired write set of
 * the blocks it committed or has it recorded missing.
 */
export class PrivateDataDriver {
  readonly #host: PvtDriverHost;
  readonly #o: SimPrivateDataOptions;
  readonly #channel: SimChannel;
  readonly #msp: SimMspMaterial;
  readonly #rng: SeededRandom;
  readonly #members = new Map<string, ReadonlySet<string>>();
  readonly #btl = new Map<string, number>();
  readonly #collections: CollectionConfigPackage;
  /** What an endorser attaches to the write set: the explicit collections and every org's implicit one. */
  readonly #attached: CollectionConfigPackage;
  readonly #value: Uint8Array;
  /** First peer of each org: the endorsers of the chaincode definition (a majority of orgs). */
  readonly #orgEndorsers = new Map<string, SimPeer>();
  #clients: ReadonlyMap<string, { serialized: Uint8Array; sign(msg: Uint8Array): Uint8Array }> | undefined;
  #defined = false;
  #n = 0;
  #stopped = false;
  readonly #ready: ReadyTx[] = [];
  /** Every private write set ordered, in order. */
  readonly truth: PvtWriteSetTruth[] = [];
  /** Whether each eligible peer held the write set when it committed its block, by "peer/txId/collection". */
  readonly heldAtCommit = new Map<string, boolean>();
  /** Each running peer's standing with each write set of the blocks it committed, at the end (set by `finish`). */
  readonly outcomes: PvtOutcome[] = [];
  readonly #leaks = new Set<string>();
  #distributionFailed = 0;
  #abandoned = 0;

  constructor(host: PvtDriverHost, options: SimPrivateDataOptions, channel: SimChannel, msp: SimMspMaterial, orgMspIds: readonly string[], rng: SeededRandom, blockBytes: number) {
    this.#host = host;
    this.#o = options;
    this.#channel = channel;
    this.#msp = msp;
    this.#rng = rng;
    const [first, second] = orgMspIds.filter((m) => channel.orgs.has(m));
    if (first === undefined) throw new SimError("INVALID_OPTIONS", `private data: channel ${channel.name} has no org`);
    const shared = second === undefined ? [first] : [first, second];
    this.#members.set(SIM_COLL_ORG1, new Set([first]));
    this.#members.set(SIM_COLL_SHARED, new Set(shared));
    this.#btl.set(SIM_COLL_ORG1, 0);
    this.#btl.set(SIM_COLL_SHARED, options.shortBlockToLive);
    for (const m of channel.orgs) this.#members.set(implicitCollectionName(m), new Set([m]));
    const req = options.requiredPeerCount;
    const max = options.maximumPeerCount;
    this.#collections = {
      config: [
        { payload: { $case: "staticCollectionConfig", value: staticCollection(SIM_COLL_ORG1, [first], req, max, 0n) } },
        { payload: { $case: "staticCollectionConfig", value: staticCollection(SIM_COLL_SHARED, shared, req, max, BigInt(options.shortBlockToLive)) } },
      ],
    };
    this.#attached = {
      config: [
        ...this.#collections.config,
        ...[...channel.orgs].map((m) => ({ payload: { $case: "staticCollectionConfig" as const, value: staticCollection(implicitCollectionName(m), [m], 0, 0, 0n) } })),
      ],
    };
    this.#value = new Uint8Array(Math.max(16, blockBytes - TX_OVERHEAD_BYTES)).fill(0x2a);
    for (const p of host.peers) if (channel.orgs.has(p.spec.mspId) && !this.#orgEndorsers.has(p.spec.mspId)) this.#orgEndorsers.set(p.spec.mspId, p);
  }

  /** The orgs a collection admits (undefined: a collection this run never writes). */
  membersOf(collection: string): ReadonlySet<string> | undefined {
    return this.#members.get(collection);
  }

  /** Issues the client identities (before the first block). */
  async prepare(): Promise<void> {
    this.#clients = await this.#msp.clients();
  }

  /** No more endorsements start or finish (the run is over). */
  stop(): void {
    this.#stopped = true;
  }

  #client(mspId: string): { serialized: Uint8Array; sign(msg: Uint8Array): Uint8Array } {
    const c = this.#clients?.get(mspId);
    if (c === undefined) throw new SimError("SETUP_FAILED", `private data: no client identity of ${mspId}`);
    return c;
  }

  /** The first peer of every org of the channel. */
  #endorsers(): { serialized: Uint8Array; sign(msg: Uint8Array): Uint8Array }[] {
    return [...this.#orgEndorsers.values()].map((p) => this.#msp.peerSigner(p.name));
  }

  #nonce(): Uint8Array {
    return fillRandom(this.#rng, new Uint8Array(NONCE_SIZE));
  }

  /**
   * The transactions of block `seq` of the channel (called just before it is cut): the chaincode
   * definition first, then what was endorsed since the last block, or one public transaction when
   * nothing was. Records where each private write set lands.
   */
  envelopesFor(seq: number): Uint8Array[] {
    const clock = this.#host.clock;
    const ch = this.#channel.name;
    const firstOrg = [...this.#orgEndorsers.keys()][0]!;
    let txs: ReadyTx[];
    if (!this.#defined) {
      this.#defined = true;
      const tx = buildLifecycleCommitTransaction({
        channelId: ch,
        definition: {
          name: SIM_PVT_CHAINCODE,
          sequence: 1n,
          collections: this.#collections,
          // Any one org's peer endorses: only the endorser that simulated a transaction holds its private data (a
          // Fabric endorser keeps it in its transient store, member of the collection or not), so a second endorser of
          // an org outside the collection would hold it too.
          endorsementPolicy: {
            Type: { $case: "signaturePolicy", value: parseSignaturePolicy(`OR(${[...this.#channel.orgs].map((m) => `'${m}.peer'`).join(",")})`) },
          },
        },
        creator: this.#client(firstOrg),
        // _lifecycle's own policy is the channel's LifecycleEndorsement (a majority of orgs).
        endorsers: this.#endorsers(),
        nonce: this.#nonce(),
        timestamp: new Date(clock.now()),
      });
      txs = [{ tx, collection: undefined }];
    } else if (this.#ready.length > 0) {
      txs = this.#ready.splice(0);
    } else {
      const key = `pub${this.#n++}`;
      const tx = buildEndorserTransaction({
        channelId: ch,
        chaincode: SIM_PVT_CHAINCODE,
        args: [utf8("put"), utf8(key)],
        namespaces: [{ namespace: SIM_PVT_CHAINCODE, writes: [{ key, value: this.#value }] }],
        creator: this.#client(firstOrg),
        endorsers: [this.#msp.peerSigner(this.#orgEndorsers.get(firstOrg)!.name)],
        nonce: this.#nonce(),
        timestamp: new Date(clock.now()),
      });
      txs = [{ tx, collection: undefined }];
    }
    txs.forEach((t, txIndex) => {
      if (t.collection === undefined) return;
      const members = this.#members.get(t.collection)!;
      this.truth.push({ seq, txIndex, txId: t.tx.txId, collection: t.collection, members, btl: this.#btl.get(t.collection) ?? 0 });
      this.#host.trace.event(this.#host.now(), `pvt ordered ${t.tx.txId.slice(0, 16)} ${t.collection} ${seq}/${txIndex}`);
      this.#host.emit({ kind: "pvt-ordered", atMs: this.#host.now(), channel: ch, txId: t.tx.txId, collection: t.collection, seq, txIndex });
    });
    return txs.map((t) => t.tx.envelopeBytes);
  }

  /** After a block is cut: with probability `share`, a client starts a transaction writing private data. */
  afterCut(): void {
    if (this.#stopped || !this.#defined) return;
    if (!(this.#rng.float() < this.#o.share)) return;
    void this.#endorse().catch((err: unknown) => {
      this.#host.checker.note(this.#host.now(), "sim", `private data endorsement failed unexpectedly: ${String(err)}`);
    });
  }

  async #endorse(): Promise<void> {
    const host = this.#host;
    const ch = this.#channel.name;
    const collection = this.#rng.float() < 0.5 ? SIM_COLL_ORG1 : SIM_COLL_SHARED;
    const members = this.#members.get(collection)!;
    const i = this.#n++;
    const key = `k${i}`;
    const nonce = this.#nonce();
    const timestamp = new Date(host.clock.now());
    const tried = new Set<string>();
    for (let attempt = 1; attempt <= this.#o.endorsementAttempts; attempt++) {
      if (this.#stopped) return;
      const candidates = host.peers.filter((p) => p.running && members.has(p.spec.mspId) && !tried.has(p.name) && p.service?.channels().includes(ch) === true);
      if (candidates.length === 0) break;
      const endorser = candidates[this.#rng.int(candidates.length)]!;
      tried.add(endorser.name);
      const svc = endorser.service!;
      const height = svc.ledgerHeight(ch);
      // The same proposal (nonce, so the same transaction ID) whichever endorser answers it.
      const tx = buildEndorserTransaction({
        channelId: ch,
        chaincode: SIM_PVT_CHAINCODE,
        args: [utf8("putPrivate"), utf8(collection), utf8(key)],
        transient: { value: utf8(`secret-${i}`) },
        namespaces: [{ namespace: SIM_PVT_CHAINCODE, writes: [{ key, value: this.#value }], collections: [{ name: collection, writes: [{ key, value: utf8(`secret-${i}`) }] }] }],
        collectionConfigs: { [SIM_PVT_CHAINCODE]: this.#attached },
        endorsedAt: height,
        creator: this.#client(endorser.spec.mspId),
        endorsers: [this.#msp.peerSigner(endorser.name)],
        nonce,
        timestamp,
      });
      let error: string | undefined;
      try {
        await svc.distributePrivateData(ch, tx.txId, tx.pvtWithConfig!, height);
      } catch (err) {
        error = err instanceof GossipError ? err.code : "ERROR";
      }
      if (this.#stopped) return;
      const ok = error === undefined;
      host.trace.event(host.now(), `pvt endorsed ${tx.txId.slice(0, 16)} ${endorser.name} ${attempt} ${error ?? "ok"}`);
      host.checker.note(host.now(), endorser.name, `distributed ${tx.txId.slice(0, 12)} (${collection}, attempt ${attempt}): ${error ?? "ok"}`);
      host.emit({ kind: "pvt-endorsed", atMs: host.now(), peer: endorser.name, channel: ch, txId: tx.txId, collection, attempt, ok, ...(error !== undefined ? { error } : {}) });
      if (ok) {
        this.#ready.push({ tx, collection });
        return;
      }
      this.#distributionFailed++;
    }
    this.#abandoned++;
  }

  #leak(peer: SimPeer, txId: string, collection: string, where: string): void {
    const members = this.#members.get(collection);
    const ok = members?.has(peer.spec.mspId) === true;
    if (!ok) this.#leaks.add(`${peer.name}/${txId}/${collection}`);
    this.#host.checker.check(
      "pvt-leak",
      ok,
      () => `${peer.name} of ${peer.spec.mspId} holds transaction ${txId}'s write set of ${collection} in its ${where}; the collection admits ${[...(members ?? [])].join(", ") || "nobody known"}`,
      this.#host.now(),
      peer.name,
    );
  }

  /** What `peer` holds of block `seq` (committed) and in its transient store: none of it of a collection outside its org. */
  async checkHoldings(peer: SimPeer, seq: number | undefined): Promise<void> {
    const svc = peer.service;
    if (svc === undefined || !svc.channels().includes(this.#channel.name)) return;
    const h = svc.privateData(this.#channel.name);
    try {
      if (seq !== undefined) {
        const txIds = this.#txIdsOf(seq);
        const data = await h.pvtStore.getPvtDataByBlockNum(BigInt(seq));
        for (const tx of data) {
          for (const ns of tx.writeSet.nsPvtRwset) for (const c of ns.collectionPvtRwset) this.#leak(peer, txIds.get(tx.seqInBlock) ?? `#${seq}/${tx.seqInBlock}`, c.collectionName, "private data store");
        }
        for (const t of this.truth) {
          const key = `${peer.name}/${t.txId}/${t.collection}`;
          if (t.seq !== seq || !t.members.has(peer.spec.mspId) || this.heldAtCommit.has(key)) continue;
          this.heldAtCommit.set(key, holds(data, t.txIndex, t.collection));
        }
      }
      for (const txId of h.transientStore.txIds()) {
        for (const e of await h.transientStore.getTxPvtRWSetByTxid(txId)) {
          for (const ns of e.pvtSimulationResultsWithConfig.pvtRwset?.nsPvtRwset ?? []) for (const c of ns.collectionPvtRwset) this.#leak(peer, txId, c.collectionName, "transient store");
        }
      }
    } catch (err) {
      // The peer crashed under the check (its stores closed): nothing of it to judge.
      if (peer.running) throw err;
    }
  }

  #txIdsOf(seq: number): Map<number, string> {
    const m = new Map<number, string>();
    for (const t of this.truth) if (t.seq === seq) m.set(t.txIndex, t.txId);
    return m;
  }

  /**
   * The end of the run: every running peer's holdings are checked for leaks (all blocks, transient
   * store), and each eligible running peer must hold each unexpired write set of the blocks it
   * committed, or have it recorded missing; nothing expired may still be held. Returns the figures.
   */
  async finish(): Promise<PrivateDataFigures> {
    const host = this.#host;
    const ch = this.#channel.name;
    let committed = 0;
    let missing = 0;
    let purged = 0;
    const margin = this.#o.pvtData.btlPullMargin ?? Number(DEFAULT_BTL_PULL_MARGIN);
    for (const peer of host.peers) {
      const svc = peer.service;
      if (svc === undefined || !svc.channels().includes(ch)) continue;
      const h = svc.privateData(ch);
      // Blocks fully committed (private data first, then the block).
      const last = Number(svc.ledgerHeight(ch)) - 1;
      const byBlock = new Map<number, TxPvtData[]>();
      const held = async (seq: number, txIndex: number, collection: string): Promise<boolean> => {
        let data = byBlock.get(seq);
        if (data === undefined) {
          data = await h.pvtStore.getPvtDataByBlockNum(BigInt(seq));
          byBlock.set(seq, data);
        }
        return holds(data, txIndex, collection);
      };
      let missingKeys: Map<string, boolean> | undefined;
      const seqs = new Set(this.truth.filter((t) => t.seq <= last).map((t) => t.seq));
      for (const seq of seqs) await this.checkHoldings(peer, seq);
      await this.checkHoldings(peer, undefined);
      const now = host.now();
      for (const t of this.truth) {
        if (t.seq > last) continue;
        const outcome = (status: PvtOutcomeStatus): void => {
          this.outcomes.push({ peer: peer.name, txId: t.txId, collection: t.collection, seq: t.seq, status });
        };
        if (!t.members.has(peer.spec.mspId)) {
          outcome("ineligible");
          continue;
        }
        const has = await held(t.seq, t.txIndex, t.collection);
        const expired = t.btl > 0 && t.seq + t.btl + 1 <= last;
        if (has) {
          host.checker.check("pvt-purge", !expired, () => `${peer.name} still holds ${t.txId}'s write set of ${t.collection} (block ${t.seq}, blockToLive ${t.btl}) at height ${last + 1}`, now, peer.name);
          committed++;
          outcome("held");
        } else if (expired) {
          purged++;
          outcome("purged");
        } else if (t.btl > 0 && last + margin >= t.seq + t.btl) {
          // Fabric's purge rule of the pull (btlPullMargin): a peer this close to the expiry is presumed to have
          // purged the data, so nobody is asked and nothing is recorded missing.
          purged++;
          outcome("presumed-purged");
        } else {
          missingKeys ??= eligibleMissing(h.pvtStore, seqs);
          const recorded = missingKeys.has(`${t.seq}/${t.txIndex}/${t.collection}`);
          host.checker.check(
            "pvt-completeness",
            recorded,
            () => `${peer.name} of ${peer.spec.mspId} neither holds nor records missing ${t.txId}'s write set of ${t.collection} (block ${t.seq}), which it is eligible for`,
            now,
            peer.name,
          );
          missing++;
          this.outcomes.push({ peer: peer.name, txId: t.txId, collection: t.collection, seq: t.seq, status: "missing", deprioritized: missingKeys.get(`${t.seq}/${t.txIndex}/${t.collection}`) === true });
        }
      }
    }
    return {
      written: this.truth.length,
      committed,
      missing,
      leaked: this.#leaks.size,
      purged,
      distributionFailed: this.#distributionFailed,
      abandoned: this.#abandoned,
    };
  }
}

/** Whether a block's private data holds transaction `txIndex`'s write set of `pvtcc`'s `collection`. */
function holds(data: readonly TxPvtData[], txIndex: number, collection: string): boolean {
  return data.some(
    (t) => t.seqInBlock === txIndex && t.writeSet.nsPvtRwset.some((ns) => ns.namespace === SIM_PVT_CHAINCODE && ns.collectionPvtRwset.some((c) => c.collectionName === collection)),
  );
}

/** Eligible missing markers of `pvtcc` in a store (both lists, read without moving any schedule): "block/tx/collection" to whether deprioritized. */
function eligibleMissing(store: Pick<PvtDataStore, "blockRecord">, seqs: Iterable<number>): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const seq of seqs) {
    for (const m of store.blockRecord(BigInt(seq)).missing) if (m.isEligible && m.namespace === SIM_PVT_CHAINCODE) out.set(`${seq}/${m.seqInBlock}/${m.collection}`, m.deprioritized);
  }
  return out;
}
