import type { SimHistoryEvent } from "./errors.js";
import { SimInvariantError } from "./errors.js";

/**
 * The safety invariants of RELIABILITY.md C0, checked while a run goes: commits in order with no
 * gap and no fork (each block equal to the ordering service's), nothing forged accepted (no
 * member that is not a simulated peer in anyone's view, no forged block committed), nothing
 * delivered to a peer outside the channel, and bounded buffers. The first violation is kept with
 * the seed and the recent history; the simulator stops at once when it sees one.
 */
export class InvariantChecker {
  readonly #seed: number;
  readonly #historySize: number;
  readonly #history: SimHistoryEvent[] = [];
  #violation: SimInvariantError | undefined;
  /** Checks performed, by invariant (so a report can show they ran). */
  readonly checks: Record<string, number> = {};

  constructor(seed: number, historySize: number) {
    this.#seed = seed;
    this.#historySize = historySize;
  }

  /** The first violation, if any. */
  get violation(): SimInvariantError | undefined {
    return this.#violation;
  }

  /** Adds an event to the history ring. */
  note(atMs: number, peer: string, event: string): void {
    this.#history.push({ atMs, peer, event });
    if (this.#history.length > this.#historySize) this.#history.shift();
  }

  /** Counts a check of `invariant`; when `ok` is false, records the violation (the first one wins). */
  check(invariant: string, ok: boolean, detail: () => string, atMs: number, peer: string): boolean {
    this.checks[invariant] = (this.checks[invariant] ?? 0) + 1;
    if (ok) return true;
    if (this.#violation === undefined) {
      const d = detail();
      this.note(atMs, peer, `VIOLATION ${invariant}: ${d}`);
      this.#violation = new SimInvariantError(this.#seed, invariant, d, [...this.#history]);
    }
    return false;
  }
}
