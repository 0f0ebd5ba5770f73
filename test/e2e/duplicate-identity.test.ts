import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { useCluster } from "../utils/cluster-hooks.js";
import type { MembershipView } from "../../src/service/index.js";
import { eventually, freePort } from "../utils/net.js";
import { CLUSTER_ENV, CLUSTER_TIMERS, ClusterPeer } from "../utils/peer-cluster.js";

/**
 * A duplicate identity on real processes: three `peer start` processes of one org, then a fourth started with
 * peer1's MSP folder (its identity, so its PKI-ID) at another port. peer1 and a peer that sees both endpoints
 * report it on `/v1/membership` (`duplicates`); once the twin is killed, every other peer has peer1 alive at
 * its own endpoint within aliveExpirationTimeout + reconnectInterval, and keeps it so (nobody declares it dead).
 * The simulator's counterpart is in test/sim/scenarios-membership.test.ts; the in-process one in
 * test/integration/duplicate-identity.test.ts.
 */

const CHANNEL = "twinchannel";
/** Process scheduling on two busy cores, on top of the protocol bound. */
const SLACK_MS = 2_000;
const POLL_MS = 100;
const RECOVERY_MS = CLUSTER_TIMERS.aliveExpirationMs + CLUSTER_TIMERS.reconnectMs;

describe("a second process started with a peer's MSP folder", { timeout: 60_000 }, () => {
  let twin: ClusterPeer | undefined;
  // Registered first, so it runs first: the twin stops before the cluster and its folder go.
  after(async () => {
    await twin?.kill();
  });
  const fixture = useCluster("fabric-gossip-twin-e2e-", { orgs: 1, peersPerOrg: 3, channel: CHANNEL, env: CLUSTER_ENV });

  it("is reported on /v1/membership by the peer and by another, and every view has the peer at its own endpoint within E + R once it is killed", async () => {
    const { cluster, root } = fixture;
    const [peer0, peer1, peer2] = cluster.peers as [ClusterPeer, ClusterPeer, ClusterPeer];
    const twinEndpoint = `127.0.0.1:${await freePort()}`;
    // peer1's own flags (its MSP folder, its bootstrap peer, the channel) at another endpoint, with its own ledger.
    const args = peer1.args.map((a) => (a === peer1.endpoint ? twinEndpoint : a === join(root, "ledgers", peer1.name) ? join(root, "ledgers", "twin") : a));
    assert.ok(args.includes(twinEndpoint) && args.includes(peer1.mspDir) && !args.includes(peer1.endpoint));
    twin = new ClusterPeer(`${peer1.name}-twin`, peer1.mspId, twinEndpoint, peer1.mspDir, args, CLUSTER_ENV);
    await twin.start();
    assert.equal(twin.pkiId, peer1.pkiId, "the twin has peer1's PKI-ID");

    const duplicates = async (p: ClusterPeer): Promise<string[]> => (await p.membership())?.duplicates?.find((d) => d.pkiId === peer1.pkiId)?.endpoints ?? [];
    const selfReport = await eventually("peer1 reports its identity in use at the twin's endpoint", async () => ((await duplicates(peer1)).includes(twinEndpoint) ? await duplicates(peer1) : undefined), 15_000, POLL_MS);
    // Another peer sees peer1's identity alternate between the two endpoints (each process outdoes the other's incarnation).
    const other = await eventually(
      "peer0 or peer2 reports peer1's identity at two endpoints",
      async () => {
        for (const p of [peer0, peer2]) {
          const d = await duplicates(p);
          if (d.length > 0) return { peer: p.name, endpoints: d };
        }
        return undefined;
      },
      15_000,
      POLL_MS,
    );
    assert.ok(other.endpoints.every((e) => e === peer1.endpoint || e === twinEndpoint), `${other.peer} names peer1's endpoints only: ${other.endpoints.join(", ")}`);

    const at = (v: MembershipView | undefined): string | undefined => v?.alive.find((m) => m.pkiId === peer1.pkiId)?.internalEndpoint;
    // The hard case: killed while a view holds peer1 at the twin's endpoint (the twin's incarnation the newest there).
    const holder = await eventually(
      "peer0 or peer2 has peer1 at the twin's endpoint",
      async () => {
        for (const p of [peer0, peer2]) if (at(await p.membership()) === twinEndpoint) return p.name;
        return undefined;
      },
      15_000,
      50,
    );
    await twin.kill();
    const killedAt = Date.now();
    const atOwn = async (): Promise<boolean> => {
      for (const p of [peer0, peer2]) if (at(await p.membership()) !== peer1.endpoint) return false;
      return true;
    };
    await eventually("peer0 and peer2 have peer1 alive at its own endpoint", atOwn, RECOVERY_MS + SLACK_MS, POLL_MS);
    const tookMs = Date.now() - killedAt;
    // Stays so for longer than an expiration: peer1 is not declared dead afterwards.
    const until = Date.now() + CLUSTER_TIMERS.aliveExpirationMs + CLUSTER_TIMERS.aliveExpirationMs / 2;
    while (Date.now() < until) {
      for (const p of [peer0, peer2]) {
        const v = await p.membership();
        assert.equal(at(v), peer1.endpoint, `${p.name} has peer1 alive at ${peer1.endpoint} (dead: ${JSON.stringify(v?.dead.map((m) => m.endpoint))})`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    process.stderr.write(
      `# twin at ${twinEndpoint}: peer1 reports ${selfReport.join(", ")}; ${other.peer} reports ${other.endpoints.join(", ")}; killed while ${holder} had peer1 there; every view has peer1 at its own endpoint ${tookMs} ms after the kill (E + R = ${RECOVERY_MS} ms)\n`,
    );
  });
});
