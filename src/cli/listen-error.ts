import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../logging/index.js";

/**
 * Whether `err` (or one of its causes) says the address is taken: Node's EADDRINUSE (an `code` on the error),
 * or grpc-js's bind failure, which carries the Node error only in its message.
 */
export function isAddressInUse(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (typeof e !== "object") return false;
    const rec = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (rec.code === "EADDRINUSE") return true;
    if (typeof rec.message === "string" && rec.message.includes("EADDRINUSE")) return true;
    e = rec.cause;
  }
  return false;
}

/** The one line a command prints when the address of `flag` is taken. */
export function addressInUseMessage(flag: string, address: string): string {
  return `${flag} ${address}: address already in use (another process listens there: stop it or choose another port)`;
}

/**
 * Sends grpc-js's own log lines (printed raw on stderr by default, e.g. "E No address added out of total 1
 * resolved" before a bind failure we report ourselves) to `logger` at debug level: the command names every
 * failure it meets, and `FABRIC_LOGGING_SPEC=grpc=debug` still shows them. Process-wide, as grpc-js's logger is.
 */
export function routeGrpcLogs(logger: Logger): void {
  const log = logger.child("grpc");
  const line = (level: string) => (message?: unknown, ...rest: unknown[]) => {
    log.debug([message, ...rest].map((p) => (typeof p === "string" ? p : String(p))).join(" "), { level });
  };
  grpc.setLogger({ error: line("error"), info: line("info"), debug: line("debug") });
}
