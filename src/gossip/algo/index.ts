export type { DigestFilter, PullAdapter, PullEngine, PullEngineComponents, PullEngineConfig, PullEngineOptions } from "./interface.js";
export { DEFAULT_DIGEST_WAIT_TIME_MS, DEFAULT_REQUEST_WAIT_TIME_MS, DEFAULT_RESPONSE_WAIT_TIME_MS } from "./interface.js";
export { PullEngineImpl, createPullEngine } from "./pull-engine.js";
export { PullEngineError, type PullEngineErrorCode } from "./errors.js";
