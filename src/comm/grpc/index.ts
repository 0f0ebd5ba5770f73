export { certHashOfPem, type ClientTlsMaterial, clientCredentials, endpointHost, peerCertHash } from "./credentials.js";
export {
  COMM_SOCKETS_REFUSED,
  GrpcTransport,
  type GrpcTransportOptions,
  type GrpcTlsOptions,
  GOSSIP_SERVICE,
} from "./grpc-transport.js";
export { passBytes, takeBytes } from "./raw-bytes.js";
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
