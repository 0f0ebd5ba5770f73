import { computeTxId, randomNonce } from "../deliver/index.js";
import { ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader } from "../protos/gen/common/common.pb.js";
import { HashedRWSet, type KVRead, KVRWSet, type KVWrite } from "../protos/gen/ledger/rwset/kvrwset/kv_rwset.pb.js";
import {
  type NsPvtReadWriteSet,
  type NsReadWriteSet,
  type TxPvtReadWriteSet,
  TxReadWriteSet,
  TxReadWriteSet_DataModel,
} from "../protos/gen/ledger/rwset/rwset.pb.js";
import { ChaincodeInvocationSpec, ChaincodeSpec_Type } from "../protos/gen/peer/chaincode.pb.js";
import { CollectionConfigPackage } from "../protos/gen/peer/collection.pb.js";
import { ChaincodeEndorsementInfo, ChaincodeValidationInfo } from "../protos/gen/peer/lifecycle/chaincode_definition.pb.js";
import { StateData, StateMetadata } from "../protos/gen/peer/lifecycle/db.pb.js";
import { CommitChaincodeDefinitionArgs } from "../protos/gen/peer/lifecycle/lifecycle.pb.js";
import { ApplicationPolicy } from "../protos/gen/peer/policy.pb.js";
import { ChaincodeAction, ChaincodeHeaderExtension, ChaincodeProposalPayload, Proposal, type SignedProposal } from "../protos/gen/peer/proposal.pb.js";
import { type Endorsement, ProposalResponsePayload } from "../protos/gen/peer/proposal_response.pb.js";
import { ChaincodeActionPayload, Transaction } from "../protos/gen/peer/transaction.pb.js";
import type { TxPvtReadWriteSetWithConfigInfo } from "../protos/gen/transientstore/transientstore.pb.js";
import { type Clock, type Random, SystemClock, SystemRandom, utf8 } from "../util/index.js";
import { LIFECYCLE_NAMESPACE } from "./collections.js";
import { PrivdataError } from "./errors.js";
import { sha256 } from "./hashes.js";

/** Who signs: a serialized `msp.SerializedIdentity` and its signing function (crypto's SigningIdentity is one). */
export interface TxSigner {
  readonly serialized: Uint8Array;
  sign(msg: Uint8Array): Uint8Array;
}

/** A key written: a value, or a delete. */
export interface KvWriteSpec {
  readonly key: string;
  readonly value?: Uint8Array;
  readonly isDelete?: boolean;
}

/** A key read, at a committed version (absent: the key did not exist). */
export interface KvReadSpec {
  readonly key: string;
  readonly version?: { readonly blockNum: bigint; readonly txNum: bigint };
}

/** What the chaincode did in one collection: private writes (and hashed reads of keys it read). */
export interface CollectionRwSpec {
  readonly name: string;
  readonly writes?: readonly KvWriteSpec[];
  readonly reads?: readonly KvReadSpec[];
}

/** What the chaincode did in one namespace: public reads and writes, and its collections. */
export interface NamespaceRwSpec {
  readonly namespace: string;
  readonly reads?: readonly KvReadSpec[];
  readonly writes?: readonly KvWriteSpec[];
  readonly collections?: readonly CollectionRwSpec[];
}

/** An endorser transaction to build: the invocation, its simulation results, and who signs. */
export interface EndorserTxSpec {
  readonly channelId: string;
  /** The chaincode invoked (the proposal's ChaincodeHeaderExtension and ChaincodeSpec). */
  readonly chaincode: string;
  /**
   * `ChaincodeAction.chaincode_id.version`: Fabric's endorser puts the definition's version there ("syscc" for
   * a system chaincode such as `_lifecycle`). Default "1.0".
   */
  readonly chaincodeVersion?: string;
  /** The invocation's arguments (function name first). */
  readonly args?: readonly Uint8Array[];
  /** The proposal's transient map: signed by the client, never part of the transaction. */
  readonly transient?: Readonly<Record<string, Uint8Array>>;
  /** The simulation results, per namespace. */
  readonly namespaces: readonly NamespaceRwSpec[];
  /** The client: signs the proposal and the transaction envelope. */
  readonly creator: TxSigner;
  /** The endorsing peers (at least one): each signs the ProposalResponsePayload. */
  readonly endorsers: readonly TxSigner[];
  /**
   * The collection configs an endorser attaches to the private write set (Fabric's `AssemblePvtRWSet`: every
   * collection of the namespace, implicit ones included), per namespace. Required for every namespace with
   * private writes.
   */
  readonly collectionConfigs?: Readonly<Record<string, CollectionConfigPackage>>;
  /** The ledger height at simulation (`TxPvtReadWriteSetWithConfigInfo.endorsed_at`). Default 0. */
  readonly endorsedAt?: bigint;
  /** The chaincode's response. Default status 200, no message or payload. */
  readonly response?: { readonly status?: number; readonly message?: string; readonly payload?: Uint8Array };
  /** `ChaincodeAction.events` (a marshaled ChaincodeEvent). Default none. */
  readonly events?: Uint8Array;
  /** Default: `NONCE_SIZE` bytes from `random`, else from the operating system (SystemRandom). */
  readonly nonce?: Uint8Array;
  readonly random?: Random;
  /** The channel header's timestamp. Default: `clock`'s now, else SystemClock's. */
  readonly timestamp?: Date;
  readonly clock?: Clock;
}

/** A built endorser transaction, with what the endorsers would hand to gossip for distribution. */
export interface BuiltEndorserTx {
  /** hex SHA-256(nonce || creator). */
  readonly txId: string;
  /** The transaction envelope, signed by the creator: what the client broadcasts to the orderer. */
  readonly envelope: Envelope;
  readonly envelopeBytes: Uint8Array;
  /** The proposal the client sent to the endorsers (with its transient map) and its signature. */
  readonly signedProposal: SignedProposal;
  /** The bytes every endorser signed (followed by its identity). */
  readonly proposalResponsePayload: Uint8Array;
  readonly endorsements: readonly Endorsement[];
  /** The transaction's public read-write set. */
  readonly rwset: TxReadWriteSet;
  /** The private write sets, undefined when the transaction wrote no private data. */
  readonly pvtRwset: TxPvtReadWriteSet | undefined;
  /** The same with the collection configs and the simulation height: what Fabric's endorser distributes. */
  readonly pvtWithConfig: TxPvtReadWriteSetWithConfigInfo | undefined;
}

const utf8Compare = (a: string, b: string): number => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

/** Fabric's rwset builder sorts keys, collections and namespaces by their bytes. */
function sortedBy<T>(items: readonly T[], key: (t: T) => string, what: string): T[] {
  const out = [...items].sort((a, b) => utf8Compare(key(a), key(b)));
  for (let i = 1; i < out.length; i++) {
    const prev = out[i - 1];
    const cur = out[i];
    if (prev !== undefined && cur !== undefined && key(prev) === key(cur)) {
      throw new PrivdataError("BAD_TX_SPEC", `${what} ${JSON.stringify(key(cur))} appears twice`);
    }
  }
  return out;
}

function kvWrite(w: KvWriteSpec): KVWrite {
  const isDelete = w.isDelete === true;
  return { key: w.key, isDelete, value: isDelete ? new Uint8Array(0) : (w.value ?? new Uint8Array(0)) };
}

function kvRead(r: KvReadSpec): KVRead {
  return { key: r.key, version: r.version === undefined ? undefined : { blockNum: r.version.blockNum, txNum: r.version.txNum } };
}

/** The hash of a string key or a value, as Fabric's `util.ComputeHash`. */

interface BuiltRwSets {
  rwset: TxReadWriteSet;
  pvtRwset: TxPvtReadWriteSet | undefined;
}

/**
 * The simulation results as Fabric's `RWSetBuilder.GetTxSimulationResults` makes them: namespaces,
 * collections and keys sorted; per collection with private writes, the private `KVRWSet{writes}` bytes, and in
 * the public set its `HashedRWSet` (SHA-256 of each key and value, deletes without a value hash) with
 * `pvt_rwset_hash` = SHA-256 of those private bytes. A collection only read has hashed reads and no hash.
 */
function buildRwSets(namespaces: readonly NamespaceRwSpec[]): BuiltRwSets {
  const nsRwset: NsReadWriteSet[] = [];
  const nsPvt: NsPvtReadWriteSet[] = [];
  for (const ns of sortedBy(namespaces, (n) => n.namespace, "namespace")) {
    const where = `namespace ${ns.namespace}:`;
    const kv: KVRWSet = {
      reads: sortedBy(ns.reads ?? [], (r) => r.key, `${where} read key`).map(kvRead),
      rangeQueriesInfo: [],
      writes: sortedBy(ns.writes ?? [], (w) => w.key, `${where} write key`).map(kvWrite),
      metadataWrites: [],
    };
    const hashedColls: NsReadWriteSet["collectionHashedRwset"] = [];
    const pvtColls: NsPvtReadWriteSet["collectionPvtRwset"] = [];
    for (const c of sortedBy(ns.collections ?? [], (c) => c.name, `${where} collection`)) {
      const writes = sortedBy(c.writes ?? [], (w) => w.key, `${where} collection ${c.name} write key`).map(kvWrite);
      const reads = sortedBy(c.reads ?? [], (r) => r.key, `${where} collection ${c.name} read key`);
      const hashed: HashedRWSet = {
        hashedReads: reads.map((r) => ({ keyHash: sha256(utf8(r.key)), version: kvRead(r).version })),
        hashedWrites: writes.map((w) => ({
          keyHash: sha256(utf8(w.key)),
          isDelete: w.isDelete,
          valueHash: w.isDelete ? new Uint8Array(0) : sha256(w.value),
        })),
        metadataWrites: [],
      };
      let pvtRwsetHash: Uint8Array = new Uint8Array(0);
      if (writes.length > 0) {
        const pvtBytes = KVRWSet.encode({ reads: [], rangeQueriesInfo: [], writes, metadataWrites: [] }).finish();
        pvtRwsetHash = sha256(pvtBytes);
        pvtColls.push({ collectionName: c.name, rwset: pvtBytes });
      }
      hashedColls.push({ collectionName: c.name, hashedRwset: HashedRWSet.encode(hashed).finish(), pvtRwsetHash });
    }
    nsRwset.push({ namespace: ns.namespace, rwset: KVRWSet.encode(kv).finish(), collectionHashedRwset: hashedColls });
    if (pvtColls.length > 0) nsPvt.push({ namespace: ns.namespace, collectionPvtRwset: pvtColls });
  }
  return {
    rwset: { dataModel: TxReadWriteSet_DataModel.KV, nsRwset },
    pvtRwset: nsPvt.length > 0 ? { dataModel: TxReadWriteSet_DataModel.KV, nsPvtRwset: nsPvt } : undefined,
  };
}

/** A client tool's defaults when no clock or random is injected (the feeder and `tx submit` run in real time). */
const SYSTEM_CLOCK: Clock = new SystemClock();
const SYSTEM_RANDOM: Random = new SystemRandom();

function nonceOf(spec: EndorserTxSpec): Uint8Array {
  if (spec.nonce !== undefined) return spec.nonce;
  return randomNonce(spec.random ?? SYSTEM_RANDOM);
}

/**
 * Builds an endorser transaction as a Fabric client SDK and its endorsers make it:
 * - the proposal: Header{ChannelHeader{ENDORSER_TRANSACTION, channel, tx id = hex SHA-256(nonce || creator),
 *   timestamp, extension ChaincodeHeaderExtension{chaincode}}, SignatureHeader{creator, nonce}}, payload
 *   ChaincodeProposalPayload{ChaincodeInvocationSpec, transient map}, signed by the creator;
 * - each endorser's response: ProposalResponsePayload{proposal_hash = SHA-256(channel header || signature
 *   header || the proposal payload without its transient map), ChaincodeAction{results = the TxReadWriteSet,
 *   events, response, chaincode_id}}, and an Endorsement{endorser, signature over payload || endorser};
 * - the transaction: Payload{the proposal's header, Transaction{[TransactionAction{signature header,
 *   ChaincodeActionPayload{proposal payload without transient map, ChaincodeEndorsedAction}}]}}, signed by
 *   the creator over the payload bytes.
 * Also returns the private write sets with their collection configs, as an endorser hands them to gossip.
 * Throws PrivdataError BAD_TX_SPEC (no endorser, a repeated key, private writes without collection configs).
 */
export function buildEndorserTransaction(spec: EndorserTxSpec): BuiltEndorserTx {
  if (spec.endorsers.length === 0) throw new PrivdataError("BAD_TX_SPEC", `a transaction of ${spec.chaincode} needs at least one endorser`);
  const { rwset, pvtRwset } = buildRwSets(spec.namespaces);
  let pvtWithConfig: TxPvtReadWriteSetWithConfigInfo | undefined;
  if (pvtRwset !== undefined) {
    const collectionConfigs: Record<string, CollectionConfigPackage> = {};
    for (const ns of pvtRwset.nsPvtRwset) {
      const pkg = spec.collectionConfigs?.[ns.namespace];
      if (pkg === undefined) {
        throw new PrivdataError("BAD_TX_SPEC", `namespace ${ns.namespace} has private writes but no collection configs were given for it`);
      }
      collectionConfigs[ns.namespace] = pkg;
    }
    pvtWithConfig = { endorsedAt: spec.endorsedAt ?? 0n, pvtRwset, collectionConfigs };
  }

  const nonce = nonceOf(spec);
  const creator = spec.creator.serialized;
  const txId = computeTxId(nonce, creator);
  const timestamp = spec.timestamp ?? new Date((spec.clock ?? SYSTEM_CLOCK).now());
  const channelHeader = ChannelHeader.encode({
    type: HeaderType.ENDORSER_TRANSACTION,
    version: 0,
    timestamp,
    channelId: spec.channelId,
    txId,
    epoch: 0n,
    extension: ChaincodeHeaderExtension.encode({ chaincodeId: { path: "", name: spec.chaincode, version: "" } }).finish(),
    tlsCertHash: new Uint8Array(0),
  }).finish();
  const signatureHeader = SignatureHeader.encode({ creator, nonce }).finish();
  const header = { channelHeader, signatureHeader };

  const input = ChaincodeInvocationSpec.encode({
    chaincodeSpec: {
      type: ChaincodeSpec_Type.UNDEFINED,
      chaincodeId: { path: "", name: spec.chaincode, version: "" },
      input: { args: [...(spec.args ?? [])], decorations: {}, isInit: false },
      timeout: 0,
    },
  }).finish();
  const proposalPayload = ChaincodeProposalPayload.encode({ input, TransientMap: { ...(spec.transient ?? {}) } }).finish();
  // What the transaction carries and the proposal hash covers: the payload without its transient map.
  const txProposalPayload = ChaincodeProposalPayload.encode({ input, TransientMap: {} }).finish();
  const proposalBytes = Proposal.encode({
    header: Header.encode(header).finish(),
    payload: proposalPayload,
    extension: new Uint8Array(0),
  }).finish();
  const signedProposal: SignedProposal = { proposalBytes, signature: spec.creator.sign(proposalBytes) };

  const proposalHash = sha256(channelHeader, signatureHeader, txProposalPayload);
  const action = ChaincodeAction.encode({
    results: TxReadWriteSet.encode(rwset).finish(),
    events: spec.events ?? new Uint8Array(0),
    response: { status: spec.response?.status ?? 200, message: spec.response?.message ?? "", payload: spec.response?.payload ?? new Uint8Array(0) },
    chaincodeId: { path: "", name: spec.chaincode, version: spec.chaincodeVersion ?? "1.0" },
  }).finish();
  const prp = ProposalResponsePayload.encode({ proposalHash, extension: action }).finish();
  const endorsements: Endorsement[] = spec.endorsers.map((e) => ({
    endorser: e.serialized,
    signature: e.sign(concat(prp, e.serialized)),
  }));

  const cap = ChaincodeActionPayload.encode({
    chaincodeProposalPayload: txProposalPayload,
    action: { proposalResponsePayload: prp, endorsements },
  }).finish();
  const tx = Transaction.encode({ actions: [{ header: signatureHeader, payload: cap }] }).finish();
  const payload = Payload.encode({ header, data: tx }).finish();
  const envelope: Envelope = { payload, signature: spec.creator.sign(payload) };
  return {
    txId,
    envelope,
    envelopeBytes: Envelope.encode(envelope).finish(),
    signedProposal,
    proposalResponsePayload: prp,
    endorsements,
    rwset,
    pvtRwset,
    pvtWithConfig,
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** A chaincode definition to commit, as `peer lifecycle chaincode commit` gives it. */
export interface ChaincodeDefinitionSpec {
  readonly name: string;
  readonly sequence: bigint;
  /** Default "1.0". */
  readonly version?: string;
  /** Default (also when empty) "escc". */
  readonly endorsementPlugin?: string;
  /** Default (also when empty) "vscc". */
  readonly validationPlugin?: string;
  /** The endorsement policy. Default: the channel's /Channel/Application/Endorsement. */
  readonly endorsementPolicy?: ApplicationPolicy;
  readonly collections?: CollectionConfigPackage;
  readonly initRequired?: boolean;
}

/** The `_lifecycle` field names a committed definition writes, in Fabric's order of its metadata. */
const DEFINITION_FIELDS = ["Sequence", "EndorsementInfo", "ValidationInfo", "Collections"] as const;

/** Fabric's default endorsement policy of a definition without one. */
export const DEFAULT_ENDORSEMENT_POLICY_REFERENCE = "/Channel/Application/Endorsement";

const stateBytes = (value: Uint8Array): Uint8Array => StateData.encode({ Type: { $case: "Bytes", value } }).finish();

/**
 * The `_lifecycle` write set of `CommitChaincodeDefinition` (Fabric's `core/chaincode/lifecycle` serializer):
 * reads of `namespaces/fields/<cc>/Sequence` and `namespaces/metadata/<cc>`; writes of each field as a
 * `lifecycle.StateData` — Sequence (Int64), EndorsementInfo (ChaincodeEndorsementInfo bytes), ValidationInfo
 * (ChaincodeValidationInfo{plugin, ApplicationPolicy bytes}), Collections (the CollectionConfigPackage bytes)
 * — and `namespaces/metadata/<cc>` (StateMetadata{"ChaincodeDefinition", fields}). Fabric also reads the orgs'
 * approvals in their implicit collections (hashed reads) and `lscc`; those reads are left out here.
 */
export function lifecycleCommitNamespace(def: ChaincodeDefinitionSpec): NamespaceRwSpec {
  const field = (f: string): string => `namespaces/fields/${def.name}/${f}`;
  const policy: ApplicationPolicy = def.endorsementPolicy ?? { Type: { $case: "channelConfigPolicyReference", value: DEFAULT_ENDORSEMENT_POLICY_REFERENCE } };
  const endorsementInfo = ChaincodeEndorsementInfo.encode({
    version: def.version ?? "1.0",
    initRequired: def.initRequired ?? false,
    // Fabric's lifecycle fills in the plugins a client left empty.
    endorsementPlugin: def.endorsementPlugin || "escc",
  }).finish();
  const validationInfo = ChaincodeValidationInfo.encode({
    validationPlugin: def.validationPlugin || "vscc",
    validationParameter: ApplicationPolicy.encode(policy).finish(),
  }).finish();
  const collections = CollectionConfigPackage.encode(def.collections ?? { config: [] }).finish();
  return {
    namespace: LIFECYCLE_NAMESPACE,
    reads: [{ key: field("Sequence") }, { key: `namespaces/metadata/${def.name}` }],
    writes: [
      { key: field("Sequence"), value: StateData.encode({ Type: { $case: "Int64", value: def.sequence } }).finish() },
      { key: field("EndorsementInfo"), value: stateBytes(endorsementInfo) },
      { key: field("ValidationInfo"), value: stateBytes(validationInfo) },
      { key: field("Collections"), value: stateBytes(collections) },
      { key: `namespaces/metadata/${def.name}`, value: StateMetadata.encode({ datatype: "ChaincodeDefinition", fields: [...DEFINITION_FIELDS] }).finish() },
    ],
  };
}

/** What `buildLifecycleCommitTransaction` needs besides the definition. */
export interface LifecycleCommitSpec {
  readonly channelId: string;
  readonly definition: ChaincodeDefinitionSpec;
  /** The client (an org admin in Fabric's CLI; any writer the channel admits). */
  readonly creator: TxSigner;
  /** Peers whose signatures satisfy /Channel/Application/LifecycleEndorsement (by default a majority of orgs). */
  readonly endorsers: readonly TxSigner[];
  readonly nonce?: Uint8Array;
  readonly random?: Random;
  readonly timestamp?: Date;
  readonly clock?: Clock;
}

/**
 * The transaction `peer lifecycle chaincode commit` makes: an invocation of `_lifecycle`'s
 * `CommitChaincodeDefinition` with the CommitChaincodeDefinitionArgs, whose read-write set writes the
 * definition (see `lifecycleCommitNamespace`), endorsed as `_lifecycle` ("syscc"). A peer learns the
 * chaincode's collections and endorsement policy from it once it commits valid.
 */
export function buildLifecycleCommitTransaction(spec: LifecycleCommitSpec): BuiltEndorserTx {
  const def = spec.definition;
  // The arguments carry what the client gave (the peer CLI leaves the plugins and a default policy empty).
  const args = CommitChaincodeDefinitionArgs.encode({
    sequence: def.sequence,
    name: def.name,
    version: def.version ?? "1.0",
    endorsementPlugin: def.endorsementPlugin ?? "",
    validationPlugin: def.validationPlugin ?? "",
    validationParameter: def.endorsementPolicy === undefined ? new Uint8Array(0) : ApplicationPolicy.encode(def.endorsementPolicy).finish(),
    collections: def.collections,
    initRequired: def.initRequired ?? false,
  }).finish();
  return buildEndorserTransaction({
    channelId: spec.channelId,
    chaincode: LIFECYCLE_NAMESPACE,
    chaincodeVersion: "syscc",
    args: [utf8("CommitChaincodeDefinition"), args],
    namespaces: [lifecycleCommitNamespace(def)],
    creator: spec.creator,
    endorsers: spec.endorsers,
    ...(spec.nonce === undefined ? {} : { nonce: spec.nonce }),
    ...(spec.random === undefined ? {} : { random: spec.random }),
    ...(spec.timestamp === undefined ? {} : { timestamp: spec.timestamp }),
    ...(spec.clock === undefined ? {} : { clock: spec.clock }),
  });
}
