import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { useCluster } from "../utils/cluster-hooks.js";
import { eventually } from "../utils/net.js";
import {
  blocksFlow,
  CLUSTER_ENV,
  CLUSTER_TIMERS,
  ELECTION_MS,
  everyKnownId,
  REJOIN_MS,
  renewEnrolment,
  untilMetricsAgree,
  untilOneLeaderPerOrg,
  untilViewsMatch,
} from "../utils/peer-cluster.js";

/**
 * Certificate expiry and renewal (RELIABILITY.md S10) on real peer processes, with the observability contract
 * (S23) checked before and after: 2 orgs x 2 peers and an ordering service. A peer renews its enrolment
 * certificate (a new PKI-ID) before expiry, to one that expires a few seconds later while it runs, then renews
 * after expiry. The new PKI-ID is in every view within R + 2A and the old one nowhere; the expired one is
 * dropped at its NotAfter, and the others log at most one line about it however often it dials.
 */

const CHANNEL = "certchannel";
/** Process scheduling on two busy cores, on top of a protocol bound. */
const SLACK_MS = 2_000;
const POLL_MS = 200;

describe("enrolment certificate expiry and renewal on real peers", { timeout: 90_000 }, () => {
  const fixture = useCluster("fabric-gossip-cert-", { orgs: 2, peersPerOrg: 2, channel: CHANNEL, env: CLUSTER_ENV }, { oneLeaderPerOrg: true });

  it("checkpoint: /v1/membership and /metrics agree with the processes that run", async () => {
    const { cluster } = fixture;
    await untilMetricsAgree(cluster, await blocksFlow(cluster), 3_000);
  });

  it("renewal before expiry and after: the new PKI-ID is in every view within R + 2A, the old one nowhere; an expired peer is dropped", async () => {
    const { cluster } = fixture;
    const peer = cluster.peers[3]!;
    const oldId = peer.pkiId;
    // Renewal before expiry, to a certificate that expires a few seconds after the restart.
    await peer.stop();
    const lifeMs = 6_000;
    const expiresAt = Date.now() + lifeMs;
    await renewEnrolment(cluster, peer, new Date(expiresAt));
    await peer.start();
    assert.notEqual(peer.pkiId, oldId, "a new certificate is a new PKI-ID");
    const tookMs = await untilViewsMatch(cluster, "the renewed peer in every view", REJOIN_MS + SLACK_MS);
    process.stderr.write(`# renewal before expiry: new PKI-ID in every view ${tookMs} ms after ready (R + 2A = ${REJOIN_MS} ms)\n`);
    await eventually("the old PKI-ID forgotten everywhere", async () => !(await everyKnownId(cluster)).has(oldId), REJOIN_MS + SLACK_MS, POLL_MS);
    assert.ok(Date.now() < expiresAt, "the checks above ran before the certificate expired");

    // Expiry while it runs: the others drop it from every view, alive and dead, at its NotAfter.
    const shortId = peer.pkiId;
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now())));
    await eventually(
      "the expired PKI-ID gone from every other view",
      async () => {
        for (const p of cluster.peers.filter((q) => q !== peer)) {
          const v = await p.membership();
          if (v === undefined || [...v.alive, ...v.dead].some((m) => m.pkiId === shortId)) return false;
        }
        return true;
      },
      CLUSTER_TIMERS.aliveExpirationMs + SLACK_MS,
      POLL_MS,
    );
    process.stderr.write(`# expired certificate: its PKI-ID gone from every other view ${Date.now() - expiresAt} ms after NotAfter\n`);
    // It keeps running and dialing (every R); the others stay quiet about it: from its expiry on, one line each at most.
    await new Promise((r) => setTimeout(r, 3 * CLUSTER_TIMERS.reconnectMs));
    for (const p of cluster.peers.filter((q) => q !== peer)) {
      const lines = p
        .logLines(/"level":"(warn|error)"/)
        .filter((l) => l.includes(shortId) || l.includes('"code":"EXPIRED_IDENTITY"'))
        .filter((l) => Date.parse(String((JSON.parse(l) as { time?: string }).time)) >= expiresAt - 1_000);
      assert.ok(lines.length <= 1, `${p.name} logged ${lines.length} warnings about the expired peer:\n${lines.join("\n")}`);
    }

    // ...while refusing it every time: its handshakes are counted as EXPIRED_IDENTITY.
    let refused = 0;
    for (const p of cluster.peers.filter((q) => q !== peer)) refused += (await p.metrics()).get('fabric_gossip_comm_rejected_total{code="EXPIRED_IDENTITY"}') ?? 0;
    assert.ok(refused >= 1, `the others refused the expired peer's handshakes (${refused} counted)`);
    process.stderr.write(`# expired certificate: ${refused} handshakes refused by the others in ${CLUSTER_TIMERS.reconnectMs * 3} ms\n`);

    // Renewal after expiry.
    await peer.stop();
    await renewEnrolment(cluster, peer);
    await peer.start();
    const afterMs = await untilViewsMatch(cluster, "the peer renewed after expiry in every view", REJOIN_MS + SLACK_MS);
    process.stderr.write(`# renewal after expiry: new PKI-ID in every view ${afterMs} ms after ready\n`);
    const known = await everyKnownId(cluster);
    assert.ok(!known.has(shortId) && !known.has(oldId), "neither earlier PKI-ID is known anywhere");
    await untilOneLeaderPerOrg(cluster, ELECTION_MS + SLACK_MS);
    await untilMetricsAgree(cluster, await blocksFlow(cluster), 3_000);
  });
});
