/**
 * gRPC (de)serializers that pass protobuf messages through as bytes: envelopes and blocks are
 * encoded and decoded by our codecs, and kept byte for byte, never re-encoded by gRPC.
 */
export const passBytes = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Plain Uint8Array views (no copy): a Buffer's slice() aliases where Uint8Array's copies. */
export const takeBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
