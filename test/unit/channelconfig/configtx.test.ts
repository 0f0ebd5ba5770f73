import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  ChannelConfigError,
  type ChannelConfigErrorCode,
  blockSignatures,
  channelConfigFromBlock,
  channelMspMaterials,
  configOfBlock,
  decodeBlock,
  inspectBlock,
  lastConfigIndex,
  lastConfigIndices,
} from "../../../src/channelconfig/index.js";
import { inspectBlockFile } from "../../../src/cli/commands/channel.js";
import { MspVerifier, serializeIdentity } from "../../../src/crypto/index.js";
import { Block, Envelope, Payload } from "../../../src/protos/gen/common/common.pb.js";
import { ConfigEnvelope } from "../../../src/protos/gen/common/configtx.pb.js";
import { ManualClock } from "../../../src/util/index.js";
import { runCli } from "../../utils/cli.js";
import { blockBytes, blockFile, VECTORS } from "./vectors.js";


/** The parts of expected.json the `channel inspect` contract covers. */
interface ExpectedBlock {
  number: number;
  kind: "config" | "data";
  channel_id: string;
  header_hash: string;
  previous_hash: string;
  data_hash: string;
  last_config_index: { signatures_metadata_orderer_block_metadata: number; last_config_metadata: number };
  signatures: { signers: { msp_id: string }[] };
  config?: {
    sequence: number;
    application_orgs: Record<string, { msp_id: string; anchor_peers: string[]; root_certs: number; tls_root_certs: number; revoked: { serial_hex: string }[] }>;
    orderer_orgs: Record<string, { msp_id: string; endpoints: string[] }>;
    global_orderer_addresses: string[];
    application_capabilities: string[];
    channel_capabilities: string[];
    orderer_capabilities: string[];
    policies: Record<string, { type: string; rule?: string }>;
  };
}
const expected = JSON.parse(readFileSync(join(VECTORS, "expected.json"), "utf8")) as { blocks: ExpectedBlock[] };

/** Checks one `channel inspect --json` result against expected.json on every contract field. */
function assertAgrees(got: ReturnType<typeof inspectBlock>, want: ExpectedBlock): void {
  const at = `block ${want.number}`;
  assert.equal(got.number, want.number, at);
  assert.equal(got.channel, want.channel_id, at);
  assert.equal(got.kind, want.kind, at);
  assert.equal(got.hash, want.header_hash, at);
  assert.equal(got.previousHash, want.previous_hash, at);
  assert.equal(got.dataHash, want.data_hash, at);
  assert.equal(got.lastConfig, want.last_config_index.signatures_metadata_orderer_block_metadata, at);
  assert.equal(got.lastConfig, want.last_config_index.last_config_metadata, at);
  assert.deepEqual(got.signers, want.signatures.signers.map((s) => s.msp_id), at);
  const cfg = want.config;
  if (cfg === undefined) {
    for (const k of ["orgs", "orderer", "policies"] as const) assert.equal(got[k], undefined, `${at}: ${k} only for config blocks`);
    return;
  }
  assert.equal(got.sequence, cfg.sequence, at);
  const wantOrgs = Object.values(cfg.application_orgs).map((o) => ({
    mspId: o.msp_id,
    anchorPeers: o.anchor_peers,
    rootCerts: o.root_certs,
    tlsRootCerts: o.tls_root_certs,
    revokedSerials: o.revoked.map((r) => r.serial_hex),
  }));
  assert.deepEqual(
    got.orgs?.map((o) => ({ mspId: o.mspId, anchorPeers: o.anchorPeers, rootCerts: o.rootCerts, tlsRootCerts: o.tlsRootCerts, revokedSerials: o.revokedSerials })),
    wantOrgs,
    at,
  );
  assert.deepEqual(got.orderer?.orgs, Object.values(cfg.orderer_orgs).map((o) => o.msp_id), at);
  assert.deepEqual(got.orderer?.endpoints, Object.values(cfg.orderer_orgs).flatMap((o) => o.endpoints), at);
  assert.deepEqual(got.orderer?.globalAddresses, cfg.global_orderer_addresses, at);
  assert.deepEqual(got.capabilities, { channel: cfg.channel_capabilities, orderer: cfg.orderer_capabilities, application: cfg.application_capabilities }, at);
  for (const [path, p] of Object.entries(cfg.policies)) {
    assert.equal(got.policies?.[path]?.type, p.type, `${at} ${path}`);
    if (p.rule !== undefined) assert.equal(got.policies?.[path]?.rule, p.rule, `${at} ${path}`);
  }
}

function assertCode(fn: () => unknown, code: ChannelConfigErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ChannelConfigError, `expected a ChannelConfigError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

/** Block 0 re-encoded after `edit` changes its ConfigEnvelope. */
function editGenesisConfig(edit: (env: ConfigEnvelope) => void): Uint8Array {
  const block = Block.decode(blockBytes(0));
  const envelope = Envelope.decode(block.data!.data[0]!);
  const payload = Payload.decode(envelope.payload);
  const configEnv = ConfigEnvelope.decode(payload.data);
  edit(configEnv);
  payload.data = ConfigEnvelope.encode(configEnv).finish();
  envelope.payload = Payload.encode(payload).finish();
  block.data!.data[0] = Envelope.encode(envelope).finish();
  return Block.encode(block).finish();
}

describe("channelconfig: the fabric-v2.5.6-channel vectors", () => {
  it("inspects all 10 blocks as expected.json says", async () => {
    assert.equal(expected.blocks.length, 10);
    for (const want of expected.blocks) {
      assertAgrees(inspectBlock(blockBytes(want.number)), want);
      assertAgrees(await inspectBlockFile(blockFile(want.number)), want);
    }
  });

  it("`fabric-gossip channel inspect --json` prints the same", async () => {
    const res = await runCli(["channel", "inspect", blockFile(8), "--json"]);
    assert.equal(res.code, 0, res.stderr);
    assertAgrees(JSON.parse(res.stdout) as ReturnType<typeof inspectBlock>, expected.blocks[8]!);
  });

  it("reads the last config index as Fabric does: SIGNATURES' OrdererBlockMetadata, empty LAST_CONFIG is 0", () => {
    const b0 = decodeBlock(blockBytes(0));
    assert.equal(b0.metadata!.metadata[1]!.length, 0);
    assert.deepEqual(lastConfigIndices(b0), { signatures: 0n, lastConfig: 0n });
    assert.equal(lastConfigIndex(decodeBlock(blockBytes(5))), 4n);
    assert.equal(lastConfigIndex(decodeBlock(blockBytes(9))), 8n);
    // An orderer older than v1.4.1 leaves the SIGNATURES value empty: LAST_CONFIG decides.
    const b9 = decodeBlock(blockBytes(9));
    b9.metadata!.metadata[0] = new Uint8Array(0);
    assert.equal(lastConfigIndex(b9), 8n);
    assert.deepEqual(blockSignatures(decodeBlock(blockBytes(0))), []);
  });

  it("gives the typed ChannelConfig of the last config block", () => {
    const cfg = channelConfigFromBlock(decodeBlock(blockBytes(8)));
    assert.equal(cfg.channelId, "mychannel");
    assert.equal(cfg.sequence, 4n);
    assert.deepEqual(cfg.applicationOrgs.map((o) => o.mspId), ["Org1MSP", "Org2MSP", "Org3MSP"]);
    const org1 = cfg.applicationOrg("Org1MSP")!;
    assert.match(org1.msp.rootCerts[0]!, /^-----BEGIN CERTIFICATE-----\n/);
    assert.match(org1.msp.crls[0]!, /^-----BEGIN X509 CRL-----\n/);
    assert.equal(org1.msp.fabric?.name, "Org1MSP");
    assert.equal(org1.msp.nodeOUs?.enable, true);
    assert.equal(org1.msp.nodeOUs?.peerOuIdentifier?.organizationalUnitIdentifier, "peer");
    assert.deepEqual(cfg.applicationOrg("Org3MSP")!.anchorPeers, [{ host: "127.0.0.1", port: 26151 }]);
    assert.deepEqual(cfg.ordererOrg("OrdererMSP")!.endpoints, ["127.0.0.1:25050", "127.0.0.1:25150"]);
    assert.deepEqual(cfg.ordererEndpoints, ["127.0.0.1:25050", "127.0.0.1:25150"]);
    assert.equal(cfg.consensusType, "etcdraft");
    assert.equal(cfg.batchSize?.maxMessageCount, 10);
    assert.equal(cfg.batchTimeout, "2s");
    const bv = cfg.policy("/Channel/Orderer/BlockValidation")!;
    assert.equal(bv.type, "IMPLICIT_META");
    assert.deepEqual(bv.implicitMeta, { rule: "ANY", subPolicy: "Writers" });
    assert.ok(bv.value.length > 0);
    assert.equal(cfg.policy("/Channel/Application/Org1MSP/Admins")?.type, "SIGNATURE");
    assert.ok(configOfBlock(decodeBlock(blockBytes(8))).lastUpdate !== undefined);
  });

  it("the channel's MSPs feed the MspVerifier: members validate, the CRL of block 6 revokes peer2.org1", () => {
    const clock = new ManualClock(Date.parse("2027-01-01T00:00:00Z"));
    const identity = (org: number, peer: number): Uint8Array => {
      const dir = join(VECTORS, "crypto/peerOrganizations", `org${org}.example.com`, "peers", `peer${peer}.org${org}.example.com`, "msp/signcerts");
      return serializeIdentity(`Org${org}MSP`, new Uint8Array(readFileSync(join(dir, `peer${peer}.org${org}.example.com-cert.pem`))));
    };
    const before = new MspVerifier(channelMspMaterials(channelConfigFromBlock(decodeBlock(blockBytes(4)))), { clock });
    assert.deepEqual(before.mspIds().sort(), ["OrdererMSP", "Org1MSP", "Org2MSP"]);
    assert.equal(before.validate(identity(1, 2)).mspId, "Org1MSP");
    const after = new MspVerifier(channelMspMaterials(channelConfigFromBlock(decodeBlock(blockBytes(6)))), { clock });
    assert.equal(after.validate(identity(1, 1)).mspId, "Org1MSP");
    assert.throws(() => after.validate(identity(1, 2)), (err: unknown) => (err as { code?: string }).code === "REVOKED_IDENTITY");
    const withOrg3 = new MspVerifier(channelMspMaterials(channelConfigFromBlock(decodeBlock(blockBytes(7)))), { clock });
    assert.equal(withOrg3.validate(identity(3, 0)).mspId, "Org3MSP");
  });
});

describe("channelconfig: malformed bytes give typed errors", () => {
  it("not a block, truncated, no data", () => {
    assertCode(() => inspectBlock(new TextEncoder().encode("# not a block\n")), "MALFORMED_BLOCK");
    const b0 = blockBytes(0);
    assertCode(() => inspectBlock(b0.subarray(0, b0.length - 40)), "MALFORMED_BLOCK");
    assertCode(() => inspectBlock(new Uint8Array(0)), "MALFORMED_BLOCK");
    const noData = Block.decode(b0);
    noData.data = { data: [] };
    assertCode(() => inspectBlock(Block.encode(noData).finish()), "MALFORMED_BLOCK");
  });

  it("a first data entry that is not an envelope", () => {
    const block = Block.decode(blockBytes(1));
    block.data!.data[0] = new Uint8Array([0xff, 0xff, 0xff]);
    assertCode(() => inspectBlock(Block.encode(block).finish()), "MALFORMED_ENVELOPE");
  });

  it("a data block asked for its config", () => {
    assertCode(() => configOfBlock(decodeBlock(blockBytes(1))), "NOT_CONFIG_BLOCK");
  });

  it("a config envelope, MSP, value or policy that does not decode", () => {
    const bad = new Uint8Array([0x0a, 0xff, 0xff]);
    const org1 = (e: ConfigEnvelope) => e.config!.channelGroup!.groups.Application!.groups.Org1MSP!;
    const cases: Array<[ChannelConfigErrorCode, (e: ConfigEnvelope) => void]> = [
      ["MALFORMED_CONFIG", (e) => {
        e.config = undefined;
      }],
      ["MALFORMED_CONFIG", (e) => {
        e.config!.channelGroup = undefined;
      }],
      ["MALFORMED_MSP", (e) => {
        org1(e).values.MSP!.value = bad;
      }],
      ["MALFORMED_MSP", (e) => {
        delete org1(e).values.MSP;
      }],
      ["MALFORMED_VALUE", (e) => {
        org1(e).values.AnchorPeers!.value = bad;
      }],
      ["MALFORMED_POLICY", (e) => {
        e.config!.channelGroup!.groups.Orderer!.policies.BlockValidation!.policy!.value = bad;
      }],
    ];
    for (const [code, edit] of cases) assertCode(() => inspectBlock(editGenesisConfig(edit)), code);
  });

  it("block metadata that does not decode", () => {
    const block = Block.decode(blockBytes(2));
    block.metadata!.metadata[0] = new Uint8Array([0x0a, 0xff]);
    assertCode(() => inspectBlock(Block.encode(block).finish()), "MALFORMED_METADATA");
    block.metadata!.metadata = [];
    assertCode(() => inspectBlock(Block.encode(block).finish()), "MALFORMED_METADATA");
  });

  it("the CLI names the file and the cause, and exits non-zero", async () => {
    const res = await runCli(["channel", "inspect", join(VECTORS, "README.md")]);
    assert.notEqual(res.code, 0);
    assert.equal(res.stdout, "");
    assert.equal(res.stderr.trim().split("\n").length, 1, res.stderr);
    assert.match(res.stderr, /README\.md: MALFORMED_BLOCK: /);
  });
});
