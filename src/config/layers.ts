/**
 * The layering shared by the gossip (gossip-config.ts) and peer (peer-config.ts) loaders, as viper
 * layers values: each layer (core.yaml, environment, overrides) is read into entries keyed
 * case-insensitively, the highest layer that sets a key wins, and only the winner is parsed.
 */
import type { ConfigProblem, ConfigSource } from "./errors.js";

/** A raw value from one layer. `textual`: strings encode numbers and booleans (env, string overrides). */
export interface RawEntry<S> {
  spec: S;
  raw: unknown;
  textual: boolean;
  source: ConfigSource;
}

/** A key's winning value after layering, parsed. */
export interface Resolved<S, P> {
  spec: S;
  parsed: P;
  source: ConfigSource;
}

/** One layer's entries by lowercased id (the key as the loader looks it up). */
export type LayerEntries<S> = Map<string, RawEntry<S>>;

/**
 * Adds `e` to a layer under `id`, matched case-insensitively as viper does. A layer that holds the
 * id already (spelled another way) keeps the first, and a problem names `key` and the spelling `given`.
 */
export function addEntry<S>(into: LayerEntries<S>, e: RawEntry<S>, at: { id: string; key: string; given: string }, problems: ConfigProblem[]): void {
  const lower = at.id.toLowerCase();
  if (into.has(lower)) {
    problems.push({
      key: at.key,
      source: e.source,
      message: `is given twice in the same layer (keys are case-insensitive: "${at.given}"); keep one`,
    });
    return;
  }
  into.set(lower, e);
}

/**
 * The winning value of each id: the highest layer that sets it wins (layers lowest first), then only
 * the winner is parsed (viper never reads an overridden value). `parse` returns undefined for a
 * value it refuses, having recorded the problem.
 */
export function resolveLayers<S, P>(stack: readonly LayerEntries<S>[], parse: (e: RawEntry<S>) => P | undefined): Map<string, Resolved<S, P>> {
  const winners = new Map<string, RawEntry<S>>();
  for (const layer of stack) for (const [id, e] of layer) winners.set(id, e);
  const values = new Map<string, Resolved<S, P>>();
  for (const [id, e] of winners) {
    const parsed = parse(e);
    if (parsed !== undefined) values.set(id, { spec: e.spec, parsed, source: e.source });
  }
  return values;
}

/** The variables of `env` whose names start with `prefix`, but not the empty ones (viper without AllowEmptyEnv). */
export function setVariables(env: Readonly<Record<string, string | undefined>> | undefined, prefix: string): [name: string, value: string][] {
  if (env === undefined) return [];
  return Object.entries(env).filter((v): v is [string, string] => v[0].startsWith(prefix) && v[1] !== undefined && v[1] !== "");
}

/** The overrides that set something (undefined and null set nothing). */
export function givenOverrides(overrides: Readonly<Record<string, unknown>> | undefined): [name: string, value: unknown][] {
  if (overrides === undefined) return [];
  return Object.entries(overrides).filter((o) => o[1] !== undefined && o[1] !== null);
}
