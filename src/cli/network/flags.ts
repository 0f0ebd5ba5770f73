import { parseDurationMs } from "../../config/index.js";
import { errorMessage } from "../../util/index.js";
import { NetworkError } from "./errors.js";

/** A whole number >= 1 from a flag's text. @throws NetworkError INVALID_OPTIONS naming the flag. */
export function positiveIntFlag(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < 1) throw new NetworkError("INVALID_OPTIONS", `${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** A whole number >= 0 from a flag's text. @throws NetworkError INVALID_OPTIONS naming the flag. */
export function nonNegativeIntFlag(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < 0) throw new NetworkError("INVALID_OPTIONS", `${flag} must be a whole number >= 0, got ${JSON.stringify(value)}`);
  return n;
}

/** A number > 0 (fractions allowed) from a flag's text. @throws NetworkError INVALID_OPTIONS naming the flag. */
export function positiveNumberFlag(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) throw new NetworkError("INVALID_OPTIONS", `${flag} must be a number > 0, got ${JSON.stringify(value)}`);
  return n;
}

/** A positive Fabric/Go duration ("2s", "250ms", "1m30s") in ms. @throws NetworkError INVALID_OPTIONS naming the flag. */
export function durationFlag(value: string, flag: string): number {
  let ms: number;
  try {
    ms = parseDurationMs(value);
  } catch (err) {
    throw new NetworkError("INVALID_OPTIONS", `${flag} ${JSON.stringify(value)}: ${errorMessage(err)}`, { cause: err });
  }
  if (!(ms > 0)) throw new NetworkError("INVALID_OPTIONS", `${flag} must be a positive duration such as 2s or 250ms, got ${JSON.stringify(value)}`);
  return ms;
}

/** Commander's accumulator for a repeatable option: each use adds its value. */
export function repeatableFlag(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
