/**
 * Bad blocks are rejected, counted and never committed, on a real peer (GossipService over real
 * gRPC on 127.0.0.1, the MSP MessageCryptoService with /Channel/Orderer/BlockValidation of the
 * channel's genesis block, made as `channel genesis` makes it), on all three
 * ways a block comes in:
 * - from the ordering service (a fake orderer serving a block 1 of our choosing to the static
 *   leader's deliver client): a block signed by a peer instead of the orderer, a broken hash chain
 *   (validly signed), a block of another channel (validly signed); then the genuine block 1;
 * - pushed by gossip from an insider (a gossip node of the peer's own org): a block with a forged
 *   orderer signature, another channel's genuine block; then the genuine block 2;
 * - by state transfer from that insider, who advertises a greater height and answers with a forged block.
 */
import "reflect-metadata";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { GrpcTransport } from "../../src/comm/grpc/index.js";
import { blockHeaderHash, createMspMessageCryptoService, loadPeerMaterial, loadVerifierOrgs, MspVerifier, type SigningIdentity } from "../../src/crypto/index.js";
import { createSignedEnvelope, DELIVER_BLOCKS_RECEIVED_METRIC, DELIVER_BLOCKS_REJECTED_METRIC } from "../../src/deliver/index.js";
import { CHANNEL_REJECTED_METRIC } from "../../src/gossip/channel/index.js";
import { createGossipNode, type GossipNode, type GossipNodeOptions } from "../../src/gossip/node/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { createRegistry, memoryMetricsProvider, promMetricsProvider, registerFabricGossipMetrics, type Registry } from "../../src/metrics/index.js";
import { ATOMIC_BROADCAST_SERVICE, buildBlock, deliverResponseBlockBytes } from "../../src/orderer/index.js";
import { Block, Envelope, HeaderType, Status } from "../../src/protos/gen/common/common.pb.js";
import { GossipMessage_Tag, type GossipMessage } from "../../src/protos/gen/gossip/message.pb.js";
import { DeliverResponse } from "../../src/protos/gen/orderer/ab.pb.js";
import { ChannelRegistry, channelJoinBlockOf, createGossipService, type GossipService, joinMessageOf } from "../../src/service/index.js";
import { bytesEqual, SystemClock, SystemRandom, toHex, utf8 } from "../../src/util/index.js";
import { seekStart } from "../unit/deliver/helpers.js";
import { genesisBlockOf, generateTestOrgs } from "../utils/channel-setup.js";
import { FAST_GOSSIP_NODE_OPTIONS } from "../utils/fast-timers.js";
import { eventually as poll, freePort } from "../utils/net.js";

const CHANNEL = "mychannel";
const OTHER = "otherchannel";
const STATE_REJECTED_METRIC = "fabric_gossip_state_blocks_rejected_total";

/** Waits for `cond`, polling every 25 ms, for 15 s unless told otherwise. */
async function eventually(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  await poll(what, cond, timeoutMs, 25);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The value of a counter's series with exactly these labels (0 when the series does not exist). */
async function count(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return 0;
  const { values } = await m.get();
  const keys = Object.keys(labels);
  const v = values.find((x) => Object.keys(x.labels).length === keys.length && keys.every((k) => x.labels[k] === labels[k]));
  return v?.value ?? 0;
}

/**
 * A fake ordering service: a Deliver request from block 0 gets the genesis block (and SUCCESS);
 * a request from block 1 or later waits for the test to `offer` a block, and each stream gets at
 * most one offer (a rejecting client hangs up, so an offer is only ever written to a fresh stream).
 */
class FakeOrderer {
  readonly server = new grpc.Server();
  readonly seeks: bigint[] = [];
  readonly #offers: Block[] = [];
  readonly #open = new Set<grpc.ServerDuplexStream<Uint8Array, Uint8Array>>();
  #waiting: grpc.ServerDuplexStream<Uint8Array, Uint8Array> | undefined;
  address = "";

  constructor(private readonly genesis: Block) {
    this.server.addService(ATOMIC_BROADCAST_SERVICE, {
      Deliver: (call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>) => {
        this.#open.add(call);
        const done = (): void => {
          this.#open.delete(call);
          if (this.#waiting === call) this.#waiting = undefined;
        };
        call.on("cancelled", done);
        call.on("close", done);
        call.on("error", done);
        call.once("data", (env: Uint8Array) => {
          const start = seekStart(env);
          this.seeks.push(start);
          if (start === 0n) {
            call.write(deliverResponseBlockBytes(Block.encode(this.genesis).finish()));
            call.write(DeliverResponse.encode({ Type: { $case: "status", value: Status.SUCCESS } }).finish());
            call.end();
            return;
          }
          this.#waiting = call;
          this.#flush();
        });
      },
    });
  }

  /** Serves `block` on the next fresh Deliver stream. */
  offer(block: Block): void {
    this.#offers.push(block);
    this.#flush();
  }

  openStreams(): number {
    return this.#open.size;
  }

  #flush(): void {
    const call = this.#waiting;
    const block = this.#offers[0];
    if (call === undefined || block === undefined) return;
    this.#offers.shift();
    this.#waiting = undefined;
    call.write(deliverResponseBlockBytes(Block.encode(block).finish()));
  }

  /** Listens on `address` ("127.0.0.1:port": the endpoint the genesis block names). */
  async listen(address: string): Promise<string> {
    await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.address = address;
    return this.address;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

const NODE_TIMINGS: Omit<GossipNodeOptions, "internalEndpoint" | "bootstrapPeers"> = {
  ...FAST_GOSSIP_NODE_OPTIONS,
  publishStateInfoIntervalMs: 500,
  requestStateInfoIntervalMs: 500,
};

test("bad blocks from the orderer, from gossip and from state transfer are rejected, counted and never committed", async (t) => {
  const clock = new SystemClock();
  const root = await mkdtemp(join(tmpdir(), "fabric-gossip-rejection-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const { summary, ordererOrg, peerOrgs } = await generateTestOrgs(root, 1, 2);
  const peerOrg = peerOrgs[0];
  assert.ok(ordererOrg.nodes[0] && peerOrg?.nodes[0] && peerOrg.nodes[1]);
  const ordererId: SigningIdentity = (await loadPeerMaterial(ordererOrg.nodes[0].dir)).signingIdentity;
  const peerMaterial = await loadPeerMaterial(peerOrg.nodes[0].dir);
  const insiderId: SigningIdentity = (await loadPeerMaterial(peerOrg.nodes[1].dir)).signingIdentity;
  const verifierOrgs = await loadVerifierOrgs(summary.root);

  // --- the blocks ------------------------------------------------------------------------------
  const tx = (channel: string, i: number): Uint8Array =>
    Envelope.encode(createSignedEnvelope(peerMaterial.signingIdentity, channel, HeaderType.ENDORSER_TRANSACTION, utf8(`tx-${i}`), { clock })).finish();
  // The channel's genesis block names the fake orderer's endpoint: the peer's deliver client dials it.
  const ordererEndpoint = `127.0.0.1:${await freePort()}`;
  const genesisBytes = await genesisBlockOf(CHANNEL, [{ org: peerOrg }], ordererOrg, [ordererEndpoint]);
  const genesis = Block.decode(genesisBytes);
  const hashOf = (b: Block): Uint8Array => blockHeaderHash(b.header!);
  const good1 = buildBlock(1n, hashOf(genesis), [tx(CHANNEL, 1)], ordererId);
  const signedByPeer1 = buildBlock(1n, hashOf(genesis), [tx(CHANNEL, 1)], insiderId);
  const brokenChain1 = buildBlock(1n, new Uint8Array(32).fill(7), [tx(CHANNEL, 1)], ordererId);
  const otherChannel1 = buildBlock(1n, hashOf(genesis), [tx(OTHER, 1)], ordererId);
  const good2 = buildBlock(2n, hashOf(good1), [tx(CHANNEL, 2)], ordererId);
  const forged2 = buildBlock(2n, hashOf(good1), [tx(CHANNEL, 2)], insiderId);
  const otherChannel2 = buildBlock(2n, hashOf(good1), [tx(OTHER, 2)], ordererId);
  const forged3 = buildBlock(3n, hashOf(good2), [tx(CHANNEL, 3)], insiderId);

  const orderer = new FakeOrderer(genesis);
  t.after(() => orderer.stop());
  await orderer.listen(ordererEndpoint);

  // The channel as its genesis block defines it (members, MSPs, orderer endpoints).
  const { def } = channelJoinBlockOf(genesisBytes);
  const [peerPort, insiderPort] = [await freePort(), await freePort()];
  const peerEndpoint = `127.0.0.1:${peerPort}`;
  const insiderEndpoint = `127.0.0.1:${insiderPort}`;

  // --- the peer under test: a static org leader with state transfer on -------------------------
  const channels = new ChannelRegistry();
  const mcs = createMspMessageCryptoService(
    { signer: peerMaterial.signingIdentity, verifier: new MspVerifier(verifierOrgs, { clock }) },
    { channelOrgs: channels.channelOrgs, ordererOrgs: channels.ordererOrgs, blockValidation: channels.blockValidation },
  );
  const registry = createRegistry();
  registerFabricGossipMetrics(registry);
  const peerTransport = new GrpcTransport({ listenAddress: peerEndpoint, logger: silentLogger, clock });
  const service: GossipService = createGossipService(
    { transport: peerTransport, mcs, securityAdvisor: mcs, selfIdentity: peerMaterial.signingIdentity.serialized, signer: peerMaterial.signingIdentity, channels, clock, random: new SystemRandom(), logger: silentLogger, metrics: promMetricsProvider(registry) },
    {
      useLeaderElection: false,
      orgLeader: true,
      state: { enabled: true, checkIntervalMs: 500, responseTimeoutMs: 500 },
      deliver: { initialBackoffMs: 50, connTimeoutMs: 2_000, reconnectBackoffThresholdMs: 200 },
      ledgerRootDir: join(root, "peer0", "ledgers"),
    },
    { ...NODE_TIMINGS, internalEndpoint: peerEndpoint, bootstrapPeers: [] },
  );
  let serviceStopped = false;
  t.after(async () => {
    if (!serviceStopped) await service.stop();
  });
  await service.start();
  await service.initializeChannel(def); // no genesisBlock: it is fetched from the orderer
  assert.equal(orderer.seeks[0], 0n, "the genesis block came from the orderer");
  assert.equal(service.ledgerHeight(CHANNEL), 1n);
  assert.equal(toHex(service.lastBlockHash(CHANNEL)), toHex(hashOf(genesis)));
  assert.ok(service.isLeader(CHANNEL) && service.isDelivering(CHANNEL), "a static leader delivers at once");

  const delivered = (): Promise<number> => count(registry, DELIVER_BLOCKS_RECEIVED_METRIC, { channel: CHANNEL });
  const deliverRejected = (reason: string): Promise<number> => count(registry, DELIVER_BLOCKS_REJECTED_METRIC, { channel: CHANNEL, reason });
  const channelRejected = (reason: string): Promise<number> => count(registry, CHANNEL_REJECTED_METRIC, { channel: CHANNEL, reason });
  const stateRejected = (reason: string): Promise<number> => count(registry, STATE_REJECTED_METRIC, { channel: CHANNEL, reason });

  /** Offers `block` as block 1 and waits until it is rejected for `reason` (to `expected` in all); nothing is committed. */
  const rejectFromOrderer = async (what: string, block: Block, reason: string, expected: number): Promise<void> => {
    orderer.offer(block);
    await eventually(`${what} counted as ${reason}`, async () => {
      if (service.ledgerHeight(CHANNEL) !== 1n) assert.fail(`${what} was committed`);
      return (await deliverRejected(reason)) === expected;
    });
    assert.equal(service.ledgerHeight(CHANNEL), 1n, `${what}: the ledger height did not move`);
    assert.equal(service.ledger(CHANNEL).height(), 1n, `${what}: nothing was stored`);
    assert.equal(await delivered(), 0, `${what}: not passed on to state`);
  };

  // --- 1. from the ordering service ------------------------------------------------------------
  await eventually("the deliver client asks for block 1", () => orderer.seeks.includes(1n));
  await rejectFromOrderer("block 1 signed by a peer, not the orderer org", signedByPeer1, "verify_failed", 1);
  await rejectFromOrderer("block 1 with a wrong previous_hash", brokenChain1, "hash_chain", 1);
  await rejectFromOrderer("block 1 of another channel", otherChannel1, "verify_failed", 2);
  assert.equal(await deliverRejected("hash_chain"), 1);

  orderer.offer(good1);
  await eventually("the genuine block 1 committed", () => service.ledgerHeight(CHANNEL) === 2n);
  assert.equal(toHex(service.lastBlockHash(CHANNEL)), toHex(hashOf(good1)));
  assert.equal(await delivered(), 1);
  assert.match(await registry.metrics(), /^gossip_state_height\{channel="mychannel"\} 2$/m);
  assert.ok(orderer.seeks.filter((s) => s === 1n).length >= 4, "each rejection was followed by a new request from block 1");

  // --- 2. pushed by gossip from an insider of the peer's org -----------------------------------
  const insiderChannels = new ChannelRegistry();
  insiderChannels.set(def);
  const insiderMcs = createMspMessageCryptoService(
    { signer: insiderId, verifier: new MspVerifier(verifierOrgs, { clock }) },
    { channelOrgs: insiderChannels.channelOrgs, ordererOrgs: insiderChannels.ordererOrgs },
  );
  const insiderTransport = new GrpcTransport({ listenAddress: insiderEndpoint, logger: silentLogger, clock });
  const insider: GossipNode = createGossipNode(
    { transport: insiderTransport, mcs: insiderMcs, securityAdvisor: insiderMcs, selfIdentity: insiderId.serialized, clock, random: new SystemRandom(), logger: silentLogger, metrics: memoryMetricsProvider() },
    { ...NODE_TIMINGS, internalEndpoint: insiderEndpoint, bootstrapPeers: [peerEndpoint] },
  );
  let insiderStopped = false;
  t.after(async () => {
    if (!insiderStopped) await insider.stop();
  });
  await insider.start();
  insider.joinChan(joinMessageOf(def), CHANNEL);
  insider.updateLedgerHeight(1n, CHANNEL);
  const isMember = (of: GossipNode, pkiId: Uint8Array): boolean => of.peersOfChannel(CHANNEL).some((m) => bytesEqual(m.pkiId, pkiId));
  await eventually("the peer and the insider see each other in the channel", () => isMember(service.node, insider.pkiId()) && isMember(insider, service.node.pkiId()));

  const push = (block: Block): void =>
    insider.gossip({
      nonce: 0n,
      channel: utf8(CHANNEL),
      tag: GossipMessage_Tag.CHAN_AND_ORG,
      content: { $case: "dataMsg", value: { payload: { seqNum: block.header!.number, data: Block.encode(block).finish(), privateData: [] } } },
    });

  const badBlocksBefore = await channelRejected("BAD_BLOCK");
  push(forged2);
  const rejectedByChannel = (what: string, expected: number): Promise<void> =>
    eventually(`${what} counted as BAD_BLOCK`, async () => {
      if (service.ledgerHeight(CHANNEL) !== 2n) assert.fail(`${what} was committed`);
      return (await channelRejected("BAD_BLOCK")) === expected;
    });
  await rejectedByChannel("the forged block 2", badBlocksBefore + 1);
  push(otherChannel2);
  await rejectedByChannel("another channel's block 2", badBlocksBefore + 2);
  await sleep(300);
  assert.equal(service.ledgerHeight(CHANNEL), 2n, "neither gossiped bad block was committed");

  push(good2);
  await eventually("the genuine block 2 from gossip committed", () => service.ledgerHeight(CHANNEL) === 3n);
  assert.equal(toHex(service.lastBlockHash(CHANNEL)), toHex(hashOf(good2)));

  // --- 3. by state transfer: the insider claims height 10 and answers with a forged block 3 -----
  let requests = 0;
  const unsubscribe = insider.acceptPassThrough(
    (m) => m.message.message.content?.$case === "stateRequest",
    (m) => {
      requests++;
      const answer: GossipMessage = {
        nonce: m.message.message.nonce,
        tag: GossipMessage_Tag.CHAN_OR_ORG,
        channel: utf8(CHANNEL),
        content: { $case: "stateResponse", value: { payloads: [{ seqNum: 3n, data: Block.encode(forged3).finish(), privateData: [] }] } },
      };
      m.respond(answer);
    },
  );
  t.after(unsubscribe);
  insider.updateLedgerHeight(10n, CHANNEL);
  await eventually("the forged state-transfer block counted as verify_failed", async () => (await stateRejected("verify_failed")) >= 2, 20_000);
  assert.ok(requests >= 2, "the peer asked the insider for the missing blocks");
  assert.equal(service.ledgerHeight(CHANNEL), 3n, "the forged block 3 was not committed");
  assert.equal(await stateRejected("malformed"), 0);

  // The ledger holds exactly the genuine chain.
  const stored: string[] = [];
  for await (const b of service.ledger(CHANNEL).iterate(0n)) stored.push(toHex(hashOf(b)));
  assert.deepEqual(stored, [genesis, good1, good2].map((b) => toHex(hashOf(b))));

  await service.stop();
  serviceStopped = true;
  await insider.stop();
  insiderStopped = true;
  await eventually("the fake orderer's streams closed", () => orderer.openStreams() === 0, 5_000);
  assert.equal(peerTransport.openStreams(), 0, "no gossip stream left open on the peer");
  assert.equal(insiderTransport.openStreams(), 0, "no gossip stream left open on the insider");
  await eventually("no timer left", () => clock.pendingTimers() === 0, 2_000);
});
