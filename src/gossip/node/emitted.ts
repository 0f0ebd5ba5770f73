import type { PKIidType } from "../../api/index.js";
import type { SignedGossipMessage } from "../../protoext/index.js";

/** A message waiting in the emitter, with the peers it must not go back to (Fabric's emittedGossipMessage). */
export interface EmittedMessage {
  msg: SignedGossipMessage;
  /** False for a peer the message must not be sent to (its sender). */
  filter: (pkiId: PKIidType) => boolean;
}

export const SEND_TO_ALL = (): boolean => true;
