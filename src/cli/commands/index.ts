// The fabric-gossip subcommands, each registered on the root program by main.ts.
export { registerChannel } from "./channel.js";
export { registerCommPeer } from "./comm-peer.js";
export { registerCrypto } from "./crypto.js";
export { registerDoctor } from "./doctor.js";
export { registerNetwork } from "./network.js";
export { registerOrderer } from "./orderer.js";
export { registerPeer } from "./peer.js";
export { registerPeers } from "./peers.js";
export { registerPvtdata } from "./pvtdata.js";
export { registerSimulate } from "./simulate.js";
export { registerTx } from "./tx.js";
