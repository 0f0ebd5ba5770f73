import type { MessageCryptoService, OrgIdentityType, PeerIdentityType, PKIidType, SecurityAdvisor } from "../api/index.js";
import { type MspVerifier, type SigningIdentity, deserializeIdentity, pkiIdOf } from "../crypto/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import { utf8 } from "../util/index.js";
import { ChannelVerifyError } from "./bundle.js";
import type { ChannelIdentity } from "./msp-config.js";
import type { ChannelConfigTracker } from "./tracker.js";

/** The channels a peer has joined, each with the tracker of its configuration in force. */
export interface ChannelTrackers {
  /** The tracker of a channel, or undefined when the peer has not joined it. */
  get(channelId: string): ChannelConfigTracker | undefined;
  /** Every joined channel's tracker. */
  all(): Iterable<ChannelConfigTracker>;
}

/** A Map-backed ChannelTrackers: the service adds a channel's tracker when it joins. */
export class ChannelTrackerRegistry implements ChannelTrackers {
  readonly #trackers = new Map<string, ChannelConfigTracker>();

  /** Adds or replaces the tracker of its channel. */
  set(tracker: ChannelConfigTracker): void {
    this.#trackers.set(tracker.channelId, tracker);
  }

  delete(channelId: string): boolean {
    return this.#trackers.delete(channelId);
  }

  get(channelId: string): ChannelConfigTracker | undefined {
    return this.#trackers.get(channelId);
  }

  all(): Iterable<ChannelConfigTracker> {
    return this.#trackers.values();
  }
}

/** What the channel-config MCS is built from. */
export interface ChannelMcsComponents {
  /** This peer's signing identity. */
  signer: SigningIdentity;
  /** This peer's local MSP (its own org): it decides on identities of the signer's MSP ID, as in Fabric. */
  local: MspVerifier;
  channels: ChannelTrackers;
}

/** An identity validated by the local MSP (channel undefined) or by a channel's MSPs. */
interface Validated {
  channel: ChannelConfigTracker | undefined;
  verify(signature: Uint8Array, message: Uint8Array): void;
  notAfter: Date;
}

/**
 * The MessageCryptoService and SecurityAdvisor of Fabric's peer (`internal/peer/gossip/mcs.go`, `sa.go`) over
 * the channels' configurations: verifyBlock asks the tracker of the channel for the configuration in force
 * (/Channel/Orderer/BlockValidation), verifyByChannel checks /Channel/Application/Readers, and an identity is
 * valid when the local MSP (for its own MSP ID) or one of the joined channels' MSPs validates it.
 */
export class ChannelMessageCryptoService implements MessageCryptoService, SecurityAdvisor {
  readonly #signer: SigningIdentity;
  readonly #local: MspVerifier;
  readonly #channels: ChannelTrackers;

  constructor(components: ChannelMcsComponents) {
    this.#signer = components.signer;
    this.#local = components.local;
    this.#channels = components.channels;
  }

  /** Fabric's `GetPKIidOfCert`: SHA-256(mspid || id_bytes). Throws CryptoError MALFORMED_IDENTITY. */
  getPKIidOfCert(peerIdentity: PeerIdentityType): PKIidType {
    const d = deserializeIdentity(peerIdentity);
    return pkiIdOf(d.mspId, d.idBytes);
  }

  /** Fabric's `VerifyBlock` under the configuration in force on the channel. Throws ChannelVerifyError. */
  verifyBlock(channelId: string, seqNum: bigint, block: Block): void {
    this.#tracker(channelId).verifyBlock(block, seqNum);
  }

  sign(msg: Uint8Array): Uint8Array {
    return this.#signer.sign(msg);
  }

  /**
   * Fabric's `Verify`: an identity of this peer's org is checked by the local MSP alone; any other must be
   * valid in a joined channel and satisfy that channel's Readers policy.
   */
  verify(peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void {
    const v = this.#validated(peerIdentity);
    if (v.channel === undefined) {
      v.verify(signature, message);
      return;
    }
    v.channel.bundle.verifyByChannel(peerIdentity, signature, message);
  }

  /** Fabric's `VerifyByChannel`: /Channel/Application/Readers of the channel's configuration in force. */
  verifyByChannel(channelId: string, peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void {
    this.#tracker(channelId).bundle.verifyByChannel(peerIdentity, signature, message);
  }

  /** Fabric's `ValidateIdentity`. Throws ChannelVerifyError UNKNOWN_IDENTITY, or the local MSP's CryptoError. */
  validateIdentity(peerIdentity: PeerIdentityType): void {
    this.#validated(peerIdentity);
  }

  /** Fabric's `Expiration`: the certificate's NotAfter. Throws as validateIdentity. */
  expiration(peerIdentity: PeerIdentityType): Date | undefined {
    return this.#validated(peerIdentity).notAfter;
  }

  /**
   * Fabric's `mspSecurityAdvisor.OrgByPeerIdentity`: the MSP ID when the local MSP or a channel's MSPs can
   * deserialize the identity (no validation), else empty.
   */
  orgByPeerIdentity(peerIdentity: PeerIdentityType): OrgIdentityType {
    const local = this.#local.orgOf(peerIdentity);
    if (local !== undefined) return utf8(local);
    for (const t of this.#channels.all()) {
      try {
        return utf8(t.bundle.msps.deserializeIdentity(peerIdentity).mspId);
      } catch {
        // not of this channel's MSPs: try the next channel
      }
    }
    return new Uint8Array(0);
  }

  #tracker(channelId: string): ChannelConfigTracker {
    const t = this.#channels.get(channelId);
    if (t === undefined) throw new ChannelVerifyError("UNKNOWN_CHANNEL", `channel ${JSON.stringify(channelId)} is not joined: no configuration to verify against`);
    return t;
  }

  /** Fabric's `getValidatedIdentity`: the local MSP for its own MSP ID, else the first channel that validates it. */
  #validated(peerIdentity: PeerIdentityType): Validated {
    if (peerIdentity.byteLength === 0) throw new ChannelVerifyError("UNKNOWN_IDENTITY", "an empty peer identity");
    const { mspId } = deserializeIdentity(peerIdentity);
    if (mspId === this.#signer.mspId && this.#local.knows(mspId)) {
      const v = this.#local.validate(peerIdentity);
      return { channel: undefined, verify: (sig, msg) => void this.#local.verify(peerIdentity, sig, msg), notAfter: v.notAfter };
    }
    const reasons: string[] = [];
    for (const t of this.#channels.all()) {
      let id: ChannelIdentity;
      try {
        id = t.bundle.msps.deserializeIdentity(peerIdentity);
        id.validate();
      } catch (err) {
        reasons.push(`${t.channelId}: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      return { channel: t, verify: (sig, msg) => id.verify(msg, sig), notAfter: new Date(id.certificate.validTo) };
    }
    throw new ChannelVerifyError(
      "UNKNOWN_IDENTITY",
      `identity of ${mspId} cannot be validated by the local MSP nor by any joined channel${reasons.length > 0 ? ` (${reasons.join("; ")})` : ""}`,
    );
  }
}

/** Creates the MessageCryptoService and SecurityAdvisor that answer from the channels' configurations. */
export function createChannelMessageCryptoService(components: ChannelMcsComponents): ChannelMessageCryptoService {
  return new ChannelMessageCryptoService(components);
}
