import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { errorMessage, GossipError } from "../../util/index.js";

/**
 * Why TLS material could not be loaded:
 * - TLS_FILE: a file cannot be read.
 * - TLS_CERT: a certificate file holds no PEM certificate.
 * - TLS_KEY: the key file holds no PEM private key.
 * - TLS_KEY_MISMATCH: the private key is not the key of the certificate.
 */
export type TlsMaterialErrorCode = "TLS_FILE" | "TLS_CERT" | "TLS_KEY" | "TLS_KEY_MISMATCH";

/** TLS material that cannot be used; the message starts with the flag or configuration key that named the file. */
export class TlsMaterialError extends GossipError {
  declare readonly code: TlsMaterialErrorCode;

  constructor(code: TlsMaterialErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A file, and what named it (a flag such as "--tls-key", or a key such as "peer.tls.key.file"): errors say so. */
export interface NamedFile {
  file: string;
  what: string;
}

/** Where a TLS identity and its trusted CAs come from. */
export interface TlsMaterialSource {
  cert: NamedFile;
  key: NamedFile;
  /** CA certificate files, concatenated in order into `rootCAs`. */
  cas: readonly NamedFile[];
}

/** PEM material ready for a gRPC server or client (GrpcTlsOptions and the orderer's TLS options take it as is). */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** The CA certificates, concatenated; absent when no CA file was given. */
  rootCAs?: Buffer;
}

/**
 * Reads a TLS certificate, its private key and CA certificates, and checks them: each certificate
 * parses, the key parses and is the certificate's key (a mismatch otherwise shows up only as a
 * handshake failure on the first connection, blamed on the listen address).
 * @throws TlsMaterialError whose message names the flag or key (`what`) and file at fault.
 */
export async function loadTlsMaterial(src: TlsMaterialSource): Promise<TlsMaterial> {
  const { pem: cert, x509 } = await readCertificate(src.cert);
  const key = await readNamed(src.key);
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch (err) {
    throw new TlsMaterialError("TLS_KEY", `${src.key.what} ${src.key.file}: not a PEM private key: ${errorMessage(err)}`, { cause: err });
  }
  if (!matches) {
    throw new TlsMaterialError(
      "TLS_KEY_MISMATCH",
      `${src.key.what} does not match ${src.cert.what}: the private key in ${src.key.file} is not the key of the certificate in ${src.cert.file}`,
    );
  }
  if (src.cas.length === 0) return { cert, key };
  const roots: Buffer[] = [];
  for (const ca of src.cas) roots.push((await readCertificate(ca)).pem, Buffer.from("\n"));
  return { cert, key, rootCAs: Buffer.concat(roots) };
}

async function readNamed(f: NamedFile): Promise<Buffer> {
  try {
    return await readFile(f.file);
  } catch (err) {
    throw new TlsMaterialError("TLS_FILE", `${f.what} ${f.file}: cannot read the file: ${errorMessage(err)}`, { cause: err });
  }
}

async function readCertificate(f: NamedFile): Promise<{ pem: Buffer; x509: X509Certificate }> {
  const pem = await readNamed(f);
  try {
    return { pem, x509: new X509Certificate(pem) };
  } catch (err) {
    throw new TlsMaterialError("TLS_CERT", `${f.what} ${f.file}: not a PEM certificate: ${errorMessage(err)}`, { cause: err });
  }
}
