import type { ChannelConfig, ChannelMsp } from "../channelconfig/index.js";
import type { ChannelTlsCas, OrgTlsCas } from "../comm/grpc/index.js";
import type { MspOrgMaterial } from "../crypto/index.js";
import type { ChannelDefinition } from "./channel-definition.js";

/**
 * The TLS CAs a channel's configuration holds, for the peer's trust store (Fabric's
 * `BuildTrustedRootsForChain` for gossip, and the orderer connection source's per-org root
 * certificates for Deliver): each application org's and each orderer org's TLS root and
 * intermediate certificates, the orderer orgs with their own endpoints. Idemix MSPs have none.
 * Without a configuration (a channel from a hand-written definition) the MSPs the definition
 * carries count, and every orderer org's CAs serve every orderer endpoint.
 */
export function channelTlsCasOf(def: ChannelDefinition, config?: ChannelConfig): ChannelTlsCas {
  if (config !== undefined) {
    return {
      peerOrgs: config.applicationOrgs.filter((o) => o.msp.type === "FABRIC").map((o) => orgCasOf(o.msp)),
      ordererOrgs: config.ordererOrgs.filter((o) => o.msp.type === "FABRIC").map((o) => ({ ...orgCasOf(o.msp), endpoints: [...o.endpoints] })),
    };
  }
  const orderers = [def.orderer, ...(def.orderer.otherOrgs ?? [])];
  return {
    peerOrgs: def.orgs.flatMap((o) => (o.msp === undefined ? [] : [orgCasOf(o.msp)])),
    ordererOrgs: orderers.flatMap((o) => (o.msp === undefined ? [] : [{ ...orgCasOf(o.msp), endpoints: [] }])),
  };
}

function orgCasOf(msp: ChannelMsp | MspOrgMaterial): OrgTlsCas {
  return { mspId: msp.mspId, certs: [...msp.tlsRootCerts, ...msp.tlsIntermediateCerts] };
}
