import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ControlMessage } from "./control.js";

const BIN = fileURLToPath(new URL("../../bin/fabric-gossip.js", import.meta.url));
/**
 * Whether this module runs from the TypeScript sources (tests, tsx): then the children run the
 * sources too, so they run the code under test rather than the last build in dist/.
 */
const FROM_SOURCES = import.meta.url.endsWith(".ts");

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

  constructor(name: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.name = name;
    this.child = spawn(process.execPath, [BIN, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: {
        ...process.env,
        FABRIC_LOGGING_SPEC: process.env["FABRIC_LOGGING_SPEC"] ?? "warn",
        ...(FROM_SOURCES ? { FABRIC_GOSSIP_SOURCES: "1" } : {}),
        ...env,
      },
    });
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
      return code;
    }
    return this.#exited;
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}
