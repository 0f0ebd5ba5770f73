const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  // PKI-IDs are hexed on every routing decision: for short arrays a table beats making a Buffer view.
  if (bytes.byteLength <= 64) {
    let out = "";
    for (let i = 0; i < bytes.byteLength; i++) out += HEX[bytes[i]!]!;
    return out;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Bytes of a hex string. */
export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}

/** Byte-wise equality. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  if (a.byteLength <= 64) {
    // Short arrays (PKI-IDs, hashes): a plain loop is cheaper than a Buffer view and a native call.
    for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** Lexicographic comparison, as Go's bytes.Compare. */
export function bytesCompare(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** The string of UTF-8 bytes. */
export function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}
