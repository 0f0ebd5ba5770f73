import "reflect-metadata";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify as toYaml } from "yaml";
import { channelConfigFromBlock, inspectBlock } from "../../../src/channelconfig/index.js";
import { ChannelCommandError, type GenesisFlags, genesisBlockOfFlags } from "../../../src/cli/commands/channel.js";
import { Block } from "../../../src/protos/gen/common/common.pb.js";
import { generateTestOrgs, type TestOrgs } from "../../utils/channel-setup.js";
import { runCli } from "../../utils/cli.js";

/**
 * `channel genesis --channel-def FILE`: the YAML channel definitions peers once read become an input of the
 * genesis block, the same block the --org / --orderer-org flags make from the same orgs; mixing both, or
 * giving neither, is refused naming the flags.
 */

const BATCH = { batchTimeout: "2s", maxMessageCount: "10", absoluteMaxBytes: "103809024", preferredMaxBytes: "524288", out: "unused" };

const codeOf = async (flags: GenesisFlags): Promise<string> => {
  try {
    await genesisBlockOfFlags(flags);
  } catch (err) {
    assert.ok(err instanceof ChannelCommandError, `a ChannelCommandError, got ${String(err)}`);
    return `${err.code}: ${err.message}`;
  }
  return "accepted";
};

describe("channel genesis --channel-def", () => {
  let root: string;
  let orgs: TestOrgs;
  let defFile: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-genesis-def-"));
    orgs = await generateTestOrgs(root, 2, 1);
    const [org1, org2] = orgs.peerOrgs;
    const defDir = join(root, "defs");
    defFile = join(defDir, "mychannel.yaml");
    await mkdir(defDir, { recursive: true });
    await writeFile(
      defFile,
      toYaml({
        name: "mychannel",
        orgs: [
          // Relative folders are taken from the file's folder.
          { mspId: "Org1MSP", mspDir: relative(defDir, org1!.mspDir), anchorPeers: ["127.0.0.1:7051"] },
          { mspId: "Org2MSP", mspDir: org2!.mspDir },
        ],
        orderer: { mspId: "OrdererMSP", mspDir: orgs.ordererOrg.mspDir, endpoints: ["127.0.0.1:7050", "127.0.0.1:8050"] },
      }),
    );
  });

  after(() => rm(root, { recursive: true, force: true }));

  it("makes the block the flags make from the same orgs", async () => {
    const [org1, org2] = orgs.peerOrgs;
    const fromDef = Block.encode(await genesisBlockOfFlags({ channelDef: defFile, org: [], ordererOrg: [], ...BATCH })).finish();
    const fromFlags = Block.encode(
      await genesisBlockOfFlags({
        channel: "mychannel",
        org: [`Org1MSP:${org1!.mspDir}:127.0.0.1:7051`, `Org2MSP:${org2!.mspDir}`],
        ordererOrg: [`OrdererMSP:${orgs.ordererOrg.mspDir}:127.0.0.1:7050,127.0.0.1:8050`],
        ...BATCH,
      }),
    ).finish();
    const a = inspectBlock(fromDef);
    const b = inspectBlock(fromFlags);
    assert.equal(a.channel, "mychannel");
    assert.equal(a.number, 0);
    assert.deepEqual(
      a.orgs?.map((o) => [o.mspId, o.anchorPeers]),
      [
        ["Org1MSP", ["127.0.0.1:7051"]],
        ["Org2MSP", []],
      ],
    );
    assert.deepEqual(a.orderer?.endpoints, ["127.0.0.1:7050", "127.0.0.1:8050"]);
    assert.deepEqual({ ...a, hash: "", dataHash: "" }, { ...b, hash: "", dataHash: "" }, "the same configuration as from the flags");
    // The MSPs carry the folders' certificates.
    const config = channelConfigFromBlock(Block.decode(fromDef));
    assert.deepEqual(
      config.applicationOrgs.map((o) => o.msp.rootCerts.length),
      [1, 1],
    );
  });

  it("refuses --channel-def together with --channel, --org or --orderer-org, and neither input", async () => {
    const [org1] = orgs.peerOrgs;
    assert.match(
      await codeOf({ channelDef: defFile, org: [`Org1MSP:${org1!.mspDir}`], ordererOrg: [], ...BATCH }),
      /^BAD_GENESIS_INPUT: --channel-def excludes --org: /,
    );
    assert.match(
      await codeOf({ channelDef: defFile, channel: "x", org: [], ordererOrg: [`OrdererMSP:${orgs.ordererOrg.mspDir}:127.0.0.1:7050`], ...BATCH }),
      /^BAD_GENESIS_INPUT: --channel-def excludes --channel, --orderer-org: /,
    );
    assert.match(await codeOf({ org: [], ordererOrg: [], ...BATCH }), /^BAD_GENESIS_INPUT: missing --channel, --org, --orderer-org: .*--channel-def FILE/);
  });

  it("names the file and the field of a bad definition, and a file that cannot be read", async () => {
    const bad = join(root, "bad.yaml");
    await writeFile(bad, toYaml({ name: "mychannel", orgs: [{ mspDir: "x" }], orderer: { mspId: "O", mspDir: "o", endpoints: ["o:7050"] } }));
    assert.match(await codeOf({ channelDef: bad, org: [], ordererOrg: [], ...BATCH }), /^BAD_GENESIS_INPUT: --channel-def .*bad\.yaml: .*orgs\[0\]\.mspId/);
    const noMsp = join(root, "nomsp.yaml");
    await writeFile(noMsp, toYaml({ name: "mychannel", orgs: [{ mspId: "Org1MSP", mspDir: "missing" }], orderer: { mspId: "OrdererMSP", mspDir: orgs.ordererOrg.mspDir, endpoints: ["o:7050"] } }));
    assert.match(await codeOf({ channelDef: noMsp, org: [], ordererOrg: [], ...BATCH }), /^BAD_GENESIS_INPUT: --channel-def .*nomsp\.yaml: Org1MSP \(.*missing\)/);
    assert.match(await codeOf({ channelDef: join(root, "absent.yaml"), org: [], ordererOrg: [], ...BATCH }), /^READ_FAILED: --channel-def .*absent\.yaml: /);
  });

  it("the command writes the block, and exits 1 naming the flags when both inputs are given", async () => {
    const out = join(root, "cli.block");
    const ok = await runCli(["channel", "genesis", "--channel-def", defFile, "--out", out], {}, 60_000);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /wrote the genesis block of channel mychannel to /);
    const bad = await runCli(["channel", "genesis", "--channel-def", defFile, "--org", `Org1MSP:${orgs.peerOrgs[0]!.mspDir}`, "--out", out], {}, 60_000);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--channel-def excludes --org/);
    assert.doesNotMatch(bad.stderr, /^\s+at /m, "no stack trace");
  });
});
