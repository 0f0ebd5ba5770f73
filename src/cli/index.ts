// What the command modules (commands/) and the local network (network/) share: the control channel between a
// parent process and its peer children, the child-process handle, the peer's crypto loading and its V8
// settings. The entry point main.ts is not exported here: importing it would run the CLI.
export { type ControlMessage, readControl, writeControl } from "./control.js";
export { addressInUseMessage, isAddressInUse, routeGrpcLogs } from "./listen-error.js";
export { PeerProcess, type PeerProcessOptions } from "./peer-process.js";
export { type Fault, type PeerCrypto, type PeerCryptoArgs, loadPeerCrypto } from "./peer-crypto.js";
export { PEER_V8_FLAGS, tunePeerRuntime } from "./peer-runtime.js";
export { exitSoon, RunError, runUntilSignalled, type RunUntilSignalledOptions, STOP_TIMEOUT_MS } from "./run-until-signalled.js";
