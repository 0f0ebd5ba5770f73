export { certHashOfPem, type ClientTlsMaterial, clientCredentials, endpointHost, peerCertHash } from "./credentials.js";
export { GrpcTransport, type GrpcTransportOptions, type GrpcTlsOptions, GOSSIP_SERVICE } from "./grpc-transport.js";
export { passBytes, takeBytes } from "./raw-bytes.js";
