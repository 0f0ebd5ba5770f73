export { AdminServer, type AdminServerOptions, splitHostPort } from "./admin-server.js";
export type { MembershipView, PeerView, ChannelPeerView } from "./membership-view.js";
