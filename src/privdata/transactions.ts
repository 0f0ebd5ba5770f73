import type { BinaryReader } from "../protos/wire/index.js";
import {
  type Block,
  BlockMetadataIndex,
  ChannelHeader,
  Envelope,
  HeaderType,
  Payload,
  SignatureHeader,
} from "../protos/gen/common/common.pb.js";
import { HashedRWSet, KVRWSet } from "../protos/gen/ledger/rwset/kvrwset/kv_rwset.pb.js";
import { TxReadWriteSet } from "../protos/gen/ledger/rwset/rwset.pb.js";
import { SerializedIdentity } from "../protos/gen/msp/identities.pb.js";
import type { ChaincodeID } from "../protos/gen/peer/chaincode.pb.js";
import { ChaincodeAction } from "../protos/gen/peer/proposal.pb.js";
import { type Endorsement, ProposalResponsePayload } from "../protos/gen/peer/proposal_response.pb.js";
import { ChaincodeActionPayload, Transaction, TxValidationCode } from "../protos/gen/peer/transaction.pb.js";
import { errorMessage } from "../util/index.js";
import { PrivdataError, TxError, type TxErrorCode } from "./errors.js";

/** One collection's hashed read-write set in a namespace of a transaction (`rwset.CollectionHashedReadWriteSet`). */
export interface CollectionHashedRwSet {
  readonly collectionName: string;
  /** The `kvrwset.HashedRWSet` bytes. */
  readonly hashedRwset: Uint8Array;
  readonly hashed: HashedRWSet;
  /** SHA-256 of the collection's private `KVRWSet` bytes: what the private data must hash to. */
  readonly pvtRwsetHash: Uint8Array;
  /** Hashed writes or metadata writes present (Fabric's `containsWrites`): only then is private data needed. */
  readonly hasWrites: boolean;
}

/** One namespace (chaincode) of a transaction's read-write set (`rwset.NsReadWriteSet`). */
export interface NsRwSet {
  readonly namespace: string;
  /** The public `kvrwset.KVRWSet` bytes. */
  readonly rwset: Uint8Array;
  readonly kvRwSet: KVRWSet;
  readonly collections: readonly CollectionHashedRwSet[];
}

/** One action of an endorser transaction, down to its read-write set. */
export interface EndorserAction {
  /** `ChaincodeAction.chaincode_id`: the chaincode that was invoked. */
  readonly chaincodeId: ChaincodeID | undefined;
  /** The ProposalResponsePayload bytes: what each endorser signed, followed by its identity. */
  readonly proposalResponsePayload: Uint8Array;
  readonly proposalHash: Uint8Array;
  readonly endorsements: readonly Endorsement[];
  readonly responseStatus: number;
  readonly responseMessage: string;
  /** `ChaincodeAction.events` (a marshaled ChaincodeEvent, or empty). */
  readonly events: Uint8Array;
  readonly namespaces: readonly NsRwSet[];
}

/** A transaction of a block, read down to its actions. */
export interface BlockTransaction {
  readonly txIndex: number;
  /** `common.HeaderType` of the channel header. */
  readonly type: HeaderType;
  readonly txId: string;
  readonly channelId: string;
  readonly timestamp: Date | undefined;
  readonly epoch: bigint;
  /** The signature header's creator: a serialized `msp.SerializedIdentity`. */
  readonly creator: Uint8Array;
  /** The creator's MSP ID, or undefined when the creator is not a SerializedIdentity. */
  readonly creatorMspId: string | undefined;
  readonly nonce: Uint8Array;
  /** The envelope's payload bytes: what `signature` signs. */
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  /** The actions of an endorser transaction; empty for every other type. */
  readonly actions: readonly EndorserAction[];
}

/** The outcome of reading one transaction: the transaction, or why it could not be read. */
export type TxRead = { readonly ok: true; readonly tx: BlockTransaction } | { readonly ok: false; readonly error: TxError };

/** Decodes with a generated codec, turning any failure into a TxError (never a raw decode error). */
function decodeAs<T>(
  codec: { decode(input: BinaryReader | Uint8Array): T },
  bytes: Uint8Array,
  code: TxErrorCode,
  txIndex: number,
  txId: string,
  what: string,
): T {
  try {
    return codec.decode(bytes);
  } catch (err) {
    throw new TxError(code, txIndex, txId, `${what} does not decode (${bytes.length} bytes): ${errorMessage(err)}`, { cause: err });
  }
}

function creatorMspIdOf(creator: Uint8Array): string | undefined {
  try {
    const id = SerializedIdentity.decode(creator);
    return id.mspid === "" ? undefined : id.mspid;
  } catch {
    return undefined;
  }
}

/**
 * Reads one endorser transaction action: ChaincodeActionPayload -> ChaincodeEndorsedAction ->
 * ProposalResponsePayload -> ChaincodeAction -> TxReadWriteSet, each namespace's KVRWSet and each
 * collection's HashedRWSet decoded (as Fabric's `rwsetutil.TxRwSet.FromProtoBytes`: one malformed part makes
 * the transaction unreadable). Bytes fields are views into the block's buffer, not copies.
 */
function readAction(actionPayload: Uint8Array, txIndex: number, txId: string, actionIndex: number): EndorserAction {
  const where = `action ${actionIndex}`;
  const cap = decodeAs(ChaincodeActionPayload, actionPayload, "INVALID_ENDORSER_TRANSACTION", txIndex, txId, `${where}'s ChaincodeActionPayload`);
  const endorsed = cap.action;
  if (endorsed === undefined) throw new TxError("NIL_TXACTION", txIndex, txId, `${where} has no ChaincodeEndorsedAction`);
  const prp = decodeAs(ProposalResponsePayload, endorsed.proposalResponsePayload, "BAD_RESPONSE_PAYLOAD", txIndex, txId, `${where}'s ProposalResponsePayload`);
  const cca = decodeAs(ChaincodeAction, prp.extension, "INVALID_ENDORSER_TRANSACTION", txIndex, txId, `${where}'s ChaincodeAction`);
  const txRw = decodeAs(TxReadWriteSet, cca.results, "BAD_RWSET", txIndex, txId, `${where}'s TxReadWriteSet`);
  const namespaces: NsRwSet[] = txRw.nsRwset.map((ns) => {
    const kvRwSet = decodeAs(KVRWSet, ns.rwset, "BAD_RWSET", txIndex, txId, `${where}: namespace ${ns.namespace}'s KVRWSet`);
    const collections = ns.collectionHashedRwset.map((c): CollectionHashedRwSet => {
      const hashed = decodeAs(
        HashedRWSet,
        c.hashedRwset,
        "BAD_RWSET",
        txIndex,
        txId,
        `${where}: collection ${ns.namespace}/${c.collectionName}'s HashedRWSet`,
      );
      return {
        collectionName: c.collectionName,
        hashedRwset: c.hashedRwset,
        hashed,
        pvtRwsetHash: c.pvtRwsetHash,
        hasWrites: hashed.hashedWrites.length > 0 || hashed.metadataWrites.length > 0,
      };
    });
    return { namespace: ns.namespace, rwset: ns.rwset, kvRwSet, collections };
  });
  return {
    chaincodeId: cca.chaincodeId,
    proposalResponsePayload: endorsed.proposalResponsePayload,
    proposalHash: prp.proposalHash,
    endorsements: endorsed.endorsements,
    responseStatus: cca.response?.status ?? 0,
    responseMessage: cca.response?.message ?? "",
    events: cca.events,
    namespaces,
  };
}

/**
 * Reads one transaction envelope of a block (its bytes in `block.data.data[txIndex]`): the channel header,
 * the signature header's creator and, for an endorser transaction, every action down to its read-write set.
 * No signature or policy is checked here. Throws TxError naming the transaction and the layer that failed;
 * its `validationCode` is the TxValidationCode a Fabric validator gives that fault.
 */
export function readTransaction(envelope: Uint8Array, txIndex: number): BlockTransaction {
  if (envelope.length === 0) throw new TxError("NIL_ENVELOPE", txIndex, "", "the envelope is empty");
  const env = decodeAs(Envelope, envelope, "NIL_ENVELOPE", txIndex, "", "the Envelope");
  if (env.payload.length === 0) throw new TxError("NIL_ENVELOPE", txIndex, "", "the envelope has no payload");
  const payload = decodeAs(Payload, env.payload, "BAD_PAYLOAD", txIndex, "", "the Payload");
  if (payload.header === undefined) throw new TxError("BAD_COMMON_HEADER", txIndex, "", "the payload has no header");
  const ch = decodeAs(ChannelHeader, payload.header.channelHeader, "BAD_CHANNEL_HEADER", txIndex, "", "the ChannelHeader");
  const txId = ch.txId;
  const sh = decodeAs(SignatureHeader, payload.header.signatureHeader, "BAD_COMMON_HEADER", txIndex, txId, "the SignatureHeader");
  const actions: EndorserAction[] = [];
  if (ch.type === HeaderType.ENDORSER_TRANSACTION) {
    const tx = decodeAs(Transaction, payload.data, "INVALID_ENDORSER_TRANSACTION", txIndex, txId, "the Transaction");
    if (tx.actions.length === 0) throw new TxError("NIL_TXACTION", txIndex, txId, "the endorser transaction has no actions");
    tx.actions.forEach((a, i) => {
      actions.push(readAction(a.payload, txIndex, txId, i));
    });
  }
  return {
    txIndex,
    type: ch.type,
    txId,
    channelId: ch.channelId,
    timestamp: ch.timestamp,
    epoch: ch.epoch,
    creator: sh.creator,
    creatorMspId: creatorMspIdOf(sh.creator),
    nonce: sh.nonce,
    payload: env.payload,
    signature: env.signature,
    actions,
  };
}

/** The data entries of a block. Throws PrivdataError BAD_BLOCK when it has no header or data. */
function blockData(block: Block): { number: bigint; data: readonly Uint8Array[] } {
  if (block.header === undefined) throw new PrivdataError("BAD_BLOCK", "the block has no header");
  if (block.data === undefined) throw new PrivdataError("BAD_BLOCK", `block [${block.header.number}] has no data`);
  return { number: block.header.number, data: block.data.data };
}

/**
 * Every transaction of a block, read (`readTransaction`) one by one: a malformed one is reported in place
 * (`ok: false`, with its TxError) and does not stop the others. Throws PrivdataError BAD_BLOCK only for a
 * block without header or data.
 */
export function readBlockTransactions(block: Block): readonly TxRead[] {
  const { data } = blockData(block);
  // A committing block is read by the coordinator, the collection store and the transaction-ID index: once.
  // Keyed by the data array, which a block with new metadata (its validation flags) shares.
  const cached = readCache.get(data);
  if (cached !== undefined) return cached;
  const reads = data.map((env, i): TxRead => {
    try {
      return { ok: true, tx: readTransaction(env, i) };
    } catch (err) {
      const error = err instanceof TxError ? err : new TxError("NIL_ENVELOPE", i, "", errorMessage(err), { cause: err });
      return { ok: false, error };
    }
  });
  readCache.set(data, reads);
  return reads;
}

const readCache = new WeakMap<readonly Uint8Array[], readonly TxRead[]>();

/**
 * The block's TRANSACTIONS_FILTER (one TxValidationCode per transaction) when the block carries one of the
 * right length: a committing peer's flags. An orderer's block has none (or an empty one).
 */
export function transactionsFilter(block: Block): Uint8Array | undefined {
  const flags = block.metadata?.metadata[BlockMetadataIndex.TRANSACTIONS_FILTER];
  const n = block.data?.data.length ?? 0;
  return flags !== undefined && flags.length === n && n > 0 ? flags : undefined;
}

/** One collection whose private write set a transaction of the block needs (Fabric's `CollectionPvtdataInfo`). */
export interface CollectionPvtdataNeed {
  readonly namespace: string;
  readonly collection: string;
  /** `pvt_rwset_hash`: the SHA-256 the private KVRWSet bytes must have. */
  readonly expectedHash: Uint8Array;
  /** The transaction's endorsements (the preferred peers to pull from). */
  readonly endorsers: readonly Endorsement[];
}

/** A transaction's private data needs (Fabric's `TxPvtdataInfo`). */
export interface TxPvtdataNeeds {
  readonly txIndex: number;
  readonly txId: string;
  /** The validation flag is not VALID (only known when flags are). */
  readonly invalid: boolean;
  readonly collections: readonly CollectionPvtdataNeed[];
}

/** What a block needs in private data, as Fabric's coordinator computes before retrieving it. */
export interface BlockPvtdataNeeds {
  readonly blockNumber: bigint;
  /** Every readable endorser transaction, in block order, with the collections it wrote (possibly none). */
  readonly txs: readonly TxPvtdataNeeds[];
  /** Transactions that could not be read (Fabric skips them with a warning). */
  readonly unreadable: readonly TxError[];
  /** Whether validation flags were known (given, or the block's TRANSACTIONS_FILTER); if not, none is invalid. */
  readonly flagsKnown: boolean;
}

/**
 * Fabric's `getTxPvtdataInfoFromBlock`: for every endorser transaction, its first action's collections that
 * contain writes, with the hash the private data must match and the endorsers. Collections that were only
 * read need nothing. `flags` are the transactions' validation codes (default: the block's
 * TRANSACTIONS_FILTER); Fabric refuses a block without them, here every transaction then counts as valid and
 * `flagsKnown` is false. Throws PrivdataError BAD_BLOCK only for a block without header or data.
 */
export function privateDataNeeds(block: Block, flags: Uint8Array | undefined = transactionsFilter(block)): BlockPvtdataNeeds {
  const { number, data } = blockData(block);
  const known = flags !== undefined && flags.length === data.length ? flags : undefined;
  const txs: TxPvtdataNeeds[] = [];
  const unreadable: TxError[] = [];
  for (const read of readBlockTransactions(block)) {
    if (!read.ok) {
      unreadable.push(read.error);
      continue;
    }
    const tx = read.tx;
    if (tx.type !== HeaderType.ENDORSER_TRANSACTION) continue;
    // Fabric reads the first action only (`GetActionFromEnvelope`); v2 transactions have exactly one.
    const action = tx.actions[0];
    const collections: CollectionPvtdataNeed[] = [];
    for (const ns of action?.namespaces ?? []) {
      for (const c of ns.collections) {
        if (!c.hasWrites) continue;
        collections.push({ namespace: ns.namespace, collection: c.collectionName, expectedHash: c.pvtRwsetHash, endorsers: action?.endorsements ?? [] });
      }
    }
    const code = known?.[tx.txIndex] ?? TxValidationCode.VALID;
    txs.push({ txIndex: tx.txIndex, txId: tx.txId, invalid: code !== TxValidationCode.VALID, collections });
  }
  return { blockNumber: number, txs, unreadable, flagsKnown: known !== undefined };
}
