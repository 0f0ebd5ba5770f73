import type { PKIidType } from "../api/index.js";
import type { Logger } from "../logging/index.js";
import type { MetricsProvider } from "../metrics/index.js";
import { type GossipMessageOf, isLeadershipMsg } from "../protoext/index.js";
import { type GossipMessage, GossipMessage_Tag } from "../protos/gen/gossip/message.pb.js";
import { bytesEqual, utf8, type Clock } from "../util/index.js";
import { ElectionError } from "./errors.js";
import type { LeaderElectionAdapter, Msg, Peer } from "./interface.js";
import { createElectionMetrics, type ElectionMetrics } from "./metrics.js";

/** A member of the view as the adapter needs it (discovery's NetworkMember satisfies it). */
export interface ElectionMember {
  pkiId: PKIidType;
}

/**
 * What the election adapter needs from the gossip node (Fabric's `election.gossip` interface);
 * the gossip node satisfies it.
 */
export interface ElectionGossipNode {
  /** Our PKI-ID. */
  pkiId(): PKIidType;
  /** Signs and sends a message; leadership messages go to every same-org peer of the channel. */
  gossip(msg: GossipMessage): void;
  /** Subscribes to messages the channels hand to local consumers; returns the unsubscribe function. */
  accept(acceptor: (msg: GossipMessage) => boolean, handler: (msg: GossipMessage) => void): () => void;
  /** The alive members of a channel. */
  peersOfChannel(channel: string): ElectionMember[];
  /** Optional: whether `pkiId` is one of `peersOfChannel(channel)`, without building them. */
  isPeerOfChannel?(channel: string, pkiId: PKIidType): boolean;
  /** Whether a member belongs to our org. */
  isInMyOrg(member: ElectionMember): boolean;
}

/** A leadership message as the election sees it: Fabric's `msgImpl`. */
export class LeadershipMsg implements Msg {
  readonly message: GossipMessageOf<"leadershipMsg">;

  constructor(message: GossipMessageOf<"leadershipMsg">) {
    this.message = message;
  }

  get senderId(): PKIidType {
    return this.message.content.value.pkiId;
  }

  isProposal(): boolean {
    return !this.isDeclaration();
  }

  isDeclaration(): boolean {
    return this.message.content.value.isDeclaration;
  }
}

/** What the adapter is built from. */
export interface LeaderElectionAdapterComponents {
  node: ElectionGossipNode;
  clock: Clock;
  logger: Logger;
  /** Either the shared metrics or the peer's provider to create them from. */
  metrics: ElectionMetrics | MetricsProvider;
}

/**
 * Fabric's election `adapterImpl` (`gossip/election/adapter.go`) over the gossip node, for one
 * channel: LeadershipMessage{pki_id, timestamp{inc_num = creation time in ns, seq_num = 1, 2, ...},
 * is_declaration}, tag CHAN_AND_ORG, channel set (the node signs it); it accepts only CHAN_AND_ORG
 * leadership messages of its channel; its peers are the channel's members of our org.
 */
export class GossipLeaderElectionAdapter implements LeaderElectionAdapter<LeadershipMsg> {
  readonly channel: string;
  readonly #channelBytes: Uint8Array;
  readonly #node: ElectionGossipNode;
  readonly #selfPkiId: PKIidType;
  readonly #metrics: ElectionMetrics;
  readonly #log: Logger;
  readonly #incTime: bigint;
  #seqNum = 0n;
  readonly #subscriptions = new Set<() => void>();
  #stopped = false;

  constructor(c: LeaderElectionAdapterComponents, channel: string) {
    this.channel = channel;
    this.#channelBytes = utf8(channel);
    this.#node = c.node;
    this.#selfPkiId = c.node.pkiId();
    this.#metrics = "declaration" in c.metrics ? c.metrics : createElectionMetrics(c.metrics);
    this.#log = c.logger.child("gossip.election", { channel });
    this.#incTime = c.clock.nowNs();
  }

  gossip(msg: LeadershipMsg): void {
    if (this.#stopped) return;
    this.#node.gossip(msg.message);
  }

  accept(handler: (msg: LeadershipMsg) => void): () => void {
    if (this.#stopped) return () => {};
    const unsubscribe = this.#node.accept(
      (m) => m.tag === GossipMessage_Tag.CHAN_AND_ORG && isLeadershipMsg(m) && bytesEqual(m.channel, this.#channelBytes),
      (m) => {
        if (!isLeadershipMsg(m)) return;
        handler(new LeadershipMsg(m));
      },
    );
    const sub = (): void => {
      if (!this.#subscriptions.delete(sub)) return;
      unsubscribe();
    };
    this.#subscriptions.add(sub);
    return sub;
  }

  createMessage(isDeclaration: boolean): LeadershipMsg {
    this.#seqNum++;
    const message: GossipMessage = {
      nonce: 0n,
      tag: GossipMessage_Tag.CHAN_AND_ORG,
      channel: this.#channelBytes,
      content: {
        $case: "leadershipMsg",
        value: { pkiId: this.#selfPkiId, isDeclaration, timestamp: { incNum: this.#incTime, seqNum: this.#seqNum } },
      },
    };
    if (!isLeadershipMsg(message)) throw new ElectionError("NOT_A_LEADERSHIP_MESSAGE", "built a message that is not a leadership message");
    return new LeadershipMsg(message);
  }

  peers(): Peer[] {
    const res: Peer[] = [];
    for (const m of this.#node.peersOfChannel(this.channel)) {
      if (this.#node.isInMyOrg(m)) res.push({ id: m.pkiId });
    }
    return res;
  }

  isAlive(id: PKIidType): boolean {
    if (this.#node.isPeerOfChannel === undefined) return this.peers().some((p) => bytesEqual(p.id, id));
    return this.#node.isPeerOfChannel(this.channel, id) && this.#node.isInMyOrg({ pkiId: id });
  }

  reportMetrics(isLeader: boolean): void {
    this.#metrics.declaration.set({ channel: this.channel }, isLeader ? 1 : 0);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const sub of [...this.#subscriptions]) sub();
    this.#log.debug("leader election adapter stopped");
  }
}

/** Fabric's `election.NewAdapter`. */
export function createLeaderElectionAdapter(c: LeaderElectionAdapterComponents, channel: string): LeaderElectionAdapter<LeadershipMsg> {
  return new GossipLeaderElectionAdapter(c, channel);
}
