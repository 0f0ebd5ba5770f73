export type { Logger, LogFields, LogFormat, CreateLoggerOptions } from "./logger.js";
export { createLogger, silentLogger, MemoryLogger, levelFor, LogLevels, logFormatFromEnv, formatHuman } from "./logger.js";
export { type LogLevel, type LogSpec, LogSpecError, levelOf, parseLogSpec } from "./spec.js";
export { RateLimitedLog } from "./rate-limited.js";
export {
  RemoteLogLimiter,
  type RemoteLogLimits,
  REMOTE_LOG_LINES_PER_KEY,
  REMOTE_LOG_LINES_PER_WINDOW,
  REMOTE_LOG_WINDOW_MS,
  addressOrigin,
} from "./remote-log-limiter.js";
