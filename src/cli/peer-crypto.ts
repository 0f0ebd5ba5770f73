import type { MessageCryptoService, SecurityAdvisor } from "../api/crypto.js";
import type { PeerIdentityType } from "../api/identity.js";
import {
  createMspMessageCryptoService,
  DevMessageCryptoService,
  loadMspFolder,
  loadVerifierOrgs,
  type MspOrgMaterial,
  MspVerifier,
  type SigningIdentity,
} from "../crypto/index.js";
import type { Logger } from "../logging/logger.js";
import { SystemClock } from "../util/system-clock.js";
import { utf8 } from "../util/bytes.js";

/** Deliberate misbehaviour, for the tests that prove a peer refuses it. */
export type Fault = "forge-signature" | "wrong-tls-hash";

export interface PeerCryptoArgs {
  listen: string;
  /** The endpoint the dev MCS uses as identity; the listen address when absent. */
  external?: string;
  msp?: string;
  mspId?: string;
  /** A `crypto generate` root: every org in it is trusted. Only the local org when absent. */
  orgsDir?: string;
  insecureDevCrypto?: boolean;
  fault?: Fault;
  /** The MSP IDs that may read a channel (its Readers), or undefined for a channel this peer does not know. */
  channelOrgs?: (channelId: string) => ReadonlySet<string> | undefined;
  /** The MSP IDs whose signatures make a channel's blocks valid (its orderer orgs). */
  ordererOrgs?: (channelId: string) => ReadonlySet<string> | undefined;
  /** More orgs to trust (e.g. those of channel definitions); an org already known by MSP ID is kept as it is. */
  extraOrgs?: readonly MspOrgMaterial[];
}

export interface PeerCrypto {
  mcs: MessageCryptoService;
  securityAdvisor: SecurityAdvisor;
  identity: PeerIdentityType;
  /** The local MSP signing identity (absent with the development crypto). */
  signer?: SigningIdentity;
}

/** Builds the peer's MCS from the command line: an MSP folder, or (explicitly) the development MCS. */
export async function loadPeerCrypto(args: PeerCryptoArgs, logger: Logger): Promise<PeerCrypto> {
  let crypto: PeerCrypto;
  if (args.insecureDevCrypto) {
    if (args.msp) throw new Error("--insecure-dev-crypto and --msp exclude each other: choose one");
    const mcs = new DevMessageCryptoService(logger);
    crypto = { mcs, securityAdvisor: mcs, identity: utf8(args.external ?? args.listen) };
  } else {
    if (!args.msp || !args.mspId) throw new Error("crypto: give --msp DIR and --msp-id ID, or --insecure-dev-crypto for Fabric's test crypto");
    const local = await loadMspFolder(args.msp, args.mspId);
    const orgs = args.orgsDir ? await loadVerifierOrgs(args.orgsDir) : [local.org];
    if (!orgs.some((o) => o.mspId === local.mspId)) orgs.push(local.org);
    for (const o of args.extraOrgs ?? []) if (!orgs.some((k) => k.mspId === o.mspId)) orgs.push(o);
    const verifier = new MspVerifier(orgs, { clock: new SystemClock(), logger });
    const mcs = createMspMessageCryptoService(
      { signer: local.signingIdentity, verifier, logger },
      { ...(args.channelOrgs ? { channelOrgs: args.channelOrgs } : {}), ...(args.ordererOrgs ? { ordererOrgs: args.ordererOrgs } : {}) },
    );
    crypto = { mcs, securityAdvisor: mcs, identity: local.signingIdentity.serialized, signer: local.signingIdentity };
  }
  if (args.fault === "forge-signature") crypto = { ...crypto, mcs: withForgedSignatures(crypto.mcs) };
  return crypto;
}

/** An MCS whose signatures do not verify: every signature has its last byte flipped. */
function withForgedSignatures(inner: MessageCryptoService): MessageCryptoService {
  return {
    getPKIidOfCert: (id) => inner.getPKIidOfCert(id),
    verifyBlock: (ch, seq, block) => inner.verifyBlock(ch, seq, block),
    sign: (msg) => {
      const sig = Uint8Array.from(inner.sign(msg));
      sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 0xff;
      return sig;
    },
    verify: (id, sig, msg) => inner.verify(id, sig, msg),
    verifyByChannel: (ch, id, sig, msg) => inner.verifyByChannel(ch, id, sig, msg),
    validateIdentity: (id) => inner.validateIdentity(id),
    expiration: (id) => inner.expiration(id),
  };
}
