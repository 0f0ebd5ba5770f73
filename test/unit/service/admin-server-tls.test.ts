import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { createCa, issueCertificate } from "../../../src/crypto/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { adminEndpointOf, adminRequest } from "../../../src/cli/network/index.js";
import { AdminServer, AdminServerError, configuredOperationsTls, exposureWarningOf, type MembershipView, PeerSetupError } from "../../../src/service/index.js";

const view: MembershipView = {
  self: { endpoint: "peer0:7051", internalEndpoint: "peer0:7051", org: "Org1MSP", pkiId: "aa".repeat(32) },
  alive: [],
  dead: [],
  channels: {},
};

/** A TLS CA for the server, one for clients, a client certificate of it, and one of a CA nobody trusts. */
async function material() {
  const serverCa = await createCa({ commonName: "tlsca.org1", organization: "org1" });
  const server = await issueCertificate({ ca: serverCa, commonName: "peer0.org1", kind: "tls", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const clientCa = await createCa({ commonName: "opsca.org1", organization: "org1" });
  const client = await issueCertificate({ ca: clientCa, commonName: "operator", kind: "tls" });
  const strangerCa = await createCa({ commonName: "tlsca.stranger", organization: "stranger" });
  const stranger = await issueCertificate({ ca: strangerCa, commonName: "stranger", kind: "tls" });
  return { serverCa, server, clientCa, client, stranger };
}

type Material = Awaited<ReturnType<typeof material>>;
const shared: Promise<Material> = material();

/** GET over HTTPS trusting the server's CA, with an optional client pair: the status, or the error that ended it. */
async function get(url: string, ca: string, pair?: { certPem: string; keyPem: string }): Promise<{ status: number; body: string }> {
  const { origin, pathname } = new URL(url);
  const answer = await adminRequest({ base: origin, label: origin, tls: { ca: Buffer.from(ca), ...(pair !== undefined ? { cert: Buffer.from(pair.certPem), key: Buffer.from(pair.keyPem) } : {}) } }, pathname, { timeoutMs: 5_000 });
  return { status: answer.status, body: answer.text };
}

function server(m: Material, clientAuthRequired: boolean, clientRootCAs: string | null = m.clientCa.certPem): AdminServer {
  return new AdminServer({
    listen: "127.0.0.1:0",
    registry: new Registry(),
    membership: () => view,
    logger: silentLogger,
    now: () => new Date(0),
    tls: {
      cert: Buffer.from(m.server.certPem),
      key: Buffer.from(m.server.keyPem),
      ...(clientRootCAs !== null ? { clientRootCAs: Buffer.from(clientRootCAs) } : {}),
      clientAuthRequired,
    },
  });
}

test("operations TLS with client auth: a client without a certificate, or with one no client root CA issued, is refused in the handshake; one from clientRootCAs gets every endpoint", async (t) => {
  const m = await shared;
  const s = server(m, true);
  await s.start();
  t.after(() => s.stop());
  assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  await assert.rejects(get(`${s.url}/healthz`, m.serverCa.certPem), /certificate|socket hang up|ECONNRESET|alert/i);
  await assert.rejects(get(`${s.url}/healthz`, m.serverCa.certPem, m.stranger), /certificate|socket hang up|ECONNRESET|alert|unknown ca/i);
  const health = await get(`${s.url}/healthz`, m.serverCa.certPem, m.client);
  assert.equal(health.status, 200);
  assert.deepEqual(JSON.parse(health.body), { status: "OK", time: "1970-01-01T00:00:00.000Z" });
  const membership = await get(`${s.url}/v1/membership`, m.serverCa.certPem, m.client);
  assert.equal(membership.status, 200);
  assert.deepEqual(JSON.parse(membership.body), view);
  // Plain HTTP to the HTTPS port gets nothing useful.
  await assert.rejects(fetch(`http://${s.address}/healthz`, { signal: AbortSignal.timeout(5_000) }));
});

test("operations TLS without client auth: /healthz and /version answer anyone, the rest only a verified client certificate (401), a stranger's certificate is refused", async (t) => {
  const m = await shared;
  const s = server(m, false);
  await s.start();
  t.after(() => s.stop());
  assert.equal((await get(`${s.url}/healthz`, m.serverCa.certPem)).status, 200);
  assert.equal((await get(`${s.url}/version`, m.serverCa.certPem)).status, 200);
  const metrics = await get(`${s.url}/metrics`, m.serverCa.certPem);
  assert.equal(metrics.status, 401);
  assert.match(metrics.body, /client certificate/);
  assert.equal((await get(`${s.url}/v1/membership`, m.serverCa.certPem)).status, 401);
  assert.equal((await get(`${s.url}/metrics`, m.serverCa.certPem, m.client)).status, 200);
  assert.equal((await get(`${s.url}/v1/membership`, m.serverCa.certPem, m.client)).status, 200);
  await assert.rejects(get(`${s.url}/healthz`, m.serverCa.certPem, m.stranger));
});

test("operations TLS with no client root CA: every client certificate is unverified (401 beyond /healthz); client auth then is refused at start", async (t) => {
  const m = await shared;
  const open = server(m, false, null);
  await open.start();
  t.after(() => open.stop());
  assert.equal((await get(`${open.url}/healthz`, m.serverCa.certPem)).status, 200);
  assert.equal((await get(`${open.url}/v1/membership`, m.serverCa.certPem)).status, 401);
  const closed = server(m, true, null);
  await assert.rejects(closed.start(), (err: unknown) => err instanceof AdminServerError && err.code === "ADMIN_TLS" && /clientRootCAs/.test(err.message));
  await closed.stop();
});

test("operations.tls files that cannot be used are refused naming the key and the file", async () => {
  assert.equal(await configuredOperationsTls({ enabled: false, certFile: "", keyFile: "", clientAuthRequired: false, clientRootCAFiles: [] }), undefined);
  const missing = "/nonexistent/ops/server.crt";
  await assert.rejects(
    configuredOperationsTls({ enabled: true, certFile: missing, keyFile: "/nonexistent/ops/server.key", clientAuthRequired: true, clientRootCAFiles: ["/nonexistent/ca.crt"] }),
    (err: unknown) => err instanceof PeerSetupError && err.code === "PEER_TLS" && err.message.includes(`operations.tls.cert.file ${missing}`),
  );
});

test("--admin of the CLI clients: host:port is plain HTTP, https:// or the --admin-tls-* flags mean TLS; contradictions are refused naming the flag", async () => {
  assert.deepEqual(await adminEndpointOf("127.0.0.1:9443"), { base: "http://127.0.0.1:9443", label: "127.0.0.1:9443" });
  assert.equal((await adminEndpointOf("http://127.0.0.1:9443/")).base, "http://127.0.0.1:9443");
  assert.deepEqual(await adminEndpointOf("https://[::1]:9443"), { base: "https://[::1]:9443", label: "https://[::1]:9443", tls: {} });
  for (const bad of ["9443", "https://host", "ftp://h:1", "h:1/x"]) await assert.rejects(adminEndpointOf(bad), /--admin/, bad);
  await assert.rejects(adminEndpointOf("http://h:1", { adminTlsCa: "ca.pem" }), /for https/);
  await assert.rejects(adminEndpointOf("https://h:1", { adminTlsCert: "c.pem" }), /--admin-tls-cert needs --admin-tls-key/);
  await assert.rejects(adminEndpointOf("h:1", { adminTlsCa: "/nonexistent/ca.pem" }), /--admin-tls-ca \/nonexistent\/ca\.pem: cannot read/);
});

test("the beyond-loopback warning: none on loopback or with TLS client auth required; said without TLS, and with TLS but no client auth", () => {
  assert.equal(exposureWarningOf("127.0.0.1", undefined), undefined);
  assert.equal(exposureWarningOf("0.0.0.0", { clientAuthRequired: true }), undefined);
  assert.match(exposureWarningOf("0.0.0.0", undefined) ?? "", /without authentication/);
  assert.match(exposureWarningOf("10.0.0.1", { clientAuthRequired: false }) ?? "", /without TLS client authentication/);
});
