import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import type { ControlMessage } from "../../src/cli/control.js";
import { channelConfigFromBlock, createChannelBundle, lastConfigIndex } from "../../src/channelconfig/index.js";
import { PeerProcess } from "../../src/cli/peer-process.js";
import { blockHeaderHash, loadPeerMaterial, orgUser, type PeerMaterial } from "../../src/crypto/index.js";
import { certHashOfPem } from "../../src/comm/grpc/index.js";
import { createSeekInfoEnvelope, createSignedEnvelope } from "../../src/deliver/index.js";
import {
  broadcastAll,
  type DeliverItem,
  deliver,
  type OrdererClientOptions,
} from "../../src/orderer/index.js";
import { Block, HeaderType, Status } from "../../src/protos/gen/common/common.pb.js";
import { SystemClock, toHex } from "../../src/util/index.js";
import { genesisBlockOf, generateTestOrgs } from "../utils/channel-setup.js";
import { runCli } from "../utils/cli.js";

/** The TLS binding of a Deliver request: the hash of the client certificate its connection presents. */
function bound(o: OrdererClientOptions): { tlsCertHash: Uint8Array } {
  const cert = o.tls?.cert;
  if (cert === undefined) throw new Error("a Deliver request over mutual TLS needs the client certificate");
  return { tlsCertHash: certHashOfPem(cert) };
}

/**
 * `fabric-gossip orderer start --channel-block` as a real process on 127.0.0.1 with mutual TLS: the
 * genesis block is block 0 unchanged; broadcast envelopes become blocks reported as `block` events whose
 * hashes and sizes match what Deliver returns, and that satisfy the channel's BlockValidation policy;
 * an org outside the channel and a peer (not a writer) are refused; SIGTERM, the end of stdin and SIGINT
 * stop it with exit code 0 (pending envelopes cut into a last block); a restart on the same --dir keeps
 * the chain, with or without --channel-block; bad flags exit 1 naming the flag.
 */

const CHANNEL = "mychannel";
const OTHER = "otherchannel";
const enc = new TextEncoder();
const clock = new SystemClock();

interface Collected {
  blocks: { block: Block; bytes: number }[];
  status: Status | undefined;
}

async function collect(it: AsyncIterable<DeliverItem>): Promise<Collected> {
  const blocks: Collected["blocks"] = [];
  for await (const item of it) {
    if ("status" in item) return { blocks, status: item.status };
    blocks.push({ block: item.block, bytes: item.bytes.byteLength });
  }
  return { blocks, status: undefined };
}

/**
 * Sends `signal` (or closes stdin when "stdin") and resolves with the exit code once the process has
 * exited and its stdout is read to the end (so every event it printed can be awaited); SIGKILL after 15 s.
 */
async function stopWith(proc: PeerProcess, how: NodeJS.Signals | "stdin"): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => {
    if (proc.child.exitCode !== null && proc.child.stdout!.readableEnded) resolve(proc.child.exitCode);
    else proc.child.once("close", (code: number | null) => resolve(code));
  });
  if (how === "stdin") proc.child.stdin!.end();
  else proc.child.kill(how);
  const timer = setTimeout(() => proc.kill(), 15_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

function blockEvent(channel: string, number: number): (m: ControlMessage) => boolean {
  return (m) => m.event === "block" && m["channel"] === channel && m["number"] === number;
}

describe("orderer start: a real process with mutual TLS", { timeout: 180_000 }, () => {
  let root: string;
  /** Clients (OU=client, User1) of Org1 (member of mychannel) and Org2 (member of otherchannel only); Org1's peer. */
  let member: PeerMaterial;
  let outsider: PeerMaterial;
  let memberPeer: PeerMaterial;
  let genesis: Uint8Array;
  let blockArgs: string[];
  let testOrgs: Awaited<ReturnType<typeof generateTestOrgs>>;
  let memberTls: OrdererClientOptions;
  let outsiderTls: OrdererClientOptions;
  let baseArgs: string[];
  const running: PeerProcess[] = [];

  /** Starts an orderer process; a test that fails midway leaves it to `stop()` at the test's end, so the next start finds --dir unlocked. */
  const start = async (t: TestContext, extra: string[], withBlocks = true): Promise<{ proc: PeerProcess; endpoint: string; admin: string | null; channels: unknown }> => {
    const proc = new PeerProcess("orderer", ["orderer", "start", ...baseArgs, ...(withBlocks ? blockArgs : []), ...extra]);
    running.push(proc);
    t.after(() => proc.stop(2_000));
    const ready = await proc.event("ready", 60_000);
    return { proc, endpoint: String(ready["endpoint"]), admin: ready["admin"] === null ? null : String(ready["admin"]), channels: ready["channels"] };
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-orderer-start-"));
    const orgs = await generateTestOrgs(root, 2, 1);
    testOrgs = orgs;
    const { ordererOrg } = orgs;
    const [org1, org2] = orgs.peerOrgs;
    assert.ok(org1 && org2);
    member = await loadPeerMaterial(orgUser(org1).dir, { mspId: org1.mspId });
    outsider = await loadPeerMaterial(orgUser(org2).dir, { mspId: org2.mspId });
    memberPeer = await loadPeerMaterial(org1.nodes[0]!.dir);
    const ordererNode = ordererOrg.nodes[0]!;
    const ordererCa = await readFile(join(ordererNode.tlsDir, "ca.crt"), "utf8");
    memberTls = { tls: { rootCAs: ordererCa, cert: member.tls.cert, key: member.tls.key }, dialTimeoutMs: 5_000 };
    outsiderTls = { tls: { rootCAs: ordererCa, cert: outsider.tls.cert, key: outsider.tls.key }, dialTimeoutMs: 5_000 };
    // Org1 is the member of mychannel; Org2 only of otherchannel: mychannel's MSPs do not know Org2.
    genesis = await genesisBlockOf(CHANNEL, [{ org: org1 }], ordererOrg, ["127.0.0.1:7050"]);
    await writeFile(join(root, "mychannel.block"), genesis);
    await writeFile(join(root, "otherchannel.block"), await genesisBlockOf(OTHER, [{ org: org2 }], ordererOrg, ["127.0.0.1:7050"]));
    blockArgs = ["--channel-block", join(root, "mychannel.block"), "--channel-block", join(root, "otherchannel.block")];
    baseArgs = [
      "--listen",
      "127.0.0.1:0",
      "--msp",
      ordererNode.mspDir,
      "--msp-id",
      ordererOrg.mspId,
      "--dir",
      join(root, "orderer-data"),
      "--tls-cert",
      join(ordererNode.tlsDir, "server.crt"),
      "--tls-key",
      join(ordererNode.tlsDir, "server.key"),
      "--tls-ca",
      join(org1.nodes[0]!.tlsDir, "ca.crt"),
      "--tls-ca",
      join(org2.nodes[0]!.tlsDir, "ca.crt"),
      "--report-blocks",
    ];
  });

  after(async () => {
    for (const p of running) await p.stop(2_000);
    await rm(root, { recursive: true, force: true });
  });

  const tx = (signer: PeerMaterial, channel: string, i: number) =>
    createSignedEnvelope(signer.signingIdentity, channel, HeaderType.ENDORSER_TRANSACTION, enc.encode(`${channel}-tx-${i}`), { clock });

  /** Block hashes of the first run, by number, from its block events. */
  const reported = new Map<number, string>();

  it("25 envelopes become blocks 1..3, reported as events that match what Deliver returns; outsiders are refused; SIGTERM exits 0", async (t) => {
    const { proc, endpoint, admin, channels } = await start(t, ["--batch-size", "10", "--batch-timeout", "1s", "--admin", "127.0.0.1:0"]);
    assert.match(endpoint, /^127\.0\.0\.1:[1-9][0-9]*$/);
    assert.deepEqual(channels, [CHANNEL, OTHER]);
    assert.ok(admin !== null);

    const res = await broadcastAll(
      endpoint,
      Array.from({ length: 25 }, (_, i) => tx(member, CHANNEL, i)),
      memberTls,
    );
    assert.deepEqual(
      res.map((r) => r.status),
      Array(25).fill(Status.SUCCESS),
    );
    const events: ControlMessage[] = [];
    for (const n of [1, 2, 3]) events.push(await proc.waitFor(blockEvent(CHANNEL, n), 15_000));
    assert.deepEqual(
      events.map((e) => e["txs"]),
      [10, 10, 5],
    );
    const before = Date.now();
    for (const e of events) {
      assert.match(String(e["hash"]), /^[0-9a-f]{64}$/);
      assert.ok(typeof e["time"] === "number" && e["time"] <= before && e["time"] > before - 60_000, `time is epoch ms: ${e["time"]}`);
      reported.set(Number(e["number"]), String(e["hash"]));
    }

    const got = await collect(deliver(endpoint, createSeekInfoEnvelope(member.signingIdentity, CHANNEL, { start: "oldest", stop: "newest" }, bound(memberTls)), memberTls));
    assert.equal(got.status, Status.SUCCESS);
    assert.equal(got.blocks.length, 4, "the genesis block and blocks 1..3");
    // Block 0 is the genesis block given; the others satisfy /Channel/Orderer/BlockValidation, as the channel's peers check them.
    const genesisBlock = Block.decode(genesis);
    const bundle = createChannelBundle(channelConfigFromBlock(genesisBlock), { clock });
    for (const { block, bytes } of got.blocks) {
      const header = block.header!;
      if (header.number === 0n) {
        assert.equal(bytes, genesis.byteLength);
        assert.deepEqual(blockHeaderHash(header), blockHeaderHash(genesisBlock.header!));
        continue;
      }
      bundle.verifyBlock(block, header.number);
      assert.equal(lastConfigIndex(block), 0n);
      const e = events[Number(header.number) - 1]!;
      assert.equal(e["hash"], toHex(blockHeaderHash(header)), `hash of block ${header.number}`);
      assert.equal(e["bytes"], bytes, `size of block ${header.number}`);
      assert.equal(e["txs"], block.data?.data.length);
    }

    // Org2 is a member of otherchannel, not of mychannel: /Channel/Writers refuses it.
    const refused = await broadcastAll(endpoint, [tx(outsider, CHANNEL, 0)], outsiderTls);
    assert.equal(refused[0]?.status, Status.FORBIDDEN);
    assert.match(refused[0]?.info ?? "", /\/Channel\/Writers.*Org2MSP/);
    // A peer of Org1 reads the channel but does not write to it (configtxgen's org Writers: admins and clients).
    const byPeer = await broadcastAll(endpoint, [tx(memberPeer, CHANNEL, 0)], memberTls);
    assert.equal(byPeer[0]?.status, Status.FORBIDDEN);
    const peerRead = await collect(deliver(endpoint, createSeekInfoEnvelope(memberPeer.signingIdentity, CHANNEL, { start: "oldest", stop: "oldest" }, bound(memberTls)), memberTls));
    assert.equal(peerRead.status, Status.SUCCESS);
    const denied = await collect(deliver(endpoint, createSeekInfoEnvelope(outsider.signingIdentity, CHANNEL, { start: "oldest", stop: "newest" }, bound(outsiderTls)), outsiderTls));
    assert.equal(denied.status, Status.FORBIDDEN);
    assert.equal(denied.blocks.length, 0);
    // ... and may use its own channel: one envelope, cut by the batch timeout.
    assert.equal((await broadcastAll(endpoint, [tx(outsider, OTHER, 0)], outsiderTls))[0]?.status, Status.SUCCESS);
    const other = await proc.waitFor(blockEvent(OTHER, 1), 15_000);
    assert.equal(other["txs"], 1);

    const health = await fetch(`http://${admin}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, "OK");
    const metrics = await (await fetch(`http://${admin}/metrics`)).text();
    assert.match(metrics, /^ledger_blockchain_height\{channel="mychannel"\} 4$/m);
    assert.match(metrics, /^ledger_blockchain_height\{channel="otherchannel"\} 2$/m);
    assert.match(metrics, /^fabric_gossip_orderer_transactions_total\{channel="mychannel"\} 25$/m);

    await assert.rejects(proc.request({ cmd: "stats" }, "stats", 5_000), /unknown command "stats"/);
    assert.equal(await stopWith(proc, "SIGTERM"), 0, proc.stderr.slice(-5).join("\n"));
    assert.ok(!proc.stderr.some((l) => /"level":"error"/.test(l)), `no error logged: ${proc.stderr.join("\n")}`);
  });

  it("a restart on the same --dir keeps the chain; closing stdin stops it and cuts the pending envelopes into a last block", async (t) => {
    assert.equal(reported.size, 3, "the first test ran");
    // A batch timeout far away: only the stop cuts the three envelopes.
    const { proc, endpoint, admin } = await start(t, ["--batch-timeout", "1h"]);
    assert.equal(admin, null);
    const newest = await collect(deliver(endpoint, createSeekInfoEnvelope(member.signingIdentity, CHANNEL, { start: "newest", stop: "newest" }, bound(memberTls)), memberTls));
    assert.equal(newest.blocks[0]?.block.header?.number, 3n, "height 4 kept");
    assert.equal(toHex(blockHeaderHash(newest.blocks[0]!.block.header!)), reported.get(3));

    const res = await broadcastAll(
      endpoint,
      [0, 1, 2].map((i) => tx(member, CHANNEL, 100 + i)),
      memberTls,
    );
    assert.ok(res.every((r) => r.status === Status.SUCCESS));
    assert.equal(await stopWith(proc, "stdin"), 0, proc.stderr.slice(-5).join("\n"));
    const last = await proc.waitFor(blockEvent(CHANNEL, 4), 1_000);
    assert.equal(last["txs"], 3);
    reported.set(4, String(last["hash"]));
  });

  it("the block cut at stop was persisted: a third start without --channel-block serves both stored channels, blocks 0..4; SIGINT exits 0", async (t) => {
    assert.equal(reported.size, 4, "the earlier tests ran");
    const { proc, endpoint, channels } = await start(t, [], false);
    assert.deepEqual(channels, [CHANNEL, OTHER]);
    const all = await collect(deliver(endpoint, createSeekInfoEnvelope(member.signingIdentity, CHANNEL, { start: "oldest", stop: "newest" }, bound(memberTls)), memberTls));
    assert.equal(all.status, Status.SUCCESS);
    assert.deepEqual(
      all.blocks.map((b) => b.block.header?.number),
      [0n, 1n, 2n, 3n, 4n],
    );
    for (const { block } of all.blocks.slice(1)) assert.equal(toHex(blockHeaderHash(block.header!)), reported.get(Number(block.header!.number)));
    // Org2 is still refused: the stored genesis block is the configuration.
    const denied = await collect(deliver(endpoint, createSeekInfoEnvelope(outsider.signingIdentity, CHANNEL, { start: "oldest", stop: "newest" }, bound(outsiderTls)), outsiderTls));
    assert.equal(denied.status, Status.FORBIDDEN);
    assert.equal(await stopWith(proc, "SIGINT"), 0, proc.stderr.slice(-5).join("\n"));
  });

  it("another genesis block for a stored channel exits 1 naming it", async () => {
    const otherGenesis = join(root, "mychannel-2.block");
    // The same channel and orgs with an anchor peer: another block 0 than the one stored.
    const { ordererOrg, peerOrgs } = testOrgs;
    await writeFile(otherGenesis, await genesisBlockOf(CHANNEL, [{ org: peerOrgs[0]!, anchorPeers: ["127.0.0.1:7051"] }], ordererOrg, ["127.0.0.1:7050"]));
    const r = await runCli(["orderer", "start", ...baseArgs, "--channel-block", otherGenesis], { FABRIC_LOGGING_SPEC: "warn" });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /--channel-block.*not block 0 of the chain stored/);
  });
});

describe("orderer start: bad flags", { timeout: 120_000 }, () => {
  let root: string;
  let ok: string[];
  let org1Msp: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-orderer-flags-"));
    const { ordererOrg, peerOrgs } = await generateTestOrgs(root, 1, 1);
    const org1 = peerOrgs[0]!;
    await writeFile(join(root, "ch.block"), await genesisBlockOf(CHANNEL, [{ org: org1 }], ordererOrg, ["127.0.0.1:7050"]));
    await writeFile(join(root, "bad.block"), "not a block");
    org1Msp = org1.nodes[0]!.mspDir;
    ok = ["--listen", "127.0.0.1:0", "--msp", ordererOrg.nodes[0]!.mspDir, "--msp-id", "OrdererMSP", "--channel-block", join(root, "ch.block"), "--dir", join(root, "data")];
  });

  after(() => rm(root, { recursive: true, force: true }));

  const without = (args: string[], flag: string): string[] => {
    const i = args.indexOf(flag);
    return [...args.slice(0, i), ...args.slice(i + 2)];
  };
  const withValue = (args: string[], flag: string, value: string): string[] => {
    const i = args.indexOf(flag);
    return [...args.slice(0, i + 1), value, ...args.slice(i + 2)];
  };
  const cases: { title: string; args: () => string[]; names: RegExp }[] = [
    { title: "a missing --msp", args: () => without(ok, "--msp"), names: /--msp is required/ },
    { title: "an unreadable --channel-block", args: () => withValue(ok, "--channel-block", join(root, "nope.block")), names: /--channel-block .*nope\.block: cannot read the file/ },
    { title: "a --channel-block that is no block", args: () => withValue(ok, "--channel-block", join(root, "bad.block")), names: /--channel-block .*bad\.block.*not a channel's config block/ },
    { title: "no --channel-block and no stored channel", args: () => without(ok, "--channel-block"), names: /no channel to serve.*--channel-block/ },
    { title: "a bad --batch-timeout", args: () => [...ok, "--batch-timeout", "2 seconds"], names: /--batch-timeout "2 seconds":/ },
    { title: "a --batch-size of 0", args: () => [...ok, "--batch-size", "0"], names: /--batch-size "0": expected a positive whole number/ },
    {
      title: "a --channel-block whose orderer orgs do not include --msp-id",
      args: () => withValue(ok, "--msp-id", "OtherMSP"),
      names: /--channel-block .*ch\.block does not fit --msp-id OtherMSP: .*OtherMSP is not one of the channel's orderer orgs \(OrdererMSP\)/,
    },
    {
      title: "a --channel-block whose orderer orgs do not include --msp-id (a peer org's MSP)",
      args: () => withValue(withValue(ok, "--msp-id", "Org1MSP"), "--msp", org1Msp),
      names: /--channel-block .*ch\.block does not fit --msp-id Org1MSP/,
    },
    { title: "a --tls-cert without --tls-key", args: () => [...ok, "--tls-cert", join(root, "x.crt")], names: /--tls-cert needs --tls-key/ },
  ];
  for (const c of cases) {
    it(`${c.title} exits 1 with a message naming it and no stack trace`, async () => {
      const r = await runCli(["orderer", "start", ...c.args()], { FABRIC_LOGGING_SPEC: "warn" });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, c.names);
      assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
      assert.equal(r.stdout, "", "nothing on stdout");
    });
  }
});
