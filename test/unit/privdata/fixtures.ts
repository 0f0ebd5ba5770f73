import "reflect-metadata";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ChannelBundle, channelConfigFromBlock, createChannelBundle, decodeBlock } from "../../../src/channelconfig/index.js";
import type { Block } from "../../../src/protos/gen/common/common.pb.js";
import { SerializedIdentity } from "../../../src/protos/gen/msp/identities.pb.js";
import { ManualClock, utf8 } from "../../../src/util/index.js";

/** The real Fabric v2.5.6 private-data network of ../shared/vectors (see its README). */
export const VECTORS = fileURLToPath(new URL("../../../../shared/vectors/fabric-v2.5.6-privdata/", import.meta.url));

/** `skip` for node:test: false when the vectors are here, else the reason. */
export const SKIP_WITHOUT_VECTORS: string | false = existsSync(join(VECTORS, "blocks"))
  ? false
  : `the Fabric v2.5.6 private-data vectors are not at ${VECTORS}`;

export const CHANNEL = "pvtchannel";
export const BLOCK_COUNT = 49;

export const blockBytes = (n: number): Uint8Array => new Uint8Array(readFileSync(join(VECTORS, "blocks", `block_${String(n).padStart(3, "0")}.pb`)));
export const block = (n: number): Block => decodeBlock(blockBytes(n));
export const vectorText = (name: string): string => readFileSync(join(VECTORS, name), "utf8");
export const vectorJson = <T>(name: string): T => JSON.parse(vectorText(name)) as T;

/** A clock a day after the network ran: every certificate is valid. */
export const fixtureClock = (): ManualClock => new ManualClock(Date.parse("2026-12-05T00:00:00Z"));

/** The channel's configuration in block 0, with its MSPs. */
export function genesisBundle(): ChannelBundle {
  return createChannelBundle(channelConfigFromBlock(block(0)), { clock: fixtureClock() });
}

export interface FixturePeer {
  name: string;
  endpoint: string;
  mspid: string;
  implementation: string;
  pki_id: string;
  signcert_pem: string;
}

export const peers = (): FixturePeer[] => vectorJson<FixturePeer[]>("peers.json");

/** A peer's serialized identity, as its handshake and StateInfo carry it. */
export const identityOf = (p: { mspid: string; signcert_pem: string }): Uint8Array =>
  SerializedIdentity.encode({ mspid: p.mspid, idBytes: utf8(p.signcert_pem) }).finish();

/** A row of pvt-transactions.json. */
export interface PvtTxRow {
  block: number;
  tx_index: number;
  tx_id: string;
  validation_code: number;
  creator_mspid: string;
  endorsers: { mspid: string; cert_sha256: string }[];
  namespace: string;
  collection: string;
  /** null for a collection that was only read. */
  pvt_rwset_hash: string | null;
  hashed_rwset: { hashed_writes?: { key_hash: string; value_hash: string }[] };
  key?: string;
  value?: string;
  pvt_rwset_bytes_hex?: string;
}

// ---------------------------------------------------------------------------------------------
// Synthetic endorser transactions, for what the vectors do not show (later definitions, malformed layers).

import { ChannelHeader, Envelope, HeaderType, Payload, SignatureHeader } from "../../../src/protos/gen/common/common.pb.js";
import { HashedRWSet, KVRWSet } from "../../../src/protos/gen/ledger/rwset/kvrwset/kv_rwset.pb.js";
import { TxReadWriteSet } from "../../../src/protos/gen/ledger/rwset/rwset.pb.js";
import { ChaincodeAction } from "../../../src/protos/gen/peer/proposal.pb.js";
import { ProposalResponsePayload } from "../../../src/protos/gen/peer/proposal_response.pb.js";
import { ChaincodeActionPayload, Transaction } from "../../../src/protos/gen/peer/transaction.pb.js";

export interface SyntheticNs {
  namespace: string;
  writes?: { key: string; value: Uint8Array }[];
  collections?: { name: string; hashedWrites: number; pvtRwsetHash: Uint8Array }[];
}

/** Each layer's bytes, so a test can replace one with garbage. */
export interface TxLayers {
  results?: Uint8Array;
  chaincodeAction?: Uint8Array;
  proposalResponsePayload?: Uint8Array;
  actionPayload?: Uint8Array;
  transaction?: Uint8Array;
  channelHeader?: Uint8Array;
  signatureHeader?: Uint8Array;
  payload?: Uint8Array;
}

export function endorserTx(txId: string, namespaces: SyntheticNs[], replace: TxLayers = {}): Uint8Array {
  const results =
    replace.results ??
    TxReadWriteSet.encode({
      dataModel: 0,
      nsRwset: namespaces.map((ns) => ({
        namespace: ns.namespace,
        rwset: KVRWSet.encode({ reads: [], rangeQueriesInfo: [], writes: (ns.writes ?? []).map((w) => ({ ...w, isDelete: false })), metadataWrites: [] }).finish(),
        collectionHashedRwset: (ns.collections ?? []).map((c) => ({
          collectionName: c.name,
          hashedRwset: HashedRWSet.encode({
            hashedReads: [],
            hashedWrites: Array.from({ length: c.hashedWrites }, (_, i) => ({ keyHash: new Uint8Array(32).fill(i + 1), isDelete: false, valueHash: new Uint8Array(32) })),
            metadataWrites: [],
          }).finish(),
          pvtRwsetHash: c.pvtRwsetHash,
        })),
      })),
    }).finish();
  const cca =
    replace.chaincodeAction ??
    ChaincodeAction.encode({ results, events: new Uint8Array(0), response: { status: 200, message: "", payload: new Uint8Array(0) }, chaincodeId: { path: "", name: "cc", version: "1" } }).finish();
  const prp = replace.proposalResponsePayload ?? ProposalResponsePayload.encode({ proposalHash: new Uint8Array(32), extension: cca }).finish();
  const cap =
    replace.actionPayload ??
    ChaincodeActionPayload.encode({
      chaincodeProposalPayload: new Uint8Array(0),
      action: { proposalResponsePayload: prp, endorsements: [{ endorser: utf8("endorser"), signature: utf8("sig") }] },
    }).finish();
  const tx = replace.transaction ?? Transaction.encode({ actions: [{ header: new Uint8Array(0), payload: cap }] }).finish();
  const ch =
    replace.channelHeader ??
    ChannelHeader.encode({
      type: HeaderType.ENDORSER_TRANSACTION,
      version: 0,
      timestamp: new Date("2026-12-04T23:00:00Z"),
      channelId: CHANNEL,
      txId,
      epoch: 0n,
      extension: new Uint8Array(0),
      tlsCertHash: new Uint8Array(0),
    }).finish();
  const sh = replace.signatureHeader ?? SignatureHeader.encode({ creator: identityOf({ mspid: "Org1MSP", signcert_pem: "cert" }), nonce: new Uint8Array(24) }).finish();
  const payload = replace.payload ?? Payload.encode({ header: { channelHeader: ch, signatureHeader: sh }, data: tx }).finish();
  return Envelope.encode({ payload, signature: utf8("creator-sig") }).finish();
}

/** A block of the given envelopes, with a TRANSACTIONS_FILTER when `flags` are given. */
export function syntheticBlock(number: bigint, envelopes: Uint8Array[], flags?: number[]): Block {
  return {
    header: { number, previousHash: new Uint8Array(32), dataHash: new Uint8Array(32) },
    data: { data: envelopes },
    metadata: { metadata: [new Uint8Array(0), new Uint8Array(0), flags === undefined ? new Uint8Array(0) : Uint8Array.from(flags), new Uint8Array(0)] },
  };
}
