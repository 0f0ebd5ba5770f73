import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { useCluster } from "../utils/cluster-hooks.js";
import { CLUSTER_ENV, CLUSTER_TIMERS, type ClusterPeer, metricTotal, untilViewsMatch } from "../utils/peer-cluster.js";

/**
 * A stalled peer (RELIABILITY.md S16) on real processes: 1 org x 3 peers and an ordering service, A = R = 1 s,
 * E = 4 s. One peer's process is stopped (SIGSTOP) for longer than E, then continued. On waking, its alive
 * checks run late, before it reads what the others sent meanwhile: it must not declare them dead
 * (`fabric_gossip_discovery_expired_total` unchanged). The others may declare it dead (it sent nothing for
 * longer than E) and take it back; every view is exact again within R + 2A, with room for two busy cores.
 */

const CHANNEL = "stallchannel";
const STALL_MS = CLUSTER_TIMERS.aliveExpirationMs + 2_000;
const SLACK_MS = 5_000;
const EXPIRED = "fabric_gossip_discovery_expired_total";

describe("a peer whose process stalls for longer than aliveExpirationTimeout", { timeout: 90_000 }, () => {
  const fixture = useCluster("fabric-gossip-stall-", { orgs: 1, peersPerOrg: 3, channel: CHANNEL, env: CLUSTER_ENV });

  it("declares nobody dead when it wakes, and every view is exact again within R + 2A", async () => {
    const { cluster } = fixture;
    const stalled = cluster.peers[2] as ClusterPeer;
    const expiredBefore = await metricTotal([stalled], EXPIRED);
    const pid = stalled.proc?.child.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, "SIGSTOP");
    await new Promise((r) => setTimeout(r, STALL_MS));
    process.kill(pid, "SIGCONT");
    const wokeAt = Date.now();
    // Long enough for its late checks and the first checks after them to have run.
    await new Promise((r) => setTimeout(r, 3 * CLUSTER_TIMERS.aliveMs));
    const expiredAfter = await metricTotal([stalled], EXPIRED);
    assert.equal(expiredAfter - expiredBefore, 0, `the stalled peer declared ${expiredAfter - expiredBefore} member(s) dead on waking`);
    await untilViewsMatch(cluster, "every view exact after the stall", CLUSTER_TIMERS.reconnectMs + 2 * CLUSTER_TIMERS.aliveMs + SLACK_MS);
    process.stderr.write(`# stalled ${STALL_MS} ms; views exact ${Date.now() - wokeAt} ms after it continued; it declared nobody dead\n`);
  });
});
