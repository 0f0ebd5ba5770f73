import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import { type Logger, type LogLevels, LogSpecError } from "../logging/index.js";
import { errorMessage, GossipError } from "../util/index.js";
import type { Registry } from "../metrics/index.js";
import type { EventLogView } from "./event-log.js";
import type { ChannelStatusView, MembershipView } from "./membership-view.js";
import { DashboardEndpoint, type DashboardEndpointOptions } from "./dashboard-stream.js";
import { type PvtDataViews, PvtViewError } from "./pvtdata-view.js";

/**
 * TLS of the operations endpoint (Fabric's `operations.tls.*`, served by common/fabhttp): HTTPS with TLS 1.2
 * or later. Client certificates are verified against `clientRootCAs`: with `clientAuthRequired` a client
 * without one is refused in the handshake; without it, such a client gets only /healthz and /version (401 for
 * the rest, as Fabric's endpoints registered "secure" answer), and one presenting a certificate no CA verifies
 * is refused in the handshake (Go's VerifyClientCertIfGiven).
 */
export interface AdminTlsOptions {
  /** PEM server certificate (chain). */
  cert: Buffer;
  /** PEM key of `cert`. */
  key: Buffer;
  /** PEM CA certificates client certificates are verified against; none: no client certificate is verified. */
  clientRootCAs?: Buffer;
  clientAuthRequired: boolean;
}

/** The admin endpoint's TLS options contradict each other (the message says how). */
export class AdminServerError extends GossipError {
  declare readonly code: "ADMIN_TLS";
}

export interface AdminServerOptions {
  /** "host:port"; port 0 picks a free port. */
  listen: string;
  /** HTTPS, as Fabric's operations.tls.* configure it. Absent: plain HTTP. */
  tls?: AdminTlsOptions;
  registry: Registry;
  membership: () => MembershipView;
  /** The channels with a ledger (`/v1/channels`); none when absent. */
  channels?: () => ChannelStatusView[];
  /**
   * Joins the channel of a genesis block (`POST /v1/channels/join`, the block as the body): what
   * `fabric-gossip channel join` calls. Absent: the endpoint answers 404.
   */
  join?: (block: Uint8Array) => Promise<ChannelStatusView>;
  /**
   * Fabric's `DistributePrivateData` for an endorser (`POST /v1/channels/{channel}/private-data`, see
   * `#distribute`): pushes a transaction's private write sets to the peers its collections admit and keeps
   * them in this peer's transient store. Absent: the endpoint answers 404.
   */
  distributePrivateData?: (channel: string, txId: string, data: Uint8Array, blockHeight: bigint) => Promise<void>;
  /**
   * What this peer holds of private data (`GET /v1/channels/{channel}/private-data?tx=ID|block=N[&values=true]`
   * and `.../private-data/summary`, see `#privateDataView`). Absent: those answer 404.
   */
  privateDataViews?: PvtDataViews;
  /** The peer's recent typed events after a sequence number (`/v1/events?since=N`); none when absent. */
  events?: (since: number) => EventLogView;
  logger: Logger;
  /** The levels of the peer's loggers: `/logspec` reads (GET) and changes (PUT) them. Absent: 404. */
  logLevels?: LogLevels;
  /** What `/version` answers (Fabric's shape: `{"Version", "CommitSHA"}`). */
  version?: { Version: string; CommitSHA: string };
  /** Wall-clock time for /healthz (the caller's clock). */
  now: () => Date;
  /** The live dashboard (`/dashboard`, `/v1/stream`, `/v1/dashboard`, see DashboardEndpoint). Absent: 404. */
  dashboard?: DashboardEndpointOptions;
}

/**
 * The peer's operations endpoint: `/healthz` (Fabric's shape), `/metrics` (Prometheus text), and
 * `/v1/membership` (what this peer knows of the network, as JSON), `/v1/channels` (each channel's
 * ledger height, last block hash and leadership), `/v1/events?since=N` (the peer's recent typed
 * events, membership, leadership, commits and rejections, and a count of each kind).
 */
export class AdminServer {
  #server: Server | undefined;
  #address = "";
  readonly #dashboard: DashboardEndpoint | undefined;

  constructor(private readonly options: AdminServerOptions) {
    this.#dashboard = options.dashboard === undefined ? undefined : new DashboardEndpoint(options.dashboard);
  }

  /** "host:port" it listens on, once started. */
  get address(): string {
    return this.#address;
  }

  /** "http://host:port" or, with TLS, "https://host:port", once started. */
  get url(): string {
    return `${this.options.tls === undefined ? "http" : "https"}://${this.#address}`;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const { host, port } = splitHostPort(this.options.listen);
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      void this.#handle(req, res).catch((err: unknown) => {
        this.options.logger.error("admin request failed", { url: req.url, error: err instanceof Error ? err.message : String(err) });
        if (!res.headersSent) send(res, 500, "application/json", JSON.stringify({ error: "internal error" }));
      });
    };
    const server = this.options.tls === undefined ? createServer(handler) : this.#httpsServer(this.options.tls, handler);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address();
    this.#address = typeof addr === "object" && addr !== null ? `${host}:${addr.port}` : this.options.listen;
    this.#server = server;
    const warning = exposureWarningOf(host, this.options.tls);
    if (warning !== undefined) this.options.logger.warn(warning, { address: this.#address });
  }

  /** The HTTPS server of `tls` (Fabric's fabhttp TLS.Config: TLS 1.2+, client certificates verified against the client root CAs). */
  #httpsServer(tls: AdminTlsOptions, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
    const cas = tls.clientRootCAs !== undefined && tls.clientRootCAs.byteLength > 0 ? tls.clientRootCAs : undefined;
    // Without CAs Node would verify client certificates against its public roots: nobody is to be trusted then.
    if (tls.clientAuthRequired && cas === undefined) {
      throw new AdminServerError("ADMIN_TLS", "client authentication is required but no client root CA is given (operations.tls.clientRootCAs.files): no client could connect");
    }
    const server = createHttpsServer(
      {
        cert: tls.cert,
        key: tls.key,
        minVersion: "TLSv1.2",
        ...(cas !== undefined ? { ca: cas, requestCert: true, rejectUnauthorized: tls.clientAuthRequired } : {}),
      },
      handler,
    );
    if (cas !== undefined && !tls.clientAuthRequired) {
      // A certificate was offered that no client root CA verifies: refused, as Go's VerifyClientCertIfGiven does.
      server.on("secureConnection", (socket: TLSSocket) => {
        if (!socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0) socket.destroy();
      });
    }
    server.on("tlsClientError", (err) => this.options.logger.debug("admin TLS handshake refused", { error: err.message }));
    return server;
  }

  /** With TLS, whether the request came with a client certificate a client root CA verified (always true without TLS). */
  #clientVerified(req: IncomingMessage): boolean {
    return this.options.tls === undefined || (req.socket as TLSSocket).authorized === true;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    // Open event streams would hold server.close() forever; their timer must not outlive the server.
    this.#dashboard?.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [path, query] = (req.url ?? "/").split("?");
    // Fabric registers /healthz and /version open and every other handler "secure" (a verified client certificate when TLS is on).
    if (!this.#clientVerified(req) && !(req.method === "GET" && (path === "/healthz" || path === "/version"))) {
      send(res, 401, "application/json", JSON.stringify({ error: "a client certificate from operations.tls.clientRootCAs.files is needed for this endpoint" }));
      return;
    }
    if (this.#dashboard?.handle(req, res, path ?? "") === true) return;
    if (req.method === "POST" && path === "/v1/channels/join" && this.options.join !== undefined) {
      await this.#join(req, res, this.options.join);
      return;
    }
    const pvt = req.method === "POST" ? PRIVATE_DATA_PATH.exec(path ?? "") : null;
    if (pvt !== null && this.options.distributePrivateData !== undefined) {
      await this.#distribute(req, res, pvt[1] ?? "", this.options.distributePrivateData);
      return;
    }
    if (req.method === "PUT" && path === "/logspec" && this.options.logLevels !== undefined) {
      await this.#putLogSpec(req, res, this.options.logLevels);
      return;
    }
    if (req.method !== "GET") {
      // Request paths and methods are not echoed: the answer must not carry what a client injected.
      send(res, 405, "application/json", JSON.stringify({ error: "method not allowed; use GET (or POST /v1/channels/join with a genesis block)" }));
      return;
    }
    const pvtView = PRIVATE_DATA_VIEW_PATH.exec(path ?? "");
    if (pvtView !== null && this.options.privateDataViews !== undefined) {
      await this.#privateDataView(res, pvtView[1] ?? "", pvtView[2] === "/summary", new URLSearchParams(query ?? ""), this.options.privateDataViews);
      return;
    }
    switch (path) {
      case "/healthz":
        send(res, 200, "application/json", JSON.stringify({ status: "OK", time: this.options.now().toISOString() }));
        return;
      case "/metrics":
        send(res, 200, this.options.registry.contentType, await this.options.registry.metrics());
        return;
      case "/logspec":
        if (this.options.logLevels === undefined) break;
        send(res, 200, "application/json", JSON.stringify({ spec: this.options.logLevels.spec.text }));
        return;
      case "/version":
        send(res, 200, "application/json", JSON.stringify(this.options.version ?? { Version: "", CommitSHA: "" }));
        return;
      case "/v1/membership":
        send(res, 200, "application/json", JSON.stringify(this.options.membership()));
        return;
      case "/v1/channels":
        send(res, 200, "application/json", JSON.stringify({ channels: this.options.channels?.() ?? [] }));
        return;
      case "/v1/events": {
        const since = Number(new URLSearchParams(query ?? "").get("since") ?? "0");
        if (!Number.isInteger(since) || since < 0) {
          send(res, 400, "application/json", JSON.stringify({ error: "since must be a non-negative integer (the next of an earlier answer)" }));
          return;
        }
        const view = this.options.events?.(since) ?? { next: 1, counts: {}, events: [] };
        send(res, 200, "application/json", JSON.stringify(view));
        return;
      }
    }
    send(res, 404, "application/json", JSON.stringify({ error: "no such endpoint; try /healthz, /metrics, /logspec, /version, /v1/membership, /v1/channels, /v1/events" }));
  }

  /**
   * `GET /v1/channels/{channel}/private-data?tx=ID` (or `?block=N`; `&values=true` adds the KV writes in
   * base64): for each (namespace, collection) the transaction(s) need, whether this peer holds it (hash
   * checked), has it only in the transient store, missing or purged (a PvtDataView). `.../private-data/summary`:
   * counts per collection (a PvtDataSummary). 404 for a channel not joined or a transaction/block not found,
   * 400 for a bad query.
   */
  async #privateDataView(res: ServerResponse, encodedChannel: string, summary: boolean, q: URLSearchParams, views: PvtDataViews): Promise<void> {
    const fail = (status: number, code: string, error: string): void => send(res, status, "application/json", JSON.stringify({ error, code }));
    let channel: string;
    try {
      channel = decodeURIComponent(encodedChannel);
    } catch {
      fail(400, "BAD_REQUEST", "the channel name in the path is not URL-encoded text");
      return;
    }
    const valuesText = q.get("values");
    if (valuesText !== null && valuesText !== "true" && valuesText !== "false") return fail(400, "BAD_REQUEST", 'values must be "true" or "false"');
    const values = valuesText === "true";
    try {
      let body: unknown;
      if (summary) body = await views.summary(channel);
      else {
        const tx = q.get("tx");
        const block = q.get("block");
        if ((tx === null) === (block === null)) return fail(400, "BAD_REQUEST", "give exactly one of tx=<transaction ID> or block=<number>");
        if (block !== null) {
          if (!/^\d{1,20}$/.test(block)) return fail(400, "BAD_REQUEST", "block must be a decimal block number");
          body = await views.block(channel, BigInt(block), values);
        } else body = await views.tx(channel, tx ?? "", values);
      }
      send(res, 200, "application/json", JSON.stringify(body));
    } catch (err) {
      if (!(err instanceof PvtViewError)) throw err;
      fail(err.code === "BAD_REQUEST" ? 400 : 404, err.code, err.message);
    }
  }

  /** Fabric's PUT /logspec: `{"spec": "..."}`; 204 when applied, 400 with `{"Error"}` when the spec is refused. */
  async #putLogSpec(req: IncomingMessage, res: ServerResponse, levels: LogLevels): Promise<void> {
    const body = await readBody(req, res, MAX_LOGSPEC_BYTES, { Error: `the body is larger than ${MAX_LOGSPEC_BYTES} bytes` });
    if (body === undefined) return;
    let spec: unknown;
    try {
      spec = (JSON.parse(body.toString("utf8")) as { spec?: unknown }).spec;
    } catch {
      spec = undefined;
    }
    if (typeof spec !== "string") {
      send(res, 400, "application/json", JSON.stringify({ Error: 'the body must be a JSON object {"spec": "<FABRIC_LOGGING_SPEC>"}' }));
      return;
    }
    try {
      levels.set(spec);
    } catch (err) {
      if (!(err instanceof LogSpecError)) throw err;
      send(res, 400, "application/json", JSON.stringify({ Error: err.message }));
      return;
    }
    this.options.logger.info("log levels changed", { spec: levels.spec.text });
    res.writeHead(204);
    res.end();
  }

  /** Reads the block, joins its channel; 400 for a bad block, 409 for a channel already joined. */
  async #join(req: IncomingMessage, res: ServerResponse, join: (block: Uint8Array) => Promise<ChannelStatusView>): Promise<void> {
    const body = await readBody(req, res, MAX_JOIN_BLOCK_BYTES, { error: `the block is larger than ${MAX_JOIN_BLOCK_BYTES} bytes` });
    if (body === undefined) return;
    try {
      const status = await join(new Uint8Array(body));
      send(res, 200, "application/json", JSON.stringify(status));
    } catch (err) {
      const code = err instanceof GossipError ? err.code : "INTERNAL";
      const status = code === "CHANNEL_EXISTS" ? 409 : err instanceof GossipError ? 400 : 500;
      send(res, status, "application/json", JSON.stringify({ error: errorMessage(err), code }));
    }
  }

  /**
   * `POST /v1/channels/{channel}/private-data` with a JSON body `{"txId": string, "blockHeight": string (a
   * decimal uint64; a number is accepted), "privateData": string (base64 of a serialized
   * transientstore.TxPvtReadWriteSetWithConfigInfo)}`: what an endorser hands gossip before the transaction
   * goes to the orderer. 200 `{"channel", "txId", "blockHeight"}` once distributed as the collections require;
   * 400 for a body that is not that (code BAD_REQUEST) or private data the service refuses; 404 for a channel
   * the peer has not joined; 502 when too few eligible peers acknowledged (Fabric's endorsement then fails).
   */
  async #distribute(
    req: IncomingMessage,
    res: ServerResponse,
    encodedChannel: string,
    distribute: (channel: string, txId: string, data: Uint8Array, blockHeight: bigint) => Promise<void>,
  ): Promise<void> {
    let channel: string;
    try {
      channel = decodeURIComponent(encodedChannel);
    } catch {
      send(res, 400, "application/json", JSON.stringify({ error: "the channel name in the path is not URL-encoded text", code: "BAD_REQUEST" }));
      return;
    }
    const raw = await readBody(req, res, MAX_PRIVATE_DATA_REQUEST_BYTES, { error: `the request is larger than ${MAX_PRIVATE_DATA_REQUEST_BYTES} bytes`, code: "BAD_REQUEST" });
    if (raw === undefined) return;
    const bad = (why: string): void => send(res, 400, "application/json", JSON.stringify({ error: why, code: "BAD_REQUEST" }));
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      bad('the body must be JSON: {"txId", "blockHeight", "privateData" (base64)}');
      return;
    }
    const fields = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    const txId = fields["txId"];
    const heightField = fields["blockHeight"];
    const data = fields["privateData"];
    if (typeof txId !== "string" || txId === "") return bad('"txId" must be a non-empty string');
    const heightText = typeof heightField === "number" ? String(heightField) : heightField;
    if (typeof heightText !== "string" || !/^\d{1,20}$/.test(heightText) || BigInt(heightText) >= 1n << 64n) {
      return bad('"blockHeight" must be a decimal uint64 (a string, or a safe integer)');
    }
    if (typeof data !== "string" || data === "" || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) return bad('"privateData" must be base64');
    const blockHeight = BigInt(heightText);
    try {
      await distribute(channel, txId, new Uint8Array(Buffer.from(data, "base64")), blockHeight);
      send(res, 200, "application/json", JSON.stringify({ channel, txId, blockHeight: blockHeight.toString() }));
    } catch (err) {
      const code = err instanceof GossipError ? err.code : "INTERNAL";
      const status = code === "UNKNOWN_CHANNEL" ? 404 : code === "DISSEMINATION_FAILED" ? 502 : err instanceof GossipError ? 400 : 500;
      send(res, status, "application/json", JSON.stringify({ error: errorMessage(err), code }));
    }
  }
}

/** The largest PUT /logspec body read. */
const MAX_LOGSPEC_BYTES = 64 * 1024;

/**
 * The request body; past `max` bytes, answers 413 with `tooLarge` as its JSON, drops the rest of the request and
 * gives undefined.
 */
async function readBody(req: IncomingMessage, res: ServerResponse, max: number, tooLarge: Record<string, string>): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.byteLength;
    if (size > max) {
      send(res, 413, "application/json", JSON.stringify(tooLarge));
      req.destroy();
      return undefined;
    }
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** `POST /v1/channels/{channel}/private-data`; the channel name is URL-encoded. */
const PRIVATE_DATA_PATH = /^\/v1\/channels\/([^/]+)\/private-data$/;

/** `GET /v1/channels/{channel}/private-data[/summary]`. */
const PRIVATE_DATA_VIEW_PATH = /^\/v1\/channels\/([^/]+)\/private-data(\/summary)?$/;

/** The largest `POST /v1/channels/{channel}/private-data` body: a 100 MiB write set in base64, and its fields. */
export const MAX_PRIVATE_DATA_REQUEST_BYTES = 140 * 1024 * 1024;

/** The largest block `POST /v1/channels/join` reads (Fabric's default gRPC message limit). */
export const MAX_JOIN_BLOCK_BYTES = 100 * 1024 * 1024;

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The warning an endpoint bound to `host` deserves: none on loopback or with TLS client authentication required;
 * otherwise what whoever reaches it can do.
 */
export function exposureWarningOf(host: string, tls: Pick<AdminTlsOptions, "clientAuthRequired"> | undefined): string | undefined {
  if (isLoopback(host) || tls?.clientAuthRequired === true) return undefined;
  return tls === undefined
    ? "the admin endpoint listens beyond loopback without authentication: whoever reaches it can read membership and metrics and join channels"
    : "the admin endpoint listens beyond loopback without TLS client authentication (operations.tls.clientAuthRequired): whoever reaches it gets /healthz and /version; the rest needs a client certificate from operations.tls.clientRootCAs.files";
}

/** Whether `host` is a loopback address or name (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Splits "host:port" (IPv6 in brackets allowed); throws naming the value when it is not one. */
export function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(":");
  const host = value.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(value.slice(i + 1));
  if (i <= 0 || host === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`"${value}" is not host:port`);
  }
  return { host, port };
}
