export type { Logger, LogFields, LogLevel } from "./logger.js";
export { createLogger, silentLogger, MemoryLogger, levelFor } from "./logger.js";
export { RateLimitedLog } from "./rate-limited.js";
