import { type CommOptions, DEFAULT_COMM_OPTIONS, type RequestBudget, type SocketLimits } from "../comm/index.js";
import type { GossipConfig, LimitsConfig } from "./gossip-config.js";

/**
 * The comm settings of a gossip configuration (gossip/gossip/config.go passes dialTimeout,
 * connTimeout, recvBuffSize and sendBuffSize to comm); the rest keep comm's defaults unless given.
 */
export function commOptionsOf(
  c: Pick<GossipConfig, "dialTimeoutMs" | "connTimeoutMs" | "recvBuffSize" | "sendBuffSize"> & Partial<Pick<GossipConfig, "limits">>,
  rest: Partial<Pick<CommOptions, "maxMessageSize" | "handshakeTimeoutMs">> = {},
): CommOptions {
  return {
    ...DEFAULT_COMM_OPTIONS,
    ...rest,
    dialTimeoutMs: c.dialTimeoutMs,
    connTimeoutMs: c.connTimeoutMs,
    recvBuffSize: c.recvBuffSize,
    sendBuffSize: c.sendBuffSize,
    ...(c.limits === undefined ? {} : commLimitsOf(c.limits)),
  };
}

/** Comm's share of `peer.gossip.limits.*` (ours, not Fabric's). */
function commLimitsOf(l: LimitsConfig): Partial<CommOptions> {
  return {
    misbehaviourLimit: l.misbehaviourLimit,
    misbehaviourWindowMs: l.misbehaviourWindowMs,
    refuseMs: l.refuseDurationMs,
    maxRefuseMs: l.maxRefuseDurationMs,
    refuseAddresses: l.refuseAddresses,
    maxHandshakesPerAddress: l.maxHandshakesPerAddress,
    maxHandshakes: l.maxHandshakes,
    maxConnectionsPerAddress: l.maxConnectionsPerAddress,
    maxConnections: l.maxConnections,
    requestBudgets: {
      membership: { perSecond: l.membershipRequestsPerSecond, burst: l.membershipRequestBurst },
      pull: { perSecond: l.pullRequestsPerSecond, burst: l.pullRequestBurst },
    },
  };
}

/** The gRPC server's socket limits from `peer.gossip.limits.*` (ours, not Fabric's). */
export function socketLimitsOf(l: LimitsConfig): Partial<SocketLimits> {
  return {
    maxSockets: l.maxSockets,
    maxSocketsPerAddress: l.maxSocketsPerAddress,
    maxPendingSockets: l.maxPendingSockets,
    maxPendingSocketsPerAddress: l.maxPendingSocketsPerAddress,
    firstCallTimeoutMs: l.firstCallTimeoutMs,
    tlsHandshakeTimeoutMs: l.tlsHandshakeTimeoutMs,
  };
}

/** The state provider's request budget from `peer.gossip.limits.*` (ours, not Fabric's). */
export function stateRequestBudgetOf(l: LimitsConfig): RequestBudget {
  return { perSecond: l.stateRequestsPerSecond, burst: l.stateRequestBurst };
}
