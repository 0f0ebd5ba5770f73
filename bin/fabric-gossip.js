#!/usr/bin/env node
// Runs the TypeScript sources directly: one tree for development, tests and the CLI.
import { spawn } from "node:child_process";
import { constants, totalmem } from "node:os";

/**
 * `simulate` runs hundreds of peers in one heap: it allocates fast and keeps much. V8's defaults (16 MB
 * young generation, about 4 GB old) cost it a fifth of its time in scavenges and cap it well below
 * 1,000 peers, so it runs in a child with more of both, unless the caller already chose either.
 */
function heapFlagsForSimulate() {
  if (process.argv[2] !== "simulate") return [];
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)];
  const has = (flag) => given.some((a) => a.startsWith(flag));
  const flags = [];
  if (!has("--max-semi-space-size")) flags.push("--max-semi-space-size=128");
  if (!has("--max-old-space-size")) flags.push(`--max-old-space-size=${Math.floor((totalmem() * 0.75) / 2 ** 20)}`);
  return flags;
}

const flags = heapFlagsForSimulate();
if (flags.length > 0) {
  const child = spawn(process.execPath, [...process.execArgv, ...flags, ...process.argv.slice(1)], { stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 1)));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}
