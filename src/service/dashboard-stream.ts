import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../logging/index.js";
import { type Clock, errorMessage, type TimerHandle } from "../util/index.js";
import { dashboardPage } from "./dashboard-page.js";
import type { DashboardSnapshot } from "./dashboard-snapshot.js";

/** How often a frame goes to the page. */
export const DASHBOARD_INTERVAL_MS = 1_000;
/** Browsers streaming at once; more are answered 503 (each costs a snapshot a second, shared, and a socket). */
export const DASHBOARD_MAX_CLIENTS = 16;
/** Frames queued for a page that does not read before it is dropped (its memory would grow without bound). */
export const DASHBOARD_MAX_BUFFERED_BYTES = 1024 * 1024;

export interface DashboardEndpointOptions {
  /** Builds one frame; called once per interval while a page is connected (never two at once). */
  snapshot: () => Promise<DashboardSnapshot>;
  clock: Clock;
  logger?: Logger;
  /** Default DASHBOARD_INTERVAL_MS. */
  intervalMs?: number;
  /** Default DASHBOARD_MAX_CLIENTS. */
  maxClients?: number;
  /** Default DASHBOARD_MAX_BUFFERED_BYTES. */
  maxBufferedBytes?: number;
}

/**
 * The live dashboard's HTTP side, for the peer's admin endpoint and `network up`'s own server:
 * `GET /dashboard` (the page: self-contained HTML, inline CSS, JS and SVG), `GET /v1/stream` (server-sent
 * events, a `snapshot` event a second) and `GET /v1/dashboard` (one frame as JSON). One timer runs only
 * while a page is connected; `close()` ends every stream and cancels it.
 */
export class DashboardEndpoint {
  readonly #o: DashboardEndpointOptions;
  readonly #clients = new Set<ServerResponse>();
  readonly #intervalMs: number;
  readonly #maxClients: number;
  #timer: TimerHandle | undefined;
  #building = false;
  /** The latest frame, for a page that joins between two: it sees something at once. */
  #last: string | undefined;

  constructor(options: DashboardEndpointOptions) {
    this.#o = options;
    this.#intervalMs = Math.max(50, options.intervalMs ?? DASHBOARD_INTERVAL_MS);
    this.#maxClients = Math.max(1, options.maxClients ?? DASHBOARD_MAX_CLIENTS);
  }

  /** Pages streaming now. */
  get clients(): number {
    return this.#clients.size;
  }

  /**
   * Answers a GET of one of the dashboard's paths and returns true; returns false (and writes nothing) for
   * any other request.
   */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (req.method !== "GET") return false;
    switch (path) {
      case "/dashboard": {
        const body = dashboardPage();
        res.writeHead(200, {
          "content-type": "text/html; charset=utf-8",
          "content-length": Buffer.byteLength(body),
          "cache-control": "no-store",
          // Everything is inline; the page talks to its own origin only.
          "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
        });
        res.end(body);
        return true;
      }
      case "/v1/dashboard":
        void this.#o
          .snapshot()
          .then((s) => sendJson(res, 200, s))
          .catch((err: unknown) => sendJson(res, 500, { error: `the dashboard snapshot failed: ${errorMessage(err)}` }));
        return true;
      case "/v1/stream":
        this.#stream(req, res);
        return true;
      default:
        return false;
    }
  }

  /** Ends every stream and stops the timer (the server stops taking requests first). */
  close(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    for (const res of this.#clients) res.end();
    this.#clients.clear();
    this.#last = undefined;
  }

  #stream(req: IncomingMessage, res: ServerResponse): void {
    if (this.#clients.size >= this.#maxClients) {
      sendJson(res, 503, { error: `too many dashboards are open (at most ${this.#maxClients}); close one and reload` });
      return;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    // The browser reconnects 2 s after a drop.
    res.write("retry: 2000\n\n");
    this.#clients.add(res);
    const drop = (): void => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) {
        this.#timer?.cancel();
        this.#timer = undefined;
        this.#last = undefined;
      }
    };
    req.once("close", drop);
    res.once("close", drop);
    if (this.#timer === undefined) this.#tick();
    else if (this.#last !== undefined) res.write(this.#last);
  }

  /** Sends a frame to every page, then schedules the next while any is connected. */
  #tick(): void {
    this.#timer = this.#o.clock.setTimeout(() => this.#tick(), this.#intervalMs);
    if (this.#building) return;
    this.#building = true;
    void this.#o
      .snapshot()
      .then((s) => {
        const frame = `event: snapshot\ndata: ${JSON.stringify(s)}\n\n`;
        if (this.#clients.size > 0) this.#last = frame;
        const limit = this.#o.maxBufferedBytes ?? DASHBOARD_MAX_BUFFERED_BYTES;
        for (const res of this.#clients) {
          if (res.writableEnded) continue;
          // A page that stopped reading: drop it rather than queue frames for it forever.
          if (res.writableLength > limit) res.destroy();
          else res.write(frame);
        }
      })
      .catch((err: unknown) => this.#o.logger?.debug("dashboard snapshot failed", { error: errorMessage(err) }))
      .finally(() => {
        this.#building = false;
      });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
