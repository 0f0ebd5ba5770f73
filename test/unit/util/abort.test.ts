import assert from "node:assert/strict";
import { test } from "node:test";
import { raceAbort } from "../../../src/util/index.js";

test("raceAbort settles like the promise when the signal stays quiet, and leaves no listener behind", async () => {
  const ac = new AbortController();
  let added = 0;
  let removed = 0;
  const signal = ac.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<AbortSignal["addEventListener"]>) => {
    added++;
    add(...args);
  }) as AbortSignal["addEventListener"];
  signal.removeEventListener = ((...args: Parameters<AbortSignal["removeEventListener"]>) => {
    removed++;
    remove(...args);
  }) as AbortSignal["removeEventListener"];
  assert.equal(await raceAbort(Promise.resolve(7), signal), 7);
  await assert.rejects(raceAbort(Promise.reject(new Error("boom")), signal), /boom/);
  assert.deepEqual([added, removed], [2, 2]);
});

test("raceAbort rejects with the abort reason, at once or when aborted later", async () => {
  const never = new Promise<number>(() => {});
  const ac = new AbortController();
  const pending = raceAbort(never, ac.signal);
  const reason = new Error("stopped");
  ac.abort(reason);
  await assert.rejects(pending, (e: unknown) => e === reason);
  // Already aborted: the late rejection of the raced promise is not left unhandled.
  await assert.rejects(raceAbort(Promise.reject(new Error("late")), ac.signal), (e: unknown) => e === reason);
});
