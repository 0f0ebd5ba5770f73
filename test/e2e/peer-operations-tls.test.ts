import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { adminRequest } from "../../src/cli/network/index.js";
import { PeerProcess } from "../../src/cli/peer-process.js";
import { generateCryptoMaterial, type NodeSummary } from "../../src/crypto/index.js";
import { runCli } from "../utils/cli.js";
import { freePorts } from "../utils/net.js";

/**
 * `peer start --config core.yaml` with Fabric's operations section and no --admin: the operations endpoint
 * listens at operations.listenAddress over HTTPS with client authentication (operations.tls.*, paths relative to
 * the core.yaml's folder), the ready line gives its https URL, a client without a certificate is refused, and
 * the CLI clients reach it with --admin https://... and the --admin-tls-* files.
 */

/** GET over HTTPS trusting `ca`, with an optional client pair (PEM text). */
async function get(url: string, ca: string, pair?: { cert: string; key: string }): Promise<{ status: number; body: string }> {
  const { origin, pathname } = new URL(url);
  const answer = await adminRequest({ base: origin, label: origin, tls: { ca: Buffer.from(ca), ...(pair !== undefined ? { cert: Buffer.from(pair.cert), key: Buffer.from(pair.key) } : {}) } }, pathname, { timeoutMs: 5_000 });
  return { status: answer.status, body: answer.text };
}

describe("peer start --config with operations.tls", { timeout: 60_000 }, () => {
  let root: string;
  let node: NodeSummary;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-opstls-"));
    const summary = await generateCryptoMaterial({ orgs: 1, peersPerOrg: 1, out: join(root, "crypto") });
    node = summary.orgs[0]!.nodes[0]!;
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("serves /healthz over HTTPS at operations.listenAddress only to a client with a certificate from clientRootCAs; peers and channel list reach it", async () => {
    const [gossip, ops] = await freePorts(2);
    const confDir = join(root, "conf");
    await mkdir(confDir, { recursive: true });
    const rel = (p: string): string => relative(confDir, p);
    const file = join(confDir, "core.yaml");
    await writeFile(
      file,
      [
        "peer:",
        `  listenAddress: 127.0.0.1:${gossip}`,
        `  address: 127.0.0.1:${gossip}`,
        `  fileSystemPath: ${rel(join(root, "data"))}`,
        "operations:",
        `  listenAddress: 127.0.0.1:${ops}`,
        "  tls:",
        "    enabled: true",
        "    cert:",
        `      file: ${rel(join(node.tlsDir, "server.crt"))}`,
        "    key:",
        `      file: ${rel(join(node.tlsDir, "server.key"))}`,
        "    clientAuthRequired: true",
        "    clientRootCAs:",
        `      files: [${rel(join(node.tlsDir, "ca.crt"))}]`,
        "",
      ].join("\n"),
    );
    const ca = await readFile(join(node.tlsDir, "ca.crt"), "utf8");
    // The peer's TLS pair serves as the operator's client certificate: the same TLS CA issued it (clientAuth EKU).
    const pair = { cert: await readFile(join(node.tlsDir, "server.crt"), "utf8"), key: await readFile(join(node.tlsDir, "server.key"), "utf8") };
    const proc = new PeerProcess("ops", ["peer", "start", "--config", file, "--insecure-dev-crypto"]);
    try {
      const ready = await proc.event("ready", 30_000);
      assert.equal(ready["admin"], `127.0.0.1:${ops}`, "operations.listenAddress, without --admin");
      const url = `https://127.0.0.1:${ops}`;
      assert.equal(ready["adminUrl"], url);
      const health = await get(`${url}/healthz`, ca, pair);
      assert.equal(health.status, 200);
      assert.equal((JSON.parse(health.body) as { status: string }).status, "OK");
      await assert.rejects(get(`${url}/healthz`, ca), "no client certificate: refused in the handshake");

      const tlsFlags = ["--admin-tls-ca", join(node.tlsDir, "ca.crt"), "--admin-tls-cert", join(node.tlsDir, "server.crt"), "--admin-tls-key", join(node.tlsDir, "server.key")];
      const peers = await runCli(["peers", "--admin", url, "--json", ...tlsFlags]);
      assert.equal(peers.code, 0, peers.stderr);
      assert.equal((JSON.parse(peers.stdout) as { self: { internalEndpoint: string } }).self.internalEndpoint, `127.0.0.1:${gossip}`);
      const list = await runCli(["channel", "list", "--admin", url, "--json", ...tlsFlags]);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(JSON.parse(list.stdout), { channels: [] }, "a gossip-only peer has no ledger channels");
      const refused = await runCli(["peers", "--admin", url, "--admin-tls-ca", join(node.tlsDir, "ca.crt")]);
      assert.notEqual(refused.code, 0, "without the client pair the CLI is refused");
      assert.match(refused.stderr, /cannot reach https:\/\/127\.0\.0\.1:\d+\/v1\/membership/);
    } finally {
      assert.equal(await proc.stop(10_000), 0, proc.stderr.join("\n"));
    }
  });
});
