import { randomBytes } from "node:crypto";
import {
  buildEndorserTransaction,
  buildLifecycleCommitTransaction,
  implicitCollectionName,
  parseSignaturePolicy,
  type TxSigner,
} from "../../privdata/index.js";
import type { CollectionConfigPackage, StaticCollectionConfig } from "../../protos/gen/peer/collection.pb.js";
import { TxPvtReadWriteSetWithConfigInfo } from "../../protos/gen/transientstore/transientstore.pb.js";
import { errorMessage, utf8 } from "../../util/index.js";
import { NetworkError } from "./errors.js";

/** Where a feeder's transactions come from: each call builds the next one (and hands over its private data). */
export interface TxSource {
  /**
   * The next transaction's envelope bytes, ready to broadcast. A transaction with private data resolves only
   * once its private write sets were handed to an endorsing peer for distribution, as Fabric's endorsement
   * completes only then. Throws (a NetworkError naming the cause) when it cannot be made; the feeder counts
   * it as failed and goes on.
   */
  next(): Promise<Uint8Array>;
  /** The feeder made `envelope` with `next()` but never sent it (its stream ended meanwhile). */
  unsent?(envelope: Uint8Array): void;
}

/** The chaincode the feeder's public transactions invoke. */
export const FEED_CHAINCODE = "feedcc";
/** The chaincode a `--private-data` network defines and invokes. */
export const PVT_CHAINCODE = "pvtcc";
/** Collections of `PVT_CHAINCODE`: the first org's only, and the first two orgs' with a short blockToLive. */
export const COLL_ORG1 = "collOrg1";
export const COLL_BOTH = "collBoth";
/** blockToLive of `COLL_BOTH`: its data is purged when block N + 3 + 1 commits. */
export const COLL_BOTH_BLOCK_TO_LIVE = 3n;

/** What every source needs: who signs and endorses, on which channel, and the payload size. */
export interface TxSourceOptions {
  channel: string;
  /** The client (an org's User1): signs proposals and envelopes. */
  client: TxSigner;
  /** One peer identity per org (their MSP folders' signing keys): each endorses every transaction. */
  endorsers: readonly TxSigner[];
  /** Bytes of the value each transaction writes publicly. */
  size: number;
}

/**
 * Endorser transactions of `FEED_CHAINCODE`, each writing one public key (`tx<n>`) with a `size`-byte value,
 * endorsed by every endorser. No chaincode definition is committed for it: our peers do not judge
 * transactions by it, and a Fabric peer would flag them INVALID_CHAINCODE while still reading them.
 */
export function publicTxSource(o: TxSourceOptions): TxSource {
  if (o.endorsers.length === 0) throw new NetworkError("INVALID_OPTIONS", "a transaction source needs at least one endorser");
  // One value for all: the key and the nonce already make every transaction distinct.
  const value = new Uint8Array(randomBytes(o.size));
  let n = 0;
  return {
    async next() {
      const key = `tx${n++}`;
      return buildEndorserTransaction({
        channelId: o.channel,
        chaincode: FEED_CHAINCODE,
        args: [utf8("put"), utf8(key)],
        namespaces: [{ namespace: FEED_CHAINCODE, writes: [{ key, value }] }],
        creator: o.client,
        endorsers: o.endorsers,
      }).envelopeBytes;
    },
  };
}

/** The private-data layout of a network: which orgs each collection admits, and its peers per org. */
export interface PrivateDataLayout {
  /** The application orgs' MSP IDs, first org first. */
  mspIds: readonly string[];
  peersPerOrg: number;
}

function staticCollection(name: string, members: readonly string[], requiredPeerCount: number, maximumPeerCount: number, blockToLive: bigint): StaticCollectionConfig {
  const policy = `OR(${members.map((m) => `'${m}.member'`).join(",")})`;
  return {
    name,
    memberOrgsPolicy: { payload: { $case: "signaturePolicy", value: parseSignaturePolicy(policy) } },
    requiredPeerCount,
    maximumPeerCount,
    blockToLive,
    memberOnlyRead: true,
    memberOnlyWrite: false,
    endorsementPolicy: undefined,
  };
}

/**
 * `PVT_CHAINCODE`'s collections for a network: `collOrg1` admits the first org (blockToLive 0), `collBoth` the
 * first two (blockToLive 3). The endorsing peer (the first org's peer0) pushes to the others it admits:
 * requiredPeerCount 1 where there is another eligible peer (0 otherwise), maxPeerCount all of them.
 */
export function pvtCollections(layout: PrivateDataLayout): CollectionConfigPackage {
  const [first, second] = layout.mspIds;
  if (first === undefined) throw new NetworkError("INVALID_OPTIONS", "a private-data network needs at least one org");
  const bothMembers = second === undefined ? [first] : [first, second];
  const othersOrg1 = layout.peersPerOrg - 1;
  const othersBoth = bothMembers.length * layout.peersPerOrg - 1;
  return {
    config: [
      { payload: { $case: "staticCollectionConfig", value: staticCollection(COLL_ORG1, [first], Math.min(1, othersOrg1), othersOrg1, 0n) } },
      { payload: { $case: "staticCollectionConfig", value: staticCollection(COLL_BOTH, bothMembers, Math.min(1, othersBoth), othersBoth, COLL_BOTH_BLOCK_TO_LIVE) } },
    ],
  };
}

/** Hands a transaction's private write sets to an endorsing peer for distribution. */
export type PrivateDataDistributor = (txId: string, data: Uint8Array, blockHeight: bigint) => Promise<void>;

/** Options of `privateDataTxSource`. */
export interface PrivateDataTxSourceOptions extends TxSourceOptions {
  layout: PrivateDataLayout;
  distribute: PrivateDataDistributor;
  /** The ledger height the endorsement simulated at (the orderer's height stands in for the endorser's). */
  height: () => bigint;
  /**
   * Resolves once the peers committed the chaincode definition, as a client waits for its commit event before
   * invoking: until then the peers know no collection of it. Awaited before the first private write (again
   * after it rejected). Default: not waited for.
   */
  definitionCommitted?: () => Promise<void>;
}

/** What a private-data source has done, for the network's report. */
export interface PrivateDataTxStats {
  /** The chaincode definition was built (the first transaction). */
  defined: boolean;
  /** Private write sets handed over for distribution, per collection (a transaction writes one). */
  written: Record<string, number>;
  /** Transactions whose private data the endorsing peer refused or could not distribute (not broadcast). */
  distributionFailed: number;
  /** Of `written`, per collection: write sets whose transaction the feeder made but never sent (feeding stopped meanwhile). */
  unsent: Record<string, number>;
}

/**
 * A `--private-data` network's transactions: first the `_lifecycle` commit defining `PVT_CHAINCODE` with its
 * collections (endorsed by every org's peer, which satisfies /Channel/Application/LifecycleEndorsement's
 * majority, and its endorsement policy the channel's /Channel/Application/Endorsement); then invocations each
 * writing a public key and one private key, alternately in `collOrg1` and `collBoth`, whose private write sets
 * (with the collection configs) go to `distribute` before the envelope is returned.
 */
export function privateDataTxSource(o: PrivateDataTxSourceOptions): TxSource & { stats(): PrivateDataTxStats } {
  if (o.endorsers.length === 0) throw new NetworkError("INVALID_OPTIONS", "a transaction source needs at least one endorser");
  const collections = pvtCollections(o.layout);
  // What an endorser attaches (Fabric's AllCollectionsConfigPkg): the explicit collections and every org's
  // implicit one; the distributor sends each collection's own config with its data.
  const attached: CollectionConfigPackage = {
    config: [
      ...collections.config,
      ...o.layout.mspIds.map((m) => ({
        payload: { $case: "staticCollectionConfig" as const, value: staticCollection(implicitCollectionName(m), [m], 0, 0, 0n) },
      })),
    ],
  };
  const value = new Uint8Array(randomBytes(o.size));
  const stats: PrivateDataTxStats = { defined: false, written: { [COLL_ORG1]: 0, [COLL_BOTH]: 0 }, distributionFailed: 0, unsent: { [COLL_ORG1]: 0, [COLL_BOTH]: 0 } };
  // The collection of each envelope handed out, until the feeder sends or drops it (weak: sent ones are forgotten).
  const collectionOf = new WeakMap<Uint8Array, string>();
  let n = 0;
  let committed = o.definitionCommitted === undefined;
  return {
    stats: () => ({ ...stats, written: { ...stats.written }, unsent: { ...stats.unsent } }),
    unsent(envelope) {
      const collection = collectionOf.get(envelope);
      if (collection === undefined) return;
      collectionOf.delete(envelope);
      stats.unsent[collection] = (stats.unsent[collection] ?? 0) + 1;
    },
    async next() {
      if (!stats.defined) {
        const tx = buildLifecycleCommitTransaction({
          channelId: o.channel,
          definition: { name: PVT_CHAINCODE, sequence: 1n, collections },
          creator: o.client,
          endorsers: o.endorsers,
        });
        stats.defined = true;
        return tx.envelopeBytes;
      }
      if (!committed) {
        await o.definitionCommitted?.();
        committed = true;
      }
      const i = n++;
      const collection = i % 2 === 0 ? COLL_ORG1 : COLL_BOTH;
      const key = `tx${i}`;
      const secret = utf8(`secret-${i}`);
      const tx = buildEndorserTransaction({
        channelId: o.channel,
        chaincode: PVT_CHAINCODE,
        args: [utf8("putPrivate"), utf8(collection), utf8(key)],
        transient: { value: secret },
        namespaces: [{ namespace: PVT_CHAINCODE, writes: [{ key, value }], collections: [{ name: collection, writes: [{ key, value: secret }] }] }],
        collectionConfigs: { [PVT_CHAINCODE]: attached },
        endorsedAt: o.height(),
        creator: o.client,
        endorsers: o.endorsers,
      });
      const pvt = tx.pvtWithConfig;
      if (pvt === undefined) throw new NetworkError("FEED_FAILED", `transaction ${tx.txId} has no private write set`);
      try {
        await o.distribute(tx.txId, TxPvtReadWriteSetWithConfigInfo.encode(pvt).finish(), pvt.endorsedAt);
      } catch (err) {
        stats.distributionFailed++;
        throw err instanceof NetworkError ? err : new NetworkError("FEED_FAILED", `distributing ${tx.txId}'s private data: ${errorMessage(err)}`, { cause: err });
      }
      stats.written[collection] = (stats.written[collection] ?? 0) + 1;
      collectionOf.set(tx.envelopeBytes, collection);
      return tx.envelopeBytes;
    },
  };
}

const DEFAULT_DISTRIBUTE_TIMEOUT_MS = 10_000;

/**
 * `POST http://<admin>/v1/channels/{channel}/private-data` of a running peer (see src/service/admin-server.ts):
 * the peer distributes the write set to the peers its collections admit and keeps it in its transient store.
 * @throws NetworkError ADMIN_FAILED naming the peer's answer (its status and error) or the failure to reach it.
 */
export async function postPrivateData(
  admin: string,
  channel: string,
  txId: string,
  data: Uint8Array,
  blockHeight: bigint,
  timeoutMs = DEFAULT_DISTRIBUTE_TIMEOUT_MS,
): Promise<void> {
  const url = `http://${admin}/v1/channels/${encodeURIComponent(channel)}/private-data`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ txId, blockHeight: blockHeight.toString(), privateData: Buffer.from(data).toString("base64") }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new NetworkError("ADMIN_FAILED", `${admin}: private data of ${txId}: ${errorMessage(err)}`, { cause: err });
  }
  if (res.ok) {
    await res.arrayBuffer();
    return;
  }
  let why = `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: unknown; code?: unknown };
    if (typeof body.error === "string") why += ` ${String(body.code ?? "")}: ${body.error}`;
  } catch {
    // the status says enough
  }
  throw new NetworkError("ADMIN_FAILED", `${admin}: private data of ${txId} was not distributed: ${why}`);
}
