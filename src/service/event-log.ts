import type { PeerEvent, PeerEventKind, PeerEvents } from "../api/index.js";
import { type Clock, toHex } from "../util/index.js";

/** A peer event as JSON carries it: bigints as decimal strings, bytes as hex, with its sequence number and time. */
export type RecordedEvent = { readonly seq: number; readonly time: string } & Readonly<Record<string, string | number | boolean>>;

/** What `GET /v1/events` answers. */
export interface EventLogView {
  /** Pass as `since` to get only what comes after. */
  readonly next: number;
  /** Events of each kind since the peer started (not bounded by the log's capacity). */
  readonly counts: Readonly<Partial<Record<PeerEventKind, number>>>;
  /** The most recent events after `since`, oldest first (at most the log's capacity). */
  readonly events: readonly RecordedEvent[];
}

/** How many recent events a peer keeps for `/v1/events`. */
export const DEFAULT_EVENT_LOG_CAPACITY = 1_000;

/**
 * The recent events of a peer and a count of each kind, for its admin endpoint: what an operator
 * reads to see who was declared dead, when leadership moved, what was refused and why.
 */
export class EventLog {
  readonly #ring: RecordedEvent[] = [];
  readonly #capacity: number;
  readonly #clock: Clock;
  readonly #counts: Partial<Record<PeerEventKind, number>> = {};
  #next = 1;
  readonly #unsubscribe: () => void;

  constructor(events: PeerEvents, clock: Clock, capacity = DEFAULT_EVENT_LOG_CAPACITY) {
    this.#capacity = Math.max(1, Math.floor(capacity));
    this.#clock = clock;
    this.#unsubscribe = events.onAny((e) => this.#record(e));
  }

  /** Events after sequence number `since` (0: all kept). */
  view(since = 0): EventLogView {
    return { next: this.#next, counts: { ...this.#counts }, events: this.#ring.filter((e) => e.seq > since) };
  }

  /** Stops recording. */
  close(): void {
    this.#unsubscribe();
  }

  #record(e: PeerEvent): void {
    this.#counts[e.kind] = (this.#counts[e.kind] ?? 0) + 1;
    const out: Record<string, string | number | boolean> = { seq: this.#next++, time: new Date(this.#clock.now()).toISOString() };
    for (const [k, v] of Object.entries(e)) {
      out[k] = typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? toHex(v) : (v as string | number | boolean);
    }
    this.#ring.push(out as RecordedEvent);
    if (this.#ring.length > this.#capacity) this.#ring.shift();
  }
}
