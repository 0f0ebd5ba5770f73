import "reflect-metadata";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadPeerConfig } from "../../src/config/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { type Peer, startPeer } from "../../src/service/index.js";
import { generateTestOrgs, type TestOrgs } from "../utils/channel-setup.js";
import { eventually, freePort } from "../utils/net.js";

/**
 * Issue 14's duplicate identity on real gRPC peers (in one process): a second peer started with peer1's MSP
 * identity at another endpoint is reported by peer1 and by a peer that sees both, on /v1/membership's view; once
 * it stops, the others see peer1 at its own endpoint again within aliveExpirationTimeout + reconnectInterval.
 */
const ALIVE_EXPIRATION_MS = 2_500;
const RECONNECT_MS = 2_500;

describe("a second process with a peer's identity", { timeout: 90_000 }, () => {
  let root: string;
  let orgs: TestOrgs;
  const peers: Peer[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-twin-"));
    orgs = await generateTestOrgs(root, 1, 2);
  });

  after(async () => {
    for (const p of peers) await p.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("is reported by the peer and by those that see both endpoints, and the view recovers in time once it stops", async () => {
    const [p0, p1, twinPort] = [await freePort(), await freePort(), await freePort()];
    const boot = `127.0.0.1:${p0}`;
    const config = (bootstrap: string[]) =>
      loadPeerConfig({
        yaml: undefined,
        env: {},
        overrides: {
          "peer.gossip.useLeaderElection": false,
          "peer.gossip.orgLeader": false,
          "peer.gossip.bootstrap": bootstrap.join(" "),
          "peer.gossip.aliveTimeInterval": "500ms",
          "peer.gossip.aliveExpirationTimeout": `${ALIVE_EXPIRATION_MS}ms`,
          "peer.gossip.reconnectInterval": `${RECONNECT_MS}ms`,
        },
      }).config;
    const org = orgs.peerOrgs[0]!;
    const crypto = (node: number) => ({ msp: org.nodes[node]!.mspDir, mspId: org.mspId });
    const peer0 = await startPeer({ config: config([]), listen: boot, crypto: crypto(0), logger: silentLogger });
    peers.push(peer0);
    const peer1 = await startPeer({ config: config([boot]), listen: `127.0.0.1:${p1}`, crypto: crypto(1), logger: silentLogger });
    peers.push(peer1);
    await eventually("peer0 and peer1 see each other", () => peer0.membership().alive.length === 1 && peer1.membership().alive.length === 1, 20_000, 50);

    const twin = await startPeer({ config: config([boot]), listen: `127.0.0.1:${twinPort}`, crypto: crypto(1), logger: silentLogger });
    peers.push(twin);
    const reported = (p: Peer): string[] => p.membership().duplicates?.find((d) => d.pkiId === peer1.pkiId)?.endpoints ?? [];
    await eventually("peer1 reports the twin", () => reported(peer1).includes(`127.0.0.1:${twinPort}`), 20_000, 50);
    await eventually("peer0 sees peer1's identity at two endpoints", () => reported(peer0).length >= 1, 20_000, 50);

    await twin.stop();
    const stopped = Date.now();
    const seenAt = (): string | undefined => peer0.membership().alive.find((m) => m.pkiId === peer1.pkiId)?.internalEndpoint;
    await eventually("peer0 sees peer1 alive at its own endpoint", () => seenAt() === `127.0.0.1:${p1}`, ALIVE_EXPIRATION_MS + RECONNECT_MS + 2_000, 50);
    assert.ok(Date.now() - stopped <= ALIVE_EXPIRATION_MS + RECONNECT_MS + 2_000);
    await new Promise((r) => setTimeout(r, 2 * ALIVE_EXPIRATION_MS));
    assert.equal(seenAt(), `127.0.0.1:${p1}`, "and stays so: peer1 is not declared dead afterwards");
  });
});
