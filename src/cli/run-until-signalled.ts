import { fstatSync } from "node:fs";
import type { Logger } from "../logging/index.js";
import { GossipError } from "../util/index.js";
import { type ControlMessage, readControl, writeControl } from "./control.js";

/** How long a stop may take before a long-running command gives up on a clean exit. */
export const STOP_TIMEOUT_MS = 15_000;

/** How long the process may linger after the command finished (a socket a library keeps) before it exits anyway. */
const EXIT_GRACE_MS = 2_000;

/** A long-running command that did not stop in time. */
export class RunError extends GossipError {
  declare readonly code: "STOP_TIMEOUT";

  constructor(message: string) {
    super("STOP_TIMEOUT", message);
  }
}

/** How {@link runUntilSignalled} talks to its host. */
export interface RunUntilSignalledOptions<T> {
  logger: Logger;
  /** What the command is ("the peer", "the orderer"), for messages. */
  what: string;
  /** The ready line, written once `start` resolved. */
  ready: (started: T) => ControlMessage;
  /** Where control events go. Default: JSON lines on stdout. */
  emit?: (msg: ControlMessage) => void;
  /** Stops like SIGTERM when aborted (in-process callers). */
  signal?: AbortSignal;
  /**
   * Stop when stdin ends, if stdin is a pipe or socket (as `PeerProcess` gives it); lines on it are
   * answered with an error event naming `stdinHint`. Default false.
   */
  watchStdin?: boolean;
  stdinHint?: string;
  /**
   * The command's own control channel: every JSON line on stdin (whatever stdin is) goes here, and
   * the end of stdin stops the command. `requestStop` stops it like a signal.
   */
  onCommand?: (msg: ControlMessage, requestStop: (why: string) => void) => void;
  /** Default STOP_TIMEOUT_MS. */
  stopTimeoutMs?: number;
}

/**
 * Runs a long-running command: listens for SIGINT and SIGTERM (and `signal`, and the end of stdin)
 * from before it starts, so a request that comes while starting stops it as soon as it is up;
 * starts it; writes the ready line; waits for a stop request; stops it within the timeout.
 * @throws whatever `start` throws (nothing is left listening), or RunError STOP_TIMEOUT.
 */
export async function runUntilSignalled<T>(start: () => Promise<T>, stop: (started: T) => Promise<void>, opts: RunUntilSignalledOptions<T>): Promise<void> {
  const { logger } = opts;
  const emit = opts.emit ?? writeControl;
  let requestStop: (why: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => {
    requestStop = resolve;
  });
  const onSignal = (s: NodeJS.Signals): void => requestStop(s);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const onAbort = (): void => requestStop("aborted");
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) requestStop("aborted");
  let closeControl: (() => void) | undefined;
  const onCommand = opts.onCommand;
  if (onCommand !== undefined) {
    closeControl = readControl(
      process.stdin,
      (msg) => onCommand(msg, requestStop),
      () => requestStop("stdin closed"),
    );
  } else if (opts.watchStdin === true && stdinIsPipe()) {
    closeControl = readControl(
      process.stdin,
      (msg) => emit({ event: "error", cmd: msg.cmd, error: `unknown command ${JSON.stringify(msg.cmd)}: ${opts.stdinHint ?? "this command takes no commands"}` }),
      () => requestStop("stdin closed"),
    );
  }
  const cleanup = (): void => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    opts.signal?.removeEventListener("abort", onAbort);
    closeControl?.();
    if (closeControl !== undefined) process.stdin.destroy();
  };

  let started: T;
  try {
    started = await start();
  } catch (err) {
    cleanup();
    throw err;
  }
  emit(opts.ready(started));

  const why = await stopRequested;
  logger.info("stopping", { reason: why });
  const timeoutMs = opts.stopTimeoutMs ?? STOP_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RunError(`${opts.what} did not stop within ${timeoutMs} ms`)), timeoutMs);
    });
    await Promise.race([stop(started), timedOut]);
  } finally {
    clearTimeout(timer);
    cleanup();
  }
  logger.info("stopped");
}

/**
 * For a command's action, once it returned or threw: anything a library leaves open (a socket, a
 * stop that timed out) must not hold the process; it exits after a short grace. The timer does not
 * keep the process alive.
 */
export function exitSoon(logger?: Logger): void {
  setTimeout(() => {
    logger?.warn("handles still open after the command finished; exiting");
    process.exit();
  }, EXIT_GRACE_MS).unref();
}

/** Whether stdin is a pipe or socket (a control channel whose end means "stop"), not a terminal, /dev/null or a file. */
function stdinIsPipe(): boolean {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isSocket();
  } catch {
    return false;
  }
}
