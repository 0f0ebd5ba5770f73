import type { PkiHex } from "../api/identity.js";
import type { SignedGossipMessage } from "../protoext/signed-message.js";
import type { NetworkMember } from "./network-member.js";

/** What the view keeps of one alive member: its latest alive message and the member built from it. */
interface Entry {
  msg: SignedGossipMessage;
  member: NetworkMember;
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
  /** Position of each key in #members and #keys: the same order as #entries. */
  readonly #index = new Map<PkiHex, number>();
  readonly #keys: PkiHex[] = [];
  #members: NetworkMember[] = [];
  /** #members has been handed out (and frozen): copy it before the next change. */
  #shared = false;
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
    this.#entries.set(key, { msg, member: frozen });
    const members = this.#writable();
    const at = this.#index.get(key);
    if (at === undefined) {
      this.#index.set(key, members.length);
      members.push(frozen);
      this.#keys.push(key);
    } else {
      members[at] = frozen;
    }
    this.#version++;
  }

  /** Removes `key`; later members move up one place (as a Map's delete does to iteration order). */
  delete(key: PkiHex): boolean {
    if (!this.#entries.delete(key)) return false;
    const at = this.#index.get(key)!;
    this.#index.delete(key);
    const members = this.#writable();
    members.splice(at, 1);
    this.#keys.splice(at, 1);
    for (let i = at; i < this.#keys.length; i++) this.#index.set(this.#keys[i]!, i);
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

  #writable(): NetworkMember[] {
    if (this.#shared) {
      this.#members = this.#members.slice();
      this.#shared = false;
    }
    return this.#members;
  }
}
