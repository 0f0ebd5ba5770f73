import { type PKIidType, type PkiHex, pkiKey } from "../api/index.js";
import { startsBuffer } from "../util/index.js";
import type { Connection } from "./connection.js";

/** A peer's place in the table: its connection while it has one. */
interface Slot {
  conn: Connection | undefined;
}

/**
 * The primary connection of each peer, by the hex of its PKI-ID, and also found by the PKI-ID array
 * itself: every send looks its peer up, and members' PKI-ID arrays live as long as the members, so one
 * lookup by array identity replaces a key's lookup plus a string-keyed one. A slot lives while its
 * peer has a connection; the array lookup only remembers live slots, and asks by key again once a slot
 * was emptied (a new connection for that peer gets a new slot).
 */
export class ConnectionTable {
  readonly #byKey = new Map<PkiHex, Slot>();
  readonly #byArray = new WeakMap<PKIidType, Slot>();

  get size(): number {
    return this.#byKey.size;
  }

  get(key: PkiHex): Connection | undefined {
    return this.#byKey.get(key)?.conn;
  }

  has(key: PkiHex): boolean {
    return this.#byKey.has(key);
  }

  /** The connection of the peer with PKI-ID `pkiId`. */
  of(pkiId: PKIidType): Connection | undefined {
    const remembered = this.#byArray.get(pkiId);
    if (remembered?.conn !== undefined) return remembered.conn;
    const slot = this.#byKey.get(pkiKey(pkiId));
    if (slot === undefined) return undefined;
    // Not a view into a frame (see startsBuffer): those are asked about once.
    if (startsBuffer(pkiId)) this.#byArray.set(pkiId, slot);
    return slot.conn;
  }

  set(key: PkiHex, conn: Connection): void {
    const slot = this.#byKey.get(key);
    if (slot === undefined) this.#byKey.set(key, { conn });
    else slot.conn = conn;
  }

  delete(key: PkiHex): void {
    const slot = this.#byKey.get(key);
    if (slot === undefined) return;
    slot.conn = undefined;
    this.#byKey.delete(key);
  }

  clear(): void {
    for (const slot of this.#byKey.values()) slot.conn = undefined;
    this.#byKey.clear();
  }

  *values(): IterableIterator<Connection> {
    for (const slot of this.#byKey.values()) if (slot.conn !== undefined) yield slot.conn;
  }
}
