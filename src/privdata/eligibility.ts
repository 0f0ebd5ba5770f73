import {
  createSignaturePolicy,
  type IdentityDeserializer,
  type PolicyEvaluator,
  type PolicyIdentity,
  type SignedData,
} from "../channelconfig/index.js";
import { errorMessage } from "../util/index.js";
import { type CollectionDefinition, memberOrgsPolicyBytes } from "./collections.js";
import { PrivdataError } from "./errors.js";

/**
 * A collection's access policy compiled with a channel's MSPs: Fabric's `privdata.CollectionAccessPolicy`
 * (`core/common/privdata/simplecollection.go`). Built once per (collection definition, channel
 * configuration): a config block that changes the MSPs needs a new one.
 */
export interface CollectionAccess {
  readonly collection: CollectionDefinition;
  /** Fabric's `MemberOrgs`: the MSP IDs the member orgs policy names. */
  readonly memberOrgs: ReadonlySet<string>;
  /**
   * Fabric's `AccessFilter`: the signed data (a peer's StateInfo envelope, a handshake's signed data)
   * satisfies the member orgs policy, its signature checked. False for anything unusable.
   */
  accessFilter(signedData: SignedData): boolean;
  /**
   * The identity (a serialized `msp.SerializedIdentity`) satisfies the member orgs policy: it deserializes
   * with the channel's MSPs, is valid (not expired or revoked) and matches a principal. No signature is
   * involved, so this says who may hold the data, not who is asking; answer a request with `accessFilter`.
   */
  isEligible(identity: Uint8Array): boolean;
  /** As `isEligible`; throws PrivdataError NOT_ELIGIBLE saying why not. */
  checkEligible(identity: Uint8Array): void;
  /** The MSP ID is one of the member orgs (Fabric's coordinator counts the peer eligible on this alone). */
  isMemberOrg(mspId: string): boolean;
}

/**
 * Compiles a collection's member orgs policy with the channel's identity deserializer (a ChannelMspManager,
 * a tracker bundle's `msps`). Throws PrivdataError BAD_COLLECTION_POLICY when the policy cannot be compiled
 * (Fabric's `getPolicy` error).
 */
export function createCollectionAccess(collection: CollectionDefinition, deserializer: IdentityDeserializer): CollectionAccess {
  let policy: PolicyEvaluator;
  const path = `collection ${collection.name} member orgs policy`;
  try {
    policy = createSignaturePolicy(path, memberOrgsPolicyBytes(collection), deserializer);
  } catch (err) {
    throw new PrivdataError("BAD_COLLECTION_POLICY", `${path} cannot be compiled: ${errorMessage(err)}`, { cause: err });
  }
  const memberOrgs: ReadonlySet<string> = new Set(collection.memberOrgs);

  const identityOf = (identity: Uint8Array): PolicyIdentity => {
    try {
      return deserializer.deserializeIdentity(identity);
    } catch (err) {
      throw new PrivdataError("NOT_ELIGIBLE", `the identity is not one of the channel's: ${errorMessage(err)}`, { cause: err });
    }
  };
  const checkEligible = (identity: Uint8Array): void => {
    const id = identityOf(identity);
    try {
      policy.evaluateIdentities([id]);
    } catch (err) {
      throw new PrivdataError("NOT_ELIGIBLE", `an identity of ${id.mspId} is not eligible for collection ${collection.name}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  };

  return {
    collection,
    memberOrgs,
    accessFilter(signedData) {
      try {
        policy.evaluate([signedData]);
        return true;
      } catch {
        return false;
      }
    },
    isEligible(identity) {
      try {
        checkEligible(identity);
        return true;
      } catch {
        return false;
      }
    },
    checkEligible,
    isMemberOrg: (mspId) => memberOrgs.has(mspId),
  };
}
