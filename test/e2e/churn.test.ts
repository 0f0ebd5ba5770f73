import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { useCluster } from "../utils/cluster-hooks.js";
import { eventually } from "../utils/net.js";
import {
  blocksFlow,
  CLUSTER_ENV,
  ELECTION_MS,
  leadersByOrg,
  REJOIN_MS,
  untilMetricsAgree,
  untilOneLeaderPerOrg,
  untilViewsMatch,
} from "../utils/peer-cluster.js";

/**
 * Churn (RELIABILITY.md S17) on real peer processes, with the observability contract (S23) checked after it:
 * 2 orgs x 2 peers and an ordering service. Every peer is restarted in turn, then both orgs' leaders are
 * killed (kill -9) and restarted, twice. Nobody stays isolated: within R + 2A of the last restart every
 * `/v1/membership` equals the processes that run, each org has one leader, blocks flow, and `/metrics` agrees.
 * Longer runs (more rounds, Poisson churn) are `npm run bench -- reliability`.
 */

const CHANNEL = "churnchannel";
/** Process scheduling on two busy cores, on top of a protocol bound. */
const SLACK_MS = 2_000;
const KILL_ROUNDS = 2;

describe("churn on real peers: a rolling restart, then the leaders killed again and again", { timeout: 90_000 }, () => {
  const fixture = useCluster("fabric-gossip-churn-", { orgs: 2, peersPerOrg: 2, channel: CHANNEL, env: CLUSTER_ENV }, { oneLeaderPerOrg: true });

  it("a rolling restart of every peer: every view exact within R + 2A of the last start", async () => {
    const { cluster } = fixture;
    for (const p of cluster.peers) {
      await p.stop();
      await p.start();
    }
    const tookMs = await untilViewsMatch(cluster, "every view exact after the rolling restart", REJOIN_MS + SLACK_MS);
    process.stderr.write(`# rolling restart: every view exact ${tookMs} ms after the last peer was ready (R + 2A = ${REJOIN_MS} ms)\n`);
  });

  it(`the leaders killed ${KILL_ROUNDS} times: views exact within R + 2A, one leader per org, blocks flow, metrics agree`, async () => {
    const { cluster } = fixture;
    for (let round = 0; round < KILL_ROUNDS; round++) {
      // The leaders of one poll in which each org has exactly one.
      const leaders = await eventually(
        "exactly one leader in each org",
        async () => {
          const byOrg = [...(await leadersByOrg(cluster.peers, CHANNEL)).values()];
          return byOrg.every((l) => l.length === 1) ? new Set(byOrg.flat()) : undefined;
        },
        ELECTION_MS + SLACK_MS + 3_000,
        200,
      );
      const killed = cluster.peers.filter((p) => leaders.has(p.name));
      assert.equal(killed.length, 2, "one leader in each org");
      await Promise.all(killed.map((p) => p.kill()));
      await Promise.all(killed.map((p) => p.start()));
    }
    const tookMs = await untilViewsMatch(cluster, "every view exact after the leader kills", REJOIN_MS + SLACK_MS);
    process.stderr.write(`# leaders killed ${KILL_ROUNDS} times: every view exact ${tookMs} ms after the last restart\n`);
    await untilOneLeaderPerOrg(cluster, ELECTION_MS + SLACK_MS);
    await untilMetricsAgree(cluster, await blocksFlow(cluster), 3_000);
  });
});
