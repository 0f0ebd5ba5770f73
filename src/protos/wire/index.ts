export { BinaryReader } from "./reader.js";
export { BinaryWriter } from "./writer.js";

/**
 * The value of every empty `bytes` field the generated codecs make: one shared zero-length array (it
 * cannot be written to), instead of a new one per field per decoded message.
 */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);
