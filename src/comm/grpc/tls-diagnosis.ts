import { isIP, type Socket, connect as tcpConnect } from "node:net";
import { checkServerIdentity, connect as tlsConnect, type DetailedPeerCertificate, type TLSSocket } from "node:tls";
import { endpointHost } from "./credentials.js";

/**
 * Why a gRPC dial failed, as `diagnoseTlsDial` tells it (gRPC itself says only "Failed to connect
 * before the deadline"):
 * - OK: the server accepted the connection and answered HTTP/2 (the dial failure was elsewhere, or passing).
 * - UNKNOWN_AUTHORITY: the server's certificate does not chain to a trusted CA.
 * - CERT_EXPIRED / CERT_NOT_YET_VALID: the server's certificate is outside its validity period.
 * - NAME_MISMATCH: the server's certificate does not carry the dialed host (or the server name override).
 * - PLAINTEXT_SERVER: we dialed TLS; the server speaks HTTP/2 in clear.
 * - TLS_SERVER: we dialed plaintext; the server speaks TLS.
 * - CLIENT_CERT_REQUIRED: the server requires a client certificate and none was given.
 * - CLIENT_CERT_REJECTED: the server refused the client certificate we presented.
 * - CONNECTION_REFUSED: nothing listens there.
 * - UNREACHABLE: the host does not resolve or cannot be routed to.
 * - TIMEOUT: no answer in time (a firewall dropping packets, a stopped process, a server that never speaks).
 * - HANDSHAKE_FAILED: the TLS handshake failed for another reason (`detail` has OpenSSL's word).
 * - NOT_HTTP2: the connection works, but the server does not speak HTTP/2 (not a gRPC server).
 */
export type TlsDiagnosisCode =
  | "OK"
  | "UNKNOWN_AUTHORITY"
  | "CERT_EXPIRED"
  | "CERT_NOT_YET_VALID"
  | "NAME_MISMATCH"
  | "PLAINTEXT_SERVER"
  | "TLS_SERVER"
  | "CLIENT_CERT_REQUIRED"
  | "CLIENT_CERT_REJECTED"
  | "CONNECTION_REFUSED"
  | "UNREACHABLE"
  | "TIMEOUT"
  | "HANDSHAKE_FAILED"
  | "NOT_HTTP2";

/** The server's certificate as the diagnosis saw it. */
export interface ServerCertificateSummary {
  subject: string;
  issuer: string;
  /** ISO 8601. */
  validFrom: string;
  validTo: string;
  /** The DNS names and IP addresses of the subjectAltName. */
  names: string[];
  /** The certificate itself (PEM): to tell which org's CA issued it. */
  pem: string;
}

/** What `diagnoseTlsDial` found. */
export interface TlsDiagnosis {
  endpoint: string;
  code: TlsDiagnosisCode;
  /** One sentence saying what is wrong (or that the connection works). */
  cause: string;
  /** What to do about it ("" when OK). */
  fix: string;
  /** The low-level word: an OpenSSL verification code or alert, an errno. */
  detail?: string;
  /** When the handshake got as far as the server's certificate. */
  serverCertificate?: ServerCertificateSummary;
}

/** The same material the dial used: plaintext without `tls` (see `ClientTlsMaterial`). */
export interface TlsDiagnosisOptions {
  tls?:
    | {
        rootCAs: string | Uint8Array;
        cert?: string | Uint8Array | undefined;
        key?: string | Uint8Array | undefined;
        serverNameOverride?: string | undefined;
      }
    | undefined;
  /** Bound on the whole diagnosis. Default `DEFAULT_TLS_DIAGNOSIS_TIMEOUT_MS`. */
  timeoutMs?: number;
  /** What the server is, in sentences ("orderer", "bootstrap peer"). Default "server". */
  what?: string;
  /** Ends the diagnosis early (it then reports TIMEOUT). */
  signal?: AbortSignal;
  /** "Now" for validity messages. Default Date.now. */
  now?: () => number;
}

/** How long a diagnosis may take, by default. */
export const DEFAULT_TLS_DIAGNOSIS_TIMEOUT_MS = 3_000;

/** HTTP/2's client connection preface and an empty SETTINGS frame: what a gRPC client sends first. */
const H2_PREFACE = Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
/** HTTP/2 frame type SETTINGS: every HTTP/2 server's first frame. */
const H2_SETTINGS = 4;

/** OpenSSL's verification codes for a chain that does not end at a trusted CA. */
const UNKNOWN_AUTHORITY_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_CHAIN_TOO_LONG",
]);

/** Errors that mean "the bytes that came back are not TLS" (or the server hung up on our ClientHello). */
const NOT_TLS_ERRORS = /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|UNKNOWN_PROTOCOL|HTTP_REQUEST|RECORD_LAYER_FAILURE|ECONNRESET|EPIPE|socket disconnected/i;

type Deadline = { at: number; signal: AbortSignal | undefined };

function remaining(d: Deadline): number {
  return Math.max(0, d.at - Date.now());
}

function errCode(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return typeof e.code === "string" ? e.code : typeof e.message === "string" ? e.message : String(err);
}

/** The port of "host:port"; NaN when there is none. */
function endpointPort(endpoint: string): number {
  const i = endpoint.lastIndexOf(":");
  return i < 0 ? Number.NaN : Number(endpoint.slice(i + 1));
}

type TcpResult = { ok: true } | { ok: false; code: "CONNECTION_REFUSED" | "UNREACHABLE" | "TIMEOUT"; detail: string };

/** Whether something accepts TCP connections there. */
function probeTcp(host: string, port: number, d: Deadline): Promise<TcpResult> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const done = (r: TcpResult): void => {
      clearTimeout(timer);
      d.signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(r);
    };
    const onAbort = (): void => done({ ok: false, code: "TIMEOUT", detail: "aborted" });
    const timer = setTimeout(() => done({ ok: false, code: "TIMEOUT", detail: "no TCP connection" }), remaining(d));
    d.signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => done({ ok: true }));
    socket.once("error", (err) => {
      const code = errCode(err);
      if (code === "ECONNREFUSED") done({ ok: false, code: "CONNECTION_REFUSED", detail: code });
      else if (code === "ETIMEDOUT") done({ ok: false, code: "TIMEOUT", detail: code });
      else done({ ok: false, code: "UNREACHABLE", detail: code });
    });
  });
}

/** What came back after the HTTP/2 preface: a SETTINGS frame, other bytes, an error, a close, or nothing in time. */
type H2Answer = { kind: "settings" } | { kind: "other"; bytes: Buffer } | { kind: "error"; code: string } | { kind: "closed" } | { kind: "timeout" };

/** Sends the HTTP/2 preface on an open socket and waits for the server's first frame header. */
function awaitH2Answer(socket: Socket | TLSSocket, d: Deadline): Promise<H2Answer> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const done = (a: H2Answer): void => {
      clearTimeout(timer);
      d.signal?.removeEventListener("abort", onTimeout);
      socket.removeAllListeners("data");
      socket.destroy();
      resolve(a);
    };
    const onTimeout = (): void => done({ kind: "timeout" });
    const timer = setTimeout(onTimeout, remaining(d));
    d.signal?.addEventListener("abort", onTimeout, { once: true });
    socket.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 9) return;
      done(got[3] === H2_SETTINGS && got[0] === 0 ? { kind: "settings" } : { kind: "other", bytes: got.subarray(0, 16) });
    });
    socket.once("error", (err) => done({ kind: "error", code: errCode(err) }));
    socket.once("close", () => done(got.length > 0 ? { kind: "other", bytes: got } : { kind: "closed" }));
    socket.write(H2_PREFACE, () => {});
  });
}

/** Plain TCP, the HTTP/2 preface in clear: does an HTTP/2 server answer? */
function probeCleartextH2(host: string, port: number, d: Deadline): Promise<H2Answer> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ kind: "timeout" });
    }, remaining(d));
    socket.once("error", (err) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ kind: "error", code: errCode(err) });
    });
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(awaitH2Answer(socket, d));
    });
  });
}

/** The outcome of a TLS handshake with the dial's material, and what the server did next. */
type TlsProbe =
  | { kind: "handshake-error"; code: string }
  | { kind: "timeout" }
  | { kind: "connected"; authorizationError: string | undefined; cert: DetailedPeerCertificate | undefined; answer: H2Answer };

function probeTls(host: string, port: number, tls: TlsDiagnosisOptions["tls"], d: Deadline): Promise<TlsProbe> {
  return new Promise((resolve) => {
    const ca = tls === undefined || tls.rootCAs.length === 0 ? undefined : Buffer.from(tls.rootCAs);
    const sni = tls?.serverNameOverride ?? host;
    const socket = tlsConnect({
      host,
      port,
      // Node refuses an IP address as SNI (DEP0123); the name is checked below, as the dial checks it.
      ...(isIP(sni) === 0 ? { servername: sni } : {}),
      ...(ca !== undefined ? { ca } : {}),
      ...(tls?.cert !== undefined ? { cert: Buffer.from(tls.cert) } : {}),
      ...(tls?.key !== undefined ? { key: Buffer.from(tls.key) } : {}),
      ALPNProtocols: ["h2"],
      // Verified by hand below, so that the certificate can be described whatever is wrong with it.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    let settled = false;
    const finish = (p: TlsProbe): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(p);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish({ kind: "timeout" });
    }, remaining(d));
    socket.once("error", (err) => {
      socket.destroy();
      finish({ kind: "handshake-error", code: errCode(err) });
    });
    socket.once("close", () => finish({ kind: "handshake-error", code: "ECONNRESET" }));
    socket.once("secureConnect", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners("error");
      socket.removeAllListeners("close");
      const cert = socket.getPeerCertificate(true);
      const authorizationError = socket.authorized ? undefined : String(socket.authorizationError ?? "UNVERIFIED");
      // With TLS 1.3 the server judges our certificate after the handshake completes on our side: its verdict
      // (an alert, or a close) comes after we speak.
      void awaitH2Answer(socket, d).then((answer) =>
        resolve({ kind: "connected", authorizationError, cert: cert !== undefined && Object.keys(cert).length > 0 ? cert : undefined, answer }),
      );
    });
  });
}

function summarize(cert: DetailedPeerCertificate): ServerCertificateSummary {
  const names = (cert.subjectaltname ?? "")
    .split(",")
    .map((s) => s.trim().replace(/^(DNS|IP Address):/, ""))
    .filter((s) => s !== "");
  const dn = (o: Record<string, string | string[] | undefined> | undefined): string =>
    o === undefined
      ? ""
      : Object.entries(o)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("+") : v}`)
          .join(", ");
  return {
    subject: dn(cert.subject as unknown as Record<string, string>),
    issuer: dn(cert.issuer as unknown as Record<string, string>),
    validFrom: new Date(cert.valid_from).toISOString(),
    validTo: new Date(cert.valid_to).toISOString(),
    names,
    pem: `-----BEGIN CERTIFICATE-----\n${(cert.raw.toString("base64").match(/.{1,64}/g) ?? []).join("\n")}\n-----END CERTIFICATE-----\n`,
  };
}

/** The CN of a distinguished name as `summarize` writes it, or the whole name. */
function cnOf(dn: string): string {
  return /(?:^|, )CN=([^,]*)/.exec(dn)?.[1] ?? dn;
}

/**
 * Why a gRPC dial to `endpoint` fails, found by dialing it again with node:net and node:tls with the
 * same trust, client pair and server name: nothing listening, a timeout, a plaintext/TLS mismatch on
 * either side, a server certificate of an unknown authority, expired, not yet valid or for another
 * name, a client certificate required or refused. Never throws; bad input gives a diagnosis too.
 */
export async function diagnoseTlsDial(endpoint: string, options: TlsDiagnosisOptions = {}): Promise<TlsDiagnosis> {
  const what = options.what ?? "server";
  const now = options.now ?? Date.now;
  const d: Deadline = { at: Date.now() + (options.timeoutMs ?? DEFAULT_TLS_DIAGNOSIS_TIMEOUT_MS), signal: options.signal };
  const host = endpointHost(endpoint);
  const port = endpointPort(endpoint);
  const tls = options.tls;
  const result = (code: TlsDiagnosisCode, cause: string, fix: string, more: { detail?: string; cert?: DetailedPeerCertificate } = {}): TlsDiagnosis => ({
    endpoint,
    code,
    cause,
    fix,
    ...(more.detail !== undefined ? { detail: more.detail } : {}),
    ...(more.cert !== undefined ? { serverCertificate: summarize(more.cert) } : {}),
  });
  if (host === "" || !Number.isInteger(port) || port < 1 || port > 65_535) {
    return result("UNREACHABLE", `${endpoint} is not a host:port endpoint`, "give the endpoint as host:port, e.g. peer0.org1.example.com:7051");
  }
  const tcp = await probeTcp(host, port, d);
  if (!tcp.ok) {
    if (tcp.code === "CONNECTION_REFUSED") {
      return result("CONNECTION_REFUSED", `nothing listens on ${endpoint} (connection refused)`, `start the ${what}, or correct the endpoint (host and port)`, { detail: tcp.detail });
    }
    if (tcp.code === "TIMEOUT") {
      return result("TIMEOUT", `no TCP connection to ${endpoint} within the time allowed`, `check that the ${what} runs and that no firewall drops the traffic; check the endpoint`, {
        detail: tcp.detail,
      });
    }
    return result("UNREACHABLE", `cannot reach ${endpoint} (${tcp.detail})`, "check the host name (DNS) and the route to it", { detail: tcp.detail });
  }

  if (tls === undefined) {
    const answer = await probeCleartextH2(host, port, d);
    if (answer.kind === "settings") return result("OK", `${endpoint} answers HTTP/2 in plaintext`, "");
    const overTls = await probeTls(host, port, undefined, d);
    if (overTls.kind === "connected" || (overTls.kind === "handshake-error" && /ALERT|SSL|TLS/.test(overTls.code) && !NOT_TLS_ERRORS.test(overTls.code))) {
      return result(
        "TLS_SERVER",
        `the ${what} at ${endpoint} speaks TLS, and this side dialed it in plaintext`,
        "enable TLS on this side (peer.tls.enabled with its cert, key and root CAs, or --tls-cert/--tls-key/--tls-ca), or disable it on the other side: both ends must agree",
        { ...(overTls.kind === "connected" && overTls.cert !== undefined ? { cert: overTls.cert } : {}) },
      );
    }
    if (answer.kind === "timeout") return result("TIMEOUT", `${endpoint} accepted the connection but never answered HTTP/2`, `check that ${endpoint} is the ${what}'s gRPC port`);
    return result("NOT_HTTP2", `${endpoint} accepts connections but does not answer as a gRPC (HTTP/2) server`, `check that ${endpoint} is the ${what}'s gRPC port`, {
      detail: answer.kind === "error" ? answer.code : answer.kind,
    });
  }

  const probe = await probeTls(host, port, tls, d);
  if (probe.kind === "timeout") {
    return result("TIMEOUT", `${endpoint} accepted the connection but the TLS handshake did not complete in time`, `check that ${endpoint} is the ${what}'s gRPC port and that the ${what} is not overloaded`);
  }
  if (probe.kind === "handshake-error") {
    const code = probe.code;
    if (NOT_TLS_ERRORS.test(code)) {
      const clear = await probeCleartextH2(host, port, d);
      if (clear.kind === "settings") {
        return result(
          "PLAINTEXT_SERVER",
          `the ${what} at ${endpoint} speaks plaintext gRPC (HTTP/2 in clear), and this side dialed it with TLS`,
          `enable TLS on the ${what} (peer.tls.enabled, or its --tls-cert/--tls-key/--tls-ca), or disable it on this side: both ends must agree`,
          { detail: code },
        );
      }
    }
    if (/CERTIFICATE_REQUIRED/i.test(code) || (/HANDSHAKE_FAILURE/i.test(code) && tls.cert === undefined)) {
      return clientCertRequired(endpoint, what, result, code);
    }
    if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED|DECRYPT_ERROR)/i.test(code)) {
      return clientCertRejected(endpoint, what, result, code);
    }
    return result("HANDSHAKE_FAILED", `the TLS handshake with ${endpoint} failed (${code})`, `compare the TLS settings (versions, key types) of both sides`, { detail: code });
  }

  const cert = probe.cert;
  const certMore = cert === undefined ? {} : { cert };
  const auth = probe.authorizationError;
  if (auth !== undefined) {
    if (auth === "CERT_HAS_EXPIRED") {
      const to = cert === undefined ? "" : ` on ${new Date(cert.valid_to).toISOString()}`;
      return result(
        "CERT_EXPIRED",
        `the ${what}'s TLS certificate${cert === undefined ? "" : ` (${cnOf(summarize(cert).subject)})`} expired${to}`,
        certificateErrorFix(auth, what, endpoint) ?? "",
        { detail: auth, ...certMore },
      );
    }
    if (auth === "CERT_NOT_YET_VALID") {
      const from = cert === undefined ? "" : ` until ${new Date(cert.valid_from).toISOString()}`;
      return result(
        "CERT_NOT_YET_VALID",
        `the ${what}'s TLS certificate is not valid${from} (now ${new Date(now()).toISOString()})`,
        certificateErrorFix(auth, what, endpoint) ?? "",
        { detail: auth, ...certMore },
      );
    }
    if (UNKNOWN_AUTHORITY_CODES.has(auth) || auth === "UNVERIFIED") {
      const issuer = cert === undefined ? "" : ` (issued by ${cnOf(summarize(cert).issuer)})`;
      return result(
        "UNKNOWN_AUTHORITY",
        `the ${what}'s TLS certificate${issuer} is not signed by a CA this side trusts`,
        certificateErrorFix(auth, what, endpoint) ?? "",
        { detail: auth, ...certMore },
      );
    }
    return result("HANDSHAKE_FAILED", `the ${what}'s TLS certificate cannot be verified (${auth})`, `check the ${what}'s TLS certificate and this side's trusted CAs`, {
      detail: auth,
      ...certMore,
    });
  }
  const expected = tls.serverNameOverride ?? host;
  if (cert !== undefined) {
    const mismatch = checkServerIdentity(expected, cert);
    if (mismatch !== undefined) {
      const names = summarize(cert).names;
      return result(
        "NAME_MISMATCH",
        `the ${what}'s TLS certificate is for ${names.length > 0 ? names.join(", ") : cnOf(summarize(cert).subject)}, not ${expected}`,
        `dial the ${what} by a name its certificate carries, or reissue its certificate with ${expected} in its subjectAltName${tls.serverNameOverride === undefined ? " (or set the server name override)" : ""}`,
        { detail: (mismatch as Error & { code?: string }).code ?? "ERR_TLS_CERT_ALTNAME_INVALID", ...certMore },
      );
    }
  }
  const answer = probe.answer;
  if (answer.kind === "settings") return result("OK", `${endpoint} completes the TLS handshake and answers HTTP/2`, "", certMore);
  if (answer.kind === "error" && /CERTIFICATE_REQUIRED/i.test(answer.code)) return clientCertRequired(endpoint, what, result, answer.code, certMore);
  if (answer.kind === "error" && /ALERT/i.test(answer.code)) {
    return tls.cert === undefined ? clientCertRequired(endpoint, what, result, answer.code, certMore) : clientCertRejected(endpoint, what, result, answer.code, certMore);
  }
  if (answer.kind === "closed" || answer.kind === "error") {
    const detail = answer.kind === "error" ? answer.code : "closed after the handshake";
    return tls.cert === undefined
      ? clientCertRequired(endpoint, what, result, detail, certMore)
      : clientCertRejected(endpoint, what, result, detail, certMore);
  }
  if (answer.kind === "timeout") return result("TIMEOUT", `${endpoint} completed the TLS handshake but never answered HTTP/2`, `check that ${endpoint} is the ${what}'s gRPC port`, certMore);
  return result("NOT_HTTP2", `${endpoint} speaks TLS but does not answer as a gRPC (HTTP/2) server`, `check that ${endpoint} is the ${what}'s gRPC port`, certMore);
}

type MakeResult = (code: TlsDiagnosisCode, cause: string, fix: string, more?: { detail?: string; cert?: DetailedPeerCertificate }) => TlsDiagnosis;

function clientCertRequired(endpoint: string, what: string, result: MakeResult, detail: string, more: { cert?: DetailedPeerCertificate } = {}): TlsDiagnosis {
  return result(
    "CLIENT_CERT_REQUIRED",
    `the ${what} at ${endpoint} requires a TLS client certificate and this side presented none`,
    "give this side a TLS certificate and key (peer.tls.clientCert.file/clientKey.file, or the server pair; --tls-cert/--tls-key)",
    { detail, ...more },
  );
}

function clientCertRejected(endpoint: string, what: string, result: MakeResult, detail: string, more: { cert?: DetailedPeerCertificate } = {}): TlsDiagnosis {
  return result(
    "CLIENT_CERT_REJECTED",
    `the ${what} at ${endpoint} refused this side's TLS client certificate`,
    `add this org's TLS CA to the ${what}'s trusted client CAs (its channel configuration's tlscacerts, peer.tls.clientRootCAs.files), and check that the client certificate has not expired`,
    { detail, ...more },
  );
}

/**
 * What to do about a certificate error that Node's TLS reports by its code (`err.code`, or a socket's
 * `authorizationError`): an expired certificate, one not valid yet, one from a CA this side does not trust.
 * Undefined for other codes.
 */
export function certificateErrorFix(code: string, what: string, endpoint: string): string | undefined {
  if (code === "CERT_HAS_EXPIRED") return `renew the ${what}'s TLS certificate (server.crt) and restart it`;
  if (code === "CERT_NOT_YET_VALID") return "check the clocks of both hosts, or reissue the certificate with a validity starting now";
  if (UNKNOWN_AUTHORITY_CODES.has(code) || code === "UNVERIFIED") {
    return `add the TLS CA of the ${what}'s org to the trusted CAs (peer.tls.rootcert.file, --tls-ca, or the org's tlscacerts in the channel configuration), or check that ${endpoint} is the node you mean`;
  }
  return undefined;
}

/** One line: the cause, the low-level word in parentheses, then what to do. */
export function formatTlsDiagnosis(d: TlsDiagnosis): string {
  const detail = d.detail !== undefined && d.code !== "OK" ? ` [${d.code}: ${d.detail}]` : d.code !== "OK" ? ` [${d.code}]` : "";
  return d.fix === "" ? `${d.cause}${detail}` : `${d.cause}${detail}; ${d.fix}`;
}
