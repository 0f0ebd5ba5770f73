import { collectionsOfPackage } from "../../privdata/index.js";
import type { PvtCollectionSummary, PvtDataSummary } from "../../service/index.js";
import { errorMessage } from "../../util/index.js";
import { NetworkError } from "./errors.js";
import { PVT_CHAINCODE, type PrivateDataLayout, pvtCollections } from "./feeder-sources.js";

/**
 * `network up --private-data --json`'s `privateData`: what the peers hold of the feeder's private write sets,
 * from every peer's `GET /v1/channels/{channel}/private-data/summary` at the end of the run.
 */
export interface PrivateDataOutcome {
  /** The chaincode's collections, as the feeder defined them. */
  collections: string[];
  /**
   * Per collection: write sets the feeder handed to the endorsing peer for distribution, of transactions it sent
   * to the orderer (`privateDataFed.written` less `unsent`).
   */
  written: Record<string, number>;
  /**
   * Per peer of an org the collection admits, per collection: write sets its private data store committed,
   * those it holds now plus those it held until blockToLive purged them (counted since the store opened).
   */
  committed: Record<string, Record<string, number>>;
  /** Per eligible peer, per collection: write sets its blocks committed without (missing markers, now or purged since open). */
  missing: Record<string, Record<string, number>>;
  /** Write sets held (committed, purged after being held, or in the transient store) by peers of orgs the collection does not admit: must be 0. */
  leaked: number;
  /** Per collection: write sets past blockToLive on every peer (the fewest any peer reports; 0 for a collection kept forever). */
  purged: Record<string, number>;
  /** Peers whose summary could not be read (then the counts above lack them). */
  errors?: string[];
}

/** A peer as the outcome needs it. */
export interface OutcomePeer {
  name: string;
  /** Its MSP ID. */
  org: string;
  admin: string | undefined;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * `GET http://<admin>/v1/channels/{channel}/private-data/summary` of a running peer.
 * @throws NetworkError ADMIN_FAILED when the peer does not answer in time or answers something else.
 */
export async function fetchPvtDataSummary(admin: string, channel: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<PvtDataSummary> {
  const url = `http://${admin}/v1/channels/${encodeURIComponent(channel)}/private-data/summary`;
  let body: unknown;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
    body = await res.json();
  } catch (err) {
    throw new NetworkError("ADMIN_FAILED", `${url}: ${errorMessage(err)}`, { cause: err });
  }
  const collections = typeof body === "object" && body !== null ? (body as { collections?: unknown }).collections : undefined;
  if (!Array.isArray(collections)) throw new NetworkError("ADMIN_FAILED", `${url}: expected {"collections": [...]}, got ${JSON.stringify(body).slice(0, 120)}`);
  return body as PvtDataSummary;
}

/**
 * Counts the outcome from each peer's summary (or the error reading it). Which orgs a collection admits is
 * the feeder's definition (`pvtCollections(layout)`), not what a peer says of itself.
 */
export function privateDataOutcome(
  layout: PrivateDataLayout,
  written: Readonly<Record<string, number>>,
  peers: readonly { peer: OutcomePeer; summary: PvtDataSummary | undefined; error?: string }[],
): PrivateDataOutcome {
  const defs = collectionsOfPackage(pvtCollections(layout));
  const out: PrivateDataOutcome = {
    collections: defs.map((d) => d.name),
    written: Object.fromEntries(defs.map((d) => [d.name, written[d.name] ?? 0])),
    committed: {},
    missing: {},
    leaked: 0,
    purged: Object.fromEntries(defs.map((d) => [d.name, 0])),
  };
  const errors: string[] = [];
  const purgedEverywhere = new Map<string, number>();
  for (const { peer, summary, error } of peers) {
    if (summary === undefined) {
      errors.push(`${peer.name}: ${error ?? "no summary"}`);
      continue;
    }
    for (const def of defs) {
      const s: PvtCollectionSummary | undefined = summary.collections.find((c) => c.namespace === PVT_CHAINCODE && c.collection === def.name);
      const held = s === undefined ? 0 : s.committed + s.purgedSinceOpen.held;
      const missing = s === undefined ? 0 : s.missingEligible + s.purgedSinceOpen.missingEligible;
      if (def.memberOrgs.includes(peer.org)) {
        out.committed[peer.name] = { ...out.committed[peer.name], [def.name]: held };
        out.missing[peer.name] = { ...out.missing[peer.name], [def.name]: missing };
      } else {
        out.leaked += held + (s?.transient ?? 0);
      }
      const purged = s?.purged ?? 0;
      purgedEverywhere.set(def.name, Math.min(purgedEverywhere.get(def.name) ?? purged, purged));
    }
  }
  for (const [name, n] of purgedEverywhere) out.purged[name] = n;
  if (errors.length > 0) out.errors = errors;
  return out;
}
