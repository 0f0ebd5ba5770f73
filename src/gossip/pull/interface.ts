import type { PKIidType, RemotePeer } from "../../api/index.js";
import type { Logger } from "../../logging/index.js";
import type { ReceivedMessage, SignedGossipMessage } from "../../protoext/index.js";
import type { DataDigest, GossipMessage_Tag, PullMsgType } from "../../protos/gen/gossip/message.pb.js";
import type { Clock, Random } from "../../util/index.js";
import type { PullEngineConfig } from "../algo/index.js";

/**
 * The part of a membership entry the mediator needs (Fabric's `discovery.NetworkMember`):
 * discovery's own member type fits it structurally.
 */
export interface PullMember {
  /** The external endpoint; may be empty. */
  readonly endpoint: string;
  /** The internal endpoint, from the alive message's secret; empty or absent when unknown. */
  readonly internalEndpoint?: string | undefined;
  readonly pkiId: PKIidType;
}

/** The pull phase a hook is registered for (Fabric's `pull.MsgType`). */
export type PullHookMsgType = "hello" | "digest" | "request" | "response";

/**
 * Fabric's `pull.MessageHook`: runs after a pull message of its phase was handled. `itemIds` are the
 * digest's (after the ingress filter) or the request's items, or the IDs of a response's messages;
 * `items` are a response's messages (empty for the other phases).
 */
export type PullMessageHook = (itemIds: string[], items: SignedGossipMessage[], msg: ReceivedMessage) => void;

/** Fabric's `pull.EgressDigestFilter`: which item IDs may be disclosed to the sender of `helloMsg`. */
export type EgressDigestFilter = (helloMsg: ReceivedMessage) => (digestItem: string) => boolean;

/** Fabric's `pull.IngressDigestFilter`: narrows a received digest before the engine sees it. */
export type IngressDigestFilter = (digestMsg: DataDigest) => DataDigest;

/**
 * Fabric's `pull.Config`. `tag` and `channel` are put on every message: BLOCK_MSG pulls use
 * CHAN_AND_ORG and the channel name, IDENTITY_MSG pulls use EMPTY and an empty channel.
 * Taken as given: the counts and durations come validated from config (peer.gossip.pullInterval,
 * pullPeerNum, digestWaitTime, ...), and `tag` and `msgType` are the owners' constants.
 */
export interface PullMediatorConfig {
  /** The owner's name, for logs (Fabric's `ID`). */
  id: string;
  /** Time between pull rounds (core.yaml `pullInterval`, 4s). */
  pullIntervalMs: number;
  channel: Uint8Array;
  /** Peers per round (core.yaml `pullPeerNum`, 3). */
  peerCountToSelect: number;
  tag: GossipMessage_Tag;
  /** BLOCK_MSG or IDENTITY_MSG. */
  msgType: PullMsgType;
  /** The engine's phase timings; absent ones take the engine defaults (1s, 1.5s, 2s). */
  pullEngine?: Partial<PullEngineConfig>;
  /**
   * The largest message the transport sends (comm's `maxMessageSize`; default DEFAULT_MAX_PULL_MESSAGE_BYTES).
   * A response that would be larger is sent as several DataUpdates with the request's nonce, each within it
   * (Fabric sends one and the transport refuses it); a single item larger than it is left out.
   */
  maxMessageBytes?: number;
}

/** Fabric's default gRPC send limit (100 MiB), which a pull response must fit. */
export const DEFAULT_MAX_PULL_MESSAGE_BYTES = 100 * 1024 * 1024;

/**
 * Fabric's `pull.PullAdapter`: how the mediator reaches the rest of gossip.
 *
 * Item IDs: for IDENTITY_MSG the PKI-ID in lower-case hex (`pkiHex`), for other types the digest
 * bytes as UTF-8 (a block's decimal sequence number), as `protoext.digestKey` maps them; the
 * idExtractor must return IDs of that form.
 */
export interface PullMediatorAdapter {
  /** Sends to peers without waiting (Fabric's `Sender.Send`, i.e. comm's send). */
  sender: (msg: SignedGossipMessage, ...peers: RemotePeer[]) => void;
  /** The alive members to choose pull peers from (Fabric's `MembershipService.GetMembership`). */
  membership: () => readonly PullMember[];
  /** The item ID of a message (Fabric's `IdentifierExtractor`). */
  idExtractor: (msg: SignedGossipMessage) => string;
  /** Called with every message of a received DataUpdate (Fabric's `MsgConsumer`). */
  msgConsumer: (msg: SignedGossipMessage) => void;
  /** Default: every item may be disclosed to everyone. */
  egressDigestFilter?: EgressDigestFilter;
  /** Default: digests are taken as they come. */
  ingressDigestFilter?: IngressDigestFilter;
}

/** What a pull mediator is built with. */
export interface PullMediatorComponents {
  clock: Clock;
  random: Random;
  /** Parent logger; the mediator logs as `gossip.pull`. */
  logger?: Logger;
}

/**
 * Fabric's `pull.Mediator`: a pull engine specialised to gossip messages of one PullMsgType,
 * keeping item ID -> message.
 */
export interface PullMediator {
  /** Starts the periodic pull rounds. Idempotent. */
  start(): Promise<void>;
  /** Stops the engine and cancels every timer. Idempotent. */
  stop(): Promise<void>;
  /**
   * Starts a pull round now, or right after the round in progress (see the engine's `triggerPull`).
   * Not in Fabric: used by the channel's opt-in gap trigger. Optional so that a mediator stand-in
   * (a test double) need not have it; the mediator createPullMediator builds always does.
   */
  triggerPull?(): void;
  /** Registers a hook run after each handled pull message of `type`. */
  registerMsgHook(type: PullHookMsgType, hook: PullMessageHook): void;
  /** Stores `msg` under its item ID and makes it available to pulling peers. */
  add(msg: SignedGossipMessage): void;
  /** Forgets the message with item ID `digest`, if any. */
  remove(digest: string): void;
  /** Handles a pull message of our type; other messages are ignored. Never throws. */
  handleMessage(msg: ReceivedMessage): void;
  /** The item IDs currently held. */
  itemIds(): string[];
  /** The message held under `itemId`, if any. */
  get(itemId: string): SignedGossipMessage | undefined;
}
