import { parseDurationMs } from "../../config/index.js";
import { splitHostPort } from "../../service/index.js";
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

/** "host:port" (port 0: any free port) from a flag's text. @throws NetworkError INVALID_OPTIONS naming the flag. */
export function hostPortFlag(value: string, flag: string): string {
  try {
    splitHostPort(value);
    // splitHostPort reads "host:" as port 0 (Number("") is 0): a port must be written.
    if (!/:\d{1,5}$/.test(value)) throw new Error("no port");
  } catch (err) {
    throw new NetworkError("INVALID_OPTIONS", `${flag} ${JSON.stringify(value)}: expected host:port, such as 127.0.0.1:8080 (port 0 picks a free one)`, { cause: err });
  }
  return value;
}

/** Commander's accumulator for a repeatable option: each use adds its value. */
export function repeatableFlag(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
