import { type ChannelBundle, createSignaturePolicy, parseChannelConfig, type SignedData } from "../channelconfig/index.js";
import { computeTxId } from "../deliver/index.js";
import { type Block, BlockMetadataIndex, ChannelHeader, Envelope, HeaderType, Payload, SignatureHeader } from "../protos/gen/common/common.pb.js";
import { ConfigEnvelope } from "../protos/gen/common/configtx.pb.js";
import { SignaturePolicyEnvelope } from "../protos/gen/common/policies.pb.js";
import { ChaincodeEvent } from "../protos/gen/peer/chaincode_event.pb.js";
import { ApplicationPolicy } from "../protos/gen/peer/policy.pb.js";
import { ChaincodeHeaderExtension } from "../protos/gen/peer/proposal.pb.js";
import { ProposalResponsePayload } from "../protos/gen/peer/proposal_response.pb.js";
import { ChaincodeActionPayload, Transaction, TxValidationCode } from "../protos/gen/peer/transaction.pb.js";
import { bytesEqual, errorMessage } from "../util/index.js";
import type { ChaincodeDefinitionRecord, CollectionStore } from "./collection-store.js";
import { implicitCollectionMspId, LIFECYCLE_NAMESPACE } from "./collections.js";
import { PrivdataError, TxError } from "./errors.js";
import { sha256 } from "./hashes.js";
import { signedByMspMember } from "./policy-dsl.js";
import { type EndorserAction, readTransaction } from "./transactions.js";

/** The policy a `_lifecycle` transaction's endorsements must satisfy (Fabric's lifecycle `LifecycleEndorsement`). */
export const LIFECYCLE_ENDORSEMENT_POLICY = "/Channel/Application/LifecycleEndorsement";

/** What validating one block needs: the configuration in force and what earlier blocks committed. */
export interface BlockValidationContext {
  /** The channel configuration in force for the block (the last config block's before it). */
  readonly bundle: ChannelBundle;
  /**
   * The chaincode definitions committed by earlier blocks (a collection store that has learned every block
   * before this one, and nothing of this one). Learn this block from it afterwards, with the flags returned.
   */
  readonly definitions: Pick<CollectionStore, "definition">;
  /** Whether a transaction ID is in an earlier committed block (valid or not, as Fabric's `TxIDExists`). */
  readonly hasTxId?: (txId: string) => boolean;
  /**
   * A namespace written (or invoked) with no definition on the chain is INVALID_CHAINCODE, as on a Fabric peer.
   * False accepts it without an endorsement policy check (a chaincode known only from a collections file).
   * Default true.
   */
  readonly requireDefinitions?: boolean;
}

/** The verdict on one transaction. */
export interface TxValidationResult {
  readonly txIndex: number;
  /** "" when the channel header could not be read. */
  readonly txId: string;
  readonly code: TxValidationCode;
  /** Why it is not VALID (for logs and events; empty when valid). */
  readonly reason: string;
}

/** The verdicts on a block's transactions, and the TRANSACTIONS_FILTER bytes they make. */
export interface BlockValidationResult {
  readonly blockNumber: bigint;
  /** One TxValidationCode per transaction, in block order: what metadata index 2 holds. */
  readonly flags: Uint8Array;
  readonly txs: readonly TxValidationResult[];
}

class Invalid extends Error {
  readonly code: TxValidationCode;
  constructor(code: TxValidationCode, message: string) {
    super(message);
    this.code = code;
  }
}

function fail(code: TxValidationCode, message: string): never {
  throw new Invalid(code, message);
}

function decode<T>(codec: { decode(b: Uint8Array): T }, bytes: Uint8Array, code: TxValidationCode, what: string): T {
  try {
    return codec.decode(bytes);
  } catch (err) {
    return fail(code, `${what} does not decode: ${errorMessage(err)}`);
  }
}

/** Fabric's `txWritesToNamespace`: public writes or metadata writes, or collection hashed writes. */
function writesTo(ns: EndorserAction["namespaces"][number]): boolean {
  return ns.kvRwSet.writes.length > 0 || ns.kvRwSet.metadataWrites.length > 0 || ns.collections.some((c) => c.hasWrites);
}

/**
 * Fabric's `validation.ValidateTransaction` (core/common/validation/msgvalidation.go): envelope, payload and
 * common header; the creator's identity valid under the channel's MSPs and its signature over the payload; for
 * an endorser transaction the tx ID = hex SHA-256(nonce || creator) and one action whose proposal hash
 * matches; for a config transaction a ConfigEnvelope whose configuration parses with the next sequence.
 */
function validateEnvelope(
  envBytes: Uint8Array,
  bundle: ChannelBundle,
  trusted: boolean,
): { chdr: ChannelHeader; creator: Uint8Array; payload: Payload } {
  if (envBytes.length === 0) fail(TxValidationCode.NIL_ENVELOPE, "the envelope is empty");
  // Fabric: an envelope that does not unmarshal is INVALID_OTHER_REASON (GetEnvelopeFromBlock fails).
  const env = decode(Envelope, envBytes, TxValidationCode.INVALID_OTHER_REASON, "the Envelope");
  const payload = decode(Payload, env.payload, TxValidationCode.BAD_PAYLOAD, "the Payload");
  const header = payload.header ?? fail(TxValidationCode.BAD_COMMON_HEADER, "the payload has no header");
  const chdr = decode(ChannelHeader, header.channelHeader, TxValidationCode.BAD_COMMON_HEADER, "the ChannelHeader");
  const shdr = decode(SignatureHeader, header.signatureHeader, TxValidationCode.BAD_COMMON_HEADER, "the SignatureHeader");
  const type = chdr.type;
  if (type !== HeaderType.ENDORSER_TRANSACTION && type !== HeaderType.CONFIG && type !== HeaderType.CONFIG_UPDATE) {
    fail(TxValidationCode.BAD_COMMON_HEADER, `header type ${HeaderType[type] ?? type} is not a transaction type`);
  }
  if (chdr.epoch !== 0n) fail(TxValidationCode.BAD_COMMON_HEADER, `epoch ${chdr.epoch} in the channel header, expected 0`);
  // The join block (a configtxgen genesis block) has neither creator nor signature: a peer trusts it as is.
  if (trusted && type === HeaderType.CONFIG) return { chdr, creator: shdr.creator, payload };
  if (shdr.nonce.length === 0) fail(TxValidationCode.BAD_COMMON_HEADER, "the signature header has no nonce");
  if (shdr.creator.length === 0) fail(TxValidationCode.BAD_COMMON_HEADER, "the signature header has no creator");

  try {
    const creator = bundle.msps.deserializeIdentity(shdr.creator);
    creator.validate();
    creator.verify(env.payload, env.signature);
  } catch (err) {
    fail(TxValidationCode.BAD_CREATOR_SIGNATURE, `the creator: ${errorMessage(err)}`);
  }

  if (type === HeaderType.ENDORSER_TRANSACTION) {
    const expected = computeTxId(shdr.nonce, shdr.creator);
    if (chdr.txId !== expected) fail(TxValidationCode.BAD_PROPOSAL_TXID, `tx id ${JSON.stringify(chdr.txId)} is not SHA-256(nonce || creator) = ${expected}`);
    const code = TxValidationCode.INVALID_ENDORSER_TRANSACTION;
    const tx = decode(Transaction, payload.data, code, "the Transaction");
    if (tx.actions.length !== 1) fail(code, `the transaction has ${tx.actions.length} actions; only one is supported`);
    const action = tx.actions[0]!;
    const ash = decode(SignatureHeader, action.header, code, "the action's SignatureHeader");
    if (ash.nonce.length === 0 || ash.creator.length === 0) fail(code, "the action's signature header lacks its nonce or creator");
    const cap = decode(ChaincodeActionPayload, action.payload, code, "the ChaincodeActionPayload");
    const endorsed = cap.action ?? fail(code, "the action has no ChaincodeEndorsedAction");
    const prp = decode(ProposalResponsePayload, endorsed.proposalResponsePayload, code, "the ProposalResponsePayload");
    // Fabric's GetProposalHash2: the channel header, the action's signature header, the proposal payload.
    if (!bytesEqual(sha256(header.channelHeader, action.header, cap.chaincodeProposalPayload), prp.proposalHash)) {
      fail(code, "the proposal hash does not match the transaction's proposal");
    }
  } else if (type === HeaderType.CONFIG) {
    const code = TxValidationCode.INVALID_CONFIG_TRANSACTION;
    const ce = decode(ConfigEnvelope, payload.data, code, "the ConfigEnvelope");
    const config = ce.config ?? fail(code, "the ConfigEnvelope has no config");
    try {
      parseChannelConfig(chdr.channelId, config);
    } catch (err) {
      fail(code, `the configuration does not parse: ${errorMessage(err)}`);
    }
    const next = bundle.config.sequence + 1n;
    if (config.sequence !== next) fail(code, `the configuration has sequence ${config.sequence}, the next is ${next}`);
  } else {
    fail(TxValidationCode.UNSUPPORTED_TX_PAYLOAD, `a ${HeaderType[type]} envelope is not a transaction a block may hold`);
  }
  return { chdr, creator: shdr.creator, payload };
}

/** An ApplicationPolicy's reference resolved to a policy path of the channel ("Application/X" is below /Channel). */
function referencePath(ref: string): string {
  return ref.startsWith("/") ? ref : `/Channel/${ref}`;
}

/**
 * The endorsement policy of an org's implicit collection (Fabric's `ImplicitCollectionEndorsementPolicyAsBytes`):
 * the org's /Channel/Application/<org>/Endorsement when the configuration has it, else any member of the org.
 */
function implicitCollectionPolicy(bundle: ChannelBundle, mspId: string): ApplicationPolicy {
  const org = bundle.config.applicationOrgs.find((o) => o.mspId === mspId);
  if (org === undefined) fail(TxValidationCode.ENDORSEMENT_POLICY_FAILURE, `no org of the channel has MSP ID ${mspId} (implicit collection)`);
  const path = `/Channel/Application/${org?.name ?? mspId}/Endorsement`;
  if (bundle.policies.get(path) !== undefined) return { Type: { $case: "channelConfigPolicyReference", value: path } };
  return { Type: { $case: "signaturePolicy", value: signedByMspMember(mspId) } };
}

/**
 * Evaluates what a namespace's writes must satisfy (Fabric's v20 builtin validator without key-level
 * policies): each collection written, its collection-level policy (an implicit collection's org Endorsement
 * policy; an explicit one's own policy, else the chaincode's); public writes, or no write at all, the
 * chaincode's policy (`_lifecycle`'s is /Channel/Application/LifecycleEndorsement). Throws Invalid.
 */
function checkPolicy(
  ns: string,
  ctx: BlockValidationContext,
  signedData: readonly SignedData[],
  collections: readonly { name: string; hasWrites: boolean }[],
  publicWrites: boolean,
): void {
  const bundle = ctx.bundle;
  const evaluate = (what: string, policy: ApplicationPolicy): void => {
    const t = policy.Type;
    if (t === undefined) fail(TxValidationCode.ENDORSEMENT_POLICY_FAILURE, `${what} is empty`);
    try {
      if (t?.$case === "signaturePolicy") {
        createSignaturePolicy(what, SignaturePolicyEnvelope.encode(t.value).finish(), bundle.msps).evaluate(signedData);
      } else if (t?.$case === "channelConfigPolicyReference") {
        bundle.evaluatePolicy(referencePath(t.value), signedData);
      }
    } catch (err) {
      const ref = t?.$case === "channelConfigPolicyReference" ? ` (${t.value})` : "";
      fail(TxValidationCode.ENDORSEMENT_POLICY_FAILURE, `${what}${ref} is not satisfied: ${errorMessage(err)}`);
    }
  };

  let ccPolicy: ApplicationPolicy | undefined;
  let definition: ChaincodeDefinitionRecord | undefined;
  if (ns === LIFECYCLE_NAMESPACE) {
    ccPolicy = { Type: { $case: "channelConfigPolicyReference", value: LIFECYCLE_ENDORSEMENT_POLICY } };
  } else {
    definition = ctx.definitions.definition(ns);
    if (definition === undefined) {
      if (ctx.requireDefinitions ?? true) fail(TxValidationCode.INVALID_CHAINCODE, `chaincode ${ns} is not defined on the channel`);
      return;
    }
    const vi = definition.validationInfo;
    if (vi === undefined) return; // collections from a file: no endorsement policy known
    if (vi.validationPlugin !== "vscc") {
      fail(TxValidationCode.INVALID_OTHER_REASON, `chaincode ${ns} names validation plugin ${JSON.stringify(vi.validationPlugin)}; only vscc is known`);
    }
    ccPolicy = decode(ApplicationPolicy, vi.validationParameter, TxValidationCode.INVALID_OTHER_REASON, `chaincode ${ns}'s endorsement policy`);
  }

  let chaincodePolicyNeeded = publicWrites || !collections.some((c) => c.hasWrites);
  for (const c of collections) {
    if (!c.hasWrites) continue;
    const implicitMsp = implicitCollectionMspId(c.name);
    if (implicitMsp !== undefined) {
      evaluate(`the endorsement policy of implicit collection ${ns}/${c.name}`, implicitCollectionPolicy(bundle, implicitMsp));
      continue;
    }
    const coll = definition?.collections.find((d) => d.name === c.name);
    if (coll === undefined) fail(TxValidationCode.ENDORSEMENT_POLICY_FAILURE, `chaincode ${ns} has no collection ${c.name}`);
    const own = coll?.endorsementPolicy;
    if (own === undefined || own.Type === undefined) chaincodePolicyNeeded = true;
    else evaluate(`the endorsement policy of collection ${ns}/${c.name}`, own);
  }
  if (chaincodePolicyNeeded) evaluate(`the endorsement policy of chaincode ${ns}`, ccPolicy);
}

/**
 * Fabric's plugin dispatcher and default validation plugin (v20 builtin) for an endorser transaction, less
 * what needs world state: the header extension names the invoked chaincode, the ChaincodeAction agrees with it
 * and has a version, its events belong to it, no namespace repeats, and every namespace written (and the
 * invoked one) is endorsed per its policy: `_lifecycle`'s LifecycleEndorsement, a defined chaincode's
 * (collection-level policies for their collections' writes). Endorsement i signs ProposalResponsePayload ||
 * endorser.
 */
function dispatch(envBytes: Uint8Array, txIndex: number, chdr: ChannelHeader, ctx: BlockValidationContext): void {
  const ext = decode(ChaincodeHeaderExtension, chdr.extension, TxValidationCode.BAD_HEADER_EXTENSION, "the ChaincodeHeaderExtension");
  let action: EndorserAction;
  try {
    const tx = readTransaction(envBytes, txIndex);
    action = tx.actions[0] ?? fail(TxValidationCode.BAD_RESPONSE_PAYLOAD, "no action");
  } catch (err) {
    if (err instanceof Invalid) throw err;
    // The layers above the ChaincodeAction passed validateEnvelope; Fabric's GetActionFromEnvelope failing
    // is BAD_RESPONSE_PAYLOAD, a read-write set that does not decode BAD_RWSET.
    const code = err instanceof TxError && err.code === "BAD_RWSET" ? TxValidationCode.BAD_RWSET : TxValidationCode.BAD_RESPONSE_PAYLOAD;
    fail(code, errorMessage(err));
  }
  const ccId = ext.chaincodeId ?? fail(TxValidationCode.INVALID_OTHER_REASON, "no chaincode ID in the header extension");
  const actionCc = action.chaincodeId ?? fail(TxValidationCode.INVALID_OTHER_REASON, "no chaincode ID in the ChaincodeAction");
  if (ccId.name === "") fail(TxValidationCode.INVALID_CHAINCODE, "the invoked chaincode has no name");
  if (ccId.name !== actionCc.name) fail(TxValidationCode.INVALID_CHAINCODE, `inconsistent chaincode names: ${ccId.name} invoked, ${actionCc.name} in the action`);
  if (actionCc.version === "") fail(TxValidationCode.INVALID_CHAINCODE, "the ChaincodeAction has no chaincode version");
  if (action.events.length > 0) {
    const event = decode(ChaincodeEvent, action.events, TxValidationCode.INVALID_OTHER_REASON, "the chaincode event");
    if (event.chaincodeId !== ccId.name) fail(TxValidationCode.INVALID_OTHER_REASON, `the chaincode event is of ${event.chaincodeId}, not ${ccId.name}`);
  }
  const written = new Map<string, { collections: { name: string; hasWrites: boolean }[]; publicWrites: boolean }>();
  written.set(ccId.name, { collections: [], publicWrites: false });
  const seen = new Set<string>();
  for (const ns of action.namespaces) {
    if (seen.has(ns.namespace)) fail(TxValidationCode.ILLEGAL_WRITESET, `namespace ${ns.namespace} appears twice in the read-write set`);
    seen.add(ns.namespace);
    if (ns.namespace === ccId.name || writesTo(ns)) {
      written.set(ns.namespace, {
        collections: ns.collections.map((c) => ({ name: c.collectionName, hasWrites: c.hasWrites })),
        publicWrites: ns.kvRwSet.writes.length > 0 || ns.kvRwSet.metadataWrites.length > 0,
      });
    }
  }
  const signedData: SignedData[] = action.endorsements.map((e) => ({
    data: concat(action.proposalResponsePayload, e.endorser),
    identity: e.endorser,
    signature: e.signature,
  }));
  for (const [ns, w] of [...written].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) checkPolicy(ns, ctx, signedData, w.collections, w.publicWrites);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Validates a block's transactions as a Fabric v2.5 committing peer does, without world state (Fabric's
 * `TxValidator.Validate`): per transaction `ValidateTransaction` (structure, creator identity, expiry and
 * revocation under the channel's MSPs, creator signature, tx ID, proposal hash; config transactions parse
 * with the next sequence), the channel ID, duplicates of earlier blocks (`hasTxId`), and the endorsement
 * policies of the namespaces it writes; then a tx ID repeated by a later valid transaction of the same block
 * makes that one DUPLICATE_TXID. Block 0 is the channel's genesis block: its config transaction is trusted
 * unsigned, as a peer trusts its join block. Never throws for the block's content; a block without header
 * or data throws PrivdataError BAD_BLOCK.
 * Not checked (no state database): MVCC_READ_CONFLICT, PHANTOM_READ_CONFLICT, key-level (state-based)
 * endorsement policies; see docs/PRIVDATA-TRANSACTIONS.md.
 */
export function validateBlockTransactions(block: Block, ctx: BlockValidationContext): BlockValidationResult {
  const header = block.header;
  if (header === undefined || block.data === undefined) throw new PrivdataError("BAD_BLOCK", "a block without header or data cannot be validated");
  const n = header.number;
  const channelId = ctx.bundle.channelId;
  const txs: TxValidationResult[] = block.data.data.map((envBytes, txIndex): TxValidationResult => {
    let txId = "";
    try {
      const { chdr } = validateEnvelope(envBytes, ctx.bundle, n === 0n);
      txId = chdr.txId;
      if (chdr.channelId !== channelId) fail(TxValidationCode.TARGET_CHAIN_NOT_FOUND, `the transaction is for channel ${JSON.stringify(chdr.channelId)}, not ${channelId}`);
      if (chdr.type === HeaderType.ENDORSER_TRANSACTION) {
        if (ctx.hasTxId?.(chdr.txId) === true) fail(TxValidationCode.DUPLICATE_TXID, `tx id ${chdr.txId} is already in an earlier block`);
        dispatch(envBytes, txIndex, chdr, ctx);
      }
      return { txIndex, txId, code: TxValidationCode.VALID, reason: "" };
    } catch (err) {
      if (err instanceof Invalid) return { txIndex, txId, code: err.code, reason: err.message };
      return { txIndex, txId, code: TxValidationCode.INVALID_OTHER_REASON, reason: errorMessage(err) };
    }
  });
  // Fabric's markTXIdDuplicates: among the valid transactions, the second of a tx ID onwards.
  const seen = new Set<string>();
  for (let i = 0; i < txs.length; i++) {
    const t = txs[i]!;
    if (t.code !== TxValidationCode.VALID || t.txId === "") continue;
    if (seen.has(t.txId)) txs[i] = { ...t, code: TxValidationCode.DUPLICATE_TXID, reason: `tx id ${t.txId} repeats an earlier transaction of the block` };
    else seen.add(t.txId);
  }
  return { blockNumber: n, flags: Uint8Array.from(txs.map((t) => t.code)), txs };
}

/**
 * The block with `flags` as its TRANSACTIONS_FILTER (metadata index 2), the other metadata kept; a copy, the
 * block given is not changed. Throws PrivdataError BAD_BLOCK when the flags do not count the block's
 * transactions.
 */
export function withTransactionsFilter(block: Block, flags: Uint8Array): Block {
  const n = block.data?.data.length ?? 0;
  if (flags.length !== n) throw new PrivdataError("BAD_BLOCK", `${flags.length} validation flags for a block of ${n} transactions`);
  const metadata = [...(block.metadata?.metadata ?? [])];
  while (metadata.length <= BlockMetadataIndex.TRANSACTIONS_FILTER) metadata.push(new Uint8Array(0));
  metadata[BlockMetadataIndex.TRANSACTIONS_FILTER] = Uint8Array.from(flags);
  return { ...block, metadata: { metadata } };
}
