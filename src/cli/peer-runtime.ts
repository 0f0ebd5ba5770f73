import { setFlagsFromString } from "node:v8";

/**
 * V8 settings a peer process runs with, set by `peer start` before the peer is built.
 *
 * `--no-parallel-scavenge`: a peer's young generation is small (16 MiB semi-spaces by default) and is
 * collected often, since every gossip message allocates; V8 hands each of those scavenges to helper
 * threads, whose start-up and synchronisation can cost more CPU than the scavenge itself at that size.
 * In the side-by-side workload (docs/SIDE-BY-SIDE.md, warmed), scavenging on the main thread alone cut the CPU
 * per block delivery by a quarter with 10 peers in the process and changed nothing with 20; a scavenge of a
 * few MiB of survivors takes milliseconds either way. It is one of the V8 flags that may change after start
 * (`--single-threaded-gc` may not: V8 aborts).
 *
 * `--heap-growing-percent=50`: after a full collection V8 lets the old generation grow to its live size times a
 * factor that rises with the allocation rate, up to 4 on a machine with gigabytes to spare. A peer fed calls as
 * fast as it can take them (RELIABILITY.md S12's fuzzing, about 4,000 a second) allocates a few hundred MB a
 * second, so its heap grew to four times what was live and its RSS by 250-310 MiB, past S12's bound of twice
 * the 100 MiB message limit; with the factor held at 1.5 it grew by about 120 MiB, and the side-by-side figures
 * did not move (docs/DESIGN-NOTES.md). V8 reads it at each collection, so it may change after start.
 */
export const PEER_V8_FLAGS: readonly string[] = ["--no-parallel-scavenge", "--heap-growing-percent=50"];

/**
 * Applies PEER_V8_FLAGS, except those the process was started with a choice about (`node
 * --parallel-scavenge bin/fabric-gossip.js peer start` keeps parallel scavenges). Returns what it set.
 */
export function tunePeerRuntime(execArgv: readonly string[] = process.execArgv): string[] {
  const given = new Set(execArgv.map(flagName));
  const applied = PEER_V8_FLAGS.filter((f) => !given.has(flagName(f)));
  for (const flag of applied) setFlagsFromString(flag);
  return applied;
}

/** A V8 flag's name, whichever way it is given: `--no-parallel_scavenge=...` and `--parallel-scavenge` are one. */
function flagName(arg: string): string {
  return arg.replace(/=.*$/, "").replace(/^--(no-)?/, "").replace(/_/g, "-");
}
