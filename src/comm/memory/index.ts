export { MemoryNetwork, type FrameFate, type FrameFateFn, type LatencyFn, type MemoryFrame, type MemoryNetworkOptions, type PartitionMode } from "./network.js";
export { MemoryTransport, type MemoryTlsCerts, type MemoryTransportOptions } from "./transport.js";
export { MemoryStream } from "./stream.js";
