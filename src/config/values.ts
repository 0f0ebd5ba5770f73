/**
 * Value reading shared by the gossip (gossip-config.ts) and peer (peer-values.ts) loaders: how a raw
 * YAML, environment or override value becomes a boolean, a duration or an endpoint, as viper reads it.
 * YAML values must have the right type; `textual` values (environment, string overrides) are text.
 */
import { DurationError, formatDurationMs, parseDurationMs } from "./duration.js";

/**
 * The longest duration config/ accepts for a key: Node timers (setTimeout) cannot wait longer than
 * 2^31-1 ms (about 24.8 days) and fire after 1 ms instead.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** The problem with a duration longer than a Node timer can wait, or undefined if it fits. */
export function timerLimitProblem(ms: number): string | undefined {
  return ms > MAX_TIMER_MS
    ? `is ${formatDurationMs(ms)}; expected at most ${formatDurationMs(MAX_TIMER_MS)} (2^31-1 ms, about 24.8 days), the longest a Node timer can wait`
    : undefined;
}

/** A parsed value: `empty` for "", a blank string or an empty list. */
export type ParsedValue<T> = { empty: true } | { empty: false; value: T };

/** A parsed value, or what is wrong with it (a message for after the key). */
export type ValueResult<T> = ParsedValue<T> | { error: string };

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array);
}

/** A short description of a value for messages. */
export function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (isPlainObject(v)) return "a mapping";
  return `a ${typeof v}`;
}

/** Freezes `o` and everything in it (for the exported defaults). */
export function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === "object" && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Go's strconv.ParseBool, which viper/cast use for strings. */
const BOOL_TEXT: ReadonlyMap<string, boolean> = new Map([
  ["1", true],
  ["t", true],
  ["T", true],
  ["TRUE", true],
  ["true", true],
  ["True", true],
  ["0", false],
  ["f", false],
  ["F", false],
  ["FALSE", false],
  ["false", false],
  ["False", false],
]);

/** `{ error: "<what>; expected <expected>" }`. */
function expecting(what: string, expected: string): { error: string } {
  return { error: `${what}; expected ${expected}` };
}

/** A boolean; in text also the spellings of Go's strconv.ParseBool. `expected` describes the kind for messages. */
export function parseBoolValue(raw: unknown, textual: boolean, expected: string): ValueResult<boolean> {
  if (typeof raw === "boolean") return { empty: false, value: raw };
  if (typeof raw === "string") {
    const t = raw.trim();
    if (t === "") return { empty: true };
    if (!textual) return expecting(`got the string ${show(raw)} (write true or false without quotes)`, expected);
    const b = BOOL_TEXT.get(t);
    if (b === undefined) return expecting(`got ${show(raw)} (also accepted in text: 1, 0, t, f, TRUE, FALSE, True, False)`, expected);
    return { empty: false, value: b };
  }
  return expecting(`got ${show(raw)}`, expected);
}

/**
 * A Go duration, in milliseconds. A bare number other than 0 is refused: viper would read it as
 * nanoseconds, which nobody means. `expected` describes the kind for messages.
 */
export function parseDurationValue(raw: unknown, expected: string): ValueResult<number> {
  if (typeof raw === "number") {
    if (raw === 0) return { empty: false, value: 0 };
    return expecting(`got the number ${raw}, which has no unit (Fabric's viper would read it as ${raw} nanoseconds)`, expected);
  }
  if (typeof raw !== "string") return expecting(`got ${show(raw)}`, expected);
  const t = raw.trim();
  if (t === "") return { empty: true };
  try {
    return { empty: false, value: parseDurationMs(t) };
  } catch (err) {
    if (!(err instanceof DurationError)) throw err;
    if (/^[+-]?[0-9]+(\.[0-9]*)?$/.test(t)) {
      return expecting(`got ${show(raw)}, which has no unit (Fabric's viper would read it as nanoseconds)`, expected);
    }
    return { error: `got ${show(raw)}: ${err.message}` };
  }
}

/**
 * A `host:port` (trimmed), checked by `check` (which returns why it is wrong, or undefined).
 * `expected` describes the kind for messages.
 */
export function parseEndpointValue(raw: unknown, expected: string, check: (endpoint: string) => string | undefined): ValueResult<string> {
  if (typeof raw !== "string") return expecting(`got ${show(raw)}`, expected);
  const t = raw.trim();
  if (t === "") return { empty: true };
  const why = check(t);
  if (why !== undefined) return expecting(`got ${show(raw)}, which ${why}`, expected);
  return { empty: false, value: t };
}
