import { TxValidationCode } from "../protos/gen/peer/transaction.pb.js";
import { GossipError } from "../util/index.js";

/**
 * What private data could not use. Codes:
 * - POLICY_SYNTAX: a policy in Fabric's DSL (`OR('Org1MSP.member', ...)`) does not parse.
 * - BAD_COLLECTION_CONFIG: a CollectionConfigPackage or StaticCollectionConfig is malformed or incomplete
 *   (no name, no member orgs signature policy, a duplicate name, bytes that do not decode).
 * - BAD_COLLECTIONS_FILE: a collections_config.json is not the JSON array Fabric's CLI reads.
 * - BAD_LIFECYCLE_WRITE: a `_lifecycle` chaincode definition field in a write set does not decode.
 * - BAD_COLLECTION_POLICY: a collection's member orgs policy cannot be compiled with the channel's MSPs.
 * - NOT_ELIGIBLE: an identity does not satisfy a collection's member orgs policy.
 * - BAD_PVT_RWSET: private write set bytes do not decode.
 * - BAD_BLOCK: a block lacks its header or data.
 * - BAD_TX_SPEC: a transaction to build is incomplete or contradictory (no endorser, a private write to a
 *   namespace without its collection configs, a key written twice).
 */
export type PrivdataErrorCode =
  | "POLICY_SYNTAX"
  | "BAD_COLLECTION_CONFIG"
  | "BAD_COLLECTIONS_FILE"
  | "BAD_LIFECYCLE_WRITE"
  | "BAD_COLLECTION_POLICY"
  | "NOT_ELIGIBLE"
  | "BAD_PVT_RWSET"
  | "BAD_BLOCK"
  | "BAD_TX_SPEC";

export class PrivdataError extends GossipError {
  declare readonly code: PrivdataErrorCode;

  constructor(code: PrivdataErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * A transaction of a block could not be read down to its read-write set. The codes are the names of Fabric's
 * `TxValidationCode` a validating peer gives the transaction for the same fault (`validationCode`), so that a
 * TRANSACTIONS_FILTER can be written from them:
 * - NIL_ENVELOPE: the envelope bytes do not decode, or have no payload.
 * - BAD_PAYLOAD: the payload does not decode.
 * - BAD_COMMON_HEADER: the payload has no header, or the signature header does not decode.
 * - BAD_CHANNEL_HEADER: the channel header does not decode.
 * - NIL_TXACTION: an endorser transaction without actions, or with an action without its endorsed action.
 * - BAD_PROPOSAL_TXID: (reserved for the validator: the tx ID is not the hash of nonce and creator).
 * - INVALID_ENDORSER_TRANSACTION: the Transaction, ChaincodeActionPayload or ChaincodeAction does not decode.
 * - BAD_RESPONSE_PAYLOAD: the ProposalResponsePayload does not decode.
 * - BAD_RWSET: the TxReadWriteSet, a namespace's KVRWSet or a collection's HashedRWSet does not decode.
 */
export type TxErrorCode =
  | "NIL_ENVELOPE"
  | "BAD_PAYLOAD"
  | "BAD_COMMON_HEADER"
  | "BAD_CHANNEL_HEADER"
  | "NIL_TXACTION"
  | "INVALID_ENDORSER_TRANSACTION"
  | "BAD_RESPONSE_PAYLOAD"
  | "BAD_RWSET";

export class TxError extends GossipError {
  declare readonly code: TxErrorCode;
  /** The transaction's index in its block's data. */
  readonly txIndex: number;
  /** The transaction ID when the channel header was read before the fault, else "". */
  readonly txId: string;
  /** Fabric's validation code for this fault (TxValidationCode). */
  readonly validationCode: TxValidationCode;

  constructor(code: TxErrorCode, txIndex: number, txId: string, message: string, options?: { cause?: unknown }) {
    super(code, `transaction ${txIndex}${txId === "" ? "" : ` (${txId})`}: ${message}`, options);
    this.txIndex = txIndex;
    this.txId = txId;
    this.validationCode = TxValidationCode[code];
  }
}
