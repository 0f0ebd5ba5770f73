import { GossipError } from "../util/index.js";

/**
 * Why the simulator stopped or refused to start. INVALID_OPTIONS: a setting or flag is not valid (the
 * message names it). INVARIANT_VIOLATED: a safety invariant failed during a run (see
 * {@link SimInvariantError}). SETUP_FAILED: peers or crypto could not be built. LEDGER: a block
 * was appended out of order to, or read beyond, a simulated ledger.
 */
export type SimErrorCode = "INVALID_OPTIONS" | "INVARIANT_VIOLATED" | "SETUP_FAILED" | "LEDGER";

/** A simulator failure. */
export class SimError extends GossipError {
  declare readonly code: SimErrorCode;

  constructor(code: SimErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** One line of the recent history kept for a violation report. */
export interface SimHistoryEvent {
  /** Virtual ms since the start of the run. */
  atMs: number;
  /** Peer name ("p3"), or "sim" for the simulator itself. */
  peer: string;
  event: string;
}

/** A safety invariant failed: the run stopped; the seed and the last events reproduce it. */
export class SimInvariantError extends SimError {
  readonly seed: number;
  /** Which invariant: "commit-order", "fork", "forged-member", "ineligible-delivery", "buffer-bound", ... */
  readonly invariant: string;
  readonly history: readonly SimHistoryEvent[];

  constructor(seed: number, invariant: string, detail: string, history: readonly SimHistoryEvent[]) {
    super("INVARIANT_VIOLATED", `invariant ${invariant} violated (seed ${seed}): ${detail}`);
    this.seed = seed;
    this.invariant = invariant;
    this.history = history;
  }

  /** The violation, the seed to reproduce it and the recent history, one event a line. */
  report(): string {
    const lines = [this.message, `reproduce with --seed ${this.seed}`, "recent history:"];
    for (const h of this.history) lines.push(`  ${(h.atMs / 1000).toFixed(3).padStart(10)}s  ${h.peer.padEnd(6)} ${h.event}`);
    return lines.join("\n");
  }
}
