import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "../../logging/index.js";
import { DASHBOARD_RECENT_EVENTS, DashboardEndpoint, type DashboardNode, type DashboardSnapshot, splitHostPort } from "../../service/index.js";
import { errorMessage, SystemClock } from "../../util/index.js";
import { NetworkError } from "./errors.js";
import type { LatencySummary } from "./latency.js";
import type { NetworkOrderer, NetworkPeer, PeerStatus } from "./local-network.js";

/** How long the network's dashboard waits for one peer's frame. */
const PEER_FRAME_TIMEOUT_MS = 800;

/** What the network's dashboard reads: the network's own view of its processes, and the live view's polls. */
export interface NetworkDashboardSource {
  /** The page's heading. */
  title: string;
  channel: string;
  peers(): readonly Pick<NetworkPeer, "name" | "org" | "state" | "height" | "leader" | "admin" | "pkiId">[];
  /** Undefined before the network started. */
  orderer(): Pick<NetworkOrderer, "name" | "org" | "state" | "height"> | undefined;
  /** Orderer cut to peer commit, over every peer. */
  commitLatency(): LatencySummary;
  /** The live view's latest `/v1/channels` answer of each peer, by peer name. */
  status(): ReadonlyMap<string, PeerStatus>;
}

/**
 * `network up`'s dashboard: the peer's dashboard page, served on its own HTTP port for the whole
 * network. A frame combines the network's view (every process, its state and height, the leaders the
 * live view polled, orderer-to-commit latency) with each running peer's own frame from its admin
 * endpoint (`/v1/dashboard`: who it knows alive, its message counters, refusals and events), fetched only
 * while a page is connected.
 */
export class NetworkDashboard {
  readonly #listen: string;
  readonly #source: NetworkDashboardSource;
  readonly #endpoint: DashboardEndpoint;
  #server: Server | undefined;
  #address = "";

  constructor(listen: string, source: NetworkDashboardSource, logger?: Logger) {
    this.#listen = listen;
    this.#source = source;
    this.#endpoint = new DashboardEndpoint({ clock: new SystemClock(), snapshot: () => this.snapshot(), ...(logger !== undefined ? { logger } : {}) });
  }

  /** "host:port" it listens on, once started. */
  get address(): string {
    return this.#address;
  }

  /**
   * Listens on the address given.
   * @throws NetworkError INVALID_OPTIONS when the address is not host:port or cannot be listened on.
   */
  async start(): Promise<void> {
    if (this.#server !== undefined) return;
    let host: string;
    let port: number;
    try {
      ({ host, port } = splitHostPort(this.#listen));
    } catch (err) {
      throw new NetworkError("INVALID_OPTIONS", `--dashboard: ${errorMessage(err)}`, { cause: err });
    }
    const server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) => reject(new NetworkError("INVALID_OPTIONS", `--dashboard ${this.#listen}: cannot listen: ${errorMessage(err)}`, { cause: err })));
      server.listen(port, host, () => resolve());
    });
    server.removeAllListeners("error");
    // A socket error after start (a client reset) must not end `network up`.
    server.on("error", () => undefined);
    const addr = server.address();
    this.#address = typeof addr === "object" && addr !== null ? `${host.includes(":") ? `[${host}]` : host}:${addr.port}` : this.#listen;
    this.#server = server;
  }

  /** Ends every stream and closes the port. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    this.#endpoint.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** One frame of the whole network. */
  async snapshot(): Promise<DashboardSnapshot> {
    const src = this.#source;
    const peers = src.peers();
    const frames = await Promise.all(peers.map((p) => (p.state === "running" && p.admin !== undefined ? peerFrame(p.admin) : Promise.resolve(undefined))));
    const nodes: DashboardNode[] = [];
    const orderer = src.orderer();
    if (orderer !== undefined) {
      nodes.push({ id: orderer.name, name: orderer.name, org: orderer.org, state: orderer.state, leaderOf: [], heights: { [src.channel]: orderer.height }, channels: [src.channel] });
    }
    const status = src.status();
    const nameByPki = new Map<string, string>();
    for (const p of peers) {
      if (p.pkiId !== undefined) nameByPki.set(p.pkiId, p.name);
      const st = p.state === "running" ? status.get(p.name)?.status : undefined;
      const leader = st?.leader ?? (p.state === "running" && p.leader);
      nodes.push({
        id: p.name,
        name: p.name,
        org: p.org,
        state: p.state,
        leaderOf: leader ? [src.channel] : [],
        // Nothing is known of a peer that never reported a height.
        heights: Math.max(st?.height ?? 0, p.height) > 0 ? { [src.channel]: Math.max(st?.height ?? 0, p.height) } : {},
        channels: p.state === "running" ? [src.channel] : [],
        ...(p.state === "running" && p.admin !== undefined ? { admin: p.admin } : {}),
      });
    }
    const links = new Map<string, [string, string]>();
    const messages: Record<string, number> = {};
    const refusals: Record<string, number> = {};
    const events: Record<string, number> = {};
    const recent: string[] = [];
    const add = (into: Record<string, number>, from: Record<string, number>): void => {
      for (const [k, v] of Object.entries(from)) if (typeof v === "number") into[k] = (into[k] ?? 0) + v;
    };
    frames.forEach((f, i) => {
      if (f === undefined) return;
      const peer = peers[i]?.name ?? "";
      for (const [a, b] of f.links) {
        const from = nameByPki.get(a) ?? peer;
        const to = nameByPki.get(b);
        if (to === undefined || to === from) continue;
        const key = from < to ? `${from} ${to}` : `${to} ${from}`;
        if (!links.has(key)) links.set(key, [from, to]);
      }
      add(messages, f.messages);
      add(refusals, f.refusals);
      add(events, f.events);
      // Each line starts with its time (HH:MM:SS.mmm): sorted, they interleave in order.
      for (const line of f.recent) recent.push(`${line.slice(0, 12)} ${peer} ${line.slice(13)}`);
    });
    const lat = src.commitLatency();
    const round = (v: number | null): number | null => (v === null ? null : Math.round(v * 10) / 10);
    return {
      scope: "network",
      title: src.title,
      time: Date.now(),
      channels: [src.channel],
      nodes,
      links: [...links.values()],
      commit: { what: "orderer cut to peer commit (every peer)", p50: round(lat.p50), p99: round(lat.p99), max: round(lat.max), count: lat.count },
      messages,
      refusals,
      events,
      recent: recent.sort().slice(-DASHBOARD_RECENT_EVENTS),
    };
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (this.#endpoint.handle(req, res, path === "/" ? "/dashboard" : path)) return;
    const body = JSON.stringify({ error: "no such endpoint; try /, /v1/stream, /v1/dashboard" });
    res.writeHead(404, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  }
}

/** A peer's frame from its admin endpoint; undefined when it does not answer in time or answers something else. */
async function peerFrame(admin: string): Promise<DashboardSnapshot | undefined> {
  try {
    const res = await fetch(`http://${admin}/v1/dashboard`, { signal: AbortSignal.timeout(PEER_FRAME_TIMEOUT_MS) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as Partial<DashboardSnapshot> | null;
    if (body === null || typeof body !== "object" || !Array.isArray(body.links) || !Array.isArray(body.recent)) return undefined;
    return {
      ...(body as DashboardSnapshot),
      messages: recordOf(body.messages),
      refusals: recordOf(body.refusals),
      events: recordOf(body.events),
      recent: body.recent.filter((l): l is string => typeof l === "string"),
      links: body.links.filter((l): l is [string, string] => Array.isArray(l) && typeof l[0] === "string" && typeof l[1] === "string"),
    };
  } catch {
    return undefined;
  }
}

function recordOf(v: unknown): Record<string, number> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, number] => typeof e[1] === "number"));
}
