/**
 * Lookups into a key table (gossip-keys.ts, peer-keys.ts) as viper does them: keys match
 * case-insensitively, environment variables by viper's name, and a near miss gets a "did you mean".
 */

/** viper's environment variable of a full key: `CORE_` + the key uppercased with dots as underscores. */
export function envNameOf(fullKey: string): string {
  return `CORE_${fullKey.toUpperCase().replace(/\./g, "_")}`;
}

/** A key table indexed by lowercased key, by environment variable name, and by the sections holding keys. */
export class KeyIndex<S> {
  private readonly byLowerKey: ReadonlyMap<string, S>;
  private readonly byEnv: ReadonlyMap<string, S>;
  /** Every proper prefix of a key, lowercased: "election" for "election.leaderAliveThreshold". */
  private readonly sectionsLower: ReadonlySet<string>;

  /**
   * @param keyOf the key a spec is looked up by (a path below peer.gossip, or a full key)
   * @param envOf the spec's environment variable name
   */
  constructor(specs: readonly S[], keyOf: (spec: S) => string, envOf: (spec: S) => string) {
    this.byLowerKey = new Map(specs.map((s) => [keyOf(s).toLowerCase(), s]));
    this.byEnv = new Map(specs.map((s) => [envOf(s), s]));
    this.sectionsLower = new Set(
      specs.flatMap((s) => {
        const parts = keyOf(s).toLowerCase().split(".");
        return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("."));
      }),
    );
  }

  /** The spec of a key, matched case-insensitively. */
  spec(key: string): S | undefined {
    return this.byLowerKey.get(key.toLowerCase());
  }

  /** The spec of an environment variable name (exact, uppercase). */
  specOfEnv(name: string): S | undefined {
    return this.byEnv.get(name);
  }

  /** True if `key` (any case) is a section holding keys. */
  isSection(key: string): boolean {
    return this.sectionsLower.has(key.toLowerCase());
  }
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/**
 * The first of `candidates` closest to `name` (case-insensitively), if it is close enough to be a
 * typo: at most max(2, name.length / `lengthPerEdit`) edits away.
 */
export function closestOf(name: string, candidates: readonly string[], lengthPerEdit: number): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(2, Math.floor(lower.length / lengthPerEdit)) ? best : undefined;
}

/**
 * Edit distance counting a swap of two adjacent letters as one edit ("tsl" for "tls"), so that the
 * threshold of {@link typoOf} can stay tight.
 */
function typoDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The first of `candidates` that `name` is most likely a misspelling of (case-insensitively): at most
 * max(1, name.length / 6) edits away, a swap of adjacent letters counting as one. Tighter than
 * {@link closestOf}, because a hit here turns an ignored key into an error.
 */
export function typoOf(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = typoDistance(lower, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(1, Math.floor(lower.length / 6)) ? best : undefined;
}
