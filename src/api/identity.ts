import { startsBuffer, toHex } from "../util/index.js";

/** A peer's PKI-ID: Fabric's `common.PKIidType`. For the MSP MCS, SHA-256(mspid || id_bytes). */
export type PKIidType = Uint8Array;

/** A serialized identity (`msp.SerializedIdentity` bytes): Fabric's `api.PeerIdentityType`. */
export type PeerIdentityType = Uint8Array;

/** An organization's identity (its MSP ID bytes): Fabric's `api.OrgIdentityType`. */
export type OrgIdentityType = Uint8Array;

/** Lower-case hex of a PKI-ID, branded so it is used as a map key only where a PKI-ID is meant. */
export type PkiHex = string & { readonly __brand: "PkiHex" };

/** The map key of a PKI-ID (Fabric's `PKIidType.String()`). */
export function pkiHex(pkiId: PKIidType): PkiHex {
  return toHex(pkiId) as PkiHex;
}

/** Keys of PKI-ID arrays already seen. Weak: a key lives as long as its array. */
const KEYS = new WeakMap<PKIidType, PkiHex>();

/**
 * `pkiHex(pkiId)`, remembered per array: for lookups repeated on long-lived arrays (members' PKI-IDs
 * in routing, about 0.03 us against 0.25 us). Relies on what holds throughout the code base: a PKI-ID
 * array is never written after it is made (they are views of received frames, digests, or copies).
 * Only arrays that start their buffer are remembered (copies, as members' PKI-IDs are; see startsBuffer):
 * views into received frames are mostly seen once, and would crowd the map.
 */
export function pkiKey(pkiId: PKIidType): PkiHex {
  let key = KEYS.get(pkiId);
  if (key === undefined) {
    key = pkiHex(pkiId);
    if (startsBuffer(pkiId)) KEYS.set(pkiId, key);
  }
  return key;
}

/**
 * Entries found by PKI-ID: by the array itself when it was asked about before, else by its key (`byKey`). For
 * lookups repeated on long-lived arrays (members' and connections' PKI-IDs, asked about per message): one lookup
 * by array identity instead of a key's and a string-keyed one. Remembers only arrays that start their buffer, as
 * pkiKey does, and asks by key again once `live` refuses a remembered entry (removed, emptied).
 */
export class PkiIdMemo<E> {
  readonly #byArray = new WeakMap<PKIidType, E>();
  readonly #byKey: (key: PkiHex) => E | undefined;
  readonly #live: (entry: E) => boolean;

  constructor(byKey: (key: PkiHex) => E | undefined, live: (entry: E) => boolean) {
    this.#byKey = byKey;
    this.#live = live;
  }

  get(pkiId: PKIidType): E | undefined {
    const remembered = this.#byArray.get(pkiId);
    if (remembered !== undefined && this.#live(remembered)) return remembered;
    const entry = this.#byKey(pkiKey(pkiId));
    if (entry !== undefined && startsBuffer(pkiId)) this.#byArray.set(pkiId, entry);
    return entry;
  }
}

/** A peer as comm addresses it: Fabric's `comm.RemotePeer`. */
export interface RemotePeer {
  endpoint: string;
  pkiId: PKIidType;
}

/** Fabric's `api.PeerIdentityInfo`. */
export interface PeerIdentityInfo {
  pkiId: PKIidType;
  identity: PeerIdentityType;
  organization: OrgIdentityType;
}
