import type { PkiHex } from "../api/index.js";
import type { SignedGossipMessage } from "../protoext/index.js";
import type { NetworkMember } from "./network-member.js";

/** What the view keeps of one alive member: its latest alive message and the member built from it. */
interface Entry {
  msg: SignedGossipMessage;
  member: NetworkMember;
  /** Position in #members and #keys. */
  index: number;
}

/**
 * Discovery's alive membership (Fabric's `aliveMembership` map, the latest alive message of each
 * alive member, in insertion order) together with the member list `getMembership` hands out.
 *
 * Fabric rebuilds that list on every call, and the node asks for it once per emitted batch: with N
 * members that is O(N) allocations per batch. Here the list is kept up to date as entries change
 * (one member object per change) and handed out as a frozen array that stays the same instance
 * until the next change; a change after a hand-out copies the array (a pointer copy, no member
 * objects built). `version` grows by one per change, so callers can cache what they derive from it.
 * Members are frozen: holders of an old list never see it change.
 */
export class AliveView {
  readonly #entries = new Map<PkiHex, Entry>();
  /** The keys in #members' order (the same as #entries'), to renumber after a delete. */
  readonly #keys: PkiHex[] = [];
  #members: NetworkMember[] = [];
  /** #members has been handed out (and frozen): copy it before the next change. */
  #shared = false;
  /** Reads of #members under way (see read): a change meanwhile copies it. */
  #lent = 0;
  #version = 0;

  get size(): number {
    return this.#entries.size;
  }

  /** Grows by one with every change to the members (set or delete). */
  get version(): number {
    return this.#version;
  }

  has(key: PkiHex): boolean {
    return this.#entries.has(key);
  }

  /** The latest alive message of `key`, or undefined. */
  get(key: PkiHex): SignedGossipMessage | undefined {
    return this.#entries.get(key)?.msg;
  }

  /** The latest alive messages, in insertion order. */
  *messages(): IterableIterator<SignedGossipMessage> {
    for (const e of this.#entries.values()) yield e.msg;
  }

  /**
   * Stores `msg` as the latest alive message of `key` and `member` as what the view shows of it. A
   * known key keeps its position (as a Map's set does), a new one goes last.
   */
  set(key: PkiHex, msg: SignedGossipMessage, member: NetworkMember): void {
    const frozen = Object.freeze(member);
    const members = this.#writable();
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#entries.set(key, { msg, member: frozen, index: members.length });
      members.push(frozen);
      this.#keys.push(key);
    } else {
      entry.msg = msg;
      entry.member = frozen;
      members[entry.index] = frozen;
    }
    this.#version++;
  }

  /** Removes `key`; later members move up one place (as a Map's delete does to iteration order). */
  delete(key: PkiHex): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    const at = entry.index;
    const members = this.#writable();
    members.splice(at, 1);
    this.#keys.splice(at, 1);
    for (let i = at; i < this.#keys.length; i++) this.#entries.get(this.#keys[i]!)!.index = i;
    this.#version++;
    return true;
  }

  /** The members, in insertion order: a frozen array, the same instance until the next change. */
  members(): readonly NetworkMember[] {
    if (!this.#shared) {
      Object.freeze(this.#members);
      this.#shared = true;
    }
    return this.#members;
  }

  /**
   * Lends the members to `read` for as long as it runs, without handing them out: a change made
   * meanwhile goes to a copy (the lent array stays as it was), and none is needed after it returns.
   * What routes a batch reads the view this way, so the alive messages that keep arriving between
   * batches change the list in place instead of copying it each time.
   */
  read<T>(read: (members: readonly NetworkMember[]) => T): T {
    const lent = this.#members;
    this.#lent++;
    try {
      return read(lent);
    } finally {
      if (this.#members === lent) this.#lent--;
    }
  }

  #writable(): NetworkMember[] {
    if (this.#shared || this.#lent > 0) {
      this.#members = this.#members.slice();
      this.#shared = false;
      this.#lent = 0;
    }
    return this.#members;
  }
}
