import { GossipError } from "../util/index.js";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/** A FABRIC_LOGGING_SPEC that Fabric's flogging would refuse; the message names the part at fault. */
export class LogSpecError extends GossipError {
  declare readonly code: "INVALID_LOG_SPEC";

  constructor(message: string) {
    super("INVALID_LOG_SPEC", message);
  }
}

/** A parsed logging spec: the default level and the levels of named loggers (and their children). */
export interface LogSpec {
  /** The spec as given, normalised (what GET /logspec answers). */
  readonly text: string;
  readonly defaultLevel: LogLevel;
  /** Logger name prefix -> level; a logger takes the level of its longest matching prefix. */
  readonly levels: ReadonlyMap<string, LogLevel>;
}

/** Fabric's level names (flogging/levels.go), lower case, with the level each maps to here. */
const LEVEL_NAMES: Readonly<Record<string, LogLevel>> = {
  debug: "debug",
  info: "info",
  warn: "warn",
  warning: "warn",
  error: "error",
  dpanic: "error",
  panic: "error",
  fatal: "error",
  // Not Fabric's: switches logging off (tests, the simulator).
  silent: "silent",
};

/** Fabric's logger name rule (flogging `loggerNameRegexp`). */
const LOGGER_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * Parses a spec in Fabric's syntax, `[<logger>[,<logger>...]=]<level>[:[<logger>[,<logger>...]=]<level>...]`,
 * e.g. `warn:gossip.comm,gossip.discovery=debug`. As Fabric, a level without loggers sets the default (the last one
 * wins) and an empty spec means info.
 * @throws LogSpecError naming the term and why it is refused (unknown level, bad logger name, empty term)
 */
export function parseLogSpec(spec: string): LogSpec {
  let defaultLevel: LogLevel = "info";
  const levels = new Map<string, LogLevel>();
  const trimmed = spec.trim();
  if (trimmed === "") return { text: "info", defaultLevel, levels };
  for (const term of trimmed.split(":")) {
    const t = term.trim();
    if (t === "") throw new LogSpecError(`invalid logging specification ${JSON.stringify(spec)}: an empty term between ':'`);
    const eq = t.lastIndexOf("=");
    const levelName = (eq < 0 ? t : t.slice(eq + 1)).trim().toLowerCase();
    const level = LEVEL_NAMES[levelName];
    if (level === undefined) {
      throw new LogSpecError(`invalid logging specification ${JSON.stringify(spec)}: unknown level ${JSON.stringify(levelName)} (use debug, info, warn, error, panic or fatal)`);
    }
    if (eq < 0) {
      defaultLevel = level;
      continue;
    }
    for (const name of t.slice(0, eq).split(",")) {
      const n = name.trim();
      if (!LOGGER_NAME.test(n)) throw new LogSpecError(`invalid logging specification ${JSON.stringify(spec)}: bad logger name ${JSON.stringify(n)}`);
      levels.set(n, level);
    }
  }
  return { text: trimmed, defaultLevel, levels };
}

/** The level of logger `name` under `spec`: its longest matching prefix's, else the default. */
export function levelOf(spec: LogSpec, name: string): LogLevel {
  let level = spec.defaultLevel;
  let best = -1;
  for (const [prefix, l] of spec.levels) {
    if ((name === prefix || name.startsWith(`${prefix}.`)) && prefix.length > best) {
      best = prefix.length;
      level = l;
    }
  }
  return level;
}
