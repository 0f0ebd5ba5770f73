import type { MspOrgMaterial } from "../crypto/index.js";
import type { ChannelConfig, ChannelMsp } from "./channel-config.js";
import { ChannelConfigError } from "./errors.js";

/**
 * An org's channel MSP as the MspVerifier's material (PEM strings), so that the channel's MSPs, not MSP folders,
 * decide who is a member.
 * @throws ChannelConfigError MALFORMED_MSP for an Idemix MSP or one without a root certificate
 */
export function mspOrgMaterialOf(msp: ChannelMsp): MspOrgMaterial {
  if (msp.type !== "FABRIC") throw new ChannelConfigError("MALFORMED_MSP", `MSP ${msp.mspId}: an ${msp.type} MSP has no X.509 material to verify identities with`);
  if (msp.rootCerts.length === 0) throw new ChannelConfigError("MALFORMED_MSP", `MSP ${msp.mspId}: no root certificate (Fabric's MSP needs at least one)`);
  return {
    mspId: msp.mspId,
    rootCerts: [...msp.rootCerts],
    intermediateCerts: [...msp.intermediateCerts],
    crls: [...msp.crls],
    tlsRootCerts: [...msp.tlsRootCerts],
    tlsIntermediateCerts: [...msp.tlsIntermediateCerts],
  };
}

/**
 * The X.509 MSPs of every application and orderer org of a channel, one per MSP ID (application orgs first);
 * Idemix MSPs are left out, as they cannot sign gossip messages.
 */
export function channelMspMaterials(config: ChannelConfig): MspOrgMaterial[] {
  const seen = new Set<string>();
  const out: MspOrgMaterial[] = [];
  for (const org of [...config.applicationOrgs, ...config.ordererOrgs]) {
    if (org.msp.type !== "FABRIC" || seen.has(org.mspId)) continue;
    seen.add(org.mspId);
    out.push(mspOrgMaterialOf(org.msp));
  }
  return out;
}
