import { type PKIidType, type PkiHex, pkiHex } from "../api/index.js";
import { Envelope, Properties } from "../protos/gen/gossip/message.pb.js";
import { toHex } from "../util/index.js";

/**
 * A peer as discovery knows it: Fabric's `discovery.NetworkMember`. Plain data, so any layer can
 * build one with a literal; the helpers below stand in for Go's methods.
 */
export interface NetworkMember {
  /** The external endpoint (published to every org); may be empty. */
  endpoint: string;
  metadata: Uint8Array;
  pkiId: PKIidType;
  /** The internal endpoint (known only within our org, from the alive message's secret envelope); may be empty. */
  internalEndpoint: string;
  /** Per-channel properties (ledger height, chaincodes), filled in by the channel layer. */
  properties?: Properties | undefined;
  /** The alive message envelope this member was learned from, when there is one. */
  envelope?: Envelope | undefined;
}

/**
 * The endpoint to connect to: the internal one when set, otherwise the external one
 * (Fabric's `NetworkMember.PreferredEndpoint`).
 */
export function preferredEndpoint(member: { readonly endpoint: string; readonly internalEndpoint?: string | undefined }): string {
  return member.internalEndpoint !== undefined && member.internalEndpoint !== "" ? member.internalEndpoint : member.endpoint;
}

/** Whether the member published an external endpoint (Fabric's `HasExternalEndpoint`). */
export function hasExternalEndpoint(member: Pick<NetworkMember, "endpoint">): boolean {
  return member.endpoint !== "";
}

/**
 * A deep copy (Fabric's `NetworkMember.Clone`): the PKI-ID is copied, properties and envelope are
 * cloned; metadata is shared, as in Go.
 */
export function cloneNetworkMember(member: NetworkMember): NetworkMember {
  const clone: NetworkMember = {
    endpoint: member.endpoint,
    metadata: member.metadata,
    pkiId: member.pkiId.slice(),
    internalEndpoint: member.internalEndpoint,
  };
  if (member.properties !== undefined) clone.properties = Properties.decode(Properties.encode(member.properties).finish());
  if (member.envelope !== undefined) clone.envelope = Envelope.decode(Envelope.encode(member.envelope).finish());
  return clone;
}

/** A shallow copy of the fields discovery owns (what Fabric's `copyNetworkMember` does). */
export function copyNetworkMember(member: NetworkMember): NetworkMember {
  return { ...member };
}

/** Fabric's `NetworkMember.String`. */
export function networkMemberToString(member: NetworkMember): string {
  return `Endpoint: ${member.endpoint}, InternalEndpoint: ${member.internalEndpoint}, PKI-ID: ${toHex(member.pkiId)}, Metadata: ${toHex(member.metadata)}`;
}

/** Members keyed by PKI-ID (Fabric's `Members.ByID`). */
export function membersById(members: readonly NetworkMember[]): Map<PkiHex, NetworkMember> {
  const byId = new Map<PkiHex, NetworkMember>();
  for (const m of members) byId.set(pkiHex(m.pkiId), m);
  return byId;
}

/** The members of `members` whose PKI-ID is also in `others` (Fabric's `Members.Intersect`). */
export function intersectMembers(members: readonly NetworkMember[], others: readonly NetworkMember[]): NetworkMember[] {
  const ids = membersById(others);
  return members.filter((m) => ids.has(pkiHex(m.pkiId)));
}
