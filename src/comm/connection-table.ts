import { type PKIidType, type PkiHex, PkiIdMemo } from "../api/index.js";
import type { Connection } from "./connection.js";

/** A peer's place in the table: its connection while it has one. */
interface Slot {
  conn: Connection | undefined;
}

/**
 * The primary connection of each peer, by the hex of its PKI-ID, and also found by the PKI-ID array
 * itself (PkiIdMemo): every send looks its peer up. A slot lives while its peer has a connection; a
 * replaced connection is seen through it, and once it was emptied the memo asks by key again (a new
 * connection for that peer gets a new slot).
 */
export class ConnectionTable {
  readonly #byKey = new Map<PkiHex, Slot>();
  readonly #byArray = new PkiIdMemo<Slot>(
    (key) => this.#byKey.get(key),
    (slot) => slot.conn !== undefined,
  );

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
    return this.#byArray.get(pkiId)?.conn;
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
