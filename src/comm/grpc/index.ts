export { certHashOfPem, type ClientTlsMaterial, clientCredentials, endpointHost, peerCertHash } from "./credentials.js";
export {
  GrpcTransport,
  type GrpcTransportOptions,
  type GrpcTlsOptions,
  GOSSIP_SERVICE,
} from "./grpc-transport.js";
export { passBytes, takeBytes } from "./raw-bytes.js";
export { COMM_SOCKETS_REFUSED } from "./socket-gate.js";
export { closeClient, waitForReady } from "./wait-ready.js";
export { loadTlsMaterial, type NamedFile, type TlsMaterial, TlsMaterialError, type TlsMaterialErrorCode, type TlsMaterialSource } from "./tls-material.js";
export { type ChannelTlsCas, type OrdererOrgTlsCas, type OrgTlsCas, type RejectedTlsCa, TlsTrustStore } from "./trust-store.js";
export {
  DEFAULT_TLS_DIAGNOSIS_TIMEOUT_MS,
  diagnoseTlsDial,
  formatTlsDiagnosis,
  type ServerCertificateSummary,
  type TlsDiagnosis,
  type TlsDiagnosisCode,
  type TlsDiagnosisOptions,
} from "./tls-diagnosis.js";
export { GossipPortTransport } from "./gossip-port.js";
export { Http2Transport } from "./http2-transport.js";
export { createGossipTransport, DEFAULT_GOSSIP_TRANSPORT, type GossipTransport, type GossipTransportKind, GOSSIP_TRANSPORT_KINDS } from "./transport-kind.js";
