import { GrpcTransport, type GrpcTransportOptions } from "./grpc-transport.js";
import { Http2Transport } from "./http2-transport.js";

/** The gossip port's gRPC, by implementation: the same wire either way. */
export const GOSSIP_TRANSPORT_KINDS = ["grpc-js", "http2"] as const;
export type GossipTransportKind = (typeof GOSSIP_TRANSPORT_KINDS)[number];

/** The gossip port's gRPC when nothing else is asked for. */
export const DEFAULT_GOSSIP_TRANSPORT: GossipTransportKind = "http2";

/** Either gRPC transport of the gossip port. */
export type GossipTransport = GrpcTransport | Http2Transport;

/** The gossip port's transport of `kind`. */
export function createGossipTransport(kind: GossipTransportKind, options: GrpcTransportOptions): GossipTransport {
  return kind === "http2" ? new Http2Transport(options) : new GrpcTransport(options);
}
