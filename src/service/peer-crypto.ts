import type { MessageCryptoService, PeerIdentityType, SecurityAdvisor } from "../api/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import {
  createMspMessageCryptoService,
  DevMessageCryptoService,
  loadMspFolder,
  loadVerifierOrgs,
  type MspOrgMaterial,
  MspVerifier,
  type SigningIdentity,
} from "../crypto/index.js";
import type { Logger } from "../logging/index.js";
import { GossipError, SystemClock, utf8 } from "../util/index.js";

/** A peer's crypto could not be built: the MSP folder or an org's material is missing or unusable. */
export class PeerCryptoError extends GossipError {
  declare readonly code: "PEER_CRYPTO";

  constructor(message: string, options?: { cause?: unknown }) {
    super("PEER_CRYPTO", message, options);
  }
}

/** Where a peer's crypto comes from: an MSP folder, or (explicitly) Fabric's insecure development crypto. */
export interface PeerCryptoArgs {
  /** The endpoint the development MCS uses as identity, when `external` is absent. */
  listen: string;
  /** The endpoint the development MCS uses as identity; the listen address when absent. */
  external?: string | undefined;
  msp?: string | undefined;
  mspId?: string | undefined;
  /** A `crypto generate` root: every org in it is trusted. Only the local org when absent. */
  orgsDir?: string | undefined;
  insecureDevCrypto?: boolean | undefined;
  /** The MSP IDs that may read a channel (its Readers), or undefined for a channel this peer does not know. */
  channelOrgs?: (channelId: string) => ReadonlySet<string> | undefined;
  /** The MSP IDs whose signatures make a channel's blocks valid (its orderer orgs). */
  ordererOrgs?: (channelId: string) => ReadonlySet<string> | undefined;
  /** The BlockValidation policy in force of a channel that follows its configuration (it replaces `ordererOrgs` there). */
  blockValidation?: (channelId: string) => ((block: Block) => void) | undefined;
  /** More orgs to trust (e.g. those of channel definitions); an org already known by MSP ID is kept as it is. */
  extraOrgs?: readonly MspOrgMaterial[];
}

/** The MCS, security advisor and identity a peer node is built with. */
export interface PeerCrypto {
  mcs: MessageCryptoService;
  securityAdvisor: SecurityAdvisor;
  identity: PeerIdentityType;
  /** The local MSP signing identity (absent with the development crypto). */
  signer?: SigningIdentity;
  /**
   * Trusts more orgs from now on (those of a channel joined later); an org already known by MSP ID is
   * kept as it is. Absent with the development crypto.
   */
  trustOrgs?: (orgs: readonly MspOrgMaterial[]) => void;
}

/**
 * Builds a peer's MCS: from an MSP folder (with every org of `orgsDir` and `extraOrgs` trusted), or the
 * development MCS (identity = endpoint, signature = message; never for production).
 * @throws PeerCryptoError when neither is chosen or both are; CryptoError from the MSP folders.
 */
export async function loadPeerCrypto(args: PeerCryptoArgs, logger: Logger): Promise<PeerCrypto> {
  if (args.insecureDevCrypto) {
    if (args.msp) throw new PeerCryptoError("the insecure development crypto and an MSP folder exclude each other: choose one");
    const mcs = new DevMessageCryptoService(logger);
    return { mcs, securityAdvisor: mcs, identity: utf8(args.external ?? args.listen) };
  }
  if (!args.msp || !args.mspId) throw new PeerCryptoError("crypto: give an MSP folder and its MSP ID, or choose the insecure development crypto");
  const local = await loadMspFolder(args.msp, args.mspId);
  const orgs = args.orgsDir ? await loadVerifierOrgs(args.orgsDir) : [local.org];
  if (!orgs.some((o) => o.mspId === local.mspId)) orgs.push(local.org);
  for (const o of args.extraOrgs ?? []) if (!orgs.some((k) => k.mspId === o.mspId)) orgs.push(o);
  const verifier = new MspVerifier(orgs, { clock: new SystemClock(), logger });
  const mcs = createMspMessageCryptoService(
    { signer: local.signingIdentity, verifier, logger },
    {
      ...(args.channelOrgs ? { channelOrgs: args.channelOrgs } : {}),
      ...(args.ordererOrgs ? { ordererOrgs: args.ordererOrgs } : {}),
      ...(args.blockValidation ? { blockValidation: args.blockValidation } : {}),
    },
  );
  // A channel's configuration is authoritative for its orgs: an org it names replaces what was trusted
  // under that MSP ID (a config update may add a CRL or a CA), a new one is added.
  const trustOrgs = (more: readonly MspOrgMaterial[]): void => {
    if (more.length === 0) return;
    for (const o of more) {
      const i = orgs.findIndex((k) => k.mspId === o.mspId);
      if (i >= 0) orgs[i] = o;
      else orgs.push(o);
    }
    verifier.setOrgs(orgs);
  };
  return { mcs, securityAdvisor: mcs, identity: local.signingIdentity.serialized, signer: local.signingIdentity, trustOrgs };
}

/** A security advisor for development crypto under another org name: every identity is in `org`. */
export function oneOrgAdvisor(org: string): SecurityAdvisor {
  const id = utf8(org);
  return { orgByPeerIdentity: () => id };
}
