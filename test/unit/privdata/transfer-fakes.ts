import type { PeerIdentityInfo, RemotePeer } from "../../../src/api/index.js";
import type { IdentityDeserializer, PolicyIdentity } from "../../../src/channelconfig/index.js";
import type { NetworkMember } from "../../../src/discovery/index.js";
import type { SendCriteria } from "../../../src/gossip/node/index.js";
import type { LogFields, Logger } from "../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../src/metrics/index.js";
import { createPrivdataMetrics, type PrivdataMetrics, type PvtDataGossip } from "../../../src/privdata/index.js";
import { type ReceivedMessage, SignedGossipMessage } from "../../../src/protoext/index.js";
import { type GossipMessage, GossipMessage_Tag } from "../../../src/protos/gen/gossip/message.pb.js";
import { MSPRole } from "../../../src/protos/gen/msp/msp_principal.pb.js";
import { fromUtf8, toHex, utf8 } from "../../../src/util/index.js";

/** Fakes for the private data transfer tests: a gossip node, identities "MSP:name", received messages. */

export const CHANNEL = "ch1";

/**
 * Identities are the bytes "Org1MSP:peer0": the MSP is the part before the colon; a signature verifies when
 * it is "ok" (any data). Principals are matched by MSP ID only.
 */
export const stubMsps: IdentityDeserializer = {
  deserializeIdentity(serialized: Uint8Array): PolicyIdentity {
    const text = fromUtf8(serialized);
    const [mspId = "", name = ""] = text.split(":");
    if (mspId === "" || name === "") throw new Error(`not an identity: ${text}`);
    return {
      mspId,
      key: text,
      verify(_data, signature) {
        if (fromUtf8(signature) !== "ok") throw new Error("bad signature");
      },
      satisfiesPrincipal(principal) {
        if (MSPRole.decode(principal.principal).mspIdentifier !== mspId) throw new Error(`not of ${mspId}`);
      },
    };
  },
};

export interface FakePeer {
  name: string;
  msp: string;
  pkiId: Uint8Array;
  identity: Uint8Array;
  endpoint: string;
  ledgerHeight: bigint;
  /** Its StateInfo signature: "ok" unless forged. */
  stateInfoSignature: string;
}

export function fakePeer(msp: string, name: string, ledgerHeight = 10n): FakePeer {
  return {
    name,
    msp,
    pkiId: utf8(`pki-${msp}-${name}`),
    identity: utf8(`${msp}:${name}`),
    endpoint: `${name}.${msp.toLowerCase()}:7051`,
    ledgerHeight,
    stateInfoSignature: "ok",
  };
}

export const memberOf = (p: FakePeer): NetworkMember => ({
  endpoint: p.endpoint,
  internalEndpoint: "",
  metadata: new Uint8Array(0),
  pkiId: p.pkiId,
  properties: { ledgerHeight: p.ledgerHeight, leftChannel: false, chaincodes: [] },
});

export interface SentMessage {
  msg: GossipMessage;
  to: RemotePeer[];
}

export interface ByCriteriaCall {
  msg: GossipMessage;
  criteria: SendCriteria;
  /** The peers of the channel the criteria's isEligible accepts. */
  targets: string[];
}

/** A gossip node of one channel whose members are `peers`. */
export class FakeGossip implements PvtDataGossip {
  peers: FakePeer[];
  readonly sent: SentMessage[] = [];
  readonly byCriteria: ByCriteriaCall[] = [];
  /** What sendByCriteria does (default: resolves). */
  onSendByCriteria: (call: ByCriteriaCall) => Promise<void> = async () => {};
  /** Called for each point-to-point send (to answer it). */
  onSend: (msg: GossipMessage, to: FakePeer) => void = () => {};
  readonly #subs = new Set<{ acceptor: (m: ReceivedMessage) => boolean; handler: (m: ReceivedMessage) => void }>();

  constructor(peers: FakePeer[]) {
    this.peers = peers;
  }

  acceptPassThrough(acceptor: (m: ReceivedMessage) => boolean, handler: (m: ReceivedMessage) => void): () => void {
    const sub = { acceptor, handler };
    this.#subs.add(sub);
    return () => this.#subs.delete(sub);
  }

  subscribers(): number {
    return this.#subs.size;
  }

  /** Hands a received message to the subscribers whose acceptor takes it (as comm does). */
  deliver(m: ReceivedMessage): number {
    let n = 0;
    for (const s of [...this.#subs]) {
      if (s.acceptor(m)) {
        s.handler(m);
        n++;
      }
    }
    return n;
  }

  send(msg: GossipMessage, ...peers: RemotePeer[]): void {
    this.sent.push({ msg, to: peers });
    for (const rp of peers) {
      const p = this.peers.find((x) => toHex(x.pkiId) === toHex(rp.pkiId));
      if (p !== undefined) this.onSend(msg, p);
    }
  }

  async sendByCriteria(msg: GossipMessage, criteria: SendCriteria): Promise<void> {
    const targets = this.peers.filter((p) => criteria.isEligible?.(memberOf(p)) ?? true).map((p) => p.name);
    const call = { msg, criteria, targets };
    this.byCriteria.push(call);
    await this.onSendByCriteria(call);
  }

  peersOfChannel(channel: string): NetworkMember[] {
    return channel === CHANNEL ? this.peers.map(memberOf) : [];
  }

  peerFilter(_channel: string, criteria: Parameters<PvtDataGossip["peerFilter"]>[1]): (m: NetworkMember) => boolean {
    return (m) => {
      const p = this.peers.find((x) => toHex(x.pkiId) === toHex(m.pkiId));
      if (p === undefined) return false;
      const stateInfo = SignedGossipMessage.noopSign({ channel: new Uint8Array(0), nonce: 0n, tag: GossipMessage_Tag.CHAN_OR_ORG, content: undefined });
      return criteria({ message: utf8(`stateinfo of ${p.name}`), signature: utf8(p.stateInfoSignature), peerIdentity: p.identity, peer: m, stateInfo });
    };
  }

  identityInfo(): PeerIdentityInfo[] {
    return this.peers.map((p) => ({ pkiId: p.pkiId, identity: p.identity, organization: utf8(p.msp) }));
  }
}

export interface FakeReceived extends ReceivedMessage {
  readonly acks: (Error | undefined)[];
  readonly responses: GossipMessage[];
}

/** A message as received from `from` over a connection whose handshake signature is `handshakeSignature` (null: no handshake auth). */
export function received(msg: GossipMessage, from: Pick<FakePeer, "pkiId" | "identity" | "endpoint">, handshakeSignature: string | null = "ok"): FakeReceived {
  const acks: (Error | undefined)[] = [];
  const responses: GossipMessage[] = [];
  return {
    message: SignedGossipMessage.noopSign(msg),
    connectionInfo: {
      id: from.pkiId,
      identity: from.identity,
      endpoint: from.endpoint,
      auth: handshakeSignature === null ? undefined : { signedData: utf8("handshake"), signature: utf8(handshakeSignature) },
    },
    respond: (m) => responses.push(m),
    ack: (err) => acks.push(err),
    acks,
    responses,
  };
}

export interface LoggedLine {
  level: string;
  msg: string;
  fields: LogFields | undefined;
}

/** A logger that keeps its lines. */
export function recordingLogger(lines: LoggedLine[] = []): Logger & { lines: LoggedLine[] } {
  const make = (): Logger & { lines: LoggedLine[] } => ({
    lines,
    debug: (msg, fields) => lines.push({ level: "debug", msg, fields }),
    info: (msg, fields) => lines.push({ level: "info", msg, fields }),
    warn: (msg, fields) => lines.push({ level: "warn", msg, fields }),
    error: (msg, fields) => lines.push({ level: "error", msg, fields }),
    child: () => make(),
  });
  return make();
}

export const testMetrics = (): PrivdataMetrics => createPrivdataMetrics(memoryMetricsProvider());

/** A collections_config.json text. */
export function collectionsJson(
  colls: { name: string; policy: string; requiredPeerCount?: number; maxPeerCount?: number; blockToLive?: number }[],
): string {
  return JSON.stringify(colls.map((c) => ({ memberOnlyRead: true, ...c })));
}
