import { errorMessage } from "../../util/index.js";
import { NetworkError } from "./errors.js";

/** One channel of a peer, as its admin endpoint's `GET /v1/channels` shows it. */
export interface PeerChannelStatus {
  channel: string;
  /** Blocks committed, the genesis block included. */
  height: number;
  /** Hex SHA-256 of the last committed block header. */
  lastBlockHash: string;
  leader: boolean;
  /** Whether this peer's Deliver client (the leader's) runs. */
  delivering: boolean;
  /** Channel peers this peer knows, itself excluded. */
  members: number;
}

const DEFAULT_TIMEOUT_MS = 3_000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function parseChannel(v: unknown, admin: string): PeerChannelStatus {
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
  };
}

/**
 * `GET http://<admin>/v1/channels` of a running peer.
 * @throws NetworkError ADMIN_FAILED when the peer does not answer in time or answers something else.
 */
export async function fetchChannelStatus(admin: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<PeerChannelStatus[]> {
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
