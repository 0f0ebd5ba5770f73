import { type Block, HeaderType } from "../protos/gen/common/common.pb.js";
import { CollectionConfigPackage } from "../protos/gen/peer/collection.pb.js";
import { ChaincodeEndorsementInfo, ChaincodeValidationInfo } from "../protos/gen/peer/lifecycle/chaincode_definition.pb.js";
import { StateData } from "../protos/gen/peer/lifecycle/db.pb.js";
import { TxValidationCode } from "../protos/gen/peer/transaction.pb.js";
import { errorMessage } from "../util/index.js";
import {
  type CollectionDefinition,
  collectionsOfPackage,
  DEFAULT_IMPLICIT_COLLECTION_DISSEMINATION,
  decodeCollectionConfigPackage,
  type ImplicitCollectionDisseminationPolicy,
  implicitCollectionFor,
  implicitCollectionMspId,
  LIFECYCLE_NAMESPACE,
  parseCollectionsConfigJson,
} from "./collections.js";
import { PrivdataError } from "./errors.js";
import { readBlockTransactions, transactionsFilter } from "./transactions.js";

/**
 * The `_lifecycle` keys of a chaincode definition's fields (Fabric's `core/chaincode/lifecycle` serializer:
 * `namespaces/fields/<chaincode>/<Field>`, each a `lifecycle.StateData`; `namespaces/metadata/<chaincode>`
 * lists the fields). A commit writes only the fields whose value changed, always `Sequence`.
 */
const DEFINITION_FIELD = /^namespaces\/fields\/([^/]+)\/(Sequence|EndorsementInfo|ValidationInfo|Collections)$/;

/** One committed chaincode definition, as the channel's `_lifecycle` namespace holds it after a commit. */
export interface ChaincodeDefinitionRecord {
  readonly chaincode: string;
  /** The definition's sequence (0 for collections given by file). */
  readonly sequence: bigint;
  /** Where it was committed; for a file, -1n (before every block). */
  readonly blockNumber: bigint;
  readonly txIndex: number;
  readonly txId: string;
  /** Where the collections came from. */
  readonly source: "lifecycle" | "file";
  /** The explicit collections (without the implicit ones), in the package's order. */
  readonly collections: readonly CollectionDefinition[];
  /** The CollectionConfigPackage bytes as committed (empty: none), for re-dissemination. */
  readonly collectionConfigPackage: Uint8Array;
  /** The definition's version and init flag, when committed. */
  readonly endorsementInfo: ChaincodeEndorsementInfo | undefined;
  /** The validation plugin and its parameter (the chaincode's endorsement policy), when committed. */
  readonly validationInfo: ChaincodeValidationInfo | undefined;
}

/** What `learnFromBlock` found. */
export interface LearnedDefinitions {
  /** The definitions the block committed, in block order. */
  readonly updated: readonly ChaincodeDefinitionRecord[];
  /** Definition writes of valid transactions that could not be used, each naming the transaction. */
  readonly problems: readonly PrivdataError[];
}

export interface CollectionStoreOptions {
  readonly channelId: string;
  /** The MSP IDs of the channel's application orgs in the configuration in force (implicit collections). */
  readonly applicationMspIds: () => readonly string[];
  /** The peer's own MSP ID: its org's implicit collection gets `implicitCollectionDissemination`'s counts. */
  readonly localMspId?: string;
  /** `peer.gossip.pvtData.implicitCollectionDisseminationPolicy` (default requiredPeerCount 0, maxPeerCount 1). */
  readonly implicitCollectionDissemination?: ImplicitCollectionDisseminationPolicy;
}

/**
 * The collections of one channel's chaincodes (Fabric's `privdata.SimpleCollectionStore` over the lifecycle's
 * `DeployedChaincodeInfoProvider`, plus its config history). Definitions are learned from committed blocks
 * (`learnFromBlock`), or given by a collections_config.json per chaincode for chaincodes with no definition on
 * the chain; a committed definition always wins over a file. Every defined chaincode, and `_lifecycle`, also
 * has one implicit collection per application org of the channel.
 */
export interface CollectionStore {
  readonly channelId: string;
  /**
   * Learns the chaincode definitions committed by the block's valid endorser transactions: writes of
   * `namespaces/fields/<cc>/...` in the `_lifecycle` namespace. `flags` are the transactions' validation
   * codes (default: the block's TRANSACTIONS_FILTER; without either every transaction counts as valid, so a
   * caller that validates must pass its flags). Learning a block twice changes nothing. Never throws for the
   * block's content: what cannot be used is in `problems`.
   */
  learnFromBlock(block: Block, flags?: Uint8Array): LearnedDefinitions;
  /** Collections of a chaincode from a collections_config.json text. Throws PrivdataError BAD_COLLECTIONS_FILE. */
  setCollectionsFile(chaincode: string, json: string): ChaincodeDefinitionRecord;
  /** The same from a package. Throws PrivdataError BAD_COLLECTION_CONFIG. */
  setCollectionsPackage(chaincode: string, pkg: CollectionConfigPackage): ChaincodeDefinitionRecord;
  /** The chaincode's definition in force (the latest committed, else the file's), or undefined. */
  definition(chaincode: string): ChaincodeDefinitionRecord | undefined;
  /** Chaincodes with a definition or a file, sorted. */
  chaincodes(): string[];
  /**
   * Fabric's `AllCollectionsConfigPkg`: the explicit collections of the definition in force followed by the
   * implicit collections of the channel's application orgs; `[]` for a namespace that is not defined.
   */
  collections(namespace: string): CollectionDefinition[];
  /**
   * Fabric's `RetrieveCollectionConfig`: the named collection of the definition in force, or an implicit
   * collection by its name (for any MSP ID, as Fabric generates it); undefined when there is none.
   */
  collection(namespace: string, name: string): CollectionDefinition | undefined;
  /**
   * The collection as the most recent definition committed strictly below `blockNumber` had it (Fabric's
   * `MostRecentCollectionConfigBelow`, for data written before a later definition changed it). A file counts
   * as committed before every block. Implicit collections are generated as now.
   */
  collectionBelow(namespace: string, name: string, blockNumber: bigint): CollectionDefinition | undefined;
}

interface DefinitionWrites {
  chaincode: string;
  sequence?: bigint;
  collections?: Uint8Array;
  endorsementInfo?: Uint8Array;
  validationInfo?: Uint8Array;
}

function stateDataOf(value: Uint8Array, key: string): StateData {
  try {
    return StateData.decode(value);
  } catch (err) {
    throw new PrivdataError("BAD_LIFECYCLE_WRITE", `${key} is not a lifecycle.StateData: ${errorMessage(err)}`, { cause: err });
  }
}

function bytesField(value: Uint8Array, key: string): Uint8Array {
  const sd = stateDataOf(value, key);
  if (sd.Type === undefined) return new Uint8Array(0);
  if (sd.Type.$case !== "Bytes") throw new PrivdataError("BAD_LIFECYCLE_WRITE", `${key} holds ${sd.Type.$case}, not Bytes`);
  return sd.Type.value;
}

function decodeField<T>(codec: { decode(b: Uint8Array): T }, bytes: Uint8Array, key: string, type: string): T {
  try {
    return codec.decode(bytes);
  } catch (err) {
    throw new PrivdataError("BAD_LIFECYCLE_WRITE", `${key} is not a ${type}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Creates the collection store of one channel. */
export function createCollectionStore(options: CollectionStoreOptions): CollectionStore {
  const dissemination = options.implicitCollectionDissemination ?? DEFAULT_IMPLICIT_COLLECTION_DISSEMINATION;
  /** Committed definitions per chaincode, ordered by (block, tx). */
  const history = new Map<string, ChaincodeDefinitionRecord[]>();
  const files = new Map<string, ChaincodeDefinitionRecord>();

  const latest = (chaincode: string): ChaincodeDefinitionRecord | undefined => {
    const h = history.get(chaincode);
    return h?.[h.length - 1] ?? files.get(chaincode);
  };
  const isDefined = (namespace: string): boolean => namespace === LIFECYCLE_NAMESPACE || latest(namespace) !== undefined;
  const implicitCollections = (): CollectionDefinition[] =>
    [...options.applicationMspIds()].map((mspId) => implicitCollectionFor(mspId, options.localMspId, dissemination));

  const implicitByName = (name: string): CollectionDefinition | undefined => {
    const mspId = implicitCollectionMspId(name);
    return mspId === undefined ? undefined : implicitCollectionFor(mspId, options.localMspId, dissemination);
  };

  const insert = (rec: ChaincodeDefinitionRecord): boolean => {
    const h = history.get(rec.chaincode) ?? [];
    const at = (r: ChaincodeDefinitionRecord): bigint => r.blockNumber * 1_000_000n + BigInt(r.txIndex);
    if (h.some((r) => at(r) === at(rec))) return false;
    h.push(rec);
    h.sort((a, b) => (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0));
    history.set(rec.chaincode, h);
    return true;
  };

  /** The record a commit makes: the previous definition (below it) with the fields the commit wrote. */
  const recordOf = (w: DefinitionWrites, blockNumber: bigint, txIndex: number, txId: string): ChaincodeDefinitionRecord => {
    const key = (field: string): string => `namespaces/fields/${w.chaincode}/${field}`;
    const previous = (history.get(w.chaincode) ?? []).filter((r) => r.blockNumber < blockNumber || (r.blockNumber === blockNumber && r.txIndex < txIndex)).at(-1);
    let collections = previous?.collections ?? [];
    let collectionConfigPackage = previous?.collectionConfigPackage ?? new Uint8Array(0);
    if (w.collections !== undefined) {
      collectionConfigPackage = w.collections;
      try {
        collections = collectionsOfPackage(decodeCollectionConfigPackage(w.collections));
      } catch (err) {
        throw new PrivdataError("BAD_LIFECYCLE_WRITE", `${key("Collections")}: ${errorMessage(err)}`, { cause: err });
      }
    }
    return Object.freeze({
      chaincode: w.chaincode,
      sequence: w.sequence ?? previous?.sequence ?? 0n,
      blockNumber,
      txIndex,
      txId,
      source: "lifecycle" as const,
      collections: Object.freeze(collections),
      collectionConfigPackage,
      endorsementInfo:
        w.endorsementInfo === undefined
          ? previous?.endorsementInfo
          : decodeField(ChaincodeEndorsementInfo, w.endorsementInfo, key("EndorsementInfo"), "ChaincodeEndorsementInfo"),
      validationInfo:
        w.validationInfo === undefined
          ? previous?.validationInfo
          : decodeField(ChaincodeValidationInfo, w.validationInfo, key("ValidationInfo"), "ChaincodeValidationInfo"),
    });
  };

  const fileRecord = (chaincode: string, pkg: CollectionConfigPackage, bytes: Uint8Array): ChaincodeDefinitionRecord => {
    const rec: ChaincodeDefinitionRecord = Object.freeze({
      chaincode,
      sequence: 0n,
      blockNumber: -1n,
      txIndex: 0,
      txId: "",
      source: "file" as const,
      collections: Object.freeze(collectionsOfPackage(pkg)),
      collectionConfigPackage: bytes,
      endorsementInfo: undefined,
      validationInfo: undefined,
    });
    files.set(chaincode, rec);
    return rec;
  };

  return {
    channelId: options.channelId,

    learnFromBlock(block, flags) {
      const updated: ChaincodeDefinitionRecord[] = [];
      const problems: PrivdataError[] = [];
      const blockNumber = block.header?.number;
      if (blockNumber === undefined || block.data === undefined) {
        problems.push(new PrivdataError("BAD_BLOCK", "a block without header or data defines nothing"));
        return { updated, problems };
      }
      const known = flags ?? transactionsFilter(block);
      for (const read of readBlockTransactions(block)) {
        if (!read.ok) continue; // an unreadable transaction is invalid: it defines nothing
        const tx = read.tx;
        if (tx.type !== HeaderType.ENDORSER_TRANSACTION) continue;
        if ((known?.[tx.txIndex] ?? TxValidationCode.VALID) !== TxValidationCode.VALID) continue;
        const writes = new Map<string, DefinitionWrites>();
        try {
          for (const action of tx.actions) {
            for (const ns of action.namespaces) {
              if (ns.namespace !== LIFECYCLE_NAMESPACE) continue;
              for (const w of ns.kvRwSet.writes) {
                const m = DEFINITION_FIELD.exec(w.key);
                const chaincode = m?.[1];
                const fieldName = m?.[2];
                if (chaincode === undefined || fieldName === undefined || w.isDelete) continue;
                const d = writes.get(chaincode) ?? { chaincode };
                writes.set(chaincode, d);
                if (fieldName === "Sequence") {
                  const sd = stateDataOf(w.value, w.key);
                  if (sd.Type?.$case !== "Int64") throw new PrivdataError("BAD_LIFECYCLE_WRITE", `${w.key} is not an Int64 StateData`);
                  d.sequence = sd.Type.value;
                } else if (fieldName === "Collections") d.collections = bytesField(w.value, w.key);
                else if (fieldName === "EndorsementInfo") d.endorsementInfo = bytesField(w.value, w.key);
                else d.validationInfo = bytesField(w.value, w.key);
              }
            }
          }
          for (const d of writes.values()) {
            const rec = recordOf(d, blockNumber, tx.txIndex, tx.txId);
            if (insert(rec)) updated.push(rec);
          }
        } catch (err) {
          const why = err instanceof PrivdataError ? err.message : errorMessage(err);
          problems.push(new PrivdataError("BAD_LIFECYCLE_WRITE", `block [${blockNumber}] transaction ${tx.txIndex} (${tx.txId}): ${why}`, { cause: err }));
        }
      }
      return { updated, problems };
    },

    setCollectionsFile(chaincode, json) {
      const pkg = parseCollectionsConfigJson(json);
      return fileRecord(chaincode, pkg, CollectionConfigPackage.encode(pkg).finish());
    },

    setCollectionsPackage(chaincode, pkg) {
      return fileRecord(chaincode, pkg, CollectionConfigPackage.encode(pkg).finish());
    },

    definition: latest,

    chaincodes() {
      return [...new Set([...history.keys(), ...files.keys()])].sort();
    },

    collections(namespace) {
      if (!isDefined(namespace)) return [];
      return [...(latest(namespace)?.collections ?? []), ...implicitCollections()];
    },

    collection(namespace, name) {
      if (!isDefined(namespace)) return undefined;
      return implicitByName(name) ?? latest(namespace)?.collections.find((c) => c.name === name);
    },

    collectionBelow(namespace, name, blockNumber) {
      if (namespace === LIFECYCLE_NAMESPACE) return implicitByName(name);
      const below = (history.get(namespace) ?? []).filter((r) => r.blockNumber < blockNumber).at(-1) ?? files.get(namespace);
      if (below === undefined) return undefined;
      return implicitByName(name) ?? below.collections.find((c) => c.name === name);
    },
  };
}
