/** Fabric's gossip/state: payload buffer, in-order commit, anti-entropy (state transfer). */
export type {
  LedgerAdapter,
  StateGossipAdapter,
  StateProvider,
  StateProviderComponents,
  StateProviderOptions,
  StateRequester,
} from "./interface.js";
export { DEFAULT_STATE_PROVIDER_OPTIONS, DEFAULT_STATE_REQUEST_BUDGET, ENQUEUE_RETRY_INTERVAL_MS, STRAGGLER_WARNING_THRESHOLD } from "./interface.js";
export { PayloadsBuffer, type PayloadsBufferHooks } from "./payloads-buffer.js";
export { StateProviderImpl, createStateProvider, validateStateRequest, type AddOutcome } from "./state-provider.js";
export { StateError, type StateErrorCode } from "./errors.js";
export {
  PAYLOAD_BUFFER_SIZE_METRIC,
  STATE_COMMIT_DURATION_METRIC,
  STATE_HEIGHT_METRIC,
  STATE_REQUESTS_DROPPED,
  createStateMetrics,
  type StateMetrics,
} from "./metrics.js";
