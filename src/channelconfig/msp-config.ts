// @peculiar/x509 needs the Reflect metadata API loaded before it is evaluated.
import "reflect-metadata";
import { createHash, type KeyObject, X509Certificate } from "node:crypto";
import { X509Certificate as PeculiarCertificate } from "@peculiar/x509";
import {
  CryptoError,
  certificationChain,
  curveOfKey,
  decodeAllPem,
  decodePem,
  deserializeIdentity,
  type EcCurve,
  ecdsaVerify,
  encodePem,
  LruCache,
  MspVerifier,
  P256,
  sanitizeEcdsaSignedCert,
  type ValidIdentity,
} from "../crypto/index.js";
import type { Logger } from "../logging/index.js";
import type { FabricOUIdentifier } from "../protos/gen/msp/msp_config.pb.js";
import {
  CombinedPrincipal,
  MSPIdentityAnonymity,
  MSPIdentityAnonymity_MSPIdentityAnonymityType,
  type MSPPrincipal,
  MSPPrincipal_Classification,
  MSPRole,
  MSPRole_MSPRoleType,
  OrganizationUnit,
} from "../protos/gen/msp/msp_principal.pb.js";
import { bytesEqual, type Clock, errorMessage, GossipError } from "../util/index.js";
import type { ChannelMsp } from "./channel-config.js";
import type { IdentityDeserializer, PolicyIdentity } from "./policies.js";

/**
 * A channel MSP refused its configuration or an identity. Codes:
 * - MSP_CONFIG: the MSP configuration is unusable (unparseable certificates, an OU certificate that is not a
 *   CA of the MSP, no admins and no admin OU, an admin that is neither client nor admin, a duplicate MSP ID).
 * - WRONG_MSP: the identity or principal names another MSP.
 * - OU_NOT_RECOGNIZED: the MSP lists organizational units and the identity carries none of them.
 * - NODE_OU_CLASSIFICATION: NodeOUs are enabled and the identity carries none, or more than one, of the
 *   client/peer/admin/orderer OUs (or with the wrong certifier).
 * - PRINCIPAL_NOT_SATISFIED: the identity is valid but not what the principal asks for.
 * - UNSUPPORTED_PRINCIPAL: an undecodable principal, an unknown role or classification.
 * Identity validation failures keep crypto's codes (CryptoError UNKNOWN_CA, REVOKED_IDENTITY,
 * EXPIRED_IDENTITY, MALFORMED_IDENTITY, UNKNOWN_MSP, BAD_SIGNATURE).
 */
export class ChannelMspError extends GossipError {}

/** An organizational unit and, optionally, the CA that certifies it (Fabric's `FabricOUIdentifier`). */
export interface OuIdentifierConfig {
  organizationalUnitIdentifier: string;
  /** PEM of a root or intermediate CA of the MSP; absent: any certification path (NodeOUs only). */
  certificate?: string;
}

/** Fabric's `FabricNodeOUs`: how identities are classified by OU. */
export interface NodeOusConfig {
  enable: boolean;
  clientOuIdentifier?: OuIdentifierConfig;
  peerOuIdentifier?: OuIdentifierConfig;
  adminOuIdentifier?: OuIdentifierConfig;
  ordererOuIdentifier?: OuIdentifierConfig;
}

/**
 * An org's MSP as a channel's configuration defines it: Fabric's `msp.FabricMSPConfig` as plain data (PEM
 * strings). The signing identity and crypto config of the proto are not needed to validate others.
 */
export interface ChannelMspConfig {
  mspId: string;
  rootCerts: readonly string[];
  intermediateCerts: readonly string[];
  /** Certificates named explicitly as admins (`admins`). */
  admins: readonly string[];
  /** PEM "X509 CRL" blocks (`revocation_list`). */
  crls: readonly string[];
  organizationalUnitIdentifiers: readonly OuIdentifierConfig[];
  nodeOus?: NodeOusConfig;
  tlsRootCerts: readonly string[];
  tlsIntermediateCerts: readonly string[];
}

/**
 * The settings of a channel MSP from the decoded channel configuration. Throws ChannelMspError MSP_CONFIG for
 * an Idemix MSP, which this peer cannot validate.
 */
export function channelMspConfigOf(msp: ChannelMsp): ChannelMspConfig {
  if (msp.type !== "FABRIC" || msp.fabric === undefined) {
    throw new ChannelMspError("MSP_CONFIG", `${msp.mspId}: MSP type ${msp.type} is not supported; only FABRIC (X.509) MSPs are`);
  }
  const n = msp.nodeOUs;
  return {
    mspId: msp.mspId,
    rootCerts: msp.rootCerts,
    intermediateCerts: msp.intermediateCerts,
    admins: msp.admins,
    crls: msp.crls,
    tlsRootCerts: msp.tlsRootCerts,
    tlsIntermediateCerts: msp.tlsIntermediateCerts,
    organizationalUnitIdentifiers: msp.fabric.organizationalUnitIdentifiers.map(ouIdentifierOf),
    ...(n === undefined
      ? {}
      : {
          nodeOus: {
            enable: n.enable,
            clientOuIdentifier: n.clientOuIdentifier && ouIdentifierOf(n.clientOuIdentifier),
            peerOuIdentifier: n.peerOuIdentifier && ouIdentifierOf(n.peerOuIdentifier),
            adminOuIdentifier: n.adminOuIdentifier && ouIdentifierOf(n.adminOuIdentifier),
            ordererOuIdentifier: n.ordererOuIdentifier && ouIdentifierOf(n.ordererOuIdentifier),
          },
        }),
  };
}

/** A config OU identifier with its certificate as PEM (the config holds PEM bytes; DER is wrapped). */
function ouIdentifierOf(ou: FabricOUIdentifier): OuIdentifierConfig {
  if (ou.certificate.byteLength === 0) return { organizationalUnitIdentifier: ou.organizationalUnitIdentifier };
  const text = Buffer.from(ou.certificate).toString("latin1");
  return {
    organizationalUnitIdentifier: ou.organizationalUnitIdentifier,
    certificate: decodePem(text) === undefined ? encodePem("CERTIFICATE", ou.certificate) : text,
  };
}

/** Options of a channel MSP. */
export interface ChannelMspOptions {
  /** "Now", for expiry. */
  clock: Clock;
  logger?: Logger;
}

/** An OU of an identity with the identifier of its certification chain (Fabric's `OUIdentifier`). */
export interface IdentityOu {
  organizationalUnitIdentifier: string;
  /** SHA-256 over the DER of the chain's CAs, issuer first (Fabric's certification chain identifier). */
  certifiersIdentifier: Uint8Array;
}

/** The node roles NodeOUs classify. */
export type NodeRole = "client" | "peer" | "admin" | "orderer";

interface NodeOu {
  ou: string;
  /** Empty: any certification path. */
  certifiers: Uint8Array;
}

const NODE_ROLES: readonly NodeRole[] = ["client", "peer", "admin", "orderer"];

function sha256(parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/**
 * An identity deserialized by its channel MSP (Fabric's `msp.identity`): the certificate (low-S sanitized, as
 * Fabric keeps it), its key, and its MSP to validate it and match principals.
 */
/** Deserialized identities kept per channel MSP (Fabric's msp/cache keeps 100). */
const IDENTITY_CACHE_SIZE = 1000;

export class ChannelIdentity implements PolicyIdentity {
  readonly mspId: string;
  /** MSP ID + SHA-256 of the certificate: Fabric's identity identifier, for de-duplication. */
  readonly key: string;
  /** The serialized `msp.SerializedIdentity`. */
  readonly serialized: Uint8Array;
  readonly certificate: X509Certificate;
  /** The certificate's DER after low-S sanitization: what admin and identity principals compare. */
  readonly der: Uint8Array;
  readonly publicKey: KeyObject;
  /** Subject OUs in certificate order. */
  readonly subjectOus: readonly string[];
  readonly #msp: ChannelOrgMsp;

  constructor(msp: ChannelOrgMsp, serialized: Uint8Array, certificate: X509Certificate, der: Uint8Array, subjectOus: readonly string[]) {
    this.#msp = msp;
    this.mspId = msp.mspId;
    this.serialized = serialized;
    this.certificate = certificate;
    this.der = der;
    this.publicKey = certificate.publicKey;
    this.subjectOus = subjectOus;
    this.key = `${msp.mspId}\u0000${Buffer.from(sha256([der])).toString("hex")}`;
  }

  /** Checks an ECDSA signature (low-S, DER) over `data`; does not validate the identity. Throws CryptoError. */
  verify(data: Uint8Array, signature: Uint8Array): void {
    ecdsaVerify(this.publicKey, signature, data);
  }

  /** Throws unless valid under its MSP (see `ChannelOrgMsp.validate`). */
  validate(): void {
    this.#msp.validate(this);
  }

  /** Throws unless the identity satisfies the principal (see `ChannelOrgMsp.satisfiesPrincipal`). */
  satisfiesPrincipal(principal: MSPPrincipal): void {
    this.#msp.satisfiesPrincipal(this, principal);
  }
}

/**
 * One org's MSP as the channel configuration defines it: Fabric's bccsp MSP at version 1.4.3 (what channels
 * with V2_0 capabilities run). Validation (Fabric's `mspimplvalidate.go`): the certificate chains to a root
 * through the intermediates (crypto's MspVerifier: not a CA, ECDSA P-256, CAs valid at the leaf's NotBefore,
 * not revoked by a CRL of its issuing CA, and not expired now); when organizational units are listed, it
 * carries one of them under the same certification chain; when NodeOUs are enabled, it carries exactly one
 * of the client/peer/admin/orderer OUs. Principals (Fabric's `satisfiesPrincipalInternalV142`): MEMBER is
 * any valid identity; ADMIN an admin listed by certificate, or a valid identity with the admin OU; CLIENT,
 * PEER, ORDERER a valid identity with that node OU; ORGANIZATION_UNIT an OU with the same certifiers
 * identifier; IDENTITY the same certificate.
 */
export class ChannelOrgMsp {
  readonly mspId: string;
  readonly config: ChannelMspConfig;
  readonly #verifier: MspVerifier;
  readonly #cas: X509Certificate[];
  readonly #admins: Uint8Array[];
  /** OU -> the certifiers identifiers it is recognized under. */
  readonly #ous = new Map<string, Uint8Array[]>();
  readonly #nodeOus: Partial<Record<NodeRole, NodeOu>> = {};
  readonly #ouEnforcement: boolean;
  /**
   * Deserialized identities by their serialized bytes (Fabric's msp/cache does the same): parsing a certificate,
   * its OUs and its low-S form cost most of a policy evaluation, and the same few peers sign every message.
   * A ChannelIdentity is immutable; its validity is checked at each use (the verifier caches that verdict).
   */
  readonly #identities = new LruCache<string, ChannelIdentity>(IDENTITY_CACHE_SIZE);

  /** Throws ChannelMspError MSP_CONFIG (or CryptoError MSP_CONFIG for unparseable CAs and CRLs). */
  constructor(config: ChannelMspConfig, options: ChannelMspOptions) {
    if (config.mspId === "") throw new ChannelMspError("MSP_CONFIG", "a channel MSP needs an MSP ID");
    this.mspId = config.mspId;
    this.config = config;
    const roots = this.#parseCerts(config.rootCerts, "root CA");
    const intermediates = this.#parseCerts(config.intermediateCerts, "intermediate CA");
    // Fabric keeps its CAs low-S sanitized, and certification chain identifiers hash those bytes.
    const sanitizedRoots = roots.map((c) => this.#sanitize(c, [c]));
    const sanitizedIntermediates = intermediates.map((c) => this.#sanitize(c, [...roots, ...intermediates]));
    this.#cas = [...sanitizedRoots, ...sanitizedIntermediates];
    this.#verifier = new MspVerifier(
      [
        {
          mspId: config.mspId,
          rootCerts: sanitizedRoots.map((c) => encodePem("CERTIFICATE", c.raw)),
          intermediateCerts: sanitizedIntermediates.map((c) => encodePem("CERTIFICATE", c.raw)),
          crls: [...config.crls],
          tlsRootCerts: [...config.tlsRootCerts],
          tlsIntermediateCerts: [...config.tlsIntermediateCerts],
        },
      ],
      { clock: options.clock, logger: options.logger },
    );
    const certifiersOf = (pem: string | undefined, what: string): Uint8Array => {
      if (pem === undefined || pem === "") return new Uint8Array(0);
      return this.#certifiersIdentifier(pem, sanitizedRoots, sanitizedIntermediates, what);
    };
    for (const ou of config.organizationalUnitIdentifiers) {
      if (ou.certificate === undefined || ou.certificate === "") {
        throw new ChannelMspError("MSP_CONFIG", `${this.mspId}: organizational unit ${ou.organizationalUnitIdentifier} names no certificate`);
      }
      const id = certifiersOf(ou.certificate, `organizational unit ${ou.organizationalUnitIdentifier}`);
      const ids = this.#ous.get(ou.organizationalUnitIdentifier) ?? [];
      if (!ids.some((x) => bytesEqual(x, id))) ids.push(id);
      this.#ous.set(ou.organizationalUnitIdentifier, ids);
    }
    const n = config.nodeOus;
    if (n !== undefined) {
      const byRole: Record<NodeRole, OuIdentifierConfig | undefined> = {
        client: n.clientOuIdentifier,
        peer: n.peerOuIdentifier,
        admin: n.adminOuIdentifier,
        orderer: n.ordererOuIdentifier,
      };
      for (const role of NODE_ROLES) {
        const c = byRole[role];
        if (c !== undefined) this.#nodeOus[role] = { ou: c.organizationalUnitIdentifier, certifiers: certifiersOf(c.certificate, `the ${role} NodeOU`) };
      }
    }
    // Enabled NodeOUs without any OU defined enforce nothing (Fabric turns them off).
    this.#ouEnforcement = n?.enable === true && Object.keys(this.#nodeOus).length > 0;
    this.#admins = config.admins.flatMap((pem) => this.#parseCerts([pem], "admin")).map((c) => this.#sanitize(c, this.#cas).raw);
    if (this.#admins.length === 0 && (!this.#ouEnforcement || this.#nodeOus.admin === undefined)) {
      throw new ChannelMspError("MSP_CONFIG", `${this.mspId}: administrators must be listed when NodeOUs do not define an admin OU`);
    }
    if (this.#ouEnforcement) {
      // Fabric (postSetupV142): a listed admin must carry the client or the admin OU.
      for (const [i, der] of this.#admins.entries()) {
        const ous = subjectOusOf(der);
        const ok = (["client", "admin"] as const).some((r) => {
          const nodeOu = this.#nodeOus[r];
          return nodeOu !== undefined && ous.includes(nodeOu.ou);
        });
        if (!ok) throw new ChannelMspError("MSP_CONFIG", `${this.mspId}: admin ${i} carries neither the client nor the admin OU (OUs: [${ous.join(", ")}])`);
      }
    }
  }

  /** Whether NodeOUs classify identities (enabled, with at least one OU defined). */
  get nodeOusEnforced(): boolean {
    return this.#ouEnforcement;
  }

  /**
   * Fabric's `DeserializeIdentity`: a SerializedIdentity of this MSP holding a PEM certificate. Does not
   * validate. Throws ChannelMspError WRONG_MSP, CryptoError MALFORMED_IDENTITY.
   */
  deserializeIdentity(serialized: Uint8Array): ChannelIdentity {
    const key = Buffer.from(serialized.buffer, serialized.byteOffset, serialized.byteLength).toString("latin1");
    const cached = this.#identities.get(key);
    if (cached !== undefined) return cached;
    const identity = this.#deserialize(serialized);
    this.#identities.set(key, identity);
    return identity;
  }

  #deserialize(serialized: Uint8Array): ChannelIdentity {
    const d = deserializeIdentity(serialized);
    if (d.mspId !== this.mspId) {
      throw new ChannelMspError("WRONG_MSP", `expected an identity of MSP ${this.mspId}, got one of ${JSON.stringify(d.mspId)}`);
    }
    const pem = decodePem(Buffer.from(d.idBytes).toString("latin1"));
    if (pem === undefined) throw new CryptoError("MALFORMED_IDENTITY", `identity of ${this.mspId}: id_bytes hold no PEM block`);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem.block.der);
    } catch (err) {
      throw new CryptoError("MALFORMED_IDENTITY", `identity of ${this.mspId}: certificate cannot be parsed`, { cause: err });
    }
    const sanitized = this.#sanitize(cert, this.#cas);
    return new ChannelIdentity(this, new Uint8Array(serialized), cert, new Uint8Array(sanitized.raw), subjectOusOf(pem.block.der));
  }

  /**
   * Fabric's `Validate`. Throws CryptoError (UNKNOWN_CA, REVOKED_IDENTITY, EXPIRED_IDENTITY,
   * MALFORMED_IDENTITY) or ChannelMspError (WRONG_MSP, OU_NOT_RECOGNIZED, NODE_OU_CLASSIFICATION).
   */
  validate(identity: ChannelIdentity): void {
    this.#validate(identity);
  }

  /** The identity's OUs with the identifier of its certification chain. Throws as `validate` for the chain. */
  organizationalUnits(identity: ChannelIdentity): IdentityOu[] {
    return this.#ousOf(identity, this.#valid(identity));
  }

  /** The node role NodeOUs give a valid identity, or undefined when NodeOUs are not enforced. Throws as `validate`. */
  nodeRole(identity: ChannelIdentity): NodeRole | undefined {
    this.#validate(identity);
    if (!this.#ouEnforcement) return undefined;
    return NODE_ROLES.find((r) => {
      const nodeOu = this.#nodeOus[r];
      return nodeOu !== undefined && identity.subjectOus.includes(nodeOu.ou);
    });
  }

  /**
   * Fabric's `SatisfiesPrincipal` (MSP v1.4.3). Throws ChannelMspError (WRONG_MSP, PRINCIPAL_NOT_SATISFIED,
   * UNSUPPORTED_PRINCIPAL) or the validation error of the identity.
   */
  satisfiesPrincipal(identity: ChannelIdentity, principal: MSPPrincipal): void {
    if (principal.principalClassification === MSPPrincipal_Classification.COMBINED) {
      let combined: CombinedPrincipal;
      try {
        combined = CombinedPrincipal.decode(principal.principal);
      } catch (err) {
        throw new ChannelMspError("UNSUPPORTED_PRINCIPAL", "a COMBINED principal does not decode", { cause: err });
      }
      if (combined.principals.length === 0) throw new ChannelMspError("UNSUPPORTED_PRINCIPAL", "a COMBINED principal holds no principals");
      for (const p of combined.principals) this.satisfiesPrincipal(identity, p);
      return;
    }
    this.#checkOwnIdentity(identity);
    switch (principal.principalClassification) {
      case MSPPrincipal_Classification.ROLE:
        this.#satisfiesRole(identity, decodeOr(MSPRole, principal.principal, "ROLE"));
        return;
      case MSPPrincipal_Classification.ORGANIZATION_UNIT: {
        const ou = decodeOr(OrganizationUnit, principal.principal, "ORGANIZATION_UNIT");
        this.#checkMsp(ou.mspIdentifier);
        const ous = this.#ousOf(identity, this.#validate(identity));
        const match = ous.some((o) => o.organizationalUnitIdentifier === ou.organizationalUnitIdentifier && bytesEqual(o.certifiersIdentifier, ou.certifiersIdentifier));
        if (!match) {
          throw new ChannelMspError(
            "PRINCIPAL_NOT_SATISFIED",
            `identity of ${this.mspId} (OUs [${identity.subjectOus.join(", ")}]) does not carry OU ${ou.organizationalUnitIdentifier} under the principal's certifiers identifier`,
          );
        }
        return;
      }
      case MSPPrincipal_Classification.IDENTITY: {
        let wanted: ChannelIdentity;
        try {
          wanted = this.deserializeIdentity(principal.principal);
        } catch (err) {
          throw new ChannelMspError("PRINCIPAL_NOT_SATISFIED", `identity principal is not an identity of ${this.mspId}: ${errorMessage(err)}`, { cause: err });
        }
        if (!bytesEqual(identity.der, wanted.der)) throw new ChannelMspError("PRINCIPAL_NOT_SATISFIED", `identity of ${this.mspId} is not the principal's identity`);
        this.#validate(wanted);
        return;
      }
      case MSPPrincipal_Classification.ANONYMITY: {
        const anon = decodeOr(MSPIdentityAnonymity, principal.principal, "ANONYMITY");
        if (anon.anonymityType === MSPIdentityAnonymity_MSPIdentityAnonymityType.NOMINAL) return;
        if (anon.anonymityType === MSPIdentityAnonymity_MSPIdentityAnonymityType.ANONYMOUS) {
          throw new ChannelMspError("PRINCIPAL_NOT_SATISFIED", "the principal asks for an anonymous identity, which an X.509 MSP does not have");
        }
        throw new ChannelMspError("UNSUPPORTED_PRINCIPAL", `unknown anonymity type ${anon.anonymityType}`);
      }
      default:
        throw new ChannelMspError("UNSUPPORTED_PRINCIPAL", `principal classification ${principal.principalClassification} is not supported`);
    }
  }

  #satisfiesRole(identity: ChannelIdentity, role: MSPRole): void {
    this.#checkMsp(role.mspIdentifier);
    switch (role.role) {
      case MSPRole_MSPRoleType.MEMBER:
        this.#validate(identity);
        return;
      case MSPRole_MSPRoleType.ADMIN:
        // A listed admin is matched by certificate alone: Fabric checked it at setup.
        if (this.#admins.some((a) => bytesEqual(a, identity.der))) return;
        if (!this.#ouEnforcement) throw new ChannelMspError("PRINCIPAL_NOT_SATISFIED", `identity of ${this.mspId} is not one of its listed admins`);
        this.#validate(identity);
        this.#hasNodeOu(identity, "admin");
        return;
      case MSPRole_MSPRoleType.ORDERER:
        // Without NodeOUs, Fabric's older MSP code does not know the ORDERER role at all.
        if (!this.#ouEnforcement) throw new ChannelMspError("UNSUPPORTED_PRINCIPAL", `${this.mspId}: the ORDERER role needs NodeOUs, which are not enabled`);
        this.#validate(identity);
        this.#hasNodeOu(identity, "orderer");
        return;
      case MSPRole_MSPRoleType.CLIENT:
      case MSPRole_MSPRoleType.PEER: {
        this.#validate(identity);
        this.#hasNodeOu(identity, role.role === MSPRole_MSPRoleType.PEER ? "peer" : "client");
        return;
      }
      default:
        throw new ChannelMspError("UNSUPPORTED_PRINCIPAL", `MSP role ${role.role} is not one of MEMBER, ADMIN, CLIENT, PEER, ORDERER`);
    }
  }

  /** Fabric's `hasOURole`: matches the OU name only (validation already checked the certifier). */
  #hasNodeOu(identity: ChannelIdentity, role: NodeRole): void {
    if (!this.#ouEnforcement) {
      throw new ChannelMspError("PRINCIPAL_NOT_SATISFIED", `${this.mspId}: NodeOUs are not enabled, so a ${role} cannot be told apart`);
    }
    const nodeOu = this.#nodeOus[role];
    if (nodeOu === undefined) throw new ChannelMspError("PRINCIPAL_NOT_SATISFIED", `${this.mspId}: no NodeOU is defined for the ${role} role`);
    if (!identity.subjectOus.includes(nodeOu.ou)) {
      throw new ChannelMspError(
        "PRINCIPAL_NOT_SATISFIED",
        `identity of ${this.mspId} (OUs [${identity.subjectOus.join(", ")}]) is not a ${role}: it lacks OU ${nodeOu.ou}`,
      );
    }
  }

  #checkMsp(mspId: string): void {
    if (mspId !== this.mspId) throw new ChannelMspError("WRONG_MSP", `the principal names MSP ${mspId}, the identity is of ${this.mspId}`);
  }

  #checkOwnIdentity(identity: ChannelIdentity): void {
    if (identity.mspId !== this.mspId) throw new ChannelMspError("WRONG_MSP", `identity of ${identity.mspId} given to MSP ${this.mspId}`);
  }

  /** Chain, revocation and expiry, by crypto's MspVerifier (which caches its verdicts). */
  #valid(identity: ChannelIdentity): ValidIdentity {
    this.#checkOwnIdentity(identity);
    return this.#verifier.validate(identity.serialized);
  }

  #validate(identity: ChannelIdentity): ValidIdentity {
    const v = this.#valid(identity);
    const ous = this.#ousOf(identity, v);
    if (this.#ous.size > 0) {
      const recognized = ous.some((o) => this.#ous.get(o.organizationalUnitIdentifier)?.some((id) => bytesEqual(id, o.certifiersIdentifier)));
      if (!recognized) {
        throw new ChannelMspError(
          "OU_NOT_RECOGNIZED",
          ous.length === 0
            ? `identity of ${this.mspId} carries no organizational unit, and the MSP requires one of [${[...this.#ous.keys()].join(", ")}]`
            : `none of the identity's organizational units [${identity.subjectOus.join(", ")}] is one of MSP ${this.mspId}'s [${[...this.#ous.keys()].join(", ")}]`,
        );
      }
    }
    if (this.#ouEnforcement) {
      let count = 0;
      for (const o of ous) {
        const nodeOu = NODE_ROLES.map((r) => this.#nodeOus[r]).find((n) => n?.ou === o.organizationalUnitIdentifier);
        if (nodeOu === undefined) continue;
        if (nodeOu.certifiers.byteLength > 0 && !bytesEqual(nodeOu.certifiers, o.certifiersIdentifier)) {
          throw new ChannelMspError(
            "NODE_OU_CLASSIFICATION",
            `identity of ${this.mspId} carries NodeOU ${o.organizationalUnitIdentifier} from a CA other than the one the MSP names for it`,
          );
        }
        count++;
      }
      if (count !== 1) {
        const defined = NODE_ROLES.flatMap((r) => (this.#nodeOus[r] === undefined ? [] : [`${r}=${this.#nodeOus[r]?.ou}`]));
        throw new ChannelMspError(
          "NODE_OU_CLASSIFICATION",
          `identity of ${this.mspId} (OUs [${identity.subjectOus.join(", ")}]) must carry exactly one of the NodeOUs [${defined.join(", ")}], it carries ${count}`,
        );
      }
    }
    return v;
  }

  #ousOf(identity: ChannelIdentity, valid: ValidIdentity): IdentityOu[] {
    const certifiersIdentifier = sha256(valid.chain.map((c) => c.raw));
    return identity.subjectOus.map((ou) => ({ organizationalUnitIdentifier: ou, certifiersIdentifier }));
  }

  /**
   * Fabric's `getCertifiersIdentifier`: the certificate must be one of the MSP's roots or intermediates; the
   * identifier hashes it and, for an intermediate, its chain up to a root.
   */
  #certifiersIdentifier(pem: string, roots: X509Certificate[], intermediates: X509Certificate[], what: string): Uint8Array {
    const cert = this.#parseCerts([pem], what)[0];
    if (cert === undefined) throw new ChannelMspError("MSP_CONFIG", `${this.mspId}: the certificate of ${what} holds no PEM certificate`);
    const der = this.#sanitize(cert, [...roots, ...intermediates]).raw;
    const root = roots.find((r) => bytesEqual(r.raw, der));
    if (root !== undefined) return sha256([root.raw]);
    const inter = intermediates.find((c) => bytesEqual(c.raw, der));
    if (inter === undefined) throw new ChannelMspError("MSP_CONFIG", `${this.mspId}: the certificate of ${what} is not a root or intermediate CA of the MSP`);
    const chain = certificationChain(inter, roots, intermediates, new Date(inter.validFrom).getTime() + 1000);
    if (chain === undefined) throw new ChannelMspError("MSP_CONFIG", `${this.mspId}: the intermediate CA of ${what} does not chain to a root of the MSP`);
    return sha256([inter.raw, ...chain.map((c) => c.raw)]);
  }

  #parseCerts(pems: readonly string[], what: string): X509Certificate[] {
    return pems
      .flatMap((p) => decodeAllPem(p).filter((b) => b.type === "CERTIFICATE"))
      .map((b) => {
        try {
          return new X509Certificate(b.der);
        } catch (err) {
          throw new ChannelMspError("MSP_CONFIG", `${this.mspId}: a ${what} certificate cannot be parsed`, { cause: err });
        }
      });
  }

  /** Fabric's `sanitizeCert`: low-S signature, judged with the curve of the issuer found among `cas`. */
  #sanitize(cert: X509Certificate, cas: readonly X509Certificate[]): X509Certificate {
    const issuer = cas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
    const curve: EcCurve = (issuer === undefined ? undefined : curveOfKey(issuer.publicKey)) ?? P256;
    const der = sanitizeEcdsaSignedCert(new Uint8Array(cert.raw), curve);
    return der.byteLength === cert.raw.byteLength && bytesEqual(der, cert.raw) ? cert : new X509Certificate(der);
  }
}

/**
 * The MSPs of a channel (Fabric's `MSPManager`): routes an identity to the MSP its MSP ID names. This is the
 * deserializer that the channel's policies evaluate with.
 */
export class ChannelMspManager implements IdentityDeserializer {
  readonly #msps = new Map<string, ChannelOrgMsp>();

  /** Throws ChannelMspError MSP_CONFIG for a duplicate MSP ID, or what a ChannelOrgMsp throws. */
  constructor(configs: readonly ChannelMspConfig[], options: ChannelMspOptions) {
    for (const c of configs) {
      if (this.#msps.has(c.mspId)) throw new ChannelMspError("MSP_CONFIG", `MSP ID ${c.mspId} is defined twice in the channel configuration`);
      this.#msps.set(c.mspId, new ChannelOrgMsp(c, options));
    }
  }

  mspIds(): string[] {
    return [...this.#msps.keys()];
  }

  msp(mspId: string): ChannelOrgMsp | undefined {
    return this.#msps.get(mspId);
  }

  /** Throws CryptoError UNKNOWN_MSP / MALFORMED_IDENTITY. */
  deserializeIdentity(serialized: Uint8Array): ChannelIdentity {
    const { mspId } = deserializeIdentity(serialized);
    const msp = this.#msps.get(mspId);
    if (msp === undefined) {
      throw new CryptoError("UNKNOWN_MSP", `MSP ID ${JSON.stringify(mspId)} is not one of the channel's MSPs [${this.mspIds().join(", ")}]`);
    }
    return msp.deserializeIdentity(serialized);
  }

  /** Deserializes and validates. Throws as `deserializeIdentity` and `ChannelOrgMsp.validate`. */
  validate(serialized: Uint8Array): ChannelIdentity {
    const id = this.deserializeIdentity(serialized);
    id.validate();
    return id;
  }
}

/** Subject OU values of a certificate, in order (Fabric's `cert.Subject.OrganizationalUnit`). */
function subjectOusOf(der: Uint8Array): string[] {
  try {
    return new PeculiarCertificate(der).subjectName.getField("OU");
  } catch {
    return [];
  }
}

function decodeOr<T>(codec: { decode(b: Uint8Array): T }, bytes: Uint8Array, what: string): T {
  try {
    return codec.decode(bytes);
  } catch (err) {
    throw new ChannelMspError("UNSUPPORTED_PRINCIPAL", `a ${what} principal does not decode`, { cause: err });
  }
}
