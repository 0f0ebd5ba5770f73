import {
  GOSSIP_PRIVDATA_COMMIT_BLOCK_DURATION,
  GOSSIP_PRIVDATA_FETCH_DURATION,
  GOSSIP_PRIVDATA_LIST_MISSING_DURATION,
  GOSSIP_PRIVDATA_PULL_DURATION,
  GOSSIP_PRIVDATA_PURGE_DURATION,
  GOSSIP_PRIVDATA_RECONCILIATION_DURATION,
  GOSSIP_PRIVDATA_RETRIEVE_DURATION,
  GOSSIP_PRIVDATA_SEND_DURATION,
  GOSSIP_PRIVDATA_VALIDATION_DURATION,
  type Histogram,
  type Registry,
  histogramOf,
} from "../metrics/index.js";

/**
 * Fabric's `PrivdataMetrics` (`gossip/metrics/metrics.go`): nine histograms of seconds, labelled by
 * channel, with Prometheus' default buckets (0.005 .. 10 s) as Fabric's Prometheus provider uses when
 * the options name none. Observe `seconds` from the injected Clock's `monotonic()` difference / 1000.
 */
export interface PrivdataMetrics {
  /** gossip_privdata_validation_duration: validating a block (`coordinator.go` StoreBlock). */
  validationDuration: Histogram<"channel">;
  /** gossip_privdata_list_missing_duration: eligibility and the missing list (`pvtdataprovider.go`). */
  listMissingDuration: Histogram<"channel">;
  /** gossip_privdata_fetch_duration: fetching from remote peers, only when a remote fetch happens (`pvtdataprovider.go`). */
  fetchDuration: Histogram<"channel">;
  /** gossip_privdata_commit_block_duration: committing the block with its private data (`coordinator.go`). */
  commitBlockDuration: Histogram<"channel">;
  /** gossip_privdata_purge_duration: the transient store purge after a commit (`pvtdataprovider.go` Purge). */
  purgeDuration: Histogram<"channel">;
  /** gossip_privdata_send_duration: one endorsement-time dissemination (`distributor.go`). */
  sendDuration: Histogram<"channel">;
  /** gossip_privdata_reconciliation_duration: one reconciliation cycle (`reconcile.go`). */
  reconciliationDuration: Histogram<"channel">;
  /** gossip_privdata_pull_duration: until each pulled element arrives (`pull.go` gatherResponses). */
  pullDuration: Histogram<"channel">;
  /** gossip_privdata_retrieve_duration: responder-side retrieval from the ledger or transient store (`pull.go` createResponse). */
  retrieveDuration: Histogram<"channel">;
}

/**
 * The private data metrics on `registry` (Fabric's `newPrivdataMetrics`), created once per registry
 * (get-or-create) and shared by the channels of a peer.
 */
export function createPrivdataMetrics(registry: Registry): PrivdataMetrics {
  return {
    validationDuration: histogramOf(registry, GOSSIP_PRIVDATA_VALIDATION_DURATION),
    listMissingDuration: histogramOf(registry, GOSSIP_PRIVDATA_LIST_MISSING_DURATION),
    fetchDuration: histogramOf(registry, GOSSIP_PRIVDATA_FETCH_DURATION),
    commitBlockDuration: histogramOf(registry, GOSSIP_PRIVDATA_COMMIT_BLOCK_DURATION),
    purgeDuration: histogramOf(registry, GOSSIP_PRIVDATA_PURGE_DURATION),
    sendDuration: histogramOf(registry, GOSSIP_PRIVDATA_SEND_DURATION),
    reconciliationDuration: histogramOf(registry, GOSSIP_PRIVDATA_RECONCILIATION_DURATION),
    pullDuration: histogramOf(registry, GOSSIP_PRIVDATA_PULL_DURATION),
    retrieveDuration: histogramOf(registry, GOSSIP_PRIVDATA_RETRIEVE_DURATION),
  };
}
