import { preferredEndpoint } from "../../../../src/discovery/index.js";
import { createHash } from "node:crypto";
import { type PKIidType, pkiHex, type RemotePeer } from "../../../../src/api/index.js";
import {
  createPullMediator,
  type PullMediator,
  type PullMediatorAdapter,
  type PullMediatorConfig,
  type PullMember,
} from "../../../../src/gossip/pull/index.js";
import type { Logger } from "../../../../src/logging/index.js";
import { type ReceivedMessage, SignedGossipMessage } from "../../../../src/protoext/index.js";
import { type GossipMessage, GossipMessage_Tag, PullMsgType } from "../../../../src/protos/gen/gossip/message.pb.js";
import { ManualClock, SeededRandom, type TimerHandle, utf8 } from "../../../../src/util/index.js";

export const CHANNEL = utf8("testchannel");
export const PULL_INTERVAL_MS = 4_000;
export const LATENCY_MS = 10;

/** The pull content case of a message, or "other". */
export type PullKind = "hello" | "dataDig" | "dataReq" | "dataUpdate" | "other";

export function kindOf(msg: SignedGossipMessage): PullKind {
  const c = msg.message.content?.$case;
  return c === "hello" || c === "dataDig" || c === "dataReq" || c === "dataUpdate" ? c : "other";
}

/** One message put on the wire by a node: with the sender (to a RemotePeer) or with respond(). */
export interface WireRecord {
  from: number;
  to: number;
  via: "send" | "respond";
  /** What the sender handed over. */
  msg: SignedGossipMessage;
  /** The RemotePeer the sender was given (send only). */
  peer?: RemotePeer;
  at: number;
}

export interface HarnessNode {
  readonly index: number;
  readonly name: string;
  readonly pkiId: PKIidType;
  readonly endpoint: string;
  readonly internalEndpoint: string;
  readonly mediator: PullMediator;
  /** Every message the mediator handed to msgConsumer. */
  readonly consumed: SignedGossipMessage[];
}

export interface HarnessOptions {
  nodes: number;
  msgType?: PullMsgType;
  peerCountToSelect?: number;
  /** Nodes given an internal endpoint (hellos and requests must go there). */
  withInternalEndpoint?: (index: number) => boolean;
  /** Adapter overrides per node (filters). */
  adapter?: (index: number) => Partial<PullMediatorAdapter>;
  config?: Partial<PullMediatorConfig>;
  logger?: Logger;
  seed?: number;
}

/** A block DataMessage envelope, NoopSigned, as the channel stores it. */
export function blockMsg(seq: bigint, channel = CHANNEL): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel,
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "dataMsg", value: { payload: { seqNum: seq, data: utf8(`block ${seq}`), privateData: [] } } },
  });
}

/** A PeerIdentity message as the certificate store builds it (tag EMPTY), signed with a fake signature. */
export function identityMsg(pkiId: PKIidType): SignedGossipMessage {
  return SignedGossipMessage.sign(
    { nonce: 0n, channel: new Uint8Array(0), tag: GossipMessage_Tag.EMPTY, content: { $case: "peerIdentity", value: { pkiId, cert: utf8(`cert of ${pkiHex(pkiId)}`), metadata: new Uint8Array(0) } } },
    (payload) => createHash("sha256").update(payload).digest(),
  );
}

export function blockId(msg: SignedGossipMessage): string {
  const c = msg.message.content;
  if (c?.$case !== "dataMsg" || c.value.payload === undefined) throw new Error("not a block");
  return c.value.payload.seqNum.toString(10);
}

export function identityId(msg: SignedGossipMessage): string {
  const c = msg.message.content;
  if (c?.$case !== "peerIdentity") throw new Error("not an identity");
  return pkiHex(c.value.pkiId);
}

/**
 * N pull mediators on one virtual clock, each seeing all the others as members. The fake sender
 * and each ReceivedMessage's respond() deliver through clock timeouts, as wire bytes decoded again,
 * so what arrives is what a real peer would send.
 */
export class PullHarness {
  readonly clock = new ManualClock(0);
  readonly nodes: HarnessNode[] = [];
  readonly wire: WireRecord[] = [];
  /** Delay of each message; default LATENCY_MS. */
  latency: (rec: WireRecord) => number = () => LATENCY_MS;
  /** Messages for which this returns true are lost. */
  drop: (rec: WireRecord) => boolean = () => false;
  readonly #inFlight = new Set<TimerHandle>();
  readonly #byPki = new Map<string, number>();
  readonly #members: PullMember[] = [];

  constructor(readonly options: HarnessOptions) {
    const msgType = options.msgType ?? PullMsgType.BLOCK_MSG;
    const isIdentity = msgType === PullMsgType.IDENTITY_MSG;
    for (let i = 0; i < options.nodes; i++) {
      const pkiId = new Uint8Array(createHash("sha256").update(`peer${i}`).digest());
      const internal = options.withInternalEndpoint?.(i) === true ? `peer${i}.internal:7051` : "";
      this.#members.push({ endpoint: `peer${i}.example.com:7051`, internalEndpoint: internal, pkiId });
      this.#byPki.set(pkiHex(pkiId), i);
    }
    for (let i = 0; i < options.nodes; i++) {
      const member = this.#members[i]!;
      const consumed: SignedGossipMessage[] = [];
      const mediator = createPullMediator(
        {
          id: `peer${i}`,
          pullIntervalMs: PULL_INTERVAL_MS,
          channel: isIdentity ? new Uint8Array(0) : CHANNEL,
          peerCountToSelect: options.peerCountToSelect ?? options.nodes - 1,
          tag: isIdentity ? GossipMessage_Tag.EMPTY : GossipMessage_Tag.CHAN_AND_ORG,
          msgType,
          ...options.config,
        },
        {
          sender: (msg, ...peers) => {
            for (const peer of peers) {
              const to = this.#byPki.get(pkiHex(peer.pkiId));
              if (to === undefined) throw new Error(`unknown peer ${peer.endpoint}`);
              this.#transmit({ from: i, to, via: "send", msg, peer, at: this.clock.now() });
            }
          },
          membership: () => this.#members.filter((_, j) => j !== i),
          idExtractor: isIdentity ? identityId : blockId,
          msgConsumer: (msg) => consumed.push(msg),
          ...options.adapter?.(i),
        },
        { clock: this.clock, random: new SeededRandom((options.seed ?? 1) * 1000 + i), ...(options.logger ? { logger: options.logger } : {}) },
      );
      this.nodes.push({
        index: i,
        name: `peer${i}`,
        pkiId: member.pkiId,
        endpoint: member.endpoint,
        internalEndpoint: member.internalEndpoint ?? "",
        mediator,
        consumed,
      });
    }
  }

  member(i: number): PullMember {
    return this.#members[i]!;
  }

  preferredEndpoint(i: number): string {
    return preferredEndpoint(this.#members[i]!);
  }

  async startAll(): Promise<void> {
    for (const n of this.nodes) await n.mediator.start();
  }

  /** The ReceivedMessage node `to` gets for `msg` from node `from`; respond() routes back. */
  received(from: number, to: number, msg: SignedGossipMessage): ReceivedMessage {
    const sender = this.nodes[from]!;
    return {
      message: SignedGossipMessage.fromEnvelopeBytes(msg.bytes),
      connectionInfo: { id: sender.pkiId, identity: utf8(sender.name), endpoint: sender.endpoint, auth: undefined },
      respond: (reply: GossipMessage) => {
        this.#transmit({ from: to, to: from, via: "respond", msg: SignedGossipMessage.noopSign(reply), at: this.clock.now() });
      },
      ack: () => {},
    };
  }

  /** Sent messages of one kind, optionally between two nodes. */
  sent(kind: PullKind, from?: number, to?: number): WireRecord[] {
    return this.wire.filter((r) => kindOf(r.msg) === kind && (from === undefined || r.from === from) && (to === undefined || r.to === to));
  }

  /** Timers of messages still in flight. */
  inFlight(): number {
    return this.#inFlight.size;
  }

  /** Stops every mediator and drops every message in flight. */
  async stop(): Promise<void> {
    for (const n of this.nodes) await n.mediator.stop();
    for (const t of this.#inFlight) t.cancel();
    this.#inFlight.clear();
  }

  #transmit(rec: WireRecord): void {
    this.wire.push(rec);
    if (this.drop(rec)) return;
    const timer: { h?: TimerHandle } = {};
    timer.h = this.clock.setTimeout(() => {
      if (timer.h !== undefined) this.#inFlight.delete(timer.h);
      this.nodes[rec.to]!.mediator.handleMessage(this.received(rec.from, rec.to, rec.msg));
    }, this.latency(rec));
    this.#inFlight.add(timer.h);
  }
}
