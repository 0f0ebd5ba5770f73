import pino from "pino";

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** The logger every component takes. Names follow Fabric's (`gossip.comm`, `gossip.discovery`, ...). */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger for a sub-component, e.g. `child("gossip.comm")`. */
  child(name: string, fields?: LogFields): Logger;
}

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];

/**
 * Parses a FABRIC_LOGGING_SPEC-style string: `level` or `name1,name2=level:level`, e.g.
 * `warn:gossip.comm=debug`. Returns the level for a logger name.
 */
export function levelFor(spec: string, name: string): LogLevel {
  let level: LogLevel = "info";
  let bestPrefix = -1;
  for (const part of spec.split(":").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    const lvl = normaliseLevel(eq < 0 ? part : part.slice(eq + 1));
    if (eq < 0) {
      if (bestPrefix < 0) level = lvl;
      continue;
    }
    for (const prefix of part.slice(0, eq).split(",")) {
      if ((name === prefix || name.startsWith(`${prefix}.`)) && prefix.length > bestPrefix) {
        bestPrefix = prefix.length;
        level = lvl;
      }
    }
  }
  return level;
}

function normaliseLevel(s: string): LogLevel {
  const l = s.toLowerCase();
  if (l === "warning") return "warn";
  if (l === "fatal" || l === "panic") return "error";
  return (LEVELS as readonly string[]).includes(l) ? (l as LogLevel) : "info";
}

class PinoLogger implements Logger {
  constructor(
    private readonly root: pino.Logger,
    private readonly spec: string,
    private readonly log: pino.Logger,
  ) {}

  debug(msg: string, fields?: LogFields): void {
    this.log.debug(fields ?? {}, msg);
  }
  info(msg: string, fields?: LogFields): void {
    this.log.info(fields ?? {}, msg);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log.warn(fields ?? {}, msg);
  }
  error(msg: string, fields?: LogFields): void {
    this.log.error(fields ?? {}, msg);
  }
  child(name: string, fields?: LogFields): Logger {
    const child = this.root.child({ ...fields, logger: name }, { level: levelFor(this.spec, name) });
    return new PinoLogger(this.root, this.spec, child);
  }
}

/** A pino-backed logger writing JSON lines to stderr (or `destination`). */
export function createLogger(options: { name?: string; spec?: string; destination?: pino.DestinationStream } = {}): Logger {
  const spec = options.spec ?? process.env["FABRIC_LOGGING_SPEC"] ?? "info";
  const name = options.name ?? "fabric-gossip";
  const root = pino({ level: "debug", base: undefined }, options.destination ?? pino.destination(2));
  return new PinoLogger(root, spec, root.child({ logger: name }, { level: levelFor(spec, name) }));
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/** A logger that records lines in memory, for tests that assert on logging. */
export class MemoryLogger implements Logger {
  readonly lines: { level: LogLevel; name: string; msg: string; fields: LogFields }[];
  readonly #name: string;

  constructor(name = "test", lines: MemoryLogger["lines"] = []) {
    this.#name = name;
    this.lines = lines;
  }
  debug(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: "debug", name: this.#name, msg, fields });
  }
  info(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: "info", name: this.#name, msg, fields });
  }
  warn(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: "warn", name: this.#name, msg, fields });
  }
  error(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: "error", name: this.#name, msg, fields });
  }
  child(name: string): Logger {
    return new MemoryLogger(name, this.lines);
  }
}
