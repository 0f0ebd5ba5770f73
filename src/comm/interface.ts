import type { PeerIdentityType, PKIidType, RemotePeer } from "../api/index.js";
import type { ReceivedMessage, SignedGossipMessage } from "../protoext/index.js";

/**
 * How a frame read off a connection becomes a message: `SignedGossipMessage.fromEnvelopeBytes`, or
 * anything that gives the same message for the same bytes and throws as it does on bytes it cannot
 * decode (the simulator's decodes a frame once for every peer it reaches: src/sim/shared-decoder.ts).
 */
export type FrameDecoder = (bytes: Uint8Array) => SignedGossipMessage;

/** Selects the received messages a subscriber wants (Fabric's `common.MessageAcceptor`). */
export type MessageAcceptor = (msg: ReceivedMessage) => boolean;

/** Outcome of sending to one peer with an ack (Fabric's `comm.SendResult`). */
export interface SendResult {
  peer: RemotePeer;
  /** Empty when the peer acknowledged; otherwise why not (NACK text, timeout, send failure). */
  error: string;
}

/** Fabric's `comm.AggregatedSendResult`. */
export interface AggregatedSendResult {
  results: SendResult[];
  ackCount: number;
  nackCount: number;
}

/** What a Comm holds open at one moment. */
export interface CommStats {
  /** Gossip connections, one per remote PKI-ID. */
  connections: number;
  /** Dials under way. */
  dialing: number;
  /** Accepted streams still in their handshake. */
  pendingHandshakes: number;
  /** PKI-IDs and addresses refused at this moment after too many offences. */
  refused: number;
}

/**
 * Fabric's `comm.Comm`: authenticated point-to-point messaging between peers. One connection per
 * remote PKI-ID; every message is an Envelope; the first one each way is a signed ConnEstablish.
 */
export interface Comm {
  /** This peer's PKI-ID. */
  getPKIid(): PKIidType;
  /**
   * Sends `msg` to each peer without waiting. A full send queue drops the message (counted); a
   * failed send or dial marks the peer presumed dead.
   */
  send(msg: SignedGossipMessage, ...peers: RemotePeer[]): void;
  /**
   * Sends `msg` with a fresh nonce to `peers` and resolves once `minAck` of them acknowledged, or
   * every peer answered or timed out after `timeoutMs`.
   */
  sendWithAck(msg: SignedGossipMessage, timeoutMs: number, minAck: number, ...peers: RemotePeer[]): Promise<AggregatedSendResult>;
  /**
   * Sends `msg` to `peer` without dropping it: resolves once the transport took it, rejects when the
   * peer cannot be reached. For bulk transfers that must lose nothing (benchmarks, state transfer).
   * Not in Fabric's Comm.
   */
  sendAndWait(msg: SignedGossipMessage, peer: RemotePeer): Promise<void>;
  /** Dials and pings `peer` without a gossip handshake; rejects when it is unreachable. */
  probe(peer: RemotePeer): Promise<void>;
  /**
   * Dials `peer`, runs a probe handshake (the remote side does not register it), and returns the
   * identity it proved. When `peer.pkiId` is non-empty it must match.
   */
  handshake(peer: RemotePeer): Promise<PeerIdentityType>;
  /** Delivers every received message that `acceptor` selects to `handler`. Returns an unsubscribe. */
  accept(acceptor: MessageAcceptor, handler: (msg: ReceivedMessage) => void): () => void;
  /**
   * Calls `listener` with the PKI-ID of each peer presumed dead, and the endpoint that failed when we had
   * dialled it (undefined for a stream the peer dialled). Returns an unsubscribe.
   */
  onPresumedDead(listener: (pkiId: PKIidType, endpoint?: string) => void): () => void;
  /**
   * Calls `listener` with the old PKI-ID when a peer reconnects with a new identity of the same org,
   * or when an identity is purged. Returns an unsubscribe.
   */
  onIdentitySwitch(listener: (oldPkiId: PKIidType) => void): () => void;
  /** Closes the connection to `peer`, if any. */
  closeConn(peer: RemotePeer): void;
  /** Reports `pkiId` as switched (the identity mapper purged it): listeners hear it, the connection closes. */
  identitySwitched(pkiId: PKIidType): void;
  /** The PKI-IDs this peer has an open connection with. */
  connectedPeers(): PKIidType[];
  /**
   * Counts an offence against the peer that sent a message: one a component refused as forged or
   * invalid in a way an honest peer never sends (a bad signature on its own message, an illegal
   * tag, a spoofed request). Past CommOptions.misbehaviourLimit offences per window, its
   * connections close and its PKI-ID (and address) are refused for a while. Not in Fabric.
   */
  reportMisbehaviour(pkiId: PKIidType, code: string): void;
  /** Open connections and in-flight work, for tests and the admin view. */
  stats(): CommStats;
  start(): Promise<void>;
  /** Closes every connection and listener; idempotent. */
  stop(): Promise<void>;
}
