export type { Clock, TimerHandle } from "./clock.js";
export { sleepOn } from "./clock.js";
export { SystemClock } from "./system-clock.js";
export { ManualClock, flushMicrotasks } from "./manual-clock.js";
export type { Random } from "./random.js";
export { SeededRandom, SystemRandom } from "./random.js";
export { toHex, fromHex, bytesEqual, bytesCompare, utf8, fromUtf8 } from "./bytes.js";
export { GossipError, errorMessage } from "./errors.js";
export { raceAbort } from "./abort.js";
