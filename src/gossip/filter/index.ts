/** Fabric's `gossip/filter`: routing filters and random peer selection. */
export type { RoutableMember, RoutingFilter } from "./filter.js";
export { anyMatch, combine, first, selectAll, selectMembers, selectNone, selectPeers, selectPeersPreferring, toRemotePeer } from "./filter.js";
