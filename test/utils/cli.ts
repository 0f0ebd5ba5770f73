import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { childCodeEnv } from "../../src/cli/peer-process.js";

/** The `fabric-gossip` executable, as a user runs it (`node bin/fabric-gossip.js`); start it with `CODE_UNDER_TEST_ENV`. */
export const BIN = fileURLToPath(new URL("../../bin/fabric-gossip.js", import.meta.url));

/**
 * What a process started from BIN needs in its environment to run the code under test: the sources
 * (through tsx), unless scripts/test.sh found dist/ built from these very sources
 * (FABRIC_GOSSIP_BUILD_CURRENT=1), which starts in about half the time. The rule PeerProcess follows.
 */
export const CODE_UNDER_TEST_ENV: Readonly<Record<string, string>> = childCodeEnv();

/** How a CLI run ended, and all it printed. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI to completion with `env` added to this process's environment. A run still going
 * after `timeoutMs` is killed and rejects, with the end of its stderr.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<RunResult> {
  return runToEnd(process.execPath, [BIN, ...args], { env: { ...process.env, ...CODE_UNDER_TEST_ENV, ...env }, timeoutMs, what: `fabric-gossip ${args.join(" ")}` });
}

/**
 * Runs a program to its end and gives what it printed. One still running after `timeoutMs` (a
 * hanging handle) is killed and rejects, with the end of its output.
 */
export function runToEnd(cmd: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; what?: string }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, stdio: ["ignore", "pipe", "pipe"], env: o.env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${o.what ?? cmd}: still running after ${o.timeoutMs} ms; stdout: ${stdout.slice(-500)} stderr: ${stderr.slice(-1000)}`));
    }, o.timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
