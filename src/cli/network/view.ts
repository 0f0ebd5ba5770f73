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
  /** Its admin (operations) endpoint "host:port": /healthz, /metrics, /v1/...; undefined until its ready line. */
  admin: string | undefined;
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
  const head = `${"peer".padEnd(nameWidth)}  ${"org".padEnd(orgWidth)}  ${"leader".padEnd(6)}  ${"height".padStart(7)}  ${"members".padStart(7)}  ${"blocks/s".padStart(8)}  admin`;
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
      `${p.name.padEnd(nameWidth)}  ${p.org.padEnd(orgWidth)}  ${leader.padEnd(6)}  ${String(p.height).padStart(7)}  ${members.padStart(7)}  ${p.blocksPerSecond.toFixed(1).padStart(8)}  ${p.admin ?? "-"}`,
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
  /** Terminal width, read at each frame (a terminal's changes as it is resized): in place, longer lines wrap. */
  columns?: number;
}

/**
 * Folds `line` into rows shorter than `width` (the last column stays free: a character there makes some
 * terminals wrap early), at spaces where it can, continuation rows indented by two.
 */
export function foldLine(line: string, width: number): string[] {
  const max = width - 1;
  if (max < 8 || line.length <= max) return [line];
  const rows: string[] = [];
  let rest = line;
  let indent = "";
  while (indent.length + rest.length > max) {
    const room = max - indent.length;
    const cut = rest.lastIndexOf(" ", room);
    const at = cut > room / 2 ? cut : room;
    rows.push(indent + rest.slice(0, at).trimEnd());
    rest = rest.slice(at).trimStart();
    indent = "  ";
  }
  if (rest.length > 0) rows.push(indent + rest);
  return rows;
}

/**
 * Writes frames of the live view: on a terminal each frame replaces the last one (cursor up and
 * clear), its lines folded to the terminal's width of the moment; elsewhere (a pipe, a file) frames
 * follow each other, separated by a blank line, lines whole.
 */
export class LiveView {
  readonly #out: ViewOutput;
  readonly #inPlace: boolean;
  readonly #fallbackWidth: number | undefined;
  /** Rows the last frame took on the terminal, and the width it was drawn at. */
  #lastRows = 0;
  #lastWidth: number | undefined;

  /** `fallbackWidth`: the width when the output does not say (COLUMNS, as a shell exports it). */
  constructor(out: ViewOutput, inPlace = out.isTTY === true, fallbackWidth = widthOf(process.env["COLUMNS"])) {
    this.#out = out;
    this.#inPlace = inPlace;
    this.#fallbackWidth = fallbackWidth;
  }

  show(lines: readonly string[]): void {
    if (!this.#inPlace) {
      this.#out.write(`${lines.join("\n")}\n\n`);
      return;
    }
    const width = widthOf(this.#out.columns) ?? this.#fallbackWidth;
    // A row longer than the terminal would wrap on its own and break the count of rows to redraw.
    const rows = width === undefined ? [...lines] : lines.flatMap((l) => foldLine(l, width));
    let up = "";
    if (this.#lastRows > 0) {
      // After a resize the terminal may have re-wrapped the last frame: its rows are unknown, start over
      // from the top of the screen. Otherwise up to the first row of the last frame and clear below.
      up = width !== this.#lastWidth ? "\x1b[H\x1b[2J" : `\x1b[${this.#lastRows}F\x1b[0J`;
    }
    this.#out.write(`${up}${rows.join("\n")}\n`);
    this.#lastRows = rows.length;
    this.#lastWidth = width;
  }

  /** Text after the view (a summary, an error) goes below the last frame. */
  release(): void {
    this.#lastRows = 0;
  }
}

function widthOf(v: number | string | undefined): number | undefined {
  const n = typeof v === "string" ? Number(v) : v;
  return n !== undefined && Number.isInteger(n) && n > 1 ? n : undefined;
}
