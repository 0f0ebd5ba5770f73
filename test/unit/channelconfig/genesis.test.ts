import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  BLOCK_VALIDATION_POLICY,
  ChannelConfigError,
  type ChannelBundle,
  ChannelVerifyError,
  channelConfigFromBlock,
  createChannelBundle,
  createChannelConfigTracker,
  createGenesisBlock,
  type GenesisConsenter,
  type GenesisMsp,
  configOfBlock,
  firstEnvelope,
  inspectBlock,
  type OrgConfig,
} from "../../../src/channelconfig/index.js";
import { createSigningIdentity, issueCertificate, loadCa, loadMspFolder, loadOrgMspFolder, type SigningIdentity } from "../../../src/crypto/index.js";
import { Block, SignatureHeader } from "../../../src/protos/gen/common/common.pb.js";
import { channelJoinBlockOf } from "../../../src/service/index.js";
import { SystemClock } from "../../../src/util/index.js";
import { generateTestOrgs, type TestOrgs } from "../../utils/channel-setup.js";
import { runCli } from "../../utils/cli.js";
import { VECTORS, block as vectorBlock } from "./vectors.js";

const clock = new SystemClock();

/** The etcdraft consenters of the vectors' genesis block, from configtxlator's JSON of it. */
function consentersOfJson(): GenesisConsenter[] {
  interface JsonConsenter {
    host: string;
    port: number;
    client_tls_cert: string;
    server_tls_cert: string;
  }
  const json = JSON.parse(readFileSync(join(VECTORS, "blocks", "000.json"), "utf8")) as {
    data: { data: [{ payload: { data: { config: { channel_group: { groups: { Orderer: { values: { ConsensusType: { value: { metadata: { consenters: JsonConsenter[] } } } } } } } } } } }] };
  };
  const pem = (b64: string): string => Buffer.from(b64, "base64").toString("latin1");
  return json.data.data[0].payload.data.config.channel_group.groups.Orderer.values.ConsensusType.value.metadata.consenters.map((c) => ({
    host: c.host,
    port: c.port,
    clientTlsCert: pem(c.client_tls_cert),
    serverTlsCert: pem(c.server_tls_cert),
  }));
}

describe("createGenesisBlock: a configtxgen-shaped genesis block from generated crypto", () => {
  let root: string;
  let orgs: TestOrgs;
  let bytes: Uint8Array;
  let bundle: ChannelBundle;
  let org1Admin: SigningIdentity;
  let peer0Org1: SigningIdentity;
  let orderer: SigningIdentity;

  const mspOf = async (dir: string, mspId: string): Promise<GenesisMsp> => {
    const m = await loadOrgMspFolder(dir, mspId);
    return { ...m, nodeOUs: { certificate: m.rootCerts[0]! } };
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "genesis-"));
    orgs = await generateTestOrgs(root, 2, 1);
    const [org1, org2] = orgs.peerOrgs;
    const block = createGenesisBlock({
      channel: "mychannel",
      applicationOrgs: [
        { ...(await mspOf(org1!.mspDir, org1!.mspId)), anchorPeers: ["127.0.0.1:7051"] },
        { ...(await mspOf(org2!.mspDir, org2!.mspId)), anchorPeers: ["127.0.0.1:9051", "peer1.org2.example.com:9061"] },
      ],
      ordererOrgs: [{ ...(await mspOf(orgs.ordererOrg.mspDir, orgs.ordererOrg.mspId)), endpoints: ["127.0.0.1:7050"] }],
      maxMessageCount: 20,
      batchTimeout: "500ms",
    });
    bytes = Block.encode(block).finish();
    bundle = createChannelBundle(channelConfigFromBlock(Block.decode(bytes)), { clock });
    // cryptogen's Admin@org1: an enrollment certificate of the org CA with the "admin" OU.
    const ca = await loadCa(org1!.caDir);
    const admin = await issueCertificate({ ca, commonName: "Admin@org1.example.com", organizationalUnits: ["admin"] });
    org1Admin = createSigningIdentity({ mspId: "Org1MSP", certPem: admin.certPem, keyPem: admin.keyPem });
    peer0Org1 = (await loadMspFolder(org1!.nodes[0]!.mspDir, "Org1MSP")).signingIdentity;
    orderer = (await loadMspFolder(orgs.ordererOrg.nodes[0]!.mspDir, "OrdererMSP")).signingIdentity;
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("inspects as block 0 of a config: orgs, anchors, endpoints, policies, capabilities, no signature", () => {
    const info = inspectBlock(bytes);
    assert.equal(info.number, 0);
    assert.equal(info.channel, "mychannel");
    assert.equal(info.kind, "config");
    assert.equal(info.previousHash, "");
    assert.equal(info.dataHashValid, true);
    assert.equal(info.lastConfig, 0);
    assert.deepEqual(info.signers, []);
    assert.equal(info.sequence, 0);
    assert.deepEqual(info.orgs?.map((o) => [o.mspId, o.anchorPeers, o.rootCerts, o.tlsRootCerts, o.nodeOUs]), [
      ["Org1MSP", ["127.0.0.1:7051"], 1, 1, true],
      ["Org2MSP", ["127.0.0.1:9051", "peer1.org2.example.com:9061"], 1, 1, true],
    ]);
    assert.deepEqual(info.orderer, { orgs: ["OrdererMSP"], endpoints: ["127.0.0.1:7050"], globalAddresses: [], consensusType: "etcdraft" });
    assert.deepEqual(info.capabilities, { channel: ["V2_0"], orderer: ["V2_0"], application: ["V2_5"] });
    assert.deepEqual(info.policies?.[BLOCK_VALIDATION_POLICY], { type: "IMPLICIT_META", rule: "ANY Writers", modPolicy: "Admins" });
    assert.equal(info.policies?.["/Channel/Application/LifecycleEndorsement"]?.rule, "MAJORITY Endorsement");
    assert.equal(info.policies?.["/Channel/Admins"]?.rule, "MAJORITY Admins");
    assert.equal(info.policies?.["/Channel/Application/Org1MSP/Readers"]?.type, "SIGNATURE");
    const cfg = channelConfigFromBlock(Block.decode(bytes));
    assert.equal(cfg.hashingAlgorithm, "SHA256");
    assert.deepEqual(cfg.batchSize, { maxMessageCount: 20, absoluteMaxBytes: 103809024, preferredMaxBytes: 524288 });
    assert.equal(cfg.batchTimeout, "500ms");
  });

  it("is taken as a join block by the tracker and by the service", () => {
    const tracker = createChannelConfigTracker(Block.decode(bytes), { clock });
    assert.equal(tracker.channelId, "mychannel");
    assert.equal(tracker.height, 1n);
    const joined = channelJoinBlockOf(bytes);
    assert.equal(joined.def.name, "mychannel");
    assert.deepEqual(joined.def.orgs.map((o) => [o.mspId, o.anchorPeers]), [
      ["Org1MSP", ["127.0.0.1:7051"]],
      ["Org2MSP", ["127.0.0.1:9051", "peer1.org2.example.com:9061"]],
    ]);
    assert.equal(joined.def.orderer.mspId, "OrdererMSP");
    assert.deepEqual(joined.def.orderer.endpoints, ["127.0.0.1:7050"]);
  });

  it("evaluates its policies as configtxgen's defaults do", () => {
    const data = new TextEncoder().encode("config update");
    const signed = (s: SigningIdentity) => [{ identity: s.serialized, data, signature: s.sign(data) }];
    bundle.evaluatePolicy("/Channel/Application/Org1MSP/Admins", signed(org1Admin));
    assert.throws(() => bundle.evaluatePolicy("/Channel/Application/Org1MSP/Admins", signed(peer0Org1)), ChannelVerifyError);
    bundle.evaluatePolicy("/Channel/Application/Org1MSP/Endorsement", signed(peer0Org1));
    bundle.evaluatePolicy("/Channel/Application/Readers", signed(peer0Org1));
    bundle.evaluatePolicy(BLOCK_VALIDATION_POLICY, signed(orderer));
    assert.throws(() => bundle.evaluatePolicy(BLOCK_VALIDATION_POLICY, signed(peer0Org1)), (err: unknown) => err instanceof ChannelVerifyError && err.code === "POLICY_NOT_SATISFIED");
    assert.throws(() => bundle.evaluatePolicy(BLOCK_VALIDATION_POLICY, signed(org1Admin)), ChannelVerifyError);
    // MAJORITY of 2 application orgs' Admins needs both.
    assert.throws(() => bundle.evaluatePolicy("/Channel/Application/Admins", signed(org1Admin)), ChannelVerifyError);
  });

  it("decodes to the same configuration and headers as Fabric v2.5.6 configtxgen's block of the same inputs", () => {
    const real = vectorBlock(0);
    const cfg = channelConfigFromBlock(real);
    const { payload, channelHeader } = firstEnvelope(real);
    const msp = (o: OrgConfig): GenesisMsp => ({
      mspId: o.mspId,
      name: o.name,
      rootCerts: o.msp.rootCerts,
      tlsRootCerts: o.msp.tlsRootCerts,
      nodeOUs: { certificate: Buffer.from(o.msp.nodeOUs!.clientOuIdentifier!.certificate).toString("latin1") },
    });
    const mine = createGenesisBlock({
      channel: channelHeader.channelId,
      applicationOrgs: cfg.applicationOrgs.map((o) => ({ ...msp(o), anchorPeers: o.anchorPeers.map((a) => `${a.host}:${a.port}`) })),
      ordererOrgs: cfg.ordererOrgs.map((o) => ({ ...msp(o), endpoints: o.endpoints })),
      timestamp: channelHeader.timestamp!,
      nonce: SignatureHeader.decode(payload.header!.signatureHeader).nonce,
      consenters: consentersOfJson(),
    });
    const plain = (v: unknown): unknown =>
      v instanceof Uint8Array ? Buffer.from(v).toString("hex")
      : typeof v === "bigint" ? String(v)
      : v instanceof Date ? v.toISOString()
      : Array.isArray(v) ? v.map(plain)
      : v !== null && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
      : v;
    // Equal as decoded: Go marshals the groups map in random order, so the bytes differ in order only.
    assert.deepEqual(plain(configOfBlock(mine).config), plain(configOfBlock(real).config));
    assert.deepEqual(plain(firstEnvelope(mine).channelHeader), plain(channelHeader));
    assert.equal(Buffer.from(firstEnvelope(mine).payload.header!.signatureHeader).toString("hex"), Buffer.from(payload.header!.signatureHeader).toString("hex"));
    assert.deepEqual(mine.metadata!.metadata.map((m) => Buffer.from(m).toString("base64")), real.metadata!.metadata.map((m) => Buffer.from(m).toString("base64")));
    assert.equal(mine.header!.previousHash.length, 0);
    assert.equal(mine.data!.data[0]!.length, real.data!.data[0]!.length);
  });

  it("refuses inputs that make no channel, with a typed reason", () => {
    const msp: GenesisMsp = { mspId: "Org1MSP", rootCerts: ["x"] };
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (err) {
        return err instanceof ChannelConfigError ? err.code : "untyped";
      }
      return undefined;
    };
    const ord = { ...msp, mspId: "OrdererMSP", endpoints: ["o:7050"] };
    assert.equal(code(() => createGenesisBlock({ channel: "Bad_Name", applicationOrgs: [msp], ordererOrgs: [ord] })), "INVALID_GENESIS");
    assert.equal(code(() => createGenesisBlock({ channel: "c", applicationOrgs: [], ordererOrgs: [ord] })), "INVALID_GENESIS");
    assert.equal(code(() => createGenesisBlock({ channel: "c", applicationOrgs: [{ ...msp, anchorPeers: ["nohost"] }], ordererOrgs: [ord] })), "INVALID_GENESIS");
    assert.equal(code(() => createGenesisBlock({ channel: "c", applicationOrgs: [msp], ordererOrgs: [{ ...ord, endpoints: [] }] })), "INVALID_GENESIS");
    assert.equal(code(() => createGenesisBlock({ channel: "c", applicationOrgs: [msp], ordererOrgs: [ord], batchTimeout: "2 seconds" })), "INVALID_GENESIS");
  });

  it("`channel genesis` writes such a block from the MSP folders", async () => {
    const [org1, org2] = orgs.peerOrgs;
    const out = join(root, "genesis.block");
    const res = await runCli([
      "channel", "genesis", "--channel", "clichannel",
      "--org", `Org1MSP:${org1!.mspDir}:127.0.0.1:7051`,
      "--org", `Org2MSP:${org2!.mspDir}`,
      "--orderer-org", `OrdererMSP:${orgs.ordererOrg.mspDir}:127.0.0.1:7050,127.0.0.1:8050`,
      "--max-message-count", "5", "--batch-timeout", "1s", "--out", out,
    ], {}, 60_000);
    assert.equal(res.code, 0, res.stderr);
    const info = inspectBlock(await readFile(out));
    assert.equal(info.channel, "clichannel");
    assert.deepEqual(info.orgs?.map((o) => [o.mspId, o.anchorPeers, o.nodeOUs]), [["Org1MSP", ["127.0.0.1:7051"], true], ["Org2MSP", [], true]]);
    assert.deepEqual(info.orderer?.endpoints, ["127.0.0.1:7050", "127.0.0.1:8050"]);
    const cfg = channelConfigFromBlock(Block.decode(await readFile(out)));
    assert.equal(cfg.batchSize?.maxMessageCount, 5);
    assert.equal(cfg.batchTimeout, "1s");
    // The org CA certifies the NodeOUs, as cryptogen's config.yaml says.
    assert.equal(Buffer.from(cfg.applicationOrgs[0]!.msp.nodeOUs!.adminOuIdentifier!.certificate).toString("latin1"), cfg.applicationOrgs[0]!.msp.rootCerts[0]);
  });
});
