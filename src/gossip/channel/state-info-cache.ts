import { type OrgIdentityType, type PkiHex, type PKIidType, pkiHex, pkiKey } from "../../api/index.js";
import { type Logger, silentLogger } from "../../logging/index.js";
import { createGossipMessageComparator, type SignedGossipMessage } from "../../protoext/index.js";
import type { StateInfo } from "../../protos/gen/gossip/message.pb.js";
import { type Clock, errorMessage, type TimerHandle } from "../../util/index.js";
import { createMessageStore, type MessageStore } from "../msgstore/index.js";

const EMPTY = new Uint8Array(0);

/**
 * Whether the signer of a StateInfo message is eligible for the channel. With `orgs`, the org check
 * uses that list instead of the channel's current one (Fabric's `membershipPredicate`).
 */
export type StateInfoVerifier = (msg: SignedGossipMessage, orgs?: readonly OrgIdentityType[]) => boolean;

/** The StateInfo content of a message the cache holds (only StateInfo messages are ever added). */
export function stateInfoOf(msg: SignedGossipMessage): StateInfo | undefined {
  const content = msg.message.content;
  return content?.$case === "stateInfo" ? content.value : undefined;
}

function pkiIdOf(msg: SignedGossipMessage): PKIidType {
  return stateInfoOf(msg)?.pkiId ?? EMPTY;
}

/**
 * Fabric's `stateInfoCache`: a message store of StateInfo messages under the timestamp policy (no TTL),
 * indexed by PKI-ID, that admits a message only if it is newer than the one held and its signer is
 * verified. A sweeper (a chain of clock timeouts) removes the messages of peers discovery has forgotten.
 */
export class StateInfoCache {
  readonly #store: MessageStore<SignedGossipMessage>;
  readonly #byPki = new Map<PkiHex, SignedGossipMessage>();
  readonly #verify: StateInfoVerifier;
  readonly #hasExpired: (msg: SignedGossipMessage) => boolean;
  readonly #clock: Clock;
  readonly #sweepIntervalMs: number;
  readonly #logger: Logger;
  #timer: TimerHandle | undefined;
  #running = false;

  constructor(options: {
    verify: StateInfoVerifier;
    /** Whether the message's peer is gone from discovery (the sweeper removes those). */
    hasExpired: (msg: SignedGossipMessage) => boolean;
    clock: Clock;
    sweepIntervalMs: number;
    logger?: Logger;
  }) {
    this.#verify = options.verify;
    this.#hasExpired = options.hasExpired;
    this.#clock = options.clock;
    this.#sweepIntervalMs = options.sweepIntervalMs;
    this.#logger = options.logger ?? silentLogger;
    this.#store = createMessageStore(createGossipMessageComparator(0), (old) => {
      this.#byPki.delete(pkiHex(pkiIdOf(old)));
    });
  }

  /**
   * Adds `msg` if it is newer than the held StateInfo of its peer and the verifier accepts it (the
   * cheap check first, as in Fabric). Returns whether it was added.
   */
  add(msg: SignedGossipMessage): boolean {
    if (!this.#store.checkValid(msg)) return false;
    if (!this.#verify(msg)) return false;
    const added = this.#store.add(msg);
    if (added) this.#byPki.set(pkiHex(pkiIdOf(msg)), msg);
    return added;
  }

  /** Whether `add(msg)` would pass the timestamp check (the verifier is not consulted). */
  checkValid(msg: SignedGossipMessage): boolean {
    return this.#store.checkValid(msg);
  }

  /** The StateInfo message held for `pkiId` (Fabric's `MsgByID`). */
  msgById(pkiId: PKIidType): SignedGossipMessage | undefined {
    // pkiKey: asked per routed message about members' long-lived arrays (their key is remembered).
    return this.#byPki.get(pkiKey(pkiId));
  }

  /** Every held message, oldest first. */
  get(): SignedGossipMessage[] {
    return this.#store.get();
  }

  size(): number {
    return this.#store.size();
  }

  /** Re-verifies every held message against `orgs` and deletes those that fail (Fabric's `validate`). */
  validate(orgs: readonly OrgIdentityType[]): void {
    for (const msg of this.#store.get()) {
      if (!this.#verify(msg, orgs)) this.delete(msg);
    }
  }

  /** Removes the StateInfo of `msg`'s peer. */
  delete(msg: SignedGossipMessage): void {
    const key = pkiHex(pkiIdOf(msg));
    this.#store.purge((held) => pkiHex(pkiIdOf(held)) === key);
    this.#byPki.delete(key);
  }

  /** One sweep: removes the messages of peers discovery no longer knows. */
  sweep(): void {
    this.#store.purge(this.#hasExpired);
  }

  /** Starts the sweeper (idempotent). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule();
  }

  /** Stops the sweeper (idempotent); the cache stays usable. */
  stop(): void {
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      try {
        this.sweep();
      } catch (err) {
        this.#logger.error("StateInfo cache sweep failed", { error: errorMessage(err) });
      }
      this.#schedule();
    }, this.#sweepIntervalMs);
  }
}
