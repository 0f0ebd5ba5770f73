import type { ChannelStatusView } from "../../service/index.js";
import { errorMessage } from "../../util/index.js";
import { NetworkError } from "./errors.js";

const DEFAULT_TIMEOUT_MS = 3_000;

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
 * `GET http://<admin>/v1/channels` of a running peer: each channel with a ledger, as the peer's
 * admin API serves it (see src/service/membership-view.ts).
 * @throws NetworkError ADMIN_FAILED when the peer does not answer in time or answers something else.
 */
export async function fetchChannelStatus(admin: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ChannelStatusView[]> {
  let body: unknown;
  try {
    const res = await fetch(`http://${admin}/v1/channels`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.json();
  } catch (err) {
    throw new NetworkError("ADMIN_FAILED", `${admin}/v1/channels: ${errorMessage(err)}`, { cause: err });
  }
  const list = isRecord(body) ? body["channels"] : undefined;
  if (!Array.isArray(list)) throw new NetworkError("ADMIN_FAILED", `${admin}/v1/channels: expected {"channels":[...]}, got ${JSON.stringify(body).slice(0, 120)}`);
  return list.map((c) => parseChannel(c, admin));
}
