import type { MessageCryptoService, OrgIdentityType, PKIidType, PeerIdentityInfo, PeerIdentityType, PkiHex, SecurityAdvisor } from "../api/index.js";
import type { Logger } from "../logging/index.js";
import type { Clock } from "../util/index.js";

/** Identities not used for this long are purged (Fabric's `identity.usageThreshold`, 1 h). */
export const IDENTITY_USAGE_THRESHOLD_MS = 3_600_000;

/** The unused-identity purge runs every usage threshold divided by this (6 min by default). */
export const PURGE_INTERVAL_DIVISOR = 10;

/** An identity is deleted this long after its certificate's expiration time (Fabric adds a millisecond). */
export const EXPIRATION_GRACE_MS = 1;

/**
 * Selects the identities to re-validate (Fabric's `api.PeerSuspector`, which sees the identity only;
 * the second argument adds the PKI-ID and organization).
 */
export type PeerSuspector = (identity: PeerIdentityType, info: PeerIdentityInfo) => boolean;

/** Called when an identity leaves the mapper: unused, expired, or failing re-validation (Fabric's `purgeTrigger`). */
export type PurgeTrigger = (pkiId: PKIidType, identity: PeerIdentityType) => void;

/** What the identity mapper works with. */
export interface IdentityMapperComponents {
  mcs: MessageCryptoService;
  securityAdvisor: SecurityAdvisor;
  /** This peer's own identity: stored at construction, never purged for lack of use. */
  selfIdentity: PeerIdentityType;
  clock: Clock;
  logger: Logger;
  /**
   * Runs after an identity was removed. In a peer it removes the PKI-ID from the identity puller,
   * tells discovery to purge the member, and closes the connection (Fabric's `gossip_impl.go:New`).
   */
  onPurge?: PurgeTrigger;
}

/** Tunables of the identity mapper. */
export interface IdentityMapperOptions {
  /**
   * How long an identity may go unused before the periodic purge removes it (Fabric's
   * `SetIdentityUsageThreshold`); default `IDENTITY_USAGE_THRESHOLD_MS` (1 h). The purge runs every
   * tenth of it.
   */
  usageThresholdMs?: number;
}

/**
 * Fabric's `identity.Mapper`: the PKI-ID to certificate cache every signature check goes through,
 * with certificate expiry, re-validation on suspicion, and purge of identities nobody uses.
 */
export interface IdentityMapper {
  /**
   * Stores `identity` under `pkiId` after checking it: non-empty, classifiable (`mcs.expiration`), valid
   * (`mcs.validateIdentity`), its PKI-ID equal to `pkiId`, and not expired. The first identity stored for
   * a PKI-ID wins: a later put for it is a no-op. An identity with an expiration is deleted a millisecond
   * after it. Throws `IdentityError`.
   */
  put(pkiId: PKIidType, identity: PeerIdentityType): void;
  /** The identity of `pkiId`, or undefined when unknown; counts as a use of it (Fabric's `Get`, which errors instead). */
  get(pkiId: PKIidType): PeerIdentityType | undefined;
  /**
   * The organization of the identity stored for `pkiId` (what `securityAdvisor.orgByPeerIdentity`
   * said of it when it was stored), or undefined when none is stored; counts as a use, as `get` does.
   * Fabric's node asks the advisor about `Get(pkiId)` every time; an identity's org never changes,
   * so asking once per stored identity gives the same answers without a deserialization per call.
   */
  orgOf(pkiId: PKIidType): OrgIdentityType | undefined;
  /**
   * The PKI-ID array stored under hex `key`, or undefined; not a use. For callers that hold only the
   * hex (pull digests): asking `orgOf` and the like with the stored array hits the per-array caches
   * where a fresh array from the hex would miss them every time.
   */
  pkiIdOf(key: PkiHex): PKIidType | undefined;
  /** Signs with this peer's signing identity (`mcs.sign`). */
  sign(msg: Uint8Array): Uint8Array;
  /**
   * Checks `signature` over `message` against the stored identity of `pkiId`. Throws `IdentityError`
   * UNKNOWN_PKI_ID when none is stored, BAD_SIGNATURE (with the crypto error as cause) when it does not verify.
   */
  verify(pkiId: PKIidType, signature: Uint8Array, message: Uint8Array): void;
  /** The PKI-ID of an identity (`mcs.getPKIidOfCert`). */
  getPKIidOfCert(identity: PeerIdentityType): PKIidType;
  /**
   * Re-validates the identities `isSuspected` selects and removes those that fail; also removes every
   * identity but our own unused for longer than the usage threshold (Fabric's `SuspectPeers`). The peer
   * calls it with a select-all predicate on every channel config update.
   */
  suspectPeers(isSuspected: PeerSuspector): void;
  /** Every stored identity with its PKI-ID and organization (Fabric's `IdentityInfo`). */
  identityInfo(): PeerIdentityInfo[];
  /** Starts the periodic purge of unused identities (idempotent). */
  start(): Promise<void>;
  /** Stops the purge and every expiration timer (idempotent); afterwards `put` fails with STOPPED. */
  stop(): Promise<void>;
}
