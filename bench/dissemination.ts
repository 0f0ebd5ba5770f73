/**
 * Fabric's TestDissemination (gossip/gossip/gossip_test.go) like for like, over real gRPC on
 * 127.0.0.1 in one process, in real time: a bootstrap peer and 10 peers that bootstrap from it, one
 * channel, Fabric's test config (FABRIC-REFERENCE.md 5.1), the development crypto of Fabric's test
 * harness (identity = endpoint, plaintext). Every peer joins the channel and announces ledger height
 * 1. Measured: seconds from the last start until every peer sees the 10 others (full membership),
 * then, as the bootstrap gossips 10 blocks at once, seconds until every peer has received all 10
 * (each exactly once). Three runs; medians, and the slowest run.
 *
 * Run: node --import tsx bench/dissemination.ts
 */
import { GrpcTransport } from "../src/comm/grpc/index.js";
import { DEV_ORG, DevMessageCryptoService } from "../src/crypto/index.js";
import { createGossipNode, type GossipNode, type GossipNodeOptions } from "../src/gossip/node/index.js";
import { silentLogger } from "../src/logging/index.js";
import { promMetricsProvider, Registry } from "../src/metrics/index.js";
import { SystemClock, SystemRandom, utf8 } from "../src/util/index.js";
import { blockMessage, blockSeq, channelOf, PreboundTransport, waitFor } from "./gossip-kit.js";
import { isMain, median, printFigures } from "./stats.js";

const PEERS = 10;
const BLOCKS = 10;
const CHANNEL = "A";

/** newGossipInstanceWithGrpcMcsMetrics's config. */
const FABRIC_TEST_CONFIG: Partial<GossipNodeOptions> = {
  maxPropagationBurstLatencyMs: 500,
  maxPropagationBurstSize: 20,
  propagateIterations: 1,
  propagatePeerNum: 3,
  pullIntervalMs: 4_000,
  pullPeerNum: 5,
  publishCertPeriodMs: 4_000,
  publishStateInfoIntervalMs: 1_000,
  requestStateInfoIntervalMs: 1_000,
  aliveTimeIntervalMs: 1_000,
  aliveExpirationTimeoutMs: 10_000,
  reconnectIntervalMs: 1_000,
  maxConnectionAttempts: 5,
};

interface RunResult {
  membershipS: number;
  disseminationS: number;
}

async function runOnce(): Promise<RunResult> {
  const clock = new SystemClock();
  const nodes: GossipNode[] = [];
  const transports: PreboundTransport[] = [];
  try {
    for (let i = 0; i <= PEERS; i++) {
      transports.push(await PreboundTransport.bind(new GrpcTransport({ listenAddress: "127.0.0.1:0", logger: silentLogger, clock })));
    }
    const bootEndpoint = transports[0]!.listenAddress;
    const mcs = new DevMessageCryptoService();
    for (const [i, transport] of transports.entries()) {
      const endpoint = transport.listenAddress;
      nodes.push(
        createGossipNode(
          { transport, mcs, securityAdvisor: mcs, selfIdentity: utf8(endpoint), clock, random: new SystemRandom(), logger: silentLogger, metrics: promMetricsProvider(new Registry()) },
          { ...FABRIC_TEST_CONFIG, internalEndpoint: endpoint, externalEndpoint: endpoint, bootstrapPeers: i === 0 ? [] : [bootEndpoint] },
        ),
      );
    }
    const received = nodes.map(() => new Map<number, number>());
    for (const [i, node] of nodes.entries()) {
      await node.start();
      node.joinChan(channelOf([DEV_ORG]), CHANNEL);
      node.updateLedgerHeight(1n, CHANNEL);
      node.accept(
        (m) => m.content?.$case === "dataMsg",
        (m) => {
          const seq = blockSeq(m);
          if (seq !== undefined) received[i]!.set(seq, (received[i]!.get(seq) ?? 0) + 1);
        },
      );
    }
    const membershipMs = await waitFor("full membership", () => nodes.every((n) => n.peers().length === PEERS), 60_000, 5);

    const boot = nodes[0]!;
    const t0 = performance.now();

    // As Fabric's test: blocks 2..11.
    for (let seq = 2; seq <= BLOCKS + 1; seq++) boot.gossip(blockMessage(CHANNEL, seq));
    await waitFor("every block at every peer", () => received.slice(1).every((r) => r.size === BLOCKS), 60_000, 5);
    const disseminationMs = performance.now() - t0;
    for (const [i, r] of received.entries()) {
      if (i === 0) continue;
      for (const [seq, count] of r) if (count !== 1) throw new Error(`dissemination: peer ${i} received block ${seq} ${count} times`);
    }
    return { membershipS: membershipMs / 1000, disseminationS: disseminationMs / 1000 };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    // Transports of nodes that never started are not closed by their node.
    await Promise.all(transports.map((t) => t.close()));
  }
}

export async function benchDissemination(options: { runs?: number } = {}): Promise<Record<string, number>> {
  const runs = options.runs ?? 3;
  const results: RunResult[] = [];
  for (let r = 0; r < runs; r++) results.push(await runOnce());
  const m = results.map((x) => x.membershipS);
  const d = results.map((x) => x.disseminationS);
  return {
    dissemination_peers: PEERS + 1,
    dissemination_runs: runs,
    dissemination_membership_s_median: Number(median(m).toFixed(2)),
    dissemination_membership_s_max: Number(Math.max(...m).toFixed(2)),
    dissemination_10_blocks_s_median: Number(median(d).toFixed(2)),
    dissemination_10_blocks_s_max: Number(Math.max(...d).toFixed(2)),
  };
}

if (isMain(import.meta.url)) printFigures(await benchDissemination());
