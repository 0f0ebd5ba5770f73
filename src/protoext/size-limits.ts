/**
 * Fabric's default for both `peer.maxRecvMsgSize` and `peer.maxSendMsgSize`: 100 MiB
 * (`comm.DefaultMaxRecvMsgSize`/`DefaultMaxSendMsgSize`). gRPC's own default is 4 MiB, which a
 * block with private data can exceed, so the limit must be set explicitly on both ends.
 */
export const DEFAULT_MAX_MESSAGE_SIZE_BYTES = 100 * 1024 * 1024;

/**
 * The effective limit for a configured value: Fabric's quirk that zero (or unset) means the default.
 * Throws RangeError for a value that is not a positive integer, so config validation catches it once.
 */
export function resolveMaxMessageSize(configured: number | undefined): number {
  if (configured === undefined || configured === 0) return DEFAULT_MAX_MESSAGE_SIZE_BYTES;
  if (!Number.isSafeInteger(configured) || configured < 0) {
    throw new RangeError(`maximum message size must be a positive whole number of bytes, got ${configured}`);
  }
  return configured;
}

/**
 * Checks a message (or its size) against `limit`: undefined when it fits, else the reason. Never throws,
 * so the receive path can turn an oversized message into a reject with a metric label.
 */
export function checkSize(message: Uint8Array | number, limit: number = DEFAULT_MAX_MESSAGE_SIZE_BYTES): string | undefined {
  const size = typeof message === "number" ? message : message.byteLength;
  if (size <= limit) return undefined;
  return `message of ${size} bytes exceeds the maximum of ${limit} bytes (peer.maxRecvMsgSize / peer.maxSendMsgSize)`;
}
