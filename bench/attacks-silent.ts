/**
 * Silent TCP connections for the attack suite, held by child processes: one process may hold no more
 * descriptors than its RLIMIT_NOFILE (often 20,000 here), so a flood of 20,000 is split over several.
 * Each child opens its share from the given source address in batches, prints a JSON line of counts
 * every 250 ms, and closes everything when its stdin ends. Plain JavaScript run with `node -e`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

const CHILD = `
const net = require("node:net");
const [host, port, localAddress, count] = [process.argv[1], Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
const sockets = [];
let connected = 0, closed = 0, errors = 0, opened = 0;
function batch() {
  const n = Math.min(500, count - opened);
  for (let i = 0; i < n; i++) {
    opened++;
    const s = net.connect({ host, port, localAddress });
    s.on("connect", () => connected++);
    s.on("error", () => errors++);
    s.on("close", () => closed++);
    sockets.push(s);
  }
  if (opened < count) setTimeout(batch, 5);
}
batch();
const report = () => process.stdout.write(JSON.stringify({ opened, connected, closed, errors }) + "\\n");
const timer = setInterval(report, 250);
process.stdin.on("end", () => { clearInterval(timer); for (const s of sockets) s.destroy(); report(); process.exit(0); });
process.stdin.resume();
`;

/** Counts reported by the holders together. */
export interface SilentCounts {
  opened: number;
  connected: number;
  closed: number;
  errors: number;
}

/** `total` silent connections from `localAddress` to `endpoint`, over as many children as `perChild` needs. */
export class SilentFlood {
  readonly #children: ChildProcess[] = [];
  readonly #counts = new Map<ChildProcess, SilentCounts>();

  constructor(endpoint: string, localAddress: string, total: number, perChild = 10_000) {
    const i = endpoint.lastIndexOf(":");
    for (let left = total; left > 0; left -= perChild) {
      const n = Math.min(perChild, left);
      const child = spawn(process.execPath, ["-e", CHILD, endpoint.slice(0, i), endpoint.slice(i + 1), localAddress, String(n)], { stdio: ["pipe", "pipe", "ignore"] });
      this.#children.push(child);
      createInterface({ input: child.stdout! }).on("line", (line) => {
        try {
          this.#counts.set(child, JSON.parse(line) as SilentCounts);
        } catch {
          // not a report
        }
      });
    }
  }

  counts(): SilentCounts {
    const out: SilentCounts = { opened: 0, connected: 0, closed: 0, errors: 0 };
    for (const c of this.#counts.values()) {
      out.opened += c.opened;
      out.connected += c.connected;
      out.closed += c.closed;
      out.errors += c.errors;
    }
    return out;
  }

  /** Closes every connection and waits for the children to exit. */
  async stop(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const guard = setTimeout(() => c.kill("SIGKILL"), 5_000);
            c.once("exit", () => {
              clearTimeout(guard);
              resolve();
            });
            c.stdin!.end();
          }),
      ),
    );
  }
}
