import assert from "node:assert/strict";
import { readFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { orgTlsCaFile, tlsCaFiles } from "../../src/cli/network/index.js";
import { PeerProcess } from "../../src/cli/peer-process.js";
import { issueCertificate, loadCa, loadPeerMaterial } from "../../src/crypto/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { createOrderer, type Orderer } from "../../src/orderer/index.js";
import { SystemClock } from "../../src/util/index.js";
import { genesisBlockOf, generateTestOrgs, type TestOrgs } from "../utils/channel-setup.js";
import { runCli } from "../utils/cli.js";
import { FAST_GOSSIP_ENV } from "../utils/fast-timers.js";
import { freePorts } from "../utils/net.js";

/**
 * `fabric-gossip doctor` against real processes: two orgs' peers (one each, mutual TLS, anchor peers
 * of a two-org channel) and an ordering service over mutual TLS. The healthy peer passes (exit 0);
 * each mistake of RELIABILITY.md S22 tried here exits 1 naming its check: a TLS CA that is not the
 * bootstrap peer's, an expired TLS certificate, a bootstrap peer of another org, no external
 * endpoint in a channel of two orgs, TLS on one side only, an orderer nobody answers at.
 */

const CHANNEL = "mychannel";

describe("fabric-gossip doctor", { timeout: 90_000 }, () => {
  let root: string;
  let orgs: TestOrgs;
  let orderer: Orderer;
  const peers: PeerProcess[] = [];
  /** The `peer start` flags of Org1's peer, which doctor takes as they are. */
  let org1Flags: string[];
  let org1Endpoint: string;
  let org2Endpoint: string;
  let org1Admin: string;
  let deadOrderer: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-doctor-"));
    orgs = await generateTestOrgs(root, 2, 1);
    const [g1, g2, a1, a2, o, dead] = await freePorts(6);
    org1Endpoint = `127.0.0.1:${g1}`;
    org2Endpoint = `127.0.0.1:${g2}`;
    org1Admin = `127.0.0.1:${a1}`;
    deadOrderer = `127.0.0.1:${dead}`;
    const ordererEndpoint = `127.0.0.1:${o}`;
    const [org1, org2] = orgs.peerOrgs as [TestOrgs["peerOrgs"][0], TestOrgs["peerOrgs"][0]];
    const genesis = await genesisBlockOf(
      CHANNEL,
      [
        { org: org1, anchorPeers: [org1Endpoint] },
        { org: org2, anchorPeers: [org2Endpoint] },
      ],
      orgs.ordererOrg,
      [ordererEndpoint],
    );
    const blockFile = join(root, `${CHANNEL}.block`);
    await writeFile(blockFile, genesis);
    // A channel whose orderer endpoint has nobody listening.
    await writeFile(join(root, "other.block"), await genesisBlockOf("other", [{ org: org1 }], orgs.ordererOrg, [deadOrderer]));

    const ordererNode = await loadPeerMaterial(orgs.ordererOrg.nodes[0]!.dir);
    const clientCas = (await Promise.all(orgs.peerOrgs.map((org) => readFile(orgTlsCaFile(org), "utf8")))).join("\n");
    orderer = createOrderer(
      {
        listen: ordererEndpoint,
        tls: { cert: ordererNode.tls.cert, key: ordererNode.tls.key, rootCAs: clientCas },
        dir: join(root, "orderer"),
        channels: [genesis],
        batchSize: 10,
        batchTimeoutMs: 200,
      },
      { signer: ordererNode.signingIdentity, clock: new SystemClock(), logger: silentLogger },
    );
    await orderer.start();

    const flagsOf = (i: number, endpoint: string): string[] => {
      const org = orgs.peerOrgs[i]!;
      const node = org.nodes[0]!;
      return [
        "--listen",
        endpoint,
        "--external",
        endpoint,
        "--msp",
        node.mspDir,
        "--msp-id",
        org.mspId,
        "--tls-cert",
        join(node.tlsDir, "server.crt"),
        "--tls-key",
        join(node.tlsDir, "server.key"),
        "--tls-ca",
        ...tlsCaFiles(orgs.summary),
        "--channel-block",
        blockFile,
        "--ledger-dir",
        join(root, `ledgers-${i}`),
      ];
    };
    org1Flags = flagsOf(0, org1Endpoint);
    const start = async (i: number, endpoint: string, admin: string): Promise<void> => {
      const proc = new PeerProcess(`peer${i}`, ["peer", "start", ...flagsOf(i, endpoint), "--admin", admin], FAST_GOSSIP_ENV);
      peers.push(proc);
      await proc.event("ready", 60_000);
    };
    await Promise.all([start(0, org1Endpoint, org1Admin), start(1, org2Endpoint, `127.0.0.1:${a2}`)]);
  });

  after(async () => {
    await Promise.all(peers.map((p) => p.stop(2_000)));
    await orderer?.stop();
    await rm(root, { recursive: true, force: true });
  });

  /** Org1's peer flags with some replaced (flag -> values; [] removes the flag). */
  const withFlags = (changes: Record<string, string[]>): string[] => {
    const out: string[] = [];
    for (let i = 0; i < org1Flags.length; ) {
      const flag = org1Flags[i]!;
      let j = i + 1;
      while (j < org1Flags.length && !org1Flags[j]!.startsWith("--")) j++;
      const change = changes[flag];
      out.push(...(change === undefined ? org1Flags.slice(i, j) : change.length === 0 ? [] : [flag, ...change]));
      i = j;
    }
    for (const [flag, values] of Object.entries(changes)) if (!org1Flags.includes(flag) && values.length > 0) out.push(flag, ...values);
    return out;
  };
  const doctor = (args: string[]) => runCli(["doctor", ...args], FAST_GOSSIP_ENV, 30_000);

  it("passes on the healthy peer, live (exit 0): MSP, TLS, anchors of both orgs, the orderer's Deliver, the admin endpoint", async () => {
    const r = await doctor([...org1Flags, "--admin", org1Admin]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok +msp: Org1MSP /m);
    assert.match(r.stdout, /^ok +tls-ca: /m);
    assert.match(r.stdout, new RegExp(`^ok +anchor:${CHANNEL}:${org2Endpoint}: anchor peer of Org2MSP reachable`, "m"));
    assert.match(r.stdout, new RegExp(`^ok +orderer:${CHANNEL}:[0-9.:]+: reachable over TLS; Deliver permitted \\(newest block 0\\)`, "m"));
    assert.match(r.stdout, new RegExp(`^ok +reachable:${org1Endpoint}: the peer answers`, "m"));
    assert.match(r.stdout, /^ok +duplicate-pki-id@/m);
    assert.match(r.stdout, /^ok +clock-skew:/m);
    assert.doesNotMatch(r.stdout, /^FAIL/m);
    assert.match(r.stdout, / 0 failed\n$/);
  });

  it("a TLS CA that did not issue the bootstrap peer's certificate: FAIL bootstrap, unknown authority", async () => {
    const org2Ca = orgTlsCaFile(orgs.peerOrgs[1]!);
    const r = await doctor(withFlags({ "--listen": ["127.0.0.1:1"], "--external": [], "--channel-block": [], "--ledger-dir": [join(root, "fresh-1")], "--tls-ca": [org2Ca], "--bootstrap": [org1Endpoint] }));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^FAIL +bootstrap:${org1Endpoint}: cannot connect: the bootstrap peer's TLS certificate \\(issued by tlsca\\.org1\\.example\\.com\\) is not signed by a CA this side trusts \\[UNKNOWN_AUTHORITY`, "m"));
  });

  it("an expired TLS certificate: FAIL tls, before the peer starts", async () => {
    const org1 = orgs.peerOrgs[0]!;
    const ca = await loadCa(org1.tlsCaDir);
    const now = Date.now();
    const expired = await issueCertificate({ ca, commonName: org1.nodes[0]!.name, kind: "tls", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], notBefore: new Date(now - 10 * 86_400_000), notAfter: new Date(now - 86_400_000) });
    await writeFile(join(root, "expired.crt"), expired.certPem);
    await writeFile(join(root, "expired.key"), expired.keyPem);
    const r = await doctor([...withFlags({ "--tls-cert": [join(root, "expired.crt")], "--tls-key": [join(root, "expired.key")] }), "--offline"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^FAIL +tls: TLS certificate peer0\.org1\.example\.com .* the TLS certificate EXPIRED on /m);
  });

  it("a bootstrap peer of another org: FAIL bootstrap, naming its org", async () => {
    const r = await doctor(withFlags({ "--bootstrap": [org2Endpoint] }));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^FAIL +bootstrap:${org2Endpoint}: ${org2Endpoint} is a peer of Org2MSP .*not of Org1MSP`, "m"));
  });

  it("no external endpoint in a channel of two orgs: FAIL external-endpoint (--json)", async () => {
    const r = await doctor([...withFlags({ "--external": [] }), "--offline", "--json"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; status: string; detail: string; fix: string }[] };
    assert.equal(report.ok, false);
    const failed = report.checks.filter((c) => c.status === "fail");
    assert.deepEqual(
      failed.map((c) => c.name),
      ["external-endpoint"],
    );
    assert.match(failed[0]!.detail, /no external endpoint, yet channel\(s\) mychannel have several orgs/);
    assert.match(failed[0]!.fix, /peer\.gossip\.externalEndpoint/);
  });

  it("TLS on one side only (this peer plaintext, its bootstrap peer TLS): FAIL bootstrap, the server speaks TLS", async () => {
    const r = await doctor([...withFlags({ "--tls-cert": [], "--tls-key": [], "--tls-ca": [], "--listen": ["127.0.0.1:1"], "--external": [], "--channel-block": [], "--ledger-dir": [join(root, "fresh-3")] }), "--bootstrap", org1Endpoint]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^warning +tls: TLS is off/m);
    assert.match(r.stdout, new RegExp(`^FAIL +bootstrap:${org1Endpoint}: cannot connect: the bootstrap peer at ${org1Endpoint} speaks TLS, and this side dialed it in plaintext \\[TLS_SERVER\\]`, "m"));
  });

  it("an orderer nobody answers at: FAIL orderer, connection refused", async () => {
    const r = await doctor(withFlags({ "--channel-block": [join(root, "other.block")], "--ledger-dir": [join(root, "fresh-2")] }));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^FAIL +orderer:other:${deadOrderer}: cannot connect: nothing listens on ${deadOrderer} \\(connection refused\\)`, "m"));
  });
});
