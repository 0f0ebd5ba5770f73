import assert from "node:assert/strict";
import { freePorts } from "../../src/cli/network/ports.js";

/**
 * Helpers of the tests that run real servers and processes on 127.0.0.1: free ports, and waiting
 * (in wall-clock time) for something to become true.
 */

/** `n` ports on 127.0.0.1 that were free a moment ago: all bound at once (so they differ), then released. */
export { freePorts };

/** One port on 127.0.0.1 that was free a moment ago (bound, then released). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/**
 * Polls `probe` every `pollMs` until it gives something other than undefined or false, and returns
 * that; fails the test naming `what` once `timeoutMs` has passed without it.
 */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  pollMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
