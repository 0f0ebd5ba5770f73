export { SignedGossipMessage } from "./signed-message.js";
export type { AuthInfo, ConnectionInfo, ReceivedMessage } from "./received-message.js";
export { MessageError } from "./errors.js";
