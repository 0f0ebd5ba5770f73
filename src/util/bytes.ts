/** ASCII codes of the two hex digits of each byte value, at 2 * value. */
const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const digits = i.toString(16).padStart(2, "0");
  HEX_CODES[2 * i] = digits.charCodeAt(0);
  HEX_CODES[2 * i + 1] = digits.charCodeAt(1);
}
const SHORT_HEX_MAX = 64;
const hexScratch = Buffer.alloc(2 * SHORT_HEX_MAX);

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  // PKI-IDs are hexed for map lookups on every routing decision. Digits written into a scratch buffer
  // and read as one latin1 string give a flat string, which a Map hashes at once; a string built by
  // concatenation is a rope the lookup must flatten first (about three times the cost in all).
  const n = bytes.byteLength;
  if (n <= SHORT_HEX_MAX) {
    for (let i = 0; i < n; i++) {
      const at = 2 * bytes[i]!;
      hexScratch[2 * i] = HEX_CODES[at]!;
      hexScratch[2 * i + 1] = HEX_CODES[at + 1]!;
    }
    return hexScratch.toString("latin1", 0, 2 * n);
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/**
 * `prefix` followed by the lower-case hex of `bytes`, as one flat string (a map key built with a
 * template literal is a rope the lookup must flatten first). `prefix` is a single ASCII character.
 */
export function prefixedHex(prefix: string, bytes: Uint8Array): string {
  const n = bytes.byteLength;
  if (n >= SHORT_HEX_MAX) return prefix + toHex(bytes);
  hexScratch[0] = prefix.charCodeAt(0);
  for (let i = 0; i < n; i++) {
    const at = 2 * bytes[i]!;
    hexScratch[2 * i + 1] = HEX_CODES[at]!;
    hexScratch[2 * i + 2] = HEX_CODES[at + 1]!;
  }
  return hexScratch.toString("latin1", 0, 2 * n + 1);
}

/** Bytes of a hex string. */
export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  if (a.byteLength <= 64) {
    // Short arrays (PKI-IDs, hashes): a plain loop is cheaper than a native call.
    for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  // Buffer.compare takes any Uint8Array: no Buffer view to allocate.
  return Buffer.compare(a, b) === 0;
}

/**
 * Whether `bytes` starts its buffer, as a copy does, rather than being a view into a received frame or
 * an encoder's shared slab (a PKI-ID or other field never starts one: a field follows its tag). Caches
 * keyed by array identity remember only such arrays: a view is most often a field of a message decoded
 * once, and remembering it fills a WeakMap with keys that die young, which makes every lookup and every
 * garbage collection slower. Only the offset is read: `.buffer` would move a small array's bytes off
 * V8's heap the first time it is asked for.
 */
export function startsBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0;
}

/** Lexicographic comparison, as Go's bytes.Compare. */
export function bytesCompare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The bytes as a latin1 string, one character per byte: a cheap Map key for binary values (no copy of the bytes). */
export function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** The string of UTF-8 bytes. */
export function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}
