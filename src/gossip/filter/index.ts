/** Fabric's `gossip/filter`: routing filters and random peer selection. */
export type { RoutableMember, RoutingFilter } from "./filter.js";
export { anyMatch, combine, first, selectAll, selectNone, selectPeers, selectPeersPreferring } from "./filter.js";
