import type { LatencySummary } from "./latency.js";

/** One peer line of the live view. */
export interface PeerRow {
  name: string;
  org: string;
  /** "running", "starting", "stopped", "exited", ... */
  state: string;
  leader: boolean;
  height: number;
  /** Channel peers it knows (itself excluded); undefined before its admin endpoint answered. */
  members: number | undefined;
  blocksPerSecond: number;
}

/** Everything one frame of the live view shows. */
export interface ViewModel {
  /** The first line: what network this is. */
  title: string;
  elapsedSeconds: number;
  orderer: { endpoint: string; height: number; blocksPerSecond: number; txs: number };
  /** "feeding 50 tx/s of 1024 B" or "not feeding". */
  feeding: string;
  peers: PeerRow[];
  /** Members a peer can know at most (all peers but itself). */
  maxMembers: number;
  latency: LatencySummary;
  /** Extra lines at the end (e.g. a process that exited). */
  notes: string[];
  /** The dashboard's "host:port", when it is served. */
  dashboard?: string;
}

const ms = (v: number | null): string => (v === null ? "-" : `${Math.round(v)} ms`);

/** The lines of one frame: a header, the orderer, one line per peer, commit latency. */
export function renderView(m: ViewModel): string[] {
  const nameWidth = Math.max(4, ...m.peers.map((p) => p.name.length));
  const orgWidth = Math.max(3, ...m.peers.map((p) => p.org.length));
  const head = `${"peer".padEnd(nameWidth)}  ${"org".padEnd(orgWidth)}  ${"leader".padEnd(6)}  ${"height".padStart(7)}  ${"members".padStart(7)}  ${"blocks/s".padStart(8)}`;
  const lines = [
    `${m.title}  [${m.elapsedSeconds.toFixed(0)} s]`,
    ...(m.dashboard !== undefined ? [`dashboard http://${m.dashboard}/`] : []),
    `orderer ${m.orderer.endpoint}  height ${m.orderer.height}  ${m.orderer.blocksPerSecond.toFixed(1)} blocks/s  ${m.orderer.txs} txs  (${m.feeding})`,
    head,
  ];
  for (const p of m.peers) {
    const leader = p.state !== "running" ? p.state : p.leader ? "yes" : "-";
    const members = p.members === undefined ? "?" : `${p.members}/${m.maxMembers}`;
    lines.push(
      `${p.name.padEnd(nameWidth)}  ${p.org.padEnd(orgWidth)}  ${leader.padEnd(6)}  ${String(p.height).padStart(7)}  ${members.padStart(7)}  ${p.blocksPerSecond.toFixed(1).padStart(8)}`,
    );
  }
  const l = m.latency;
  lines.push(`commit latency (orderer cut -> peer commit): p50 ${ms(l.p50)}  p99 ${ms(l.p99)}  max ${ms(l.max)}  (${l.count} commits)`);
  lines.push(...m.notes);
  return lines;
}

/** Where frames go: a TTY (redrawn in place) or anything else (appended, one block per frame). */
export interface ViewOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  /** Terminal width: in place, longer lines are cut so each takes one row. */
  columns?: number;
}

/**
 * Writes frames of the live view: on a terminal each frame replaces the last one (cursor up and
 * clear); elsewhere (a pipe, a file) frames follow each other, separated by a blank line.
 */
export class LiveView {
  readonly #out: ViewOutput;
  readonly #inPlace: boolean;
  #lastLines = 0;

  constructor(out: ViewOutput, inPlace = out.isTTY === true) {
    this.#out = out;
    this.#inPlace = inPlace;
  }

  show(lines: readonly string[]): void {
    if (this.#inPlace) {
      // Up to the first line of the previous frame, clear to the end of the screen, draw.
      const up = this.#lastLines > 0 ? `\x1b[${this.#lastLines}F\x1b[0J` : "";
      // A wrapped line would take two rows and break the next redraw.
      const width = this.#out.columns;
      const fitted = width !== undefined && width > 1 ? lines.map((l) => (l.length >= width ? l.slice(0, width - 1) : l)) : lines;
      this.#out.write(`${up}${fitted.join("\n")}\n`);
      this.#lastLines = lines.length;
    } else {
      this.#out.write(`${lines.join("\n")}\n\n`);
    }
  }

  /** Text after the view (a summary, an error) goes below the last frame. */
  release(): void {
    this.#lastLines = 0;
  }
}
