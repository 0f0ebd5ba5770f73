import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type DoctorFlags, type DoctorReport, formatDoctorReport, runDoctor } from "../../../src/cli/commands/doctor.js";
import { orgTlsCaFile } from "../../../src/cli/network/index.js";
import { loadMspFolder } from "../../../src/crypto/index.js";
import { toHex } from "../../../src/util/index.js";
import { genesisBlockOf, generateTestOrgs, type TestOrgs } from "../../utils/channel-setup.js";

/**
 * `doctor`'s checks run in process: configuration mistakes found before the peer starts (offline),
 * and what a running peer's admin endpoint shows (a fake admin endpoint here: duplicate PKI-IDs, two
 * leaders of one org, a skewed clock, a channel without the peer's org).
 */

function check(report: DoctorReport, name: string): { status: string; detail: string; fix: string } {
  const c = report.checks.find((x) => x.name === name);
  assert.ok(c !== undefined, `no check ${name} in:\n${formatDoctorReport(report)}`);
  return c;
}

describe("doctor checks", { timeout: 60_000 }, () => {
  let root: string;
  let orgs: TestOrgs;
  let base: DoctorFlags;
  const servers: Server[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-doctor-unit-"));
    orgs = await generateTestOrgs(root, 2, 1);
    const org1 = orgs.peerOrgs[0]!;
    const node = org1.nodes[0]!;
    base = {
      listen: "127.0.0.1:7051",
      external: "127.0.0.1:7051",
      msp: node.mspDir,
      mspId: org1.mspId,
      tlsCert: join(node.tlsDir, "server.crt"),
      tlsKey: join(node.tlsDir, "server.key"),
      tlsCa: orgs.peerOrgs.map(orgTlsCaFile),
      ledgerDir: join(root, "ledgers"),
      offline: true,
    };
  });

  after(async () => {
    for (const s of servers) s.close();
    await rm(root, { recursive: true, force: true });
  });

  it("a healthy configuration passes offline", async () => {
    const report = await runDoctor(base, {});
    assert.equal(report.ok, true, formatDoctorReport(report));
    assert.equal(check(report, "msp").status, "ok");
    assert.equal(check(report, "tls-ca").status, "ok");
    assert.equal(check(report, "tls-name").status, "ok");
  });

  it("useLeaderElection and orgLeader both true: FAIL config naming the keys", async () => {
    const report = await runDoctor(base, { CORE_PEER_GOSSIP_USELEADERELECTION: "true", CORE_PEER_GOSSIP_ORGLEADER: "true" });
    assert.equal(report.ok, false);
    const c = check(report, "config");
    assert.equal(c.status, "fail");
    assert.match(c.detail, /useLeaderElection[\s\S]*orgLeader/);
  });

  it("a TLS certificate of another org's TLS CA: FAIL tls-ca naming that org", async () => {
    const other = orgs.peerOrgs[1]!.nodes[0]!;
    const wrongPair = { tlsCert: join(other.tlsDir, "server.crt"), tlsKey: join(other.tlsDir, "server.key") };
    const report = await runDoctor({ ...base, ...wrongPair }, {});
    const c = check(report, "tls-ca");
    assert.equal(c.status, "fail");
    assert.match(c.detail, /issued by tlsca\.org2\.example\.com, which is no TLS CA of Org1MSP/);
    // With a channel of both orgs, the issuer's org is named.
    const file = join(root, "two-orgs.block");
    await writeFile(file, await genesisBlockOf("two", [{ org: orgs.peerOrgs[0]! }, { org: orgs.peerOrgs[1]! }], orgs.ordererOrg, ["127.0.0.1:7050"]));
    const named = check(await runDoctor({ ...base, ...wrongPair, channelBlock: [file], ledgerDir: join(root, "ledgers-t") }, {}), "tls-ca");
    assert.match(named.detail, /issued by tlsca\.org2\.example\.com, a TLS CA of Org2MSP, not of Org1MSP/);
  });

  it("an endpoint whose host the TLS certificate does not carry: FAIL tls-name", async () => {
    const report = await runDoctor({ ...base, external: "peer0.elsewhere.example.org:7051" }, {});
    const c = report.checks.find((x) => x.name === "tls-name" && x.status === "fail");
    assert.ok(c !== undefined, formatDoctorReport(report));
    assert.match(c.detail, /does not carry peer0\.elsewhere\.example\.org/);
  });

  it("a wildcard internal endpoint: FAIL endpoint", async () => {
    const report = await runDoctor({ ...base, listen: "0.0.0.0:7051", external: "" }, {});
    assert.equal(check(report, "endpoint").status, "fail");
  });

  it("a channel the peer's org is not a member of: FAIL channel-member; an org without anchor peers: warning", async () => {
    const file = join(root, "org2only.block");
    await writeFile(file, await genesisBlockOf("org2only", [{ org: orgs.peerOrgs[1]! }], orgs.ordererOrg, ["127.0.0.1:7050"]));
    const report = await runDoctor({ ...base, channelBlock: [file], ledgerDir: join(root, "ledgers-a") }, {});
    const c = check(report, "channel-member:org2only");
    assert.equal(c.status, "fail");
    assert.match(c.detail, /Org1MSP is not a member of channel org2only \(its orgs: Org2MSP\)/);

    const both = join(root, "both.block");
    await writeFile(both, await genesisBlockOf("both", [{ org: orgs.peerOrgs[0]!, anchorPeers: ["127.0.0.1:7051"] }, { org: orgs.peerOrgs[1]! }], orgs.ordererOrg, ["127.0.0.1:7050"]));
    const r2 = await runDoctor({ ...base, channelBlock: [both], ledgerDir: join(root, "ledgers-b") }, {});
    const a = check(r2, "anchor-peers:both");
    assert.equal(a.status, "warning");
    assert.match(a.detail, /Org2MSP of both have no anchor peer/);
  });

  it("a running peer's admin endpoint: duplicate PKI-IDs, two leaders of one org, a skewed clock, a channel without the org", async () => {
    const msp = await loadMspFolder(base.msp!, base.mspId!);
    const selfId = toHex(msp.signingIdentity.pkiId);
    const serve = async (leader: boolean, skewMs: number): Promise<string> => {
      const server = createServer((req, res) => {
        res.setHeader("content-type", "application/json");
        const now = new Date(Date.now() + skewMs).toISOString();
        switch (req.url) {
          case "/healthz":
            res.end(JSON.stringify({ status: "OK", time: now }));
            return;
          case "/v1/membership":
            res.end(
              JSON.stringify({
                self: { endpoint: "127.0.0.1:7051", internalEndpoint: "127.0.0.1:7051", org: "Org1MSP", pkiId: selfId },
                alive: [
                  { endpoint: "127.0.0.1:9999", internalEndpoint: "127.0.0.1:9999", org: "Org1MSP", pkiId: selfId },
                  { endpoint: "127.0.0.1:8051", internalEndpoint: "127.0.0.1:8051", org: "Org1MSP", pkiId: "ab".repeat(32) },
                ],
                dead: [{ endpoint: "127.0.0.1:8052", internalEndpoint: "127.0.0.1:8052", org: "Org1MSP", pkiId: "ab".repeat(32) }],
                channels: {},
              }),
            );
            return;
          case "/v1/channels":
            res.end(
              JSON.stringify({
                channels: [
                  { channel: "ch1", height: 3, lastBlockHash: "", leader, delivering: leader, members: 1, alive: 2, orgs: ["Org1MSP", "Org2MSP"] },
                  { channel: "ch2", height: 1, lastBlockHash: "", leader: false, delivering: false, members: 0, alive: 2, orgs: ["Org2MSP"] },
                ],
              }),
            );
            return;
          case "/v1/events":
            res.end(JSON.stringify({ next: 2, counts: { "duplicate-identity": 1 }, events: [{ seq: 1, time: now, kind: "duplicate-identity", pkiId: selfId, endpoint: "127.0.0.1:9999" }] }));
            return;
          default:
            res.statusCode = 404;
            res.end("{}");
        }
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      return `127.0.0.1:${(server.address() as { port: number }).port}`;
    };
    const a1 = await serve(true, 20 * 60 * 1000);
    const a2 = await serve(true, 0);
    const report = await runDoctor({ ...base, offline: false, admin: [a1, a2] }, {});
    assert.equal(report.ok, false);
    const dup = check(report, `duplicate-pki-id@${a1}`);
    assert.equal(dup.status, "fail");
    assert.match(dup.detail, /this peer's own PKI-ID is announced from 127\.0\.0\.1:9999/);
    assert.match(dup.detail, /PKI-ID abababababababab\.\.\. at 127\.0\.0\.1:8051, 127\.0\.0\.1:8052/);
    assert.match(dup.detail, /1 duplicate-identity event\(s\) in the last 10 minutes \(from 127\.0\.0\.1:9999\)/);
    const leader = check(report, "leader:ch1:Org1MSP");
    assert.equal(leader.status, "fail");
    assert.match(leader.detail, /2 peers of Org1MSP are leaders of ch1/);
    assert.equal(check(report, "leader:ch2:Org1MSP").status, "warning");
    assert.equal(check(report, `clock-skew:${a1}`).status, "fail");
    assert.equal(check(report, `clock-skew:${a2}`).status, "ok");
    assert.equal(check(report, `channel-member:ch2@${a1}`).status, "fail");
  });

  it("an admin endpoint that does not answer: FAIL admin; a bad --timeout or --admin: FAIL flags", async () => {
    const report = await runDoctor({ ...base, offline: false, admin: ["127.0.0.1:1"] }, {});
    assert.equal(check(report, "admin:127.0.0.1:1").status, "fail");
    assert.equal(check(await runDoctor({ ...base, timeout: "soon" }, {}), "flags").status, "fail");
    assert.equal(check(await runDoctor({ ...base, admin: ["nohost"] }, {}), "flags").status, "fail");
  });
});
