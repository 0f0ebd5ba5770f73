/** Fabric's gossip Node: the gossip service's API to the rest of the peer. */
export type { GossipNode, GossipNodeComponents, GossipNodeOptions, SendCriteria } from "./interface.js";
export { DEFAULT_GOSSIP_NODE_OPTIONS } from "./interface.js";
export { GossipNodeError, createGossipNode } from "./node.js";
export { NODE_REJECTED, createNodeMetrics, type NodeMetrics } from "./metrics.js";
