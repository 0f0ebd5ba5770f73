/**
 * PEM as Go's `encoding/pem` reads and writes it. The byte layout matters: a Fabric identity's
 * id_bytes is `pem.EncodeToMemory` of the certificate, and the PKI-ID hashes those bytes.
 */

/** One decoded PEM block. */
export interface PemBlock {
  type: string;
  der: Uint8Array;
}

/**
 * Go's `pem.EncodeToMemory(&pem.Block{Type, Bytes})`: BEGIN line, base64 in 64-character lines,
 * END line, each ending in "\n".
 */
export function encodePem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  let body = "";
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${type}-----\n${body}-----END ${type}-----\n`;
}

const BLOCK_RE = /(?:^|\n)-----BEGIN ([^\n]*?)-----[ \t\r]*\n([\s\S]*?)\n-----END ([^\n]*?)-----[ \t\r]*(?:\n|$)/g;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Go's `pem.Decode`: the first well-formed block and the text after its END line (empty when the END
 * line was the last, with or without its newline). Malformed blocks are skipped, as Go does.
 * Headers (Proc-Type and the like) are not supported: a block with them counts as malformed.
 */
export function decodePem(text: string): { block: PemBlock; rest: string } | undefined {
  BLOCK_RE.lastIndex = 0;
  for (let m = BLOCK_RE.exec(text); m !== null; m = BLOCK_RE.exec(text)) {
    const [whole, type, body, endType] = m;
    if (type === undefined || body === undefined || endType !== type) continue;
    const b64 = body.replace(/[ \t\r\n]/g, "");
    if (!BASE64_RE.test(b64) || b64.length % 4 !== 0) continue;
    return {
      block: { type, der: new Uint8Array(Buffer.from(b64, "base64")) },
      rest: text.slice(m.index + whole.length),
    };
  }
  return undefined;
}

/** Every well-formed block in `text`, in order. */
export function decodeAllPem(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  let rest = text;
  for (let d = decodePem(rest); d !== undefined; d = decodePem(rest)) {
    out.push(d.block);
    rest = d.rest;
  }
  return out;
}
