import { readFile } from "node:fs/promises";
import { type IncomingMessage, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Command } from "commander";
import type { ChannelStatusView } from "../../service/index.js";
import { errorMessage } from "../../util/index.js";
import { NetworkError } from "./errors.js";

const DEFAULT_TIMEOUT_MS = 3_000;

/**
 * A peer's admin (operations) endpoint as a client reaches it: plain HTTP, or HTTPS when the peer runs with
 * operations.tls (trusting `ca`, presenting `cert`/`key` when it requires client certificates).
 */
export interface AdminEndpoint {
  /** "http://host:port" or "https://host:port". */
  readonly base: string;
  /** What messages name: "host:port", or the URL as given. */
  readonly label: string;
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
}

/** The files of the `--admin-tls-*` flags. */
export interface AdminTlsFlags {
  adminTlsCa?: string;
  adminTlsCert?: string;
  adminTlsKey?: string;
}

/** Adds `--admin-tls-ca`, `--admin-tls-cert` and `--admin-tls-key` (for `--admin https://...`) to a command. */
export function addAdminTlsOptions(cmd: Command): Command {
  return cmd
    .option("--admin-tls-ca <file>", "with --admin https://HOST:PORT: the PEM CA certificates the endpoint's certificate chains to (default: the system's)")
    .option("--admin-tls-cert <file>", "with --admin https://...: the PEM client certificate, when the peer requires one (operations.tls.clientAuthRequired, or any endpoint beyond /healthz)")
    .option("--admin-tls-key <file>", "the PEM key of --admin-tls-cert");
}

/**
 * The endpoint `--admin` names: "host:port" or "http://host:port" (plain), "https://host:port" (TLS with the
 * `--admin-tls-*` files; those flags alone also mean HTTPS).
 * @throws NetworkError INVALID_OPTIONS naming the flag at fault; ADMIN_FAILED for a file that cannot be read.
 */
export async function adminEndpointOf(value: string, flags: AdminTlsFlags = {}): Promise<AdminEndpoint> {
  const m = /^(?:(https?):\/\/)?([^/]+?)\/?$/.exec(value.trim());
  const hostPort = m?.[2] ?? "";
  if (m === null || !/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(hostPort)) {
    throw new NetworkError("INVALID_OPTIONS", `--admin ${JSON.stringify(value)}: expected host:port, http://host:port or https://host:port`);
  }
  const anyTls = flags.adminTlsCa !== undefined || flags.adminTlsCert !== undefined || flags.adminTlsKey !== undefined;
  if (m[1] === "http" && anyTls) throw new NetworkError("INVALID_OPTIONS", `--admin ${value}: the --admin-tls-* flags are for https://; drop them or use https://${hostPort}`);
  if ((flags.adminTlsCert === undefined) !== (flags.adminTlsKey === undefined)) {
    throw new NetworkError("INVALID_OPTIONS", flags.adminTlsCert === undefined ? "--admin-tls-key needs --admin-tls-cert" : "--admin-tls-cert needs --admin-tls-key");
  }
  if (m[1] !== "https" && !anyTls) return { base: `http://${hostPort}`, label: value };
  const read = async (flag: string, file: string | undefined): Promise<Buffer | undefined> => {
    if (file === undefined) return undefined;
    try {
      return await readFile(file);
    } catch (err) {
      throw new NetworkError("ADMIN_FAILED", `${flag} ${file}: cannot read the file (${errorMessage(err)})`, { cause: err });
    }
  };
  const ca = await read("--admin-tls-ca", flags.adminTlsCa);
  const cert = await read("--admin-tls-cert", flags.adminTlsCert);
  const key = await read("--admin-tls-key", flags.adminTlsKey);
  return {
    base: `https://${hostPort}`,
    label: value,
    tls: { ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}) },
  };
}

/** A plain-HTTP endpoint of "host:port" (what a peer's ready line calls `admin`). */
function endpointOf(admin: string | AdminEndpoint): AdminEndpoint {
  return typeof admin === "string" ? { base: `http://${admin}`, label: admin } : admin;
}

/** An answer of the admin endpoint. */
export interface AdminAnswer {
  status: number;
  text: string;
}

/**
 * One request to the admin endpoint over HTTP or HTTPS (node:http, since fetch cannot take client certificates).
 * Rejects with the transport's error (refused, TLS handshake, timeout); any HTTP status resolves.
 */
export function adminRequest(
  admin: string | AdminEndpoint,
  path: string,
  init: { method?: string; body?: Uint8Array; contentType?: string; timeoutMs?: number } = {},
): Promise<AdminAnswer> {
  const ep = endpointOf(admin);
  const url = `${ep.base}${path}`;
  const headers = init.body !== undefined ? { "content-type": init.contentType ?? "application/octet-stream", "content-length": String(init.body.byteLength) } : {};
  const timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString("utf8") }));
      res.on("error", reject);
    };
    const options = { method: init.method ?? "GET", headers, agent: false as const, signal: AbortSignal.timeout(timeoutMs) };
    const req = ep.base.startsWith("https:") ? httpsRequest(url, { ...options, ...(ep.tls ?? {}) }, onResponse) : httpRequest(url, options, onResponse);
    req.on("error", reject);
    req.end(init.body);
  });
}

/** GET a JSON answer; throws NetworkError ADMIN_FAILED naming the URL and the peer's error answer (401: the client certificate). */
export async function adminGetJson(admin: string | AdminEndpoint, path: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown> {
  const ep = endpointOf(admin);
  let res: AdminAnswer;
  try {
    res = await adminRequest(ep, path, { timeoutMs });
  } catch (err) {
    throw new NetworkError("ADMIN_FAILED", `cannot reach ${ep.base}${path}: ${errorMessage(err)}`, { cause: err });
  }
  if (res.status < 200 || res.status > 299) {
    let why = res.text;
    try {
      const body = JSON.parse(res.text) as { error?: unknown; code?: unknown };
      if (typeof body.error === "string") why = `${typeof body.code === "string" ? `${body.code}: ` : ""}${body.error}`;
    } catch {
      // not JSON: the text as it came
    }
    const hint = res.status === 401 ? " (give --admin-tls-cert and --admin-tls-key of a certificate the peer's operations.tls.clientRootCAs.files issued)" : "";
    throw new NetworkError("ADMIN_FAILED", `${ep.base}${path} answered ${res.status}: ${why}${hint}`);
  }
  try {
    return JSON.parse(res.text) as unknown;
  } catch (err) {
    throw new NetworkError("ADMIN_FAILED", `${ep.base}${path}: the answer is not JSON: ${res.text.slice(0, 120)}`, { cause: err });
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** One entry of `/v1/channels`: "channel" and "height" are required; a field missing otherwise reads as false, 0 or "". */
export function parseChannel(v: unknown, admin: string): ChannelStatusView {
  if (!isRecord(v) || typeof v["channel"] !== "string" || typeof v["height"] !== "number") {
    throw new NetworkError("ADMIN_FAILED", `${admin}/v1/channels: an entry without "channel" and "height": ${JSON.stringify(v).slice(0, 120)}`);
  }
  return {
    channel: v["channel"],
    height: v["height"],
    lastBlockHash: typeof v["lastBlockHash"] === "string" ? v["lastBlockHash"] : "",
    leader: v["leader"] === true,
    delivering: v["delivering"] === true,
    members: typeof v["members"] === "number" ? v["members"] : 0,
    alive: typeof v["alive"] === "number" ? v["alive"] : 0,
  };
}

/**
 * `GET <admin>/v1/channels` of a running peer: each channel with a ledger, as the peer's admin API serves it
 * (see src/service/membership-view.ts). `admin`: "host:port" (plain HTTP) or an {@link AdminEndpoint}.
 * @throws NetworkError ADMIN_FAILED when the peer does not answer in time or answers something else.
 */
export async function fetchChannelStatus(admin: string | AdminEndpoint, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ChannelStatusView[]> {
  const label = endpointOf(admin).label;
  const body = await adminGetJson(admin, "/v1/channels", timeoutMs);
  const list = isRecord(body) ? body["channels"] : undefined;
  if (!Array.isArray(list)) throw new NetworkError("ADMIN_FAILED", `${label}/v1/channels: expected {"channels":[...]}, got ${JSON.stringify(body).slice(0, 120)}`);
  return list.map((c) => parseChannel(c, label));
}
