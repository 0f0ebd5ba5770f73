import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ControlMessage } from "./control.js";

const BIN = fileURLToPath(new URL("../../bin/fabric-gossip.js", import.meta.url));
/**
 * Whether the children run the TypeScript sources: when this module does (tests, tsx), so that they run
 * the code under test rather than the last build in dist/, unless the test run found that build made
 * from these very sources (FABRIC_GOSSIP_BUILD_CURRENT=1, set by scripts/test.sh when no source is newer
 * than dist/): a child then starts in about half the time, without compiling the sources on the way.
 */
function childrenRunSources(): boolean {
  return import.meta.url.endsWith(".ts") && process.env["FABRIC_GOSSIP_BUILD_CURRENT"] !== "1";
}

/**
 * What a process started from bin/fabric-gossip.js needs in its environment to run the same code as this one
 * (see childrenRunSources): `FABRIC_GOSSIP_SOURCES=1` for the sources, nothing for dist/ (bin's default).
 */
export function childCodeEnv(): Record<string, string> {
  return childrenRunSources() ? { FABRIC_GOSSIP_SOURCES: "1" } : {};
}

/** Options of a `PeerProcess`. */
export interface PeerProcessOptions {
  /**
   * Append everything the process prints (stdout: its control events; stderr: its logs) to this file,
   * as it comes, so an operator can read it while the process runs and after. Default: kept in memory only.
   */
  logFile?: string;
  /**
   * A command the process is started through, given the Node command line as its arguments: for example
   * `["nsenter", "-t", "<pid>", "-n", "--"]` runs it in another process's network namespace. It must exec the
   * command (not fork it), so that signals reach the peer. Default: none.
   */
  launcher?: readonly string[];
}

/**
 * A `fabric-gossip` child process driven over its JSON-lines control channel: used by
 * `network up`, the end-to-end tests and the benchmarks.
 */
export class PeerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly stderr: string[] = [];
  #waiters: { match: (m: ControlMessage) => boolean; resolve: (m: ControlMessage) => void; reject: (e: Error) => void }[] = [];
  #events: ControlMessage[] = [];
  #exited: Promise<number | null>;
  /** Resolves once the log file (if any) has everything the process printed and is closed. */
  #logClosed: Promise<void> = Promise.resolve();

  constructor(name: string, args: string[], env: NodeJS.ProcessEnv = {}, options: PeerProcessOptions = {}) {
    this.name = name;
    const command = [...(options.launcher ?? []), process.execPath, BIN, ...args];
    this.child = spawn(command[0]!, command.slice(1), {
      stdio: ["pipe", "pipe", "pipe"],
      env: {
        ...process.env,
        FABRIC_LOGGING_SPEC: process.env["FABRIC_LOGGING_SPEC"] ?? "warn",
        ...childCodeEnv(),
        ...env,
      },
    });
    if (options.logFile !== undefined) this.#logClosed = this.#teeTo(options.logFile);
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      let msg: ControlMessage;
      try {
        msg = JSON.parse(line) as ControlMessage;
      } catch {
        return;
      }
      const i = this.#waiters.findIndex((w) => w.match(msg));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(msg);
      else this.#events.push(msg);
    });
    createInterface({ input: this.child.stderr! }).on("line", (line) => {
      if (this.stderr.length < 2000) this.stderr.push(line);
    });
    this.#exited = new Promise((resolve) => {
      this.child.once("exit", (code) => {
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const w of waiters) w.reject(new Error(`${name} exited (code ${code}) while a reply was awaited; stderr: ${this.stderr.slice(-5).join(" | ")}`));
        resolve(code);
      });
    });
  }

  /** Copies stdout and stderr into `file` (appended: a restarted process continues it) until both end. */
  #teeTo(file: string): Promise<void> {
    const log: WriteStream = createWriteStream(file, { flags: "a" });
    // A log that cannot be written (a full disk, a removed folder) must not take the process or us down.
    log.on("error", () => {});
    const ended = [this.child.stdout!, this.child.stderr!].map(
      (stream) =>
        new Promise<void>((resolve) => {
          stream.on("data", (chunk: Buffer) => log.write(chunk));
          stream.once("close", resolve);
        }),
    );
    return Promise.all(ended).then(() => new Promise<void>((resolve) => log.end(resolve)));
  }

  /** Resolves with the first event (already seen or coming) that `match` selects. */
  waitFor(match: (m: ControlMessage) => boolean, timeoutMs = 30_000): Promise<ControlMessage> {
    const i = this.#events.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#events.splice(i, 1)[0]!);
    if (this.child.exitCode !== null) return Promise.reject(new Error(`${this.name} has exited; stderr: ${this.stderr.slice(-5).join(" | ")}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`${this.name}: no matching event within ${timeoutMs} ms; stderr: ${this.stderr.slice(-5).join(" | ")}`));
      }, timeoutMs);
      const done = (m: ControlMessage): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.#waiters.push({
        match,
        resolve: done,
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  /** Removes and returns the events already received (and awaited by nobody) that `match` selects, oldest first. */
  takeEvents(match: (m: ControlMessage) => boolean): ControlMessage[] {
    const taken = this.#events.filter(match);
    this.#events = this.#events.filter((m) => !match(m));
    return taken;
  }

  /** Waits for an event of the given kind. */
  event(kind: string, timeoutMs?: number): Promise<ControlMessage> {
    return this.waitFor((m) => m.event === kind, timeoutMs);
  }

  send(msg: ControlMessage): void {
    this.child.stdin!.write(`${JSON.stringify(msg)}\n`);
  }

  /** Sends a command and waits for the event that answers it (or an error event). */
  async request(msg: ControlMessage, reply: string, timeoutMs?: number): Promise<ControlMessage> {
    const answer = this.waitFor((m) => m.event === reply || (m.event === "error" && m["cmd"] === msg.cmd), timeoutMs);
    this.send(msg);
    const m = await answer;
    if (m.event === "error") throw new Error(`${this.name}: ${String(m["error"])}`);
    return m;
  }

  /**
   * Asks the process to stop (closes its control input and sends SIGTERM), and kills it if it has
   * not exited within `graceMs`.
   */
  async stop(graceMs = 5_000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.end();
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
      const code = await this.#exited;
      clearTimeout(timer);
      await this.#logClosed;
      return code;
    }
    const code = await this.#exited;
    await this.#logClosed;
    return code;
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}
