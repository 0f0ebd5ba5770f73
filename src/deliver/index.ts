/** The leader's Deliver client toward the ordering service (Fabric's blocksprovider / deliverservice). */
export type {
  DeliverClient,
  DeliverClientComponents,
  DeliverClientOptions,
  DeliverConnector,
  DeliverSigner,
  DeliverStream,
  DeliverTlsOptions,
} from "./interface.js";
export { DEFAULT_DELIVER_CLIENT_OPTIONS } from "./interface.js";
export { DeliverClientImpl, createDeliverClient, RECENT_HASHES } from "./deliver-client.js";
export { createGrpcDeliverConnector, DELIVER_METHOD, type GrpcDeliverConnectorOptions } from "./grpc-connector.js";
export { decodeDeliverResponse, type DeliverMessage } from "./seek-info.js";
export { DEFAULT_FETCH_BLOCK_WAIT_MS, fetchBlock, type FetchBlockRequest } from "./fetch-block.js";
export {
  MAX_UINT64,
  computeTxId,
  createSeekInfoEnvelope,
  createSignedEnvelope,
  randomNonce,
  type EnvelopeSigner,
  type SeekTarget,
  type SignedEnvelopeOptions,
} from "./envelope.js";
export { DeliverError, type DeliverErrorCode } from "./errors.js";
export {
  DELIVER_BLOCKS_RECEIVED_METRIC,
  DELIVER_BLOCKS_REJECTED_METRIC,
  DELIVER_RECONNECTS_METRIC,
  createDeliverMetrics,
  type DeliverMetrics,
  type RejectReason,
} from "./metrics.js";
