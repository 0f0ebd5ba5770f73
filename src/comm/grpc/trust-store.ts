import { X509Certificate } from "node:crypto";
import { decodeAllPem, encodePem } from "../../crypto/index.js";
import { errorMessage } from "../../util/index.js";

/** One org's TLS CA certificates (PEM): its TLS root and intermediate certificates. */
export interface OrgTlsCas {
  mspId: string;
  certs: readonly string[];
}

/** An orderer org's TLS CAs and its own endpoints ("host:port"; empty when the channel has only global addresses). */
export interface OrdererOrgTlsCas extends OrgTlsCas {
  endpoints: readonly string[];
}

/** The TLS CAs a channel's configuration holds: of its application orgs (gossip) and of its orderer orgs (Deliver). */
export interface ChannelTlsCas {
  peerOrgs: readonly OrgTlsCas[];
  ordererOrgs: readonly OrdererOrgTlsCas[];
}

/** A certificate left out of the trust store, and why (it would make every TLS context fail to build). */
export interface RejectedTlsCa {
  /** "configured" or "<channel>/<mspId>". */
  source: string;
  reason: string;
}

/** A parsed CA certificate: its canonical PEM, keyed by its SHA-256 fingerprint so each is trusted once. */
interface TrustedCert {
  fingerprint: string;
  pem: string;
}

interface ChannelEntry {
  peer: TrustedCert[];
  orderers: { endpoints: ReadonlySet<string>; certs: TrustedCert[] }[];
}

/**
 * The TLS CAs a peer trusts, as Fabric's `CredentialSupport` keeps them: the configured ones
 * (peer.tls.rootcert, peer.tls.clientRootCAs, `--tls-ca`) plus, per joined channel, the TLS root and
 * intermediate certificates of its application orgs (whose peers we accept and dial for gossip)
 * and of its orderer orgs (which the channel's Deliver client trusts). A channel's entry is replaced
 * whole at each config update, so a CA removed from the configuration is no longer trusted by new
 * connections. Listeners hear of every change of the gossip set (the gRPC server's client CAs).
 */
export class TlsTrustStore {
  readonly #configured: TrustedCert[];
  readonly #channels = new Map<string, ChannelEntry>();
  readonly #listeners = new Set<(roots: Buffer) => void>();
  #peerRoots: Buffer;
  #peerKey: string;
  /** Configured certificates that were left out (not parsable). */
  readonly rejected: readonly RejectedTlsCa[];

  /**
   * @param configured PEM CA certificates (concatenated) from the peer's own configuration; a
   *   block that is no certificate is left out and listed in `rejected`.
   */
  constructor(configured: string | Uint8Array = "") {
    const rejected: RejectedTlsCa[] = [];
    this.#configured = parseCerts([Buffer.from(configured).toString("latin1")], "configured", rejected);
    this.rejected = rejected;
    const { roots, key } = this.#computePeerRoots();
    this.#peerRoots = roots;
    this.#peerKey = key;
  }

  /**
   * Sets (replaces) the TLS CAs of a channel from its configuration in force. Returns the
   * certificates left out because they do not parse (the rest is trusted).
   */
  setChannel(channel: string, cas: ChannelTlsCas): RejectedTlsCa[] {
    const rejected: RejectedTlsCa[] = [];
    this.#channels.set(channel, {
      peer: cas.peerOrgs.flatMap((o) => parseCerts(o.certs, `${channel}/${o.mspId}`, rejected)),
      orderers: cas.ordererOrgs.map((o) => ({ endpoints: new Set(o.endpoints), certs: parseCerts(o.certs, `${channel}/${o.mspId}`, rejected) })),
    });
    this.#changed();
    return rejected;
  }

  /** Forgets a channel's CAs (the channel was left or its peer stopped). */
  removeChannel(channel: string): void {
    if (this.#channels.delete(channel)) this.#changed();
  }

  /** The channels whose CAs are held. */
  channels(): string[] {
    return [...this.#channels.keys()];
  }

  /**
   * The CAs of gossip connections, PEM concatenated: the configured ones and every channel's
   * application orgs' TLS roots and intermediates. Both what the server verifies client
   * certificates with and what a dial verifies the other peer's server certificate with.
   */
  peerRoots(): Buffer {
    return this.#peerRoots;
  }

  /**
   * The CAs of the channel's orderer orgs to dial `endpoint` with (Fabric's orderer connection
   * source): the orgs that list `endpoint` among their own endpoints; when none does (global
   * OrdererAddresses, or an endpoint given by hand), every orderer org of the channel. Empty for an
   * unknown channel. The configured CAs are not included: the Deliver client adds its own.
   */
  ordererRoots(channel: string, endpoint: string): Buffer {
    const entry = this.#channels.get(channel);
    if (entry === undefined) return Buffer.alloc(0);
    const own = entry.orderers.filter((o) => o.endpoints.has(endpoint));
    return toBuffer(dedupe((own.length > 0 ? own : entry.orderers).flatMap((o) => o.certs)));
  }

  /** Calls `listener` with the new gossip CAs whenever they change; returns the unsubscribe function. */
  onPeerRootsChange(listener: (roots: Buffer) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #computePeerRoots(): { roots: Buffer; key: string } {
    const certs = dedupe([...this.#configured, ...[...this.#channels.values()].flatMap((e) => e.peer)]);
    return { roots: toBuffer(certs), key: certs.map((c) => c.fingerprint).join(",") };
  }

  #changed(): void {
    const { roots, key } = this.#computePeerRoots();
    if (key === this.#peerKey) return;
    this.#peerRoots = roots;
    this.#peerKey = key;
    for (const l of [...this.#listeners]) l(roots);
  }
}

/** Every certificate in the PEM texts, re-encoded canonically; a block that is no X.509 certificate goes to `rejected`. */
function parseCerts(texts: readonly string[], source: string, rejected: RejectedTlsCa[]): TrustedCert[] {
  const out: TrustedCert[] = [];
  for (const text of texts) {
    const blocks = decodeAllPem(text);
    if (blocks.length === 0 && text.trim() !== "") rejected.push({ source, reason: "no PEM block" });
    for (const block of blocks) {
      if (block.type !== "CERTIFICATE") {
        rejected.push({ source, reason: `a PEM block of type ${block.type}, not CERTIFICATE` });
        continue;
      }
      try {
        const x509 = new X509Certificate(block.der);
        out.push({ fingerprint: x509.fingerprint256, pem: encodePem("CERTIFICATE", block.der) });
      } catch (err) {
        rejected.push({ source, reason: `not an X.509 certificate: ${errorMessage(err)}` });
      }
    }
  }
  return out;
}

function dedupe(certs: readonly TrustedCert[]): TrustedCert[] {
  const byFingerprint = new Map<string, TrustedCert>();
  for (const c of certs) if (!byFingerprint.has(c.fingerprint)) byFingerprint.set(c.fingerprint, c);
  return [...byFingerprint.values()];
}

function toBuffer(certs: readonly TrustedCert[]): Buffer {
  return Buffer.from(certs.map((c) => c.pem).join(""));
}
