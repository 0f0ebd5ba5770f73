import { type MessageCryptoService, type PeerIdentityType, pkiHex } from "../../api/index.js";
import type { IdentityMapper } from "../../identity/index.js";
import type { Logger } from "../../logging/index.js";
import { GossipMessage_Tag, PullMsgType } from "../../protos/gen/gossip/message.pb.js";
import { type ReceivedMessage, SignedGossipMessage } from "../../protoext/index.js";
import { bytesEqual, type Clock, errorMessage, type Random } from "../../util/index.js";
import { createPullMediator, type EgressDigestFilter, type PullMediator, type PullMember } from "../pull/index.js";

const EMPTY = new Uint8Array(0);

export interface CertStoreComponents {
  idMapper: IdentityMapper;
  mcs: MessageCryptoService;
  selfIdentity: PeerIdentityType;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Sends pull messages (hello, request) to peers. */
  send: (msg: SignedGossipMessage, ...peers: { endpoint: string; pkiId: Uint8Array }[]) => void;
  /** The alive membership to pull identities from. */
  membership: () => readonly PullMember[];
  /** Which identities a requester may learn (Fabric's sameOrgOrOurOrgPullFilter). */
  egressFilter: EgressDigestFilter;
  /** Builds the pull mediator; tests substitute one. */
  createMediator?: typeof createPullMediator;
}

export interface CertStoreOptions {
  pullIntervalMs: number;
  pullPeerNum: number;
  digestWaitTimeMs: number;
  requestWaitTimeMs: number;
  responseWaitTimeMs: number;
  /** Ours (peer.gossip.pullWaitsFollowRtt): the waits are floors, raised to cover the round trips measured. */
  followRtt?: boolean;
}

/**
 * Fabric's certStore: our own PeerIdentity message offered by an IDENTITY_MSG pull mediator, and
 * identities learned by pull checked and put into the identity mapper. A DataUpdate with any bad
 * identity is dropped whole.
 */
export class CertStore {
  readonly #c: CertStoreComponents;
  readonly #pull: PullMediator;

  constructor(components: CertStoreComponents, options: CertStoreOptions) {
    this.#c = components;
    const selfPki = components.idMapper.getPKIidOfCert(components.selfIdentity);
    components.idMapper.put(selfPki, components.selfIdentity);
    this.#pull = (components.createMediator ?? createPullMediator)(
      {
        id: "certStore",
        pullIntervalMs: options.pullIntervalMs,
        channel: EMPTY,
        peerCountToSelect: options.pullPeerNum,
        tag: GossipMessage_Tag.EMPTY,
        msgType: PullMsgType.IDENTITY_MSG,
        pullEngine: {
          digestWaitTimeMs: options.digestWaitTimeMs,
          requestWaitTimeMs: options.requestWaitTimeMs,
          responseWaitTimeMs: options.responseWaitTimeMs,
          followRtt: options.followRtt === true,
        },
      },
      {
        sender: components.send,
        membership: components.membership,
        idExtractor: (m) => (m.message.content?.$case === "peerIdentity" ? pkiHex(m.message.content.value.pkiId) : ""),
        msgConsumer: () => {},
        egressDigestFilter: components.egressFilter,
      },
      { clock: components.clock, random: components.random, logger: components.logger },
    );
    this.#pull.registerMsgHook("response", (_ids, msgs) => {
      for (const m of msgs) {
        if (m.message.content?.$case !== "peerIdentity") continue;
        const { pkiId, cert } = m.message.content.value;
        try {
          this.#c.idMapper.put(pkiId, cert);
        } catch (err) {
          this.#c.logger.debug("identity from pull not stored", { pkiId: pkiHex(pkiId), error: errorMessage(err) });
        }
      }
    });
    this.#pull.add(this.#selfIdentityMessage(selfPki));
  }

  async start(): Promise<void> {
    await this.#pull.start();
  }

  async stop(): Promise<void> {
    await this.#pull.stop();
  }

  /** Handles an IDENTITY_MSG pull message. */
  handleMessage(msg: ReceivedMessage): void {
    const content = msg.message.message.content;
    if (content?.$case === "dataUpdate") {
      for (const env of content.value.data) {
        const problem = this.#checkIdentityEnvelope(env);
        if (problem !== undefined) {
          this.#c.logger.warn("dropping an identity update with a bad element", { from: pkiHex(msg.connectionInfo.id), problem });
          return;
        }
      }
    }
    this.#pull.handleMessage(msg);
  }

  /** Forgets an identity (its owner was purged). */
  remove(pkiId: Uint8Array): void {
    this.#pull.remove(pkiHex(pkiId));
  }

  /** Fabric's validateIdentityMsg: PKI-ID matches the certificate, signed by it, and the identity is valid. */
  #checkIdentityEnvelope(env: Parameters<typeof SignedGossipMessage.fromEnvelope>[0]): string | undefined {
    let m: SignedGossipMessage;
    try {
      m = SignedGossipMessage.fromEnvelope(env);
    } catch (err) {
      return errorMessage(err);
    }
    const content = m.message.content;
    if (content?.$case !== "peerIdentity") return `not an identity message (${content?.$case ?? "empty"})`;
    const { pkiId, cert } = content.value;
    try {
      if (!bytesEqual(this.#c.mcs.getPKIidOfCert(cert), pkiId)) return "PKI-ID does not match the certificate";
      m.verify(cert, (id, sig, data) => this.#c.mcs.verify(id, sig, data));
      this.#c.mcs.validateIdentity(cert);
    } catch (err) {
      return errorMessage(err);
    }
    return undefined;
  }

  /** Our PeerIdentity message: tag EMPTY, no channel, signed (Fabric's createIdentityMessage). */
  #selfIdentityMessage(selfPki: Uint8Array): SignedGossipMessage {
    return SignedGossipMessage.sign(
      {
        nonce: 0n,
        channel: EMPTY,
        tag: GossipMessage_Tag.EMPTY,
        content: { $case: "peerIdentity", value: { pkiId: selfPki, cert: this.#c.selfIdentity, metadata: EMPTY } },
      },
      (b) => this.#c.idMapper.sign(b),
    );
  }
}
