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
  type HistogramMetric,
  type MetricsProvider,
} from "../metrics/index.js";

/**
 * Fabric's `PrivdataMetrics` (`gossip/metrics/metrics.go`): nine histograms of seconds, labelled by
 * channel, with Prometheus' default buckets (0.005 .. 10 s) as Fabric's Prometheus provider uses when
 * the options name none. Observe `seconds` from the injected Clock's `monotonic()` difference / 1000.
 */
export interface PrivdataMetrics {
  /** gossip_privdata_validation_duration: validating a block (`coordinator.go` StoreBlock). */
  validationDuration: HistogramMetric<"channel">;
  /** gossip_privdata_list_missing_duration: eligibility and the missing list (`pvtdataprovider.go`). */
  listMissingDuration: HistogramMetric<"channel">;
  /** gossip_privdata_fetch_duration: fetching from remote peers, only when a remote fetch happens (`pvtdataprovider.go`). */
  fetchDuration: HistogramMetric<"channel">;
  /** gossip_privdata_commit_block_duration: committing the block with its private data (`coordinator.go`). */
  commitBlockDuration: HistogramMetric<"channel">;
  /** gossip_privdata_purge_duration: the transient store purge after a commit (`pvtdataprovider.go` Purge). */
  purgeDuration: HistogramMetric<"channel">;
  /** gossip_privdata_send_duration: one endorsement-time dissemination (`distributor.go`). */
  sendDuration: HistogramMetric<"channel">;
  /** gossip_privdata_reconciliation_duration: one reconciliation cycle (`reconcile.go`). */
  reconciliationDuration: HistogramMetric<"channel">;
  /** gossip_privdata_pull_duration: until each pulled element arrives (`pull.go` gatherResponses). */
  pullDuration: HistogramMetric<"channel">;
  /** gossip_privdata_retrieve_duration: responder-side retrieval from the ledger or transient store (`pull.go` createResponse). */
  retrieveDuration: HistogramMetric<"channel">;
}

/**
 * The private data metrics from `metrics` (Fabric's `newPrivdataMetrics`), created once per provider
 * (get-or-create) and shared by the channels of a peer.
 */
export function createPrivdataMetrics(metrics: MetricsProvider): PrivdataMetrics {
  return {
    validationDuration: metrics.histogram(GOSSIP_PRIVDATA_VALIDATION_DURATION),
    listMissingDuration: metrics.histogram(GOSSIP_PRIVDATA_LIST_MISSING_DURATION),
    fetchDuration: metrics.histogram(GOSSIP_PRIVDATA_FETCH_DURATION),
    commitBlockDuration: metrics.histogram(GOSSIP_PRIVDATA_COMMIT_BLOCK_DURATION),
    purgeDuration: metrics.histogram(GOSSIP_PRIVDATA_PURGE_DURATION),
    sendDuration: metrics.histogram(GOSSIP_PRIVDATA_SEND_DURATION),
    reconciliationDuration: metrics.histogram(GOSSIP_PRIVDATA_RECONCILIATION_DURATION),
    pullDuration: metrics.histogram(GOSSIP_PRIVDATA_PULL_DURATION),
    retrieveDuration: metrics.histogram(GOSSIP_PRIVDATA_RETRIEVE_DURATION),
  };
}
