/**
 * Fabric's 17 gossip metrics (`gossip/metrics/metrics.go`; the same set in v1.4.12, v2.2.15 and
 * v2.5.16): Prometheus name (`namespace_subsystem_name`), type, help and label names exactly as
 * Fabric declares them. The components create theirs from these definitions, so this table is
 * the one source of truth. Histograms use Prometheus' default buckets, as Fabric's do.
 */
import { Registry } from "prom-client";
import { promMetricsProvider } from "./prom-provider.js";
import type { MetricsProvider } from "./provider.js";
import type { CounterSpec, GaugeSpec, HistogramSpec } from "./registry.js";

/** Fabric's `SentMessagesOpts`: envelopes written to gossip streams (`comm/conn.go`). */
export const GOSSIP_COMM_MESSAGES_SENT: CounterSpec<never> = {
  name: "gossip_comm_messages_sent",
  type: "counter",
  help: "Number of messages sent",
  labelNames: [],
};

/** Fabric's `ReceivedMessagesOpts`: envelopes read from gossip streams. */
export const GOSSIP_COMM_MESSAGES_RECEIVED: CounterSpec<never> = {
  name: "gossip_comm_messages_received",
  type: "counter",
  help: "Number of messages received",
  labelNames: [],
};

/** Fabric's `BufferOverflowOpts`: outgoing messages dropped because a connection's send buffer was full. */
export const GOSSIP_COMM_OVERFLOW_COUNT: CounterSpec<never> = {
  name: "gossip_comm_overflow_count",
  type: "counter",
  help: "Number of outgoing queue buffer overflows",
  labelNames: [],
};

/** Fabric's `TotalOpts` (MembershipMetrics): `len(GetPeers())` per channel, set every membershipTrackerInterval. */
export const GOSSIP_MEMBERSHIP_TOTAL_PEERS_KNOWN: GaugeSpec<"channel"> = {
  name: "gossip_membership_total_peers_known",
  type: "gauge",
  help: "Total known peers",
  labelNames: ["channel"],
};

/** Fabric's `LeaderDeclerationOpts` (sic): 1 while leader, 0 as follower, set on each declaration. */
export const GOSSIP_LEADER_ELECTION_LEADER: GaugeSpec<"channel"> = {
  name: "gossip_leader_election_leader",
  type: "gauge",
  help: "Peer is leader (1) or follower (0)",
  labelNames: ["channel"],
};

/** Fabric's `HeightOpts`: the ledger height after each commit (`state.go:commitBlock`). */
export const GOSSIP_STATE_HEIGHT: GaugeSpec<"channel"> = {
  name: "gossip_state_height",
  type: "gauge",
  help: "Current ledger height",
  labelNames: ["channel"],
};

/** Fabric's `CommitDurationOpts`: seconds per block commit (`state.go:commitBlock`). */
export const GOSSIP_STATE_COMMIT_DURATION: HistogramSpec<"channel"> = {
  name: "gossip_state_commit_duration",
  type: "histogram",
  help: "Time it takes to commit a block in seconds",
  labelNames: ["channel"],
};

/** Fabric's `PayloadBufferSizeOpts`: the re-ordering buffer's size after each push and pop. */
export const GOSSIP_PAYLOAD_BUFFER_SIZE: GaugeSpec<"channel"> = {
  name: "gossip_payload_buffer_size",
  type: "gauge",
  help: "Size of the payload buffer",
  labelNames: ["channel"],
};

/** Fabric's `ValidationDurationOpts` (`privdata/coordinator.go`). */
export const GOSSIP_PRIVDATA_VALIDATION_DURATION: HistogramSpec<"channel"> = {
  name: "gossip_privdata_validation_duration",
  type: "histogram",
  help: "Time it takes to validate a block (in seconds)",
  labelNames: ["channel"],
};

/** Fabric's `ListMissingPrivateDataDurationOpts` (`privdata/pvtdataprovider.go`). */
export const GOSSIP_PRIVDATA_LIST_MISSING_DURATION: HistogramSpec<"channel"> = {
  name: "gossip_privdata_list_missing_duration",
  type: "histogram",
  help: "Time it takes to list the missing private data (in seconds)",
  labelNames: ["channel"],
};

/** Fabric's `FetchDurationOpts` (`privdata/pvtdataprovider.go`; observed only when a remote fetch happens). */
export const GOSSIP_PRIVDATA_FETCH_DURATION: HistogramSpec<"channel"> = {
  name: "gossip_privdata_fetch_duration",
  type: "histogram",
  help: "Time it takes to fetch missing private data from peers (in seconds)",
  labelNames: ["channel"],
};

/** Fabric's `CommitPrivateDataDurationOpts` (`privdata/coordinator.go`). */
export const GOSSIP_PRIVDATA_COMMIT_BLOCK_DURATION: HistogramSpec<"channel"> = {
  name: "gossip_privdata_commit_block_duration",
  type: "histogram",
  help: "Time it takes to commit private data and the corresponding block (in seconds)",
  labelNames: ["channel"],
};

/** Fabric's `PurgeDurationOpts` (`privdata/pvtdataprovider.go:Purge`). */
export const GOSSIP_PRIVDATA_PURGE_DURATION: HistogramSpec<"channel"> = {
  name: "gossip_privdata_purge_duration",
  type: "histogram",
  help: "Time it takes to purge private data (in seconds)",
  labelNames: ["channel"],
};

/** Fabric's `SendDurationOpts` (`privdata/distributor.go`). */
export const GOSSIP_PRIVDATA_SEND_DURATION: HistogramSpec<"channel"> = {
  name: "gossip_privdata_send_duration",
  type: "histogram",
  help: "Time it takes to send a missing private data element (in seconds)",
  labelNames: ["channel"],
};

/** Fabric's `ReconciliationDurationOpts` (`privdata/reconcile.go`). */
export const GOSSIP_PRIVDATA_RECONCILIATION_DURATION: HistogramSpec<"channel"> = {
  name: "gossip_privdata_reconciliation_duration",
  type: "histogram",
  help: "Time it takes for reconciliation to complete (in seconds)",
  labelNames: ["channel"],
};

/** Fabric's `PullDurationOpts` (`privdata/pull.go:gatherResponses`). */
export const GOSSIP_PRIVDATA_PULL_DURATION: HistogramSpec<"channel"> = {
  name: "gossip_privdata_pull_duration",
  type: "histogram",
  help: "Time it takes to pull a missing private data element (in seconds)",
  labelNames: ["channel"],
};

/** Fabric's `RetrieveDurationOpts` (`privdata/pull.go:createResponse`). */
export const GOSSIP_PRIVDATA_RETRIEVE_DURATION: HistogramSpec<"channel"> = {
  name: "gossip_privdata_retrieve_duration",
  type: "histogram",
  help: "Time it takes to retrieve missing private data elements from the ledger (in seconds)",
  labelNames: ["channel"],
};

/** A definition of one of Fabric's gossip metrics. */
export type FabricMetricSpec = CounterSpec<never> | GaugeSpec<"channel"> | HistogramSpec<"channel">;

/** The nine `gossip_privdata_*` histograms, in Fabric's `PrivdataMetrics` field order. */
export const FABRIC_PRIVDATA_METRICS: readonly HistogramSpec<"channel">[] = Object.freeze([
  GOSSIP_PRIVDATA_VALIDATION_DURATION,
  GOSSIP_PRIVDATA_LIST_MISSING_DURATION,
  GOSSIP_PRIVDATA_FETCH_DURATION,
  GOSSIP_PRIVDATA_COMMIT_BLOCK_DURATION,
  GOSSIP_PRIVDATA_PURGE_DURATION,
  GOSSIP_PRIVDATA_SEND_DURATION,
  GOSSIP_PRIVDATA_RECONCILIATION_DURATION,
  GOSSIP_PRIVDATA_PULL_DURATION,
  GOSSIP_PRIVDATA_RETRIEVE_DURATION,
]);

/** Fabric's 17 gossip metrics (`NewGossipMetrics`: state, election, comm, membership, privdata). */
export const FABRIC_GOSSIP_METRICS: readonly FabricMetricSpec[] = Object.freeze([
  GOSSIP_STATE_HEIGHT,
  GOSSIP_STATE_COMMIT_DURATION,
  GOSSIP_PAYLOAD_BUFFER_SIZE,
  GOSSIP_LEADER_ELECTION_LEADER,
  GOSSIP_COMM_MESSAGES_SENT,
  GOSSIP_COMM_OVERFLOW_COUNT,
  GOSSIP_COMM_MESSAGES_RECEIVED,
  GOSSIP_MEMBERSHIP_TOTAL_PEERS_KNOWN,
  ...FABRIC_PRIVDATA_METRICS,
]);

/**
 * Makes sure all 17 of Fabric's gossip metrics exist on `target` (Fabric's `NewGossipMetrics`), so
 * `/metrics` lists each one (with its HELP and TYPE) before any component updates it. Get-or-create:
 * idempotent, and safe before or after the components create theirs from the same definitions.
 * `target` is a prom-client Registry or any MetricsProvider (for `promMetricsProvider`, its registry).
 * @throws MetricsError METRIC_CONFLICT when the registry holds a metric of one of these names with another type, labels or help.
 */
export function registerFabricGossipMetrics(target: Registry | MetricsProvider): void {
  const provider = target instanceof Registry ? promMetricsProvider(target) : target;
  for (const spec of FABRIC_GOSSIP_METRICS) {
    if (spec.type === "counter") provider.counter(spec);
    else if (spec.type === "gauge") provider.gauge(spec);
    else provider.histogram(spec);
  }
}
