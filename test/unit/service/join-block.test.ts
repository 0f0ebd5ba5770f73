import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { MemoryNetwork, MemoryTransport } from "../../../src/comm/memory/index.js";
import { DevMessageCryptoService } from "../../../src/crypto/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../src/metrics/index.js";
import { ChannelDefinitionError, channelJoinBlockOf, checkJoinBlock, createGossipService, GossipServiceError } from "../../../src/service/index.js";
import { ManualClock, SeededRandom, utf8 } from "../../../src/util/index.js";

// A real configtxgen genesis block and a data block from Fabric v2.5.6 (../shared/vectors, see its README).
const BLOCKS = new URL("../../../../shared/vectors/fabric-v2.5.6-channel/blocks/", import.meta.url);
const block = (n: number): Promise<Uint8Array> => readFile(new URL(`${String(n).padStart(3, "0")}.block`, BLOCKS)).then((b) => new Uint8Array(b));

const code = (fn: () => void): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof GossipServiceError, `a GossipServiceError, got ${String(err)}`);
    return `${err.code}: ${err.message}`;
  }
  return "accepted";
};

test("the join block is trusted but must be block 0 of the channel, whole", async () => {
  const genesis = await block(0);
  const block1 = await block(1);
  assert.equal(code(() => checkJoinBlock("mychannel", genesis)), "accepted", "Fabric's unsigned genesis block is accepted");
  assert.match(code(() => checkJoinBlock("otherchannel", genesis)), /^BAD_GENESIS_BLOCK: .*is of channel "mychannel"/);
  assert.match(code(() => checkJoinBlock("mychannel", block1)), /^BAD_GENESIS_BLOCK: .*is block 1, not block 0/);
  const altered = genesis.slice();
  altered[altered.length - 200]! ^= 0xff; // inside the config envelope, far from the header
  assert.match(code(() => checkJoinBlock("mychannel", altered)), /^BAD_GENESIS_BLOCK: .*(data hash|not a common.Block|undecodable)/);
  assert.match(code(() => checkJoinBlock("mychannel", utf8("not a block"))), /^BAD_GENESIS_BLOCK: /);
});

test("a peer joins from the genesis block without verifying its signatures (an MCS that refuses every block)", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-join-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const clock = new ManualClock(1_700_000_000_000);
  const dev = new DevMessageCryptoService();
  const mcs = Object.assign(Object.create(dev) as DevMessageCryptoService, {
    verifyBlock: () => {
      throw new Error("this MCS refuses every block");
    },
  });
  const service = createGossipService(
    {
      transport: new MemoryTransport(new MemoryNetwork(clock), { endpoint: "p0:7051" }),
      mcs,
      securityAdvisor: dev,
      selfIdentity: utf8("p0:7051"),
      signer: { serialized: utf8("p0:7051"), sign: (m) => m },
      clock,
      random: new SeededRandom(1),
      logger: silentLogger,
      metrics: memoryMetricsProvider(),
    },
    { useLeaderElection: false, orgLeader: false, ledgerRootDir: dir },
    { internalEndpoint: "p0:7051" },
  );
  await service.start();
  t.after(() => service.stop());
  const def = { name: "mychannel", orgs: [{ mspId: "ORG1", mspDir: "", anchorPeers: [] }], orderer: { mspId: "OrdererMSP", mspDir: "", endpoints: ["127.0.0.1:1"] } };
  await service.initializeChannel(def, { genesisBlock: await block(0) });
  assert.equal(service.ledgerHeight("mychannel"), 1n);
  await assert.rejects(service.initializeChannel({ ...def, name: "second" }, { genesisBlock: await block(0) }), (err: unknown) => err instanceof GossipServiceError && err.code === "BAD_GENESIS_BLOCK");
  assert.deepEqual(service.channels(), ["mychannel"], "the refused channel left nothing behind");
});

test("what a peer learns from the genesis block: member orgs with their MSPs, anchor peers, the orderer org and endpoints", async () => {
  const { def } = channelJoinBlockOf(await block(0), "000.block");
  const block1 = await block(1);
  assert.equal(def.name, "mychannel");
  assert.deepEqual(
    def.orgs.map((o) => [o.mspId, o.anchorPeers, (o.msp?.rootCerts.length ?? 0) > 0]),
    [
      ["Org1MSP", ["127.0.0.1:25051"], true],
      ["Org2MSP", [], true],
    ],
  );
  assert.deepEqual([def.orderer.mspId, def.orderer.endpoints], ["OrdererMSP", ["127.0.0.1:25050"]]);
  assert.throws(
    () => channelJoinBlockOf(new Uint8Array([1, 2, 3]), "junk.block"),
    (err: unknown) => err instanceof ChannelDefinitionError && err.code === "INVALID_CHANNEL_DEFINITION" && err.message.startsWith("junk.block: "),
  );
  assert.throws(
    () => channelJoinBlockOf(block1, "001.block"),
    (err: unknown) => err instanceof ChannelDefinitionError && /001\.block: /.test(err.message),
    "a data block is no join block",
  );
});
