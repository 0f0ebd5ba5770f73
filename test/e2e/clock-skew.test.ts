import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SystemClock } from "../../src/util/index.js";
import { FAST_GOSSIP_ENV, fastElectionEnv } from "../utils/fast-timers.js";
import { eventually } from "../utils/net.js";
import { type Cluster, faketimeEnv, faketimeLibrary, leadersByOrg, metricTotal, startCluster, viewsMatchTruth } from "../utils/peer-cluster.js";

/**
 * Clock skew and jumps (RELIABILITY.md S9) on real peer processes under libfaketime: 2 orgs x 2 peers with
 * mutual TLS whose wall clocks read +5 min, -5 min, +1 h and the true time, then two of them jump back an
 * hour while running. Expiry runs on the monotonic clock and ordering on (incNum, seqNum), so membership does
 * not move: no peer expires, every view keeps every peer, each org keeps one leader and blocks keep flowing.
 * The certificates are issued two hours back (valid for every clock here), so no TLS or MSP check fails.
 */

const CHANNEL = "skewchannel";
const ALIVE_EXPIRATION_MS = 4_000;
const LEADER_ALIVE_THRESHOLD_MS = 2_000;
const LEADER_ELECTION_DURATION_MS = 1_000;
const POLL_MS = 250;
/** reconnectInterval (R) and aliveTimeInterval (A) as set below and by FAST_GOSSIP_ENV. */
const RECONNECT_MS = 1_000;
const ALIVE_MS = 1_000;
const HOUR_MS = 3_600_000;

const ENV: NodeJS.ProcessEnv = {
  CORE_PEER_GOSSIP_USELEADERELECTION: "true",
  CORE_PEER_GOSSIP_ORGLEADER: "false",
  CORE_PEER_GOSSIP_STATE_ENABLED: "true",
  ...FAST_GOSSIP_ENV,
  CORE_PEER_GOSSIP_ALIVEEXPIRATIONTIMEOUT: `${ALIVE_EXPIRATION_MS}ms`,
  CORE_PEER_GOSSIP_RECONNECTINTERVAL: `${RECONNECT_MS}ms`,
  ...fastElectionEnv({ leaderAliveThreshold: `${LEADER_ALIVE_THRESHOLD_MS}ms`, leaderElectionDuration: `${LEADER_ELECTION_DURATION_MS}ms` }),
  CORE_PEER_DELIVERYCLIENT_RECONNECTBACKOFFTHRESHOLD: "1s",
};

/** Certificates issued as if two hours ago: they are valid for a clock up to two hours behind. */
class TwoHoursBack extends SystemClock {
  override now(): number {
    return super.now() - 2 * HOUR_MS;
  }
}

const lib = faketimeLibrary();

describe("clock skew: peers whose wall clocks are off by minutes and hours, and jump back an hour", {
  skip: lib === undefined ? "libfaketime is not installed (apt-get install faketime): the clock-skew scenario needs it" : false,
  timeout: 90_000,
}, () => {
  let root: string;
  let cluster: Cluster;
  /** The faketime file of each peer, by name: writing it moves that peer's wall clock within a second. */
  const clockFiles = new Map<string, string>();
  /** The starting offsets, by peer index (org1 peer0, org1 peer1, org2 peer0, org2 peer1). */
  const OFFSETS = ["+5m", "+0", "-5m", "+1h"];

  /** The wall clock a peer reads, from its /healthz time (its SystemClock under faketime). */
  async function peerTime(admin: string): Promise<number> {
    const body = (await (await fetch(`http://${admin}/healthz`)).json()) as { time: string };
    return Date.parse(body.time);
  }

  function expiredTotal(): Promise<number> {
    return metricTotal(cluster.peers, "fabric_gossip_discovery_expired_total");
  }

  /** Every running peer at the orderer's height. */
  async function blocksFlow(): Promise<number> {
    await cluster.feed(10);
    await new Promise((r) => setTimeout(r, 300));
    const target = Number(cluster.orderer.height(CHANNEL));
    try {
      await eventually(
        `every peer at height ${target}`,
        async () => {
          for (const p of cluster.peers) if ((await p.status(CHANNEL))?.height !== target) return undefined;
          return true;
        },
        20_000,
        POLL_MS,
      );
    } catch (err) {
      for (const p of cluster.peers) process.stderr.write(`# ${p.name}: ${JSON.stringify(await p.status(CHANNEL))}\n# ${p.proc?.stderr.slice(-15).join("\n# ")}\n`);
      throw err;
    }
    return target;
  }

  async function oneLeaderPerOrg(): Promise<void> {
    await eventually(
      "exactly one leader in each org",
      async () => {
        const byOrg = await leadersByOrg(cluster.peers, CHANNEL);
        return [...byOrg.values()].every((l) => l.length === 1);
      },
      LEADER_ALIVE_THRESHOLD_MS + LEADER_ELECTION_DURATION_MS + 8_000,
      POLL_MS,
    );
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-skew-"));
    const names = ["peer0.org1.example.com", "peer1.org1.example.com", "peer0.org2.example.com", "peer1.org2.example.com"];
    const peerEnv: Record<string, NodeJS.ProcessEnv> = {};
    for (const [i, name] of names.entries()) {
      const file = join(root, `${name}.faketime`);
      await writeFile(file, `${OFFSETS[i]}\n`);
      clockFiles.set(name, file);
      peerEnv[name] = faketimeEnv(lib!, file);
    }
    cluster = await startCluster({ root, orgs: 2, peersPerOrg: 2, channel: CHANNEL, env: ENV, tls: true, cryptoClock: new TwoHoursBack(), peerEnv });
  });

  after(async () => {
    await cluster?.stop();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it("skewed clocks: every view holds every peer, one leader per org, blocks flow", async () => {
    // faketime is really in force: each peer's wall clock reads its offset.
    const expected = [5 * 60_000, 0, -5 * 60_000, HOUR_MS];
    for (const [i, p] of cluster.peers.entries()) {
      const skew = (await peerTime(p.admin)) - Date.now();
      assert.ok(Math.abs(skew - expected[i]!) < 5_000, `${p.name} reads ${skew} ms off, expected ${expected[i]}`);
    }
    await eventually("every view equals the running peers", async () => (await viewsMatchTruth(cluster.peers)).ok, 20_000, POLL_MS);
    await oneLeaderPerOrg();
    await blocksFlow();
  });

  it("two peers jump back an hour at runtime: no expiry, no view change, one leader per org, blocks flow", async () => {
    const expiredBefore = await expiredTotal();
    await writeFile(clockFiles.get("peer1.org1.example.com")!, "-1h\n");
    await writeFile(clockFiles.get("peer1.org2.example.com")!, "+0\n");
    await eventually(
      "the jumps are in force",
      async () => Math.abs((await peerTime(cluster.peers[1]!.admin)) - Date.now() + HOUR_MS) < 5_000 && Math.abs((await peerTime(cluster.peers[3]!.admin)) - Date.now()) < 5_000,
      5_000,
      POLL_MS,
    );
    // Past the alive expiration twice over, every view stays whole at every poll.
    const until = Date.now() + 2 * ALIVE_EXPIRATION_MS;
    while (Date.now() < until) {
      const { ok, diffs } = await viewsMatchTruth(cluster.peers);
      assert.ok(ok, `views after the jump: ${JSON.stringify(diffs)}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    assert.equal(await expiredTotal(), expiredBefore, "no member expired");
    for (const p of cluster.peers) assert.equal((await p.membership())?.dead.length, 0, `${p.name} holds no dead member`);
    await oneLeaderPerOrg();
    await blocksFlow();
    for (const p of cluster.peers) assert.deepEqual(p.logLines(/expired|NOT_YET_VALID|not valid/i), [], `${p.name} logged no validity failure`);
  });

  it("a peer whose clock is before the certificates' validity refuses TLS, says why, and rejoins once its clock is right", async () => {
    const victim = cluster.peers[3]!;
    await victim.stop();
    // Three hours back: the certificates (issued two hours back, NotBefore five minutes earlier) are not yet valid.
    await writeFile(clockFiles.get(victim.name)!, "-3h\n");
    await victim.start();
    const why = await eventually("a log line naming the certificate's validity", () => victim.logLines(/CERT_NOT_YET_VALID|not valid until|not yet valid/i)[0], 15_000, POLL_MS);
    assert.match(why, /clock/i, "the line points at the clocks");
    const view = await victim.membership();
    assert.equal(view?.alive.length, 0, "it reached nobody over TLS");
    await victim.stop();
    // Its first run started an hour ahead: the others hold that run's incarnation, later than this run's. Told
    // so by their membership responses, it takes a later one, and rejoins every view within R + 2A.
    await writeFile(clockFiles.get(victim.name)!, "+0\n");
    await victim.start();
    const startedAt = Date.now();
    await eventually("every view equals the running peers again", async () => (await viewsMatchTruth(cluster.peers)).ok, RECONNECT_MS + 2 * ALIVE_MS + 2_000, POLL_MS);
    process.stderr.write(`# rejoined every view ${Date.now() - startedAt} ms after its ready line (R + 2A = ${RECONNECT_MS + 2 * ALIVE_MS} ms, plus 2 s for two busy cores)\n`);
  });
});
