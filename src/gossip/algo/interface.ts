import type { Logger } from "../../logging/index.js";
import type { Clock, Random } from "../../util/index.js";

/** Fabric's `algo.defDigestWaitTime`: how long the initiator collects digests after its hellos. */
export const DEFAULT_DIGEST_WAIT_TIME_MS = 1_000;
/** Fabric's `algo.defRequestWaitTime`: how long a responder honours the nonce of a hello it received. */
export const DEFAULT_REQUEST_WAIT_TIME_MS = 1_500;
/** Fabric's `algo.defResponseWaitTime`: how long the initiator accepts responses after sending its requests. */
export const DEFAULT_RESPONSE_WAIT_TIME_MS = 2_000;

/**
 * How the engine talks to remote engines: Fabric's `algo.PullAdapter`. `C` is the context of a
 * received hello or request (the mediator passes its ReceivedMessage), used to answer that peer.
 * The engine never lets an exception from an adapter method escape: it logs it and carries on.
 */
export interface PullAdapter<C> {
  /** The peers (endpoints) to start a pull round with. */
  selectPeers(): string[];
  /** Sends a hello carrying `nonce` to `dest` (phase 1). */
  hello(dest: string, nonce: bigint): void;
  /** Answers a hello with the items we hold (phase 2); `context` identifies the remote engine. */
  sendDigest(digest: string[], nonce: bigint, context: C): void;
  /** Asks `dest` for `items`, with the nonce that was sent to it in the hello (phase 3). */
  sendReq(dest: string, items: string[], nonce: bigint): void;
  /** Sends the requested `items` to the remote engine of `context` (phase 4). */
  sendRes(items: string[], context: C, nonce: bigint): void;
}

/**
 * Fabric's `algo.DigestFilter`: given the context of a hello or request, which item IDs may be
 * disclosed to that peer. Applied both to digests and to served requests.
 */
export type DigestFilter<C> = (context: C) => (digestItem: string) => boolean;

/** Fabric's `algo.PullEngineConfig`, in milliseconds. */
export interface PullEngineConfig {
  /** Default DEFAULT_DIGEST_WAIT_TIME_MS (1000). */
  digestWaitTimeMs: number;
  /** Default DEFAULT_REQUEST_WAIT_TIME_MS (1500). */
  requestWaitTimeMs: number;
  /** Default DEFAULT_RESPONSE_WAIT_TIME_MS (2000). */
  responseWaitTimeMs: number;
  /**
   * Not in Fabric (peer.gossip.pullWaitsFollowRtt, off by default): the waits above are floors, raised
   * to what the round trips measured from hello to digest need (digests, including late ones, are
   * timed), and rounds start no closer than one digest wait plus one response wait apart. The digest phase
   * also ends once a majority of the peers asked have answered, the response phase once every requested
   * item has come. Same messages.
   */
  followRtt?: boolean;
}

/**
 * Options of a pull engine. An absent timing takes its default; an explicit value (zero included)
 * is used as given (Fabric's "zero means default" is applied in config/, not here).
 * `pullIntervalMs` should exceed `digestWaitTimeMs + responseWaitTimeMs`, or a round's end clears
 * the nonces of the next round (as in Fabric); the engine logs a warning when it does not.
 */
export interface PullEngineOptions extends Partial<PullEngineConfig> {
  /** Time between the starts of two pull rounds (Fabric's `PullInterval`; core.yaml default 4s). */
  pullIntervalMs: number;
}

/** What a pull engine is built with. */
export interface PullEngineComponents {
  clock: Clock;
  random: Random;
  logger?: Logger;
}

/**
 * Fabric's `algo.PullEngine`: four-phase pull over a set of string item IDs.
 *
 * Initiator (every `pullIntervalMs`): hello with a fresh nonce to each selected peer; collect
 * digests for `digestWaitTimeMs`; request each missing item from one random owner; accept
 * responses for `responseWaitTimeMs`; end the round (forget nonces and owners).
 * Responder: answer a hello with a digest of the items that pass the filter (nothing when empty);
 * serve requests whose nonce came in a hello within `requestWaitTimeMs`.
 *
 * Messages are processed only while the engine is started; stop() cancels every timer.
 */
export interface PullEngine<C> {
  /** Starts the periodic pull rounds. Idempotent. */
  start(): Promise<void>;
  /** Cancels every timer, ends the round in progress and forgets incoming nonces. Idempotent. */
  stop(): Promise<void>;
  /** Adds items to the state (Fabric's `Add`). */
  add(...items: string[]): void;
  /** Removes items from the state (Fabric's `Remove`). */
  remove(...items: string[]): void;
  /** Whether the state holds `item`. */
  has(item: string): boolean;
  /** The items of the state, in insertion order. */
  state(): string[];
  /** Whether the initiator is in its digest-collecting phase. */
  readonly acceptingDigests: boolean;
  /** Whether the initiator is in its response-collecting phase. */
  readonly acceptingResponses: boolean;
  /**
   * Starts a pull round now, or as soon as the round in progress ends (several calls during one
   * round start one round); the periodic rounds then resume a full `pullIntervalMs` after it, so
   * rounds never overlap. Ignored while stopped. Not in Fabric: the block puller's opt-in gap
   * trigger (fabric-gossip's `peer.gossip.blockPullInterval`); Fabric only pulls on its timer.
   */
  triggerPull(): void;
  /** A hello arrived: remember the nonce for `requestWaitTimeMs` and answer with a digest. */
  onHello(nonce: bigint, context: C): void;
  /** A digest arrived: record the senders of items we lack (only while collecting, with our nonce). */
  onDigest(digest: string[], nonce: bigint, context: C): void;
  /** A request arrived: serve the items we hold that pass the filter, if the nonce is still honoured. */
  onReq(items: string[], nonce: bigint, context: C): void;
  /**
   * A response arrived: add its items if the nonce is one of ours and responses are being
   * accepted. Returns whether the response was accepted.
   */
  onRes(items: string[], nonce: bigint): boolean;
}
