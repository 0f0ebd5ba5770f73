import { cpus, totalmem } from "node:os";

/** One line saying what machine produced the figures. */
export function machineLine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? "unknown cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${process.platform}/${process.arch}`;
}

/** Median of numbers (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Value at quantile q (0..1) of numbers. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.floor(q * s.length)))]!;
}

export interface OpsOptions {
  /** Timed runs; the median is reported. */
  runs: number;
  /** Operations per timed run. */
  opsPerRun: number;
  /** Untimed operations first, so the JIT has optimised the code. */
  warmupOps: number;
}

/**
 * Operations per second of `op`: median (and spread) over several timed runs. `op` returns a
 * number so its work cannot be elided.
 */
export async function opsPerSecond(op: (i: number) => number | undefined, o: OpsOptions): Promise<{ median: number; min: number; max: number }> {
  let sink = 0;
  for (let i = 0; i < o.warmupOps; i++) sink += op(i) ?? 0;
  const rates: number[] = [];
  for (let r = 0; r < o.runs; r++) {
    // Let the event loop breathe between runs (timers, I/O of a caller's harness).
    await new Promise<void>((resolve) => setImmediate(resolve));
    const start = process.hrtime.bigint();
    for (let i = 0; i < o.opsPerRun; i++) sink += op(i) ?? 0;
    rates.push(o.opsPerRun / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  if (sink === Number.NEGATIVE_INFINITY) process.stdout.write("");
  return { median: Math.round(median(rates)), min: Math.round(Math.min(...rates)), max: Math.round(Math.max(...rates)) };
}

/** Prints a record of figures, one per line. */
export function printFigures(figures: Record<string, number | string>): void {
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k.padEnd(48)} ${typeof v === "number" ? v.toLocaleString("en-US") : v}\n`);
}

/** True when `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  const arg = process.argv[1];
  return arg !== undefined && new URL(moduleUrl).pathname === arg;
}
