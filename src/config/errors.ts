import { GossipError } from "../util/index.js";

/** Where a configuration value came from. */
export type ConfigSource =
  | { kind: "default" }
  | { kind: "yaml" }
  | { kind: "env"; name: string }
  | { kind: "override" };

/** One thing wrong with the configuration. */
export interface ConfigProblem {
  /** The full key, e.g. `peer.gossip.pullInterval` (or the environment variable for an unknown one). */
  key: string;
  /** What is wrong and what is expected. */
  message: string;
  /** The layer the offending value came from, when one value is to blame. */
  source?: ConfigSource;
}

/** Something config/ wants the operator to know that is not an error (dead keys, applied quirks). */
export interface ConfigNote {
  key: string;
  message: string;
}

/** "from core.yaml", "from env CORE_PEER_GOSSIP_X", "from an override". */
export function describeSource(source: ConfigSource): string {
  switch (source.kind) {
    case "default":
      return "the default";
    case "yaml":
      return "core.yaml";
    case "env":
      return `env ${source.name}`;
    case "override":
      return "an override";
  }
}

function formatProblem(p: ConfigProblem): string {
  return p.source === undefined ? `${p.key}: ${p.message}` : `${p.key} (from ${describeSource(p.source)}): ${p.message}`;
}

/**
 * The configuration is invalid. Every problem found is listed in `problems` and in the message,
 * each naming the full key, what is wrong and what is expected.
 */
export class ConfigError extends GossipError {
  declare readonly code: "CONFIG_INVALID";
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    const head =
      problems.length === 1 ? "invalid gossip configuration: " : `invalid gossip configuration (${problems.length} problems):\n  - `;
    super("CONFIG_INVALID", head + problems.map(formatProblem).join("\n  - "), options);
    this.problems = problems;
  }
}
