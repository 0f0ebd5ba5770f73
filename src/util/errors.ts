/**
 * The base of every error fabric-gossip raises. `code` is stable (metric labels, tests, callers
 * switch on it); the message says what was expected, what came, and what to do.
 */
export class GossipError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The message of anything thrown, for logs. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
