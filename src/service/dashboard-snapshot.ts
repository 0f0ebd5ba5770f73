import type { Registry } from "../metrics/index.js";
import type { EventLogView, RecordedEvent } from "./event-log.js";
import type { ChannelStatusView, MembershipView } from "./membership-view.js";

/** A peer (or the orderer) as the dashboard draws it. */
export interface DashboardNode {
  /** Unique within a snapshot: the PKI-ID in a peer's view, the process name in a network's. */
  id: string;
  /** What the page labels it with: an endpoint or a host name. */
  name: string;
  /** MSP ID; the graph groups nodes by it. */
  org: string;
  /** "self", "alive" or "dead" in a peer's view; the process state ("running", "exited", ...) in a network's. */
  state: string;
  /** The channels it leads (known for the peer itself in a peer's view, for every peer in a network's). */
  leaderOf: string[];
  /** Ledger height per channel, where known. */
  heights: Record<string, number>;
  /** The channels it is a member of (as the viewer knows). */
  channels: string[];
  /** Its admin endpoint ("host:port"), where its own dashboard is; known to a network's view. */
  admin?: string;
}

/** Commit latency figures over recent commits, in ms. */
export interface DashboardLatency {
  /** What is measured, for the page's caption. */
  what: string;
  p50: number | null;
  p99: number | null;
  max: number | null;
  /** Commits the figures cover. */
  count: number;
}

/**
 * One frame of the dashboard: what `GET /v1/stream` sends every second and `GET /v1/dashboard` answers. Counters
 * are cumulative; the page turns them into rates between frames.
 */
export interface DashboardSnapshot {
  scope: "peer" | "network";
  title: string;
  /** Epoch ms. */
  time: number;
  channels: string[];
  nodes: DashboardNode[];
  /** Who knows whom alive: pairs of node ids. */
  links: [string, string][];
  commit: DashboardLatency;
  /** Message counters by type (cumulative). */
  messages: Record<string, number>;
  /** Refused messages and connections by "component code" (cumulative). */
  refusals: Record<string, number>;
  /** Peer events by kind (cumulative). */
  events: Record<string, number>;
  /** The latest events as one line each, newest last. */
  recent: string[];
}

/** What a peer's snapshot is built from: what its admin endpoint already serves. */
export interface PeerDashboardSource {
  title: string;
  membership: () => MembershipView;
  channels: () => ChannelStatusView[];
  events: (since: number) => EventLogView;
  registry: Registry;
  now: () => number;
}

/** How many recent events a snapshot lists. */
export const DASHBOARD_RECENT_EVENTS = 15;
/** How many recent commits the latency figures cover. */
const LATENCY_WINDOW = 200;

/** A peer's dashboard frame: itself and the members it knows, its ledgers, its counters. */
export async function peerDashboardSnapshot(src: PeerDashboardSource): Promise<DashboardSnapshot> {
  const m = src.membership();
  const ledgers = src.channels();
  const log = src.events(0);
  const nodes = new Map<string, DashboardNode>();
  const node = (id: string, name: string, org: string, state: string): DashboardNode => {
    let n = nodes.get(id);
    if (n === undefined) {
      n = { id, name, org, state, leaderOf: [], heights: {}, channels: [] };
      nodes.set(id, n);
    }
    return n;
  };
  const self = node(m.self.pkiId, m.self.endpoint || m.self.internalEndpoint, m.self.org, "self");
  for (const p of m.alive) node(p.pkiId, p.endpoint || p.internalEndpoint, p.org, "alive");
  for (const p of m.dead) node(p.pkiId, p.endpoint || p.internalEndpoint, p.org, "dead");
  const channels = new Set<string>();
  for (const [ch, members] of Object.entries(m.channels)) {
    channels.add(ch);
    if (!self.channels.includes(ch)) self.channels.push(ch);
    for (const p of members) {
      const n = node(p.pkiId, p.endpoint || p.internalEndpoint, p.org, "alive");
      if (p.leftChannel) continue;
      n.channels.push(ch);
      if (p.ledgerHeight > 0) n.heights[ch] = p.ledgerHeight;
    }
  }
  for (const l of ledgers) {
    channels.add(l.channel);
    if (!self.channels.includes(l.channel)) self.channels.push(l.channel);
    self.heights[l.channel] = l.height;
    if (l.leader) self.leaderOf.push(l.channel);
  }
  const commitMs = log.events.filter((e) => e["kind"] === "block-committed" && typeof e["commitMs"] === "number").map((e) => e["commitMs"] as number);
  return {
    scope: "peer",
    title: src.title,
    time: src.now(),
    channels: [...channels].sort(),
    nodes: [...nodes.values()],
    links: m.alive.map((p): [string, string] => [self.id, p.pkiId]),
    commit: { what: "ledger commit (this peer)", ...latencyOf(commitMs.slice(-LATENCY_WINDOW)) },
    ...(await countersOf(src.registry)),
    events: { ...log.counts },
    recent: log.events.slice(-DASHBOARD_RECENT_EVENTS).map(eventLine),
  };
}

/** p50, p99 and max of `values` (null when there are none). */
export function latencyOf(values: readonly number[]): Omit<DashboardLatency, "what"> {
  if (values.length === 0) return { p50: null, p99: null, max: null, count: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  const round = (v: number): number => Math.round(v * 10) / 10;
  return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1] ?? 0), count: values.length };
}

/** One event as a line: its time, kind and fields. */
function eventLine(e: RecordedEvent): string {
  const fields = Object.entries(e)
    .filter(([k]) => k !== "seq" && k !== "time" && k !== "kind" && k !== "headerHash")
    .map(([k, v]) => `${k}=${k === "pkiId" ? String(v).slice(0, 12) : typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : String(v)}`);
  return `${e.time.slice(11, 23)} ${String(e["kind"])} ${fields.join(" ")}`;
}

/** A metric as prom-client's `getMetricsAsJSON` gives it (its typings are looser). */
interface MetricJson {
  name: string;
  type: string;
  values?: { value: number; labels?: Record<string, string | number> }[];
}

/**
 * Message counters and refusals from the registry: comm's sent and received totals (Fabric's
 * gossip_comm_messages_*), any counter of messages labelled by `type`, and every "rejected" counter by
 * component and code (or reason).
 */
async function countersOf(registry: Registry): Promise<Pick<DashboardSnapshot, "messages" | "refusals">> {
  const metrics = (await registry.getMetricsAsJSON()) as unknown as MetricJson[];
  const messages: Record<string, number> = {};
  const refusals: Record<string, number> = {};
  const sum = (values: MetricJson["values"]): number => (values ?? []).reduce((a, v) => a + v.value, 0);
  for (const m of metrics) {
    if (m.type !== "counter") continue;
    if (m.name === "gossip_comm_messages_sent") messages["sent"] = sum(m.values);
    else if (m.name === "gossip_comm_messages_received") messages["received"] = sum(m.values);
    else if (m.name.includes("messages") && (m.values ?? []).some((v) => v.labels?.["type"] !== undefined)) {
      for (const v of m.values ?? []) {
        const type = v.labels?.["type"];
        if (type !== undefined) messages[String(type)] = (messages[String(type)] ?? 0) + v.value;
      }
    } else if (m.name.includes("rejected")) {
      const component = componentOf(m.name);
      for (const v of m.values ?? []) {
        if (v.value === 0) continue;
        const code = v.labels?.["code"] ?? v.labels?.["reason"] ?? "-";
        const key = `${component} ${String(code)}`;
        refusals[key] = (refusals[key] ?? 0) + v.value;
      }
    }
  }
  return { messages, refusals };
}

/** "fabric_gossip_comm_rejected_total" -> "comm", "deliver_blocks_rejected" -> "deliver". */
function componentOf(metric: string): string {
  return metric.replace(/^fabric_gossip_/, "").split("_")[0] ?? metric;
}
