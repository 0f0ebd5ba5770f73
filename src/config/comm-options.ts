import { type CommOptions, DEFAULT_COMM_OPTIONS } from "../comm/index.js";
import type { GossipConfig } from "./gossip-config.js";

/**
 * The comm settings of a gossip configuration (gossip/gossip/config.go passes dialTimeout,
 * connTimeout, recvBuffSize and sendBuffSize to comm); the rest keep comm's defaults unless given.
 */
export function commOptionsOf(
  c: Pick<GossipConfig, "dialTimeoutMs" | "connTimeoutMs" | "recvBuffSize" | "sendBuffSize">,
  rest: Partial<Pick<CommOptions, "maxMessageSize" | "handshakeTimeoutMs">> = {},
): CommOptions {
  return {
    ...DEFAULT_COMM_OPTIONS,
    ...rest,
    dialTimeoutMs: c.dialTimeoutMs,
    connTimeoutMs: c.connTimeoutMs,
    recvBuffSize: c.recvBuffSize,
    sendBuffSize: c.sendBuffSize,
  };
}
