import pino from "pino";
import { type LogLevel, type LogSpec, levelOf, parseLogSpec } from "./spec.js";

export type { LogLevel } from "./spec.js";

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

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * Parses a FABRIC_LOGGING_SPEC-style string (see `parseLogSpec`) and gives the level of logger `name`.
 * @throws LogSpecError for a spec Fabric would refuse
 */
export function levelFor(spec: string, name: string): LogLevel {
  return levelOf(parseLogSpec(spec), name);
}

/** How log lines are written: Fabric-like text for people, or one JSON object per line for machines. */
export type LogFormat = "human" | "json";

/**
 * The format from FABRIC_LOGGING_FORMAT: "json" gives JSON; any other value (Fabric's are format templates) gives
 * text. Unset: text on a terminal, JSON otherwise (a pipe or file is read by a program more often than by a person).
 */
export function logFormatFromEnv(env: NodeJS.ProcessEnv = process.env, isTty: boolean = process.stderr.isTTY === true): LogFormat {
  const v = env["FABRIC_LOGGING_FORMAT"]?.trim().toLowerCase();
  if (v === "json") return "json";
  if (v !== undefined && v !== "") return "human";
  return isTty ? "human" : "json";
}

/**
 * The spec every logger of one root reads; `set` changes the levels of loggers already made (the operations
 * endpoint's PUT /logspec), without restarting anything.
 */
export class LogLevels {
  #spec: LogSpec;
  #version = 0;

  constructor(spec: string | LogSpec = "info") {
    this.#spec = typeof spec === "string" ? parseLogSpec(spec) : spec;
  }

  get spec(): LogSpec {
    return this.#spec;
  }

  get version(): number {
    return this.#version;
  }

  /** @throws LogSpecError for a spec Fabric would refuse; the levels in force stay as they were */
  set(spec: string): void {
    this.#spec = parseLogSpec(spec);
    this.#version++;
  }
}

class PinoLogger implements Logger {
  #level: LogLevel = "info";
  #seen = -1;

  constructor(
    private readonly root: pino.Logger,
    private readonly levels: LogLevels,
    private readonly name: string,
    private readonly bindings: LogFields,
  ) {}

  #enabled(level: LogLevel): boolean {
    if (this.#seen !== this.levels.version) {
      this.#seen = this.levels.version;
      this.#level = levelOf(this.levels.spec, this.name);
    }
    return RANK[level] >= RANK[this.#level];
  }

  // One object per line: the call's fields win over the logger's bindings, so no key is written twice.
  #line(fields: LogFields | undefined): LogFields {
    return { logger: this.name, ...this.bindings, ...fields };
  }

  debug(msg: string, fields?: LogFields): void {
    if (this.#enabled("debug")) this.root.debug(this.#line(fields), msg);
  }
  info(msg: string, fields?: LogFields): void {
    if (this.#enabled("info")) this.root.info(this.#line(fields), msg);
  }
  warn(msg: string, fields?: LogFields): void {
    if (this.#enabled("warn")) this.root.warn(this.#line(fields), msg);
  }
  error(msg: string, fields?: LogFields): void {
    if (this.#enabled("error")) this.root.error(this.#line(fields), msg);
  }
  child(name: string, fields?: LogFields): Logger {
    return new PinoLogger(this.root, this.levels, name, fields === undefined ? this.bindings : { ...this.bindings, ...fields });
  }
}

export interface CreateLoggerOptions {
  name?: string;
  /** A spec string (FABRIC_LOGGING_SPEC's syntax), or shared levels; default FABRIC_LOGGING_SPEC, else info. */
  spec?: string | LogLevels;
  /** Default: `logFormatFromEnv()`. */
  format?: LogFormat;
  /** Where lines go; default stderr. */
  destination?: pino.DestinationStream;
}

/**
 * A pino-backed logger: JSON lines (`level` by name, ISO `time`, `logger`, `msg`, fields) or Fabric-like text
 * (`2026-12-05 02:21:47.123 UTC INFO [gossip.comm] message key=value`), to stderr or `destination`.
 * @throws LogSpecError for an invalid spec (FABRIC_LOGGING_SPEC or `spec`), naming the term at fault
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const spec = options.spec ?? process.env["FABRIC_LOGGING_SPEC"] ?? "info";
  const levels = spec instanceof LogLevels ? spec : new LogLevels(spec);
  const name = options.name ?? "fabric-gossip";
  const format = options.format ?? logFormatFromEnv();
  const out = options.destination ?? pino.destination(2);
  const root = pino(
    { level: "debug", base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    format === "json" ? out : humanDestination(out),
  );
  return new PinoLogger(root, levels, name, {});
}

/** Rewrites pino's JSON lines as Fabric-like text lines. */
function humanDestination(out: pino.DestinationStream): pino.DestinationStream {
  return {
    write(line: string): void {
      let rec: LogFields;
      try {
        rec = JSON.parse(line) as LogFields;
      } catch {
        out.write(line);
        return;
      }
      out.write(`${formatHuman(rec)}\n`);
    },
  };
}

/** One record as text: time (UTC, ms), level, [logger], message, then key=value for every other field. */
export function formatHuman(rec: LogFields): string {
  const { time, level, logger, msg, ...fields } = rec;
  const t = typeof time === "string" ? `${time.replace("T", " ").replace("Z", " UTC")} ` : "";
  const lvl = String(level ?? "").toUpperCase().padEnd(5);
  const rest = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "string" && !/[\s"=]/.test(v) && v !== "" ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${t}${lvl} [${String(logger ?? "")}] ${String(msg ?? "")}${rest === "" ? "" : ` ${rest}`}`;
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
