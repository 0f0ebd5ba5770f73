#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm run build`, which `npm ci` and `npm install` run through
// `prepare`). FABRIC_GOSSIP_SOURCES=1 runs the TypeScript sources through tsx instead (a development
// checkout: the tests set it so that the processes they start run the code under test, not the last build).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
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
} else if (process.env.FABRIC_GOSSIP_SOURCES === "1") {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
} else {
  const main = new URL("../dist/cli/main.js", import.meta.url);
  if (!existsSync(main)) {
    process.stderr.write("fabric-gossip: dist/cli/main.js is missing: run `npm run build` (or FABRIC_GOSSIP_SOURCES=1 to run the TypeScript sources)\n");
    process.exit(1);
  }
  await import(main.href);
}
