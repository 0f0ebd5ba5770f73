import type { PkiHex } from "./identity.js";

/**
 * What a peer tells its host as it happens, typed (in the spirit of lodestar's `NetworkEvent`): the
 * simulator, the admin endpoint, the live view and tests count these; nothing parses log text.
 */
export type PeerEvent =
  /** A member became alive: first heard of, or back from the dead list. */
  | { readonly kind: "member-alive"; readonly pkiId: PkiHex; readonly endpoint: string }
  /**
   * Discovery moved a member to the dead list: `expired` after aliveExpirationTimeout without news,
   * `presumed-dead` at once because comm could not reach it.
   */
  | { readonly kind: "member-dead"; readonly pkiId: PkiHex; readonly endpoint: string; readonly cause: MemberDeathCause }
  /** A member was forgotten: dead for longer than aliveExpirationTimeout x msgExpirationFactor, or its identity expired. */
  | { readonly kind: "member-purged"; readonly pkiId: PkiHex; readonly endpoint: string }
  /** An alive message carried our own PKI-ID from another endpoint: a second process runs with our identity. */
  | { readonly kind: "duplicate-identity"; readonly pkiId: PkiHex; readonly endpoint: string }
  /** This peer became, or stopped being, the leader of a channel (election or static mode). */
  | { readonly kind: "leadership"; readonly channel: string; readonly isLeader: boolean }
  /** A committed config block changed the channel's configuration (orgs, anchor peers, MSPs, orderers) to this sequence. */
  | { readonly kind: "config-updated"; readonly channel: string; readonly sequence: bigint }
  /**
   * The channel's ledger committed a block: its number, SHA-256 header hash, transactions, and how long the commit
   * took (private data retrieval and both stores, on the peer's clock).
   */
  | {
      readonly kind: "block-committed";
      readonly channel: string;
      readonly number: bigint;
      readonly headerHash: Uint8Array;
      readonly txCount: number;
      readonly commitMs: number;
    }
  /**
   * A component refused a message or connection: `component` says which (comm, discovery, channel,
   * state, deliver), `code` why, as the component's rejection metric labels it.
   */
  | { readonly kind: "message-rejected"; readonly component: string; readonly code: string };

/** Why discovery declared a member dead. */
export type MemberDeathCause = "expired" | "presumed-dead";

/** The kinds of {@link PeerEvent}. */
export type PeerEventKind = PeerEvent["kind"];

/** The event of one kind. */
export type PeerEventOf<K extends PeerEventKind> = Extract<PeerEvent, { kind: K }>;

/** Where components send their events. Emitting must not throw and must not re-enter the emitter. */
export interface PeerEventSink {
  emit(event: PeerEvent): void;
}

/** A sink that drops everything: the default of every component. */
export const NO_EVENTS: PeerEventSink = Object.freeze({ emit: () => {} });

/**
 * A peer's event bus: components emit, hosts subscribe by kind or to all. Listeners run
 * synchronously in the emitter's turn; one that throws is isolated (the others still hear) and the
 * error goes to `onListenerError`.
 */
export class PeerEvents implements PeerEventSink {
  readonly #byKind = new Map<PeerEventKind, Set<(e: PeerEvent) => void>>();
  readonly #all = new Set<(e: PeerEvent) => void>();
  readonly #onListenerError: (err: unknown) => void;

  constructor(onListenerError: (err: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  emit(event: PeerEvent): void {
    const set = this.#byKind.get(event.kind);
    if (set !== undefined) for (const l of set) this.#call(l, event);
    for (const l of this.#all) this.#call(l, event);
  }

  /** Hears every event of `kind`. Returns an unsubscribe. */
  on<K extends PeerEventKind>(kind: K, listener: (e: PeerEventOf<K>) => void): () => void {
    let set = this.#byKind.get(kind);
    if (set === undefined) {
      set = new Set();
      this.#byKind.set(kind, set);
    }
    const l = listener as (e: PeerEvent) => void;
    set.add(l);
    return () => set.delete(l);
  }

  /** Hears every event. Returns an unsubscribe. */
  onAny(listener: (e: PeerEvent) => void): () => void {
    this.#all.add(listener);
    return () => this.#all.delete(listener);
  }

  /** Whether anyone listens (lets hot paths skip building an event nobody hears). */
  get listened(): boolean {
    return this.#all.size > 0 || [...this.#byKind.values()].some((s) => s.size > 0);
  }

  #call(listener: (e: PeerEvent) => void, event: PeerEvent): void {
    try {
      listener(event);
    } catch (err) {
      this.#onListenerError(err);
    }
  }
}
