import assert from "node:assert/strict";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { diagnoseTlsDial, formatTlsDiagnosis, type TlsDiagnosisOptions } from "../../../src/comm/grpc/tls-diagnosis.js";
import { type CaMaterial, createCa, type IssuedMaterial, issueCertificate } from "../../../src/crypto/index.js";
import { GrpcTransport } from "../../../src/comm/grpc/index.js";
import { MemoryLogger } from "../../../src/logging/index.js";
import { SystemClock } from "../../../src/util/index.js";
import { freePort } from "../../utils/net.js";

/**
 * The dial diagnosis against real servers on 127.0.0.1: gRPC servers (@grpc/grpc-js, as peers and
 * orderers serve) with TLS material made here, a silent TCP listener, and a port nobody listens on.
 * Each cause a gRPC dial reports only as "Failed to connect before the deadline" gets its own code.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

interface Pki {
  ca: CaMaterial;
  otherCa: CaMaterial;
  good: IssuedMaterial;
  expired: IssuedMaterial;
  future: IssuedMaterial;
  otherName: IssuedMaterial;
  unknown: IssuedMaterial;
  client: IssuedMaterial;
  outsider: IssuedMaterial;
}

async function makePki(): Promise<Pki> {
  const now = Date.now();
  const ca = await createCa({ commonName: "tlsca.org1.example.com", organization: "org1.example.com" });
  const otherCa = await createCa({ commonName: "tlsca.org9.example.com", organization: "org9.example.com" });
  const local = { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], kind: "tls" as const };
  return {
    ca,
    otherCa,
    good: await issueCertificate({ ca, commonName: "peer0.org1.example.com", ...local }),
    expired: await issueCertificate({ ca, commonName: "peer0.org1.example.com", ...local, notBefore: new Date(now - 3 * DAY_MS), notAfter: new Date(now - DAY_MS) }),
    future: await issueCertificate({ ca, commonName: "peer0.org1.example.com", ...local, notBefore: new Date(now + DAY_MS), notAfter: new Date(now + 3 * DAY_MS) }),
    otherName: await issueCertificate({ ca, commonName: "peer9.org1.example.com", kind: "tls", dnsNames: ["peer9.org1.example.com"] }),
    unknown: await issueCertificate({ ca: otherCa, commonName: "peer0.org9.example.com", ...local }),
    client: await issueCertificate({ ca, commonName: "peer1.org1.example.com", ...local }),
    outsider: await issueCertificate({ ca: otherCa, commonName: "peer1.org9.example.com", ...local }),
  };
}

/** A gRPC server with no services (it still answers HTTP/2): TLS with `pair`, or plaintext. */
async function grpcServer(tls: { pair: IssuedMaterial; clientCa?: CaMaterial } | undefined): Promise<{ endpoint: string; server: grpc.Server }> {
  const server = new grpc.Server();
  const creds =
    tls === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(
          tls.clientCa === undefined ? null : Buffer.from(tls.clientCa.certPem),
          [{ private_key: Buffer.from(tls.pair.keyPem), cert_chain: Buffer.from(tls.pair.certPem) }],
          tls.clientCa !== undefined,
        );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", creds, (err, p) => (err ? reject(err) : resolve(p))));
  return { endpoint: `127.0.0.1:${port}`, server };
}

describe("diagnoseTlsDial", { timeout: 60_000 }, () => {
  let pki: Pki;
  const servers: grpc.Server[] = [];
  const serve = async (tls: { pair: IssuedMaterial; clientCa?: CaMaterial } | undefined): Promise<string> => {
    const s = await grpcServer(tls);
    servers.push(s.server);
    return s.endpoint;
  };
  const trusting = (extra: Partial<NonNullable<TlsDiagnosisOptions["tls"]>> = {}): TlsDiagnosisOptions => ({
    tls: { rootCAs: pki.ca.certPem, cert: pki.client.certPem, key: pki.client.keyPem, ...extra },
    timeoutMs: 3_000,
  });

  before(async () => {
    pki = await makePki();
  });

  after(() => {
    for (const s of servers) s.forceShutdown();
  });

  it("OK: mutual TLS with the right CA, a valid certificate for the dialed name, and a client pair the server trusts", async () => {
    const endpoint = await serve({ pair: pki.good, clientCa: pki.ca });
    const d = await diagnoseTlsDial(endpoint, trusting());
    assert.equal(d.code, "OK", formatTlsDiagnosis(d));
    assert.equal(d.serverCertificate?.subject.includes("CN=peer0.org1.example.com"), true);
    assert.deepEqual(d.serverCertificate?.names, ["localhost", "127.0.0.1"]);
  });

  it("OK in plaintext against a plaintext server", async () => {
    const endpoint = await serve(undefined);
    const d = await diagnoseTlsDial(endpoint, { timeoutMs: 3_000 });
    assert.equal(d.code, "OK", formatTlsDiagnosis(d));
  });

  it("UNKNOWN_AUTHORITY: the server's certificate is of a CA not trusted, named by its issuer", async () => {
    const endpoint = await serve({ pair: pki.unknown });
    const d = await diagnoseTlsDial(endpoint, { ...trusting(), what: "orderer" });
    assert.equal(d.code, "UNKNOWN_AUTHORITY", formatTlsDiagnosis(d));
    assert.match(d.detail ?? "", /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
    assert.match(d.cause, /orderer's TLS certificate \(issued by tlsca\.org9\.example\.com\) is not signed by a CA this side trusts/);
    assert.match(d.fix, /TLS CA/);
  });

  it("CERT_EXPIRED: the server's certificate expired, with the date", async () => {
    const endpoint = await serve({ pair: pki.expired });
    const d = await diagnoseTlsDial(endpoint, trusting());
    assert.equal(d.code, "CERT_EXPIRED", formatTlsDiagnosis(d));
    assert.equal(d.detail, "CERT_HAS_EXPIRED");
    assert.match(d.cause, /expired on \d{4}-\d\d-\d\dT/);
  });

  it("CERT_NOT_YET_VALID: the server's certificate starts tomorrow", async () => {
    const endpoint = await serve({ pair: pki.future });
    const d = await diagnoseTlsDial(endpoint, trusting());
    assert.equal(d.code, "CERT_NOT_YET_VALID", formatTlsDiagnosis(d));
    assert.match(d.fix, /clocks/);
  });

  it("NAME_MISMATCH: the certificate names another host; a server name override it carries passes", async () => {
    const endpoint = await serve({ pair: pki.otherName });
    const d = await diagnoseTlsDial(endpoint, trusting());
    assert.equal(d.code, "NAME_MISMATCH", formatTlsDiagnosis(d));
    assert.match(d.cause, /is for peer9\.org1\.example\.com, not 127\.0\.0\.1/);
    const overridden = await diagnoseTlsDial(endpoint, trusting({ serverNameOverride: "peer9.org1.example.com" }));
    assert.equal(overridden.code, "OK", formatTlsDiagnosis(overridden));
  });

  it("PLAINTEXT_SERVER: dialing with TLS a server that speaks HTTP/2 in clear", async () => {
    const endpoint = await serve(undefined);
    const d = await diagnoseTlsDial(endpoint, trusting());
    assert.equal(d.code, "PLAINTEXT_SERVER", formatTlsDiagnosis(d));
    assert.match(d.cause, /speaks plaintext gRPC/);
  });

  it("TLS_SERVER: dialing in plaintext a server that speaks TLS", async () => {
    const endpoint = await serve({ pair: pki.good, clientCa: pki.ca });
    const d = await diagnoseTlsDial(endpoint, { timeoutMs: 3_000, what: "bootstrap peer" });
    assert.equal(d.code, "TLS_SERVER", formatTlsDiagnosis(d));
    assert.match(d.cause, /bootstrap peer at .* speaks TLS, and this side dialed it in plaintext/);
  });

  it("CLIENT_CERT_REQUIRED: the server requires mutual TLS and no client pair is given", async () => {
    const endpoint = await serve({ pair: pki.good, clientCa: pki.ca });
    const d = await diagnoseTlsDial(endpoint, { tls: { rootCAs: pki.ca.certPem }, timeoutMs: 3_000 });
    assert.equal(d.code, "CLIENT_CERT_REQUIRED", formatTlsDiagnosis(d));
  });

  it("CLIENT_CERT_REJECTED: the client certificate is of a CA the server does not trust", async () => {
    const endpoint = await serve({ pair: pki.good, clientCa: pki.ca });
    const d = await diagnoseTlsDial(endpoint, trusting({ cert: pki.outsider.certPem, key: pki.outsider.keyPem }));
    assert.equal(d.code, "CLIENT_CERT_REJECTED", formatTlsDiagnosis(d));
    assert.match(d.detail ?? "", /UNKNOWN_CA|BAD_CERTIFICATE|closed/i);
  });

  it("CONNECTION_REFUSED: nothing listens", async () => {
    const port = await freePort();
    const d = await diagnoseTlsDial(`127.0.0.1:${port}`, trusting());
    assert.equal(d.code, "CONNECTION_REFUSED", formatTlsDiagnosis(d));
    assert.equal(d.detail, "ECONNREFUSED");
  });

  it("TIMEOUT: a listener that accepts and never speaks; the diagnosis keeps to its time bound", async () => {
    const sockets: Socket[] = [];
    const silent: NetServer = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const d = await diagnoseTlsDial(`127.0.0.1:${port}`, { ...trusting(), timeoutMs: 500 });
      assert.equal(d.code, "TIMEOUT", formatTlsDiagnosis(d));
      assert.ok(Date.now() - started < 2_000, "bounded by timeoutMs");
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it("bad input gives a diagnosis, not an exception", async () => {
    for (const endpoint of ["", "nohost", "127.0.0.1:0", "127.0.0.1:99999", ":7051"]) {
      const d = await diagnoseTlsDial(endpoint, trusting());
      assert.equal(d.code, "UNREACHABLE", endpoint);
    }
  });

  it("formatTlsDiagnosis: cause, code and low-level word, then what to do", () => {
    const line = formatTlsDiagnosis({ endpoint: "a:1", code: "CERT_EXPIRED", cause: "the server's TLS certificate expired", fix: "renew it", detail: "CERT_HAS_EXPIRED" });
    assert.equal(line, "the server's TLS certificate expired [CERT_EXPIRED: CERT_HAS_EXPIRED]; renew it");
    assert.equal(formatTlsDiagnosis({ endpoint: "a:1", code: "OK", cause: "fine", fix: "" }), "fine");
  });
});

describe("a GrpcTransport's failed dial", () => {
  it("logs the cause the diagnosis finds (a TLS dial to a plaintext server), and close waits for a diagnosis in flight", async () => {
    const pki = await makePki();
    const plain = await grpcServer(undefined);
    const logger = new MemoryLogger();
    const transport = new GrpcTransport({
      listenAddress: "127.0.0.1:0",
      logger,
      clock: new SystemClock(),
      tls: { cert: pki.client.certPem, key: pki.client.keyPem, rootCAs: pki.ca.certPem },
    });
    try {
      await assert.rejects(transport.ping(plain.endpoint, 500, 500), /cannot connect/);
      await assert.rejects(transport.ping(plain.endpoint, 500, 500), /cannot connect/);
      await transport.close();
      const lines = logger.lines.filter((l) => l.level === "warn" && l.msg.startsWith(`cannot connect to ${plain.endpoint}`));
      assert.ok(lines.length >= 1, JSON.stringify(logger.lines));
      assert.ok(lines.every((l) => l.fields["cause"] === "PLAINTEXT_SERVER"), JSON.stringify(lines));
      const settled = logger.lines.length;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(logger.lines.length, settled, "nothing logged after close: the diagnoses ended with it");
    } finally {
      await transport.close();
      plain.server.forceShutdown();
    }
  });
});
