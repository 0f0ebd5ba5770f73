import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { orgTlsCaFile, type TxSubmitResult } from "../../src/cli/network/index.js";
import { PeerProcess } from "../../src/cli/peer-process.js";
import { certHashOfPem } from "../../src/comm/grpc/index.js";
import { type CryptoMaterialSummary, loadPeerMaterial, type NodeSummary, type OrgSummary, orgUser, type PeerMaterial } from "../../src/crypto/index.js";
import { createSeekInfoEnvelope } from "../../src/deliver/index.js";
import { type DeliverItem, deliver, type OrdererClientOptions } from "../../src/orderer/index.js";
import { ChannelHeader, Envelope, HeaderType, Payload, SignatureHeader, Status } from "../../src/protos/gen/common/common.pb.js";
import { SerializedIdentity } from "../../src/protos/gen/msp/identities.pb.js";
import { type RunResult, runCli } from "../utils/cli.js";
import { freePort } from "../utils/net.js";

/**
 * `fabric-gossip tx submit` against an orderer started by hand (crypto material from `crypto generate`, its
 * `orderer start` from a genesis block made with `channel genesis`, mutual TLS): N transactions signed by the
 * generated client user (users/User1@org1.example.com) are accepted and found in the blocks
 * Deliver returns, as endorser transactions whose creator is that user; the generated Admin@org1 may write too; a peer's identity (not a writer) is
 * refused with FORBIDDEN naming /Channel/Writers; an unreachable orderer and a missing flag exit 1 naming why.
 */

const CHANNEL = "mychannel";
const COUNT = 12;

describe("tx submit to an orderer started by hand", { timeout: 90_000 }, () => {
  let root: string;
  let org1: OrgSummary;
  let ordererOrg: OrgSummary;
  let user: NodeSummary;
  let userMaterial: PeerMaterial;
  let orderer: PeerProcess | undefined;
  let endpoint: string;
  let ordererCa: string;
  let clientTls: OrdererClientOptions;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-tx-submit-"));
    // The material of a network started by hand: what `crypto generate` writes, users included.
    const generated = await runCli(["crypto", "generate", "--orgs", "1", "--peers-per-org", "1", "--orderer", "--out", join(root, "crypto"), "--json"]);
    assert.equal(generated.code, 0, generated.stderr);
    const summary = JSON.parse(generated.stdout) as CryptoMaterialSummary;
    org1 = summary.orgs.find((o) => o.kind === "peer")!;
    ordererOrg = summary.orgs.find((o) => o.kind === "orderer")!;
    user = orgUser(org1);
    assert.equal(user.mspDir, join(root, "crypto", "peerOrganizations", "org1.example.com", "users", "User1@org1.example.com", "msp"));
    userMaterial = await loadPeerMaterial(user.dir, { mspId: org1.mspId });
    const ordererNode = ordererOrg.nodes[0]!;
    ordererCa = join(ordererNode.tlsDir, "ca.crt");
    const port = await freePort();
    endpoint = `127.0.0.1:${port}`;
    const block = join(root, "mychannel.block");
    const genesis = await runCli([
      "channel",
      "genesis",
      "--channel",
      CHANNEL,
      "--org",
      `${org1.mspId}:${org1.mspDir}:127.0.0.1:7051`,
      "--orderer-org",
      `${ordererOrg.mspId}:${ordererOrg.mspDir}:${endpoint}`,
      "--max-message-count",
      "5",
      "--batch-timeout",
      "300ms",
      "--out",
      block,
    ]);
    assert.equal(genesis.code, 0, genesis.stderr);
    const ordererArgs = ["orderer", "start", "--listen", endpoint, "--msp", ordererNode.mspDir, "--msp-id", ordererOrg.mspId, "--channel-block", block];
    ordererArgs.push("--dir", join(root, "orderer"), "--report-blocks");
    ordererArgs.push("--tls-cert", join(ordererNode.tlsDir, "server.crt"), "--tls-key", join(ordererNode.tlsDir, "server.key"), "--tls-ca", orgTlsCaFile(org1));
    orderer = new PeerProcess("orderer", ordererArgs, { FABRIC_LOGGING_SPEC: "warn" });
    await orderer.event("ready", 60_000);
    // The orderer trusts the client org's TLS CA; the client the orderer's.
    clientTls = { tls: { rootCAs: await readFile(ordererCa, "utf8"), cert: userMaterial.tls.cert, key: userMaterial.tls.key }, dialTimeoutMs: 5_000 };
  });

  after(async () => {
    await orderer?.stop(5_000);
    await rm(root, { recursive: true, force: true });
  });

  const tlsFlags = (): string[] => ["--tls-ca", ordererCa, "--tls-cert", join(user.tlsDir, "client.crt"), "--tls-key", join(user.tlsDir, "client.key")];
  const submit = (extra: string[]): Promise<RunResult> => runCli(["tx", "submit", "--orderer", endpoint, "--channel", CHANNEL, ...extra], { FABRIC_LOGGING_SPEC: "warn" });

  it(`${COUNT} transactions signed by a client are accepted and delivered in blocks`, async () => {
    const peer0 = org1.nodes[0]!;
    const r = await submit(["--count", String(COUNT), "--msp", user.mspDir, "--msp-id", "Org1MSP", "--endorser", `Org1MSP:${peer0.mspDir}`, ...tlsFlags(), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 1, r.stdout);
    const out = JSON.parse(lines[0]!) as TxSubmitResult;
    assert.deepEqual(
      { count: out.count, sent: out.sent, accepted: out.accepted, refused: out.refused, lost: out.lost, unanswered: out.unanswered, error: out.error },
      { count: COUNT, sent: COUNT, accepted: COUNT, refused: 0, lost: 0, unanswered: 0, error: undefined },
    );
    assert.equal(out.orderer, endpoint);

    // Blocks of 5: 5, 5 and the last 2 cut by the batch timeout.
    let inBlocks = 0;
    while (inBlocks < COUNT) inBlocks += Number((await orderer!.waitFor((m) => m.event === "block" && m["channel"] === CHANNEL, 15_000))["txs"]);
    assert.equal(inBlocks, COUNT);
    const items: DeliverItem[] = [];
    const seek = createSeekInfoEnvelope(userMaterial.signingIdentity, CHANNEL, { start: "oldest", stop: "newest" }, { tlsCertHash: certHashOfPem(userMaterial.tls.cert) });
    for await (const item of deliver(endpoint, seek, clientTls)) items.push(item);
    const last = items.at(-1);
    assert.ok(last !== undefined && "status" in last && last.status === Status.SUCCESS);
    const envelopes = items.flatMap((i) => ("block" in i && i.block.header!.number > 0n ? i.block.data!.data : []));
    assert.equal(envelopes.length, COUNT);
    const txIds = new Set<string>();
    for (const bytes of envelopes) {
      const payload = Payload.decode(Envelope.decode(bytes).payload);
      const ch = ChannelHeader.decode(payload.header!.channelHeader);
      assert.equal(ch.type, HeaderType.ENDORSER_TRANSACTION);
      assert.equal(ch.channelId, CHANNEL);
      txIds.add(ch.txId);
      const creator = SerializedIdentity.decode(SignatureHeader.decode(payload.header!.signatureHeader).creator);
      assert.equal(creator.mspid, "Org1MSP");
      assert.deepEqual(creator.idBytes, userMaterial.signingIdentity.idBytes, "signed by the client user");
    }
    assert.equal(txIds.size, COUNT, "distinct transaction IDs");
  });

  it("the generated Admin@org1 (NodeOU admin) may write too", async () => {
    const admin = orgUser(org1, "Admin");
    const r = await submit(["--count", "2", "--msp", admin.mspDir, "--msp-id", "Org1MSP", ...tlsFlags(), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as TxSubmitResult;
    assert.equal(out.accepted, 2, r.stdout);
  });

  it("a peer's identity is refused: FORBIDDEN naming /Channel/Writers, exit 1", async () => {
    const peer0 = org1.nodes[0]!;
    const r = await submit(["--count", "2", "--msp", peer0.mspDir, "--msp-id", "Org1MSP", ...tlsFlags()]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^0 of 2 transactions accepted by the orderer 127\.0\.0\.1:\d+ on channel mychannel in [\d.]+ s \(2 refused\)\n$/);
    assert.match(r.stderr, /^fabric-gossip: tx submit: the orderer refused 2 of 2: FORBIDDEN: .*\/Channel\/Writers/m);
  });

  it("an unreachable orderer, mutual TLS without a client certificate, a missing flag: exit 1 naming why", async () => {
    const free = await freePort();
    const down = await runCli(["tx", "submit", "--orderer", `127.0.0.1:${free}`, "--channel", CHANNEL, "--count", "1", "--msp", user.mspDir, "--msp-id", "Org1MSP", "--timeout", "1s"]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, new RegExp(`cannot connect to the orderer 127\\.0\\.0\\.1:${free} within 1000 ms`));
    const noCert = await submit(["--count", "1", "--msp", user.mspDir, "--msp-id", "Org1MSP", "--tls-ca", ordererCa, "--timeout", "2s"]);
    assert.equal(noCert.code, 1);
    assert.match(noCert.stderr, /fabric-gossip: tx submit: /);
    const noCount = await submit(["--msp", user.mspDir, "--msp-id", "Org1MSP"]);
    assert.equal(noCount.code, 1);
    assert.match(noCount.stderr, /--count is required/);
  });
});
