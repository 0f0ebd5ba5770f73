import type { OrgIdentityType, PeerIdentityInfo, PeerIdentityType, PKIidType, PkiHex } from "../api/index.js";
import { PkiIdMemo, pkiHex } from "../api/index.js";
import { bytesEqual, errorMessage, type TimerHandle, toHex } from "../util/index.js";
import { IdentityError } from "./errors.js";
import {
  EXPIRATION_GRACE_MS,
  IDENTITY_USAGE_THRESHOLD_MS,
  type IdentityMapper,
  type IdentityMapperComponents,
  type IdentityMapperOptions,
  type PeerSuspector,
  PURGE_INTERVAL_DIVISOR,
} from "./interface.js";

/**
 * The longest single timeout scheduled. Node's setTimeout fires almost at once for delays above
 * 2^31-1 ms (about 24.8 days), and certificates expire years ahead, so a far deadline is reached by a
 * chain of shorter timeouts.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

interface StoredIdentity {
  readonly key: PkiHex;
  readonly pkiId: PKIidType;
  readonly identity: PeerIdentityType;
  readonly organization: OrgIdentityType;
  /** `clock.monotonic()` of the last use. */
  lastAccess: number;
  expiryTimer: TimerHandle | undefined;
  /** Deleted from the mapper: a stale entry of the per-array cache. */
  removed: boolean;
}

/**
 * Fabric's `identity.NewIdentityMapper`: stores our own identity at once (throwing `IdentityError`
 * SELF_IDENTITY when it does not pass `put`) and, once started, purges identities unused for the usage
 * threshold every tenth of it.
 *
 * Departures from Fabric: `get` returns undefined rather than an error; `stop` also cancels the
 * per-identity expiration timers (Fabric leaves its `time.AfterFunc`s running); expiration deadlines
 * further away than Node's timer limit are reached through a chain of timeouts.
 */
export function createIdentityMapper(components: IdentityMapperComponents, options: IdentityMapperOptions = {}): IdentityMapper {
  const usageThresholdMs = options.usageThresholdMs ?? IDENTITY_USAGE_THRESHOLD_MS;
  // Not a config key (Fabric's usageThreshold constant); only tests pass it. Checked because the purge
  // check runs every threshold / 10, which at 0 would re-arm forever at one instant.
  if (!(Number.isFinite(usageThresholdMs) && usageThresholdMs > 0)) {
    throw new IdentityError("INVALID_OPTIONS", `identity usage threshold must be a positive number of milliseconds, got ${String(usageThresholdMs)}`);
  }
  return new IdentityMapperImpl(components, usageThresholdMs);
}

class IdentityMapperImpl implements IdentityMapper {
  readonly #c: IdentityMapperComponents;
  readonly #usageThresholdMs: number;
  readonly #byId = new Map<PkiHex, StoredIdentity>();
  /**
   * The entries by PKI-ID array too: routing asks for the org of members' long-lived PKI-ID arrays several
   * times per message (fewer cache misses with a large heap: a simulation holds N mappers). Relies on PKI-ID
   * arrays never being written after they are made (see pkiKey).
   */
  readonly #byArray = new PkiIdMemo<StoredIdentity>(
    (key) => this.#byId.get(key),
    (entry) => !entry.removed,
  );
  readonly #selfKey: PkiHex;
  #purgeTimer: TimerHandle | undefined;
  #started = false;
  #stopped = false;

  constructor(components: IdentityMapperComponents, usageThresholdMs: number) {
    this.#c = components;
    this.#usageThresholdMs = usageThresholdMs;
    let selfPkiId: PKIidType;
    try {
      selfPkiId = components.mcs.getPKIidOfCert(components.selfIdentity);
      this.put(selfPkiId, components.selfIdentity);
    } catch (err) {
      throw new IdentityError("SELF_IDENTITY", `our own identity cannot be stored in the identity mapper: ${errorMessage(err)}; check the peer's MSP configuration`, {
        cause: err,
      });
    }
    this.#selfKey = pkiHex(selfPkiId);
  }

  put(pkiId: PKIidType, identity: PeerIdentityType): void {
    if (this.#stopped) throw new IdentityError("STOPPED", "the identity mapper is stopped; no identity can be added");
    if (pkiId.byteLength === 0) throw new IdentityError("NO_PKI_ID", "expected a PKI-ID to store an identity under, got an empty one");
    if (identity.byteLength === 0) throw new IdentityError("NO_IDENTITY", `expected an identity for PKI-ID ${toHex(pkiId)}, got an empty one`);
    const { mcs } = this.#c;

    let expiration: Date | undefined;
    try {
      expiration = mcs.expiration(identity);
    } catch (err) {
      throw new IdentityError("UNCLASSIFIABLE_IDENTITY", `failed classifying the identity of ${toHex(pkiId)}: ${errorMessage(err)}`, { cause: err });
    }
    const expiresAt = expiration?.getTime();
    if (expiresAt !== undefined && Number.isNaN(expiresAt)) {
      throw new IdentityError("UNCLASSIFIABLE_IDENTITY", `failed classifying the identity of ${toHex(pkiId)}: its expiration time is invalid`);
    }

    let computed: PKIidType;
    try {
      mcs.validateIdentity(identity);
      computed = mcs.getPKIidOfCert(identity);
    } catch (err) {
      throw new IdentityError("INVALID_IDENTITY", `the identity of ${toHex(pkiId)} is not valid: ${errorMessage(err)}`, { cause: err });
    }
    if (!bytesEqual(pkiId, computed)) {
      throw new IdentityError(
        "PKI_ID_MISMATCH",
        `identity doesn't match the computed PKI-ID: it was given for ${toHex(pkiId)} but its PKI-ID is ${toHex(computed)}`,
      );
    }

    const key = pkiHex(pkiId);
    // The first identity stored for a PKI-ID wins.
    if (this.#byId.has(key)) return;

    if (expiresAt !== undefined && this.#c.clock.now() > expiresAt) {
      throw new IdentityError("EXPIRED_IDENTITY", `gossipping peer identity expired: the identity of ${toHex(pkiId)} expired at ${new Date(expiresAt).toISOString()}`);
    }

    const entry: StoredIdentity = {
      key,
      // The MCS's own array (equal to pkiId, checked above), not a copy: the MSP's identity cache and
      // the development MCS (whose PKI-ID is the identity) hand out the same array for every call, so
      // the N mappers of a simulation hold one array per member instead of N.
      pkiId: computed,
      identity,
      organization: this.#c.securityAdvisor.orgByPeerIdentity(identity),
      lastAccess: this.#c.clock.monotonic(),
      expiryTimer: undefined,
      removed: false,
    };
    this.#byId.set(key, entry);
    if (expiresAt !== undefined) this.#scheduleExpiry(entry, expiresAt + EXPIRATION_GRACE_MS);
  }

  get(pkiId: PKIidType): PeerIdentityType | undefined {
    return this.#use(pkiId)?.identity;
  }

  orgOf(pkiId: PKIidType): OrgIdentityType | undefined {
    return this.#use(pkiId)?.organization;
  }

  pkiIdOf(key: PkiHex): PKIidType | undefined {
    return this.#byId.get(key)?.pkiId;
  }

  /** The stored entry of `pkiId`, marked as used now (what keeps it from the unused-identity purge). */
  #use(pkiId: PKIidType): StoredIdentity | undefined {
    const entry = this.#byArray.get(pkiId);
    if (entry === undefined) return undefined;
    entry.lastAccess = this.#c.clock.monotonic();
    return entry;
  }

  sign(msg: Uint8Array): Uint8Array {
    return this.#c.mcs.sign(msg);
  }

  verify(pkiId: PKIidType, signature: Uint8Array, message: Uint8Array): void {
    const identity = this.get(pkiId);
    if (identity === undefined) {
      throw new IdentityError("UNKNOWN_PKI_ID", `PKI-ID ${toHex(pkiId)} wasn't found: no identity is known for it, so its signature cannot be checked`);
    }
    try {
      this.#c.mcs.verify(identity, signature, message);
    } catch (err) {
      throw new IdentityError("BAD_SIGNATURE", `the signature of ${toHex(pkiId)} does not verify: ${errorMessage(err)}`, { cause: err });
    }
  }

  getPKIidOfCert(identity: PeerIdentityType): PKIidType {
    return this.#c.mcs.getPKIidOfCert(identity);
  }

  suspectPeers(isSuspected: PeerSuspector): void {
    const now = this.#c.clock.monotonic();
    const revoked: { entry: StoredIdentity; reason: string }[] = [];
    for (const entry of this.#byId.values()) {
      if (entry.key !== this.#selfKey && entry.lastAccess + this.#usageThresholdMs < now) {
        revoked.push({ entry, reason: "not used within the usage threshold" });
        continue;
      }
      if (!isSuspected(entry.identity, infoOf(entry))) continue;
      entry.lastAccess = now; // Fabric re-validates through fetchIdentity, which counts as a use.
      try {
        this.#c.mcs.validateIdentity(entry.identity);
      } catch (err) {
        revoked.push({ entry, reason: `re-validation failed: ${errorMessage(err)}` });
      }
    }
    for (const { entry, reason } of revoked) this.#delete(entry, reason);
  }

  identityInfo(): PeerIdentityInfo[] {
    return Array.from(this.#byId.values(), infoOf);
  }

  async start(): Promise<void> {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#schedulePurge();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#purgeTimer?.cancel();
    this.#purgeTimer = undefined;
    for (const entry of this.#byId.values()) {
      entry.expiryTimer?.cancel();
      entry.expiryTimer = undefined;
    }
  }

  /** Fabric's `periodicalPurgeUnusedIdentities`: every threshold/10, purge with a suspect-nobody predicate. */
  #schedulePurge(): void {
    if (this.#stopped) return;
    const interval = Math.min(MAX_TIMER_DELAY_MS, this.#usageThresholdMs / PURGE_INTERVAL_DIVISOR);
    this.#purgeTimer = this.#c.clock.setTimeout(() => {
      this.#purgeTimer = undefined;
      this.suspectPeers(() => false);
      this.#schedulePurge();
    }, interval);
  }

  /** Deletes `entry` once the wall clock reaches `deadlineMs`, stepping through far deadlines. */
  #scheduleExpiry(entry: StoredIdentity, deadlineMs: number): void {
    if (this.#stopped) return;
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, deadlineMs - this.#c.clock.now()));
    entry.expiryTimer = this.#c.clock.setTimeout(() => {
      entry.expiryTimer = undefined;
      if (this.#byId.get(entry.key) !== entry) return;
      if (this.#c.clock.now() >= deadlineMs) this.#delete(entry, "its certificate expired");
      else this.#scheduleExpiry(entry, deadlineMs);
    }, delay);
  }

  /** Fabric's `delete`: forget the identity, then tell the purge trigger. */
  #delete(entry: StoredIdentity, reason: string): void {
    if (this.#byId.get(entry.key) !== entry) return;
    this.#byId.delete(entry.key);
    entry.removed = true;
    entry.expiryTimer?.cancel();
    entry.expiryTimer = undefined;
    this.#c.logger.debug("purging identity", { pkiId: entry.key, reason });
    const onPurge = this.#c.onPurge;
    if (onPurge === undefined) return;
    try {
      onPurge(entry.pkiId, entry.identity);
    } catch (err) {
      this.#c.logger.error("identity purge callback failed", { pkiId: entry.key, error: errorMessage(err) });
    }
  }
}

function infoOf(entry: StoredIdentity): PeerIdentityInfo {
  return { pkiId: entry.pkiId, identity: entry.identity, organization: entry.organization };
}
