import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { PeerProcess } from "../../src/cli/peer-process.js";
import type { ChannelStatusView, MembershipView } from "../../src/service/index.js";
import { runCli } from "../utils/cli.js";
import { FAST_GOSSIP_ENV } from "../utils/fast-timers.js";
import { eventually, freePorts } from "../utils/net.js";
import { StaticDeliverServer } from "../utils/static-deliver.js";

/**
 * Joining from a real channel's genesis block (Fabric v2.5.6's configtxgen output, ../shared/vectors,
 * unsigned as such blocks are): two peer processes of Org1 with `peer start --channel-block` learn the
 * channel's orgs, MSPs, anchor peers and orderer endpoint from the block alone, start their ledgers
 * with it, and find each other in the channel.
 */
const VECTORS = fileURLToPath(new URL("../../../shared/vectors/fabric-v2.5.6-channel/", import.meta.url));
const GENESIS = join(VECTORS, "blocks", "000.block");
const GENESIS_HASH = "b18cbb80af81fca25a0abd823ffb9c07dc44072cbf85b44690deaad830363084";
/** Fast gossip timers; both peers standby (no orderer of this channel runs here). */
const FAST_ENV = { ...FAST_GOSSIP_ENV, CORE_PEER_GOSSIP_USELEADERELECTION: "false", CORE_PEER_GOSSIP_ORGLEADER: "false" };
const mspOf = (peer: string): string => join(VECTORS, "crypto", "peerOrganizations", "org1.example.com", "peers", `${peer}.org1.example.com`, "msp");

test("peer start --channel-block joins the channel of Fabric's genesis block: ledger from the block, orgs and anchors from its config", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-channel-block-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const [g0, g1, a0, a1] = await freePorts(4);
  const argsOf: string[][] = [];
  const peers = ["peer0", "peer1"].map((name, i) => {
    const [listen, other, admin] = i === 0 ? [g0, g1, a0] : [g1, g0, a1];
    // prettier-ignore
    const args = ["peer", "start", "--listen", `127.0.0.1:${listen}`, "--bootstrap", `127.0.0.1:${other}`, "--msp", mspOf(name), "--msp-id", "Org1MSP",
      "--channel-block", GENESIS, "--ledger-dir", join(dir, name), "--admin", `127.0.0.1:${admin}`];
    argsOf.push(args);
    return new PeerProcess(name, args, FAST_ENV);
  });
  t.after(async () => {
    for (const p of peers) await p.stop(10_000);
  });
  const ready = await Promise.all(peers.map((p) => p.event("ready", 60_000)));
  const admins = ready.map((r) => String(r["admin"]));
  for (const admin of admins) {
    const { channels } = (await (await fetch(`http://${admin}/v1/channels`)).json()) as { channels: ChannelStatusView[] };
    assert.deepEqual(
      channels.map((c) => [c.channel, c.height, c.lastBlockHash]),
      [["mychannel", 1, GENESIS_HASH]],
      `${admin}: the ledger starts with Fabric's genesis block as it is`,
    );
  }
  await eventually(
    "both peers see each other in mychannel",
    async () => {
      for (const admin of admins) {
        const view = (await (await fetch(`http://${admin}/v1/membership`)).json()) as MembershipView;
        if ((view.channels["mychannel"] ?? []).length !== 1) return false;
      }
      return true;
    },
    30_000,
    200,
  );
  const { events } = (await (await fetch(`http://${admins[0]}/v1/events`)).json()) as { events: { kind: string }[] };
  assert.ok(events.some((e) => e.kind === "member-alive"), "membership events are recorded");

  // Restarted without --channel-block, peer1 rejoins the channel its ledger holds.
  await peers[1]!.stop(10_000);
  const again = new PeerProcess("peer1-again", argsOf[1]!.filter((a, i, all) => a !== "--channel-block" && all[i - 1] !== "--channel-block"), FAST_ENV);
  peers.push(again);
  const readyAgain = await again.event("ready", 60_000);
  assert.deepEqual(readyAgain["channels"], [{ channel: "mychannel", height: 1 }], "the stored channel is rejoined without any flag");
  await eventually(
    "the restarted peer is back in mychannel",
    async () => {
      const view = (await (await fetch(`http://${String(readyAgain["admin"])}/v1/membership`)).json()) as MembershipView;
      return (view.channels["mychannel"] ?? []).length === 1;
    },
    30_000,
    200,
  );
});

test("channel join sends a genesis block to a running peer; channel list shows it; a bad block or a second join is refused with the reason", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-channel-join-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const [g0, a0] = await freePorts(2);
  const admin = `127.0.0.1:${a0}`;
  // prettier-ignore
  const peer = new PeerProcess("peer0", ["peer", "start", "--listen", `127.0.0.1:${g0}`, "--msp", mspOf("peer0"), "--msp-id", "Org1MSP",
    "--ledger-dir", join(dir, "ledgers"), "--admin", admin], FAST_ENV);
  t.after(() => peer.stop(10_000));
  await peer.event("ready", 60_000);

  const before = await runCli(["channel", "list", "--admin", admin]);
  assert.equal(before.code, 0, before.stderr);
  assert.equal(before.stdout, "Channels peers has joined:\n");

  const joined = await runCli(["channel", "join", "--admin", admin, "--block", GENESIS, "--json"]);
  assert.equal(joined.code, 0, joined.stderr);
  const status = JSON.parse(joined.stdout) as ChannelStatusView;
  assert.deepEqual([status.channel, status.height, status.lastBlockHash], ["mychannel", 1, GENESIS_HASH]);

  const list = await runCli(["channel", "list", "--admin", admin, "--json"]);
  assert.deepEqual(
    (JSON.parse(list.stdout) as { channels: ChannelStatusView[] }).channels.map((c) => c.channel),
    ["mychannel"],
  );
  const again = await runCli(["channel", "join", "--admin", admin, "--block", GENESIS]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /refused to join .*channel mychannel is already initialized/);
  const data = await runCli(["channel", "join", "--admin", admin, "--block", join(VECTORS, "blocks", "001.block")]);
  assert.equal(data.code, 1);
  assert.match(data.stderr, /refused to join .*the join block: /);
});

test("fed Fabric's blocks 1-9 by an ordering service, a peer joined from the genesis block ends with Org3 a member, both orderer endpoints, and peer2.org1 cut off", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-channel-follow-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const blocks = await Promise.all(Array.from({ length: 10 }, (_, n) => readFile(join(VECTORS, "blocks", `${String(n).padStart(3, "0")}.block`)).then((b) => new Uint8Array(b))));
  // The channel's orderer endpoint, as the genesis block names it.
  const orderer = new StaticDeliverServer(blocks);
  await orderer.listen("127.0.0.1:25050");
  t.after(() => orderer.stop());
  orderer.release(6); // blocks up to 5: before the CRL

  const [g0, g2, a0, a2] = await freePorts(4);
  const leaderEnv = { ...FAST_GOSSIP_ENV, CORE_PEER_GOSSIP_USELEADERELECTION: "false", CORE_PEER_GOSSIP_ORGLEADER: "true", CORE_PEER_DELIVERYCLIENT_CONNTIMEOUT: "2s" };
  // prettier-ignore
  const peer0 = new PeerProcess("peer0", ["peer", "start", "--listen", `127.0.0.1:${g0}`, "--msp", mspOf("peer0"), "--msp-id", "Org1MSP",
    "--channel-block", GENESIS, "--ledger-dir", join(dir, "peer0"), "--admin", `127.0.0.1:${a0}`], leaderEnv);
  t.after(() => peer0.stop(10_000));
  // prettier-ignore
  const peer2 = new PeerProcess("peer2", ["peer", "start", "--listen", `127.0.0.1:${g2}`, "--bootstrap", `127.0.0.1:${g0}`, "--msp", mspOf("peer2"), "--msp-id", "Org1MSP",
    "--channel-block", GENESIS, "--ledger-dir", join(dir, "peer2"), "--admin", `127.0.0.1:${a2}`], FAST_ENV);
  t.after(() => peer2.stop(10_000));
  const admin0 = String((await peer0.event("ready", 60_000))["admin"]);
  await peer2.event("ready", 60_000);
  const status = async (): Promise<ChannelStatusView | undefined> =>
    ((await (await fetch(`http://${admin0}/v1/channels`)).json()) as { channels: ChannelStatusView[] }).channels.find((c) => c.channel === "mychannel");
  const alive = async (): Promise<string[]> => ((await (await fetch(`http://${admin0}/v1/membership`)).json()) as MembershipView).alive.map((m) => m.internalEndpoint);

  await eventually("peer0 delivers blocks 1-5", async () => (await status())?.height === 6, 30_000, 100);
  await eventually("peer0 knows peer2 while its identity is valid", async () => (await alive()).includes(`127.0.0.1:${g2}`), 30_000, 100);

  orderer.release(10);
  await eventually("peer0 commits blocks 6-9", async () => (await status())?.height === 10, 30_000, 100);
  const s = await status();
  assert.deepEqual(s?.orgs, ["Org1MSP", "Org2MSP", "Org3MSP"], "Org3 became a member (block 7)");
  assert.deepEqual(s?.orderers, ["127.0.0.1:25050", "127.0.0.1:25150"], "the Deliver client knows both orderer endpoints (block 8)");
  await eventually("peer2.org1, revoked by block 6's CRL, is dropped", async () => !(await alive()).includes(`127.0.0.1:${g2}`), 30_000, 200);
  // It keeps trying (bootstrap peer): it must stay out.
  await new Promise((r) => setTimeout(r, 3_000));
  assert.ok(!(await alive()).includes(`127.0.0.1:${g2}`), "peer2.org1 cannot reconnect");
  const { counts } = (await (await fetch(`http://${admin0}/v1/events`)).json()) as { counts: Record<string, number> };
  assert.equal(counts["config-updated"], 4, "blocks 4, 6, 7 and 8 took effect");
});
