import type { PeerIdentityType, PKIidType } from "../api/index.js";
import type { GossipMessage } from "../protos/gen/gossip/message.pb.js";
import type { SignedGossipMessage } from "./signed-message.js";

/** The signed handshake a connection was authenticated with (Fabric's `protoext.AuthInfo`). */
export interface AuthInfo {
  /** The exact payload bytes of the remote ConnEstablish envelope. */
  signedData: Uint8Array;
  signature: Uint8Array;
}

/** Who sent a message, as the handshake established it (Fabric's `protoext.ConnectionInfo`). */
export interface ConnectionInfo {
  id: PKIidType;
  identity: PeerIdentityType;
  /** The remote address of the connection. */
  endpoint: string;
  auth: AuthInfo | undefined;
}

/** A message received from a peer (Fabric's `protoext.ReceivedMessage`). */
export interface ReceivedMessage {
  readonly message: SignedGossipMessage;
  readonly connectionInfo: ConnectionInfo;
  /** Sends `msg` (NoopSigned) back to the sender on the same connection. */
  respond(msg: GossipMessage): void;
  /** Acknowledges the message to a SendWithAck sender; an error makes it a NACK. */
  ack(err?: Error): void;
}
