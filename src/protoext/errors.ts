import { GossipError } from "../util/index.js";

/** A message that cannot be decoded, is too large, is unsigned where it must be signed, or whose signature fails. */
export class MessageError extends GossipError {}
