import { createHash, X509Certificate } from "node:crypto";
import { checkServerIdentity, type PeerCertificate, type TLSSocket } from "node:tls";
import * as grpc from "@grpc/grpc-js";

/** PEM material to dial a gRPC server over TLS; mutual TLS when `cert` and `key` are given. */
export interface ClientTlsMaterial {
  /** CA certificates (PEM, concatenated) the server's certificate must chain to. */
  rootCAs: string | Uint8Array;
  /** Our client certificate and its key (PEM). */
  cert?: string | Uint8Array | undefined;
  key?: string | Uint8Array | undefined;
  /** Name the server's certificate must carry, instead of the endpoint's host. */
  serverNameOverride?: string | undefined;
}

/** The host of "host:port" or "[v6]:port", without brackets. */
export function endpointHost(endpoint: string): string {
  return endpoint.slice(0, endpoint.lastIndexOf(":")).replace(/^\[|\]$/g, "");
}

/**
 * Channel credentials to dial `endpoint`: plaintext without `tls`; otherwise TLS checking the
 * server's certificate against `serverNameOverride` or the endpoint's host, with our client pair
 * when given. Sets `grpc.ssl_target_name_override` in `options`: Node warns (DEP0123) when the TLS
 * servername is an IP address, so "localhost" goes as SNI and the name is checked here instead.
 */
export function clientCredentials(endpoint: string, tls: ClientTlsMaterial | undefined, options: grpc.ChannelOptions): grpc.ChannelCredentials {
  if (tls === undefined) return grpc.credentials.createInsecure();
  const expectedName = tls.serverNameOverride ?? endpointHost(endpoint);
  options["grpc.ssl_target_name_override"] = "localhost";
  const key = tls.key !== undefined ? Buffer.from(tls.key) : null;
  const cert = tls.cert !== undefined ? Buffer.from(tls.cert) : null;
  return grpc.credentials.createSsl(Buffer.from(tls.rootCAs), key, cert, {
    checkServerIdentity: (_name: string, peerCert: PeerCertificate) => checkServerIdentity(expectedName, peerCert),
  });
}

/** SHA-256 of a PEM certificate's DER bytes: the TLS certificate hash Fabric binds messages to. */
export function certHashOfPem(pem: string | Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(new X509Certificate(Buffer.from(pem)).raw).digest());
}

/** SHA-256 of a presented certificate's DER bytes (undefined: none presented). */
export function derCertHash(raw: Buffer | undefined): Uint8Array | undefined {
  return raw === undefined ? undefined : new Uint8Array(createHash("sha256").update(raw).digest());
}

/** SHA-256 of the TLS certificate the other side of a grpc-js `call` presented; undefined without one. */
export function peerCertHash(call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null }): Uint8Array | undefined {
  return derCertHash(call.getAuthContext()?.sslPeerCertificate?.raw);
}

/** SHA-256 of the certificate the other end of a TLS socket presented; undefined without TLS or certificate. */
export function socketCertHash(socket: TLSSocket | undefined): Uint8Array | undefined {
  if (socket === undefined || typeof socket.getPeerCertificate !== "function") return undefined;
  return derCertHash(socket.getPeerCertificate().raw as Buffer | undefined);
}
