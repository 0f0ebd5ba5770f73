/**
 * 100 peers in virtual time: ManualClock, MemoryNetwork with 1 ms one-way latency per frame, the
 * development crypto, 1 org, 1 channel, Fabric's default gossip settings (propagatePeerNum 3,
 * pullInterval 4 s, pullPeerNum 3, burst 10 / 10 ms, alive every 5 s, StateInfo every 4 s, ...).
 * Every peer bootstraps from p0 and joins the channel at height 1; once every channel view is full,
 * the leader p0 gossips 100 blocks of 100 KB, one every 2 s of virtual time. The nodes share one decoded
 * message per frame, as the simulator's peers do (SharedFrameDecoder); the figures are the same without.
 *
 * Figures (over the 99 receiving peers and 100 blocks): dissemination latency from gossip() at the
 * leader to the peer's consumer (virtual ms, p50/p99/max); copies of each block each peer's comm
 * received (DataMessage pushes plus block items of pull DataUpdates, duplicates included); bytes
 * each peer sent during the block phase (every frame's envelope bytes, seen by the network's latency
 * function); the share of deliveries by push and by pull; virtual seconds to a full channel view;
 * wall-clock seconds of the whole run.
 *
 * Run: node --import tsx bench/virtual-100.ts   (profile: node --cpu-prof --import tsx bench/virtual-100.ts)
 */
import { MemoryNetwork, MemoryTransport } from "../src/comm/memory/index.js";
import { DEV_ORG, DevMessageCryptoService } from "../src/crypto/index.js";
import { createGossipNode, type GossipNode } from "../src/gossip/node/index.js";
import { silentLogger } from "../src/logging/index.js";
import { memoryMetricsProvider } from "../src/metrics/index.js";
import { SignedGossipMessage } from "../src/protoext/index.js";
import { PullMsgType } from "../src/protos/gen/gossip/message.pb.js";
import { SharedFrameDecoder } from "../src/sim/shared-decoder.js";
import { ManualClock, SeededRandom, utf8 } from "../src/util/index.js";
import { blockMessage, blockSeq, channelOf } from "./gossip-kit.js";
import { isMain, median, printFigures, quantile } from "./stats.js";

const CHANNEL = "ch";

export interface Virtual100Options {
  peers?: number;
  blocks?: number;
  blockBytes?: number;
  blockIntervalMs?: number;
  latencyMs?: number;
  /** Whether the nodes share one decoded message per frame, as the simulator's peers do (SharedFrameDecoder; default true). */
  shareDecodedFrames?: boolean;
}

export async function benchVirtual100(options: Virtual100Options = {}): Promise<Record<string, number>> {
  const wall0 = performance.now();
  // CPU seconds too: on a shared machine a steadier figure than wall time.
  const cpu0 = process.cpuUsage();
  let framesDelivered = 0;
  // Peak heap, sampled after every step of virtual time (the figure is a lower bound of the true peak).
  let peakHeap = 0;
  const sampleHeap = (): void => {
    const h = process.memoryUsage().heapUsed;
    if (h > peakHeap) peakHeap = h;
  };
  const n = options.peers ?? 100;
  const blocks = options.blocks ?? 100;
  const blockBytes = options.blockBytes ?? 100 * 1024;
  const blockIntervalMs = options.blockIntervalMs ?? 2_000;
  const latencyMs = options.latencyMs ?? 1;

  // Nothing here waits on real I/O: promise continuations drained between instants suffice.
  const clock = new ManualClock(1_700_000_000_000, { turnPerInstant: false });
  const endpoints = Array.from({ length: n }, (_, i) => `p${i}:7051`);
  const indexOf = new Map(endpoints.map((e, i) => [e, i]));
  const bytesSent = new Float64Array(n);
  const framesSent = new Float64Array(n);
  let counting = false;
  // Sees every frame when it is sent (bytes 0: a dial's round trip or a stream's close).
  const network = new MemoryNetwork(
    clock,
    (from, _to, bytes) => {
      if (counting && bytes > 0) {
        const i = indexOf.get(from);
        if (i !== undefined) {
          bytesSent[i]! += bytes;
          framesSent[i]! += 1;
        }
      }
      return latencyMs;
    },
    // Frames are not copied, as in the simulator: no node writes a buffer it has sent.
    { refusedDial: "immediate", copyFrames: false },
  );
  network.observe(() => {
    framesDelivered++;
  });
  const mcs = new DevMessageCryptoService();
  const decoding = options.shareDecodedFrames === false ? {} : { decodeFrame: new SharedFrameDecoder().decode };
  const nodes: GossipNode[] = [];

  // Per (peer, block): virtual ms to delivery, how it came, how many copies arrived.
  const gossipAt = new Float64Array(blocks + 1).fill(Number.NaN);
  const latency = new Float64Array(n * (blocks + 1)).fill(Number.NaN);
  const copies = new Uint16Array(n * (blocks + 1));
  let byPush = 0;
  let byPull = 0;
  let duplicatesDelivered = 0;
  const pending: number[][] = endpoints.map(() => []);

  try {
    for (const [i, endpoint] of endpoints.entries()) {
      // Each node a host of its own, as the simulator's peers are: its timers and arrivals run together within an instant.
      const hostClock = clock.grouped(i + 1);
      const node = createGossipNode(
        {
          transport: new MemoryTransport(network, { endpoint, clock: hostClock }),
          mcs,
          securityAdvisor: mcs,
          selfIdentity: utf8(endpoint),
          clock: hostClock,
          random: new SeededRandom(i + 1),
          logger: silentLogger,
          metrics: memoryMetricsProvider(),
          ...decoding,
        },
        { internalEndpoint: endpoint, externalEndpoint: endpoint, bootstrapPeers: i === 0 ? [] : [endpoints[0]!] },
      );
      nodes.push(node);
      // Delivery to the peer's consumers: latency now; push or pull is decided by the frame that
      // carried it, which the pass-through subscription below sees right after (same frame).
      node.accept(
        (m) => m.content?.$case === "dataMsg",
        (m) => {
          const seq = blockSeq(m);
          if (seq === undefined || seq < 1 || seq > blocks) return;
          const k = i * (blocks + 1) + seq;
          if (!Number.isNaN(latency[k]!)) {
            duplicatesDelivered++;
            return;
          }
          latency[k] = clock.monotonic() - gossipAt[seq]!;
          pending[i]!.push(seq);
        },
      );
      node.acceptPassThrough(
        (rm) => {
          const c = rm.message.message.content;
          return c?.$case === "dataMsg" || (c?.$case === "dataUpdate" && c.value.msgType === PullMsgType.BLOCK_MSG);
        },
        (rm) => {
          const c = rm.message.message.content;
          if (c?.$case === "dataMsg") {
            const seq = blockSeq(rm.message.message);
            if (seq !== undefined && seq >= 1 && seq <= blocks) copies[i * (blocks + 1) + seq]! += 1;
            byPush += pending[i]!.length;
          } else if (c?.$case === "dataUpdate") {
            for (const env of c.value.data) {
              const seq = blockSeq(SignedGossipMessage.fromEnvelope(env).message);
              if (seq !== undefined && seq >= 1 && seq <= blocks) copies[i * (blocks + 1) + seq]! += 1;
            }
            byPull += pending[i]!.length;
          }
          pending[i]!.length = 0;
        },
      );
    }
    for (const node of nodes) {
      await node.start();
      node.joinChan(channelOf([DEV_ORG]), CHANNEL);
      node.updateLedgerHeight(1n, CHANNEL);
    }
    const t0 = clock.monotonic();
    while (!nodes.every((p) => p.peersOfChannel(CHANNEL).length === n - 1)) {
      if (clock.monotonic() - t0 > 300_000) throw new Error("virtual100: no full channel view within 300 s of virtual time");
      await clock.advance(250);
      sampleHeap();
    }
    const convergedMs = clock.monotonic() - t0;
    const wallConverged = performance.now();

    counting = true;
    const leader = nodes[0]!;
    const phase0 = clock.monotonic();
    for (let seq = 1; seq <= blocks; seq++) {
      gossipAt[seq] = clock.monotonic();
      leader.gossip(blockMessage(CHANNEL, seq, blockBytes));
      await clock.advance(blockIntervalMs);
      sampleHeap();
    }
    const delivered = (): boolean => {
      for (let i = 1; i < n; i++) for (let s = 1; s <= blocks; s++) if (Number.isNaN(latency[i * (blocks + 1) + s]!)) return false;
      return true;
    };
    const tail0 = clock.monotonic();
    while (!delivered()) {
      if (clock.monotonic() - tail0 > 60_000) break;
      await clock.advance(100);
      sampleHeap();
    }
    const phaseMs = clock.monotonic() - phase0;
    counting = false;

    const lat: number[] = [];
    const cp: number[] = [];
    let missing = 0;
    for (let i = 1; i < n; i++) {
      for (let s = 1; s <= blocks; s++) {
        const k = i * (blocks + 1) + s;
        if (Number.isNaN(latency[k]!)) missing++;
        else lat.push(latency[k]!);
        cp.push(copies[k]!);
      }
    }
    const receivers = Array.from(bytesSent.subarray(1));
    const deliveries = byPush + byPull;
    const wallS = (performance.now() - wall0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    return {
      virtual100_peers: n,
      virtual100_blocks: blocks,
      virtual100_block_kib: Math.round(blockBytes / 1024),
      virtual100_channel_view_full_virtual_s: Number((convergedMs / 1000).toFixed(2)),
      virtual100_deliveries_missing: missing,
      virtual100_deliveries_duplicated_to_consumer: duplicatesDelivered,
      virtual100_latency_p50_virtual_ms: Number(quantile(lat, 0.5).toFixed(1)),
      virtual100_latency_p99_virtual_ms: Number(quantile(lat, 0.99).toFixed(1)),
      virtual100_latency_max_virtual_ms: Number(Math.max(...lat).toFixed(1)),
      virtual100_copies_per_block_per_peer_mean: Number((cp.reduce((a, b) => a + b, 0) / cp.length).toFixed(2)),
      virtual100_copies_per_block_per_peer_p99: quantile(cp, 0.99),
      virtual100_copies_per_block_per_peer_max: Math.max(...cp),
      virtual100_push_share_pct: Number(((100 * byPush) / Math.max(1, deliveries)).toFixed(1)),
      virtual100_pull_share_pct: Number(((100 * byPull) / Math.max(1, deliveries)).toFixed(1)),
      virtual100_unattributed_deliveries: lat.length - deliveries,
      virtual100_block_phase_virtual_s: Number((phaseMs / 1000).toFixed(1)),
      virtual100_leader_mib_sent: Number((bytesSent[0]! / 2 ** 20).toFixed(1)),
      virtual100_peer_mib_sent_p50: Number((median(receivers) / 2 ** 20).toFixed(1)),
      virtual100_peer_mib_sent_max: Number((Math.max(...receivers) / 2 ** 20).toFixed(1)),
      virtual100_peer_frames_sent_p50: Math.round(median(Array.from(framesSent.subarray(1)))),
      virtual100_peer_kib_per_virtual_s_p50: Math.round(median(receivers) / 1024 / (phaseMs / 1000)),
      virtual100_wall_s_membership: Number(((wallConverged - wall0) / 1000).toFixed(1)),
      virtual100_wall_s: Number(wallS.toFixed(1)),
      virtual100_cpu_s: Number(cpuS.toFixed(1)),
      virtual100_frames_delivered: framesDelivered,
      virtual100_wall_us_per_frame: Number(((1e6 * wallS) / Math.max(1, framesDelivered)).toFixed(1)),
      virtual100_cpu_us_per_frame: Number(((1e6 * cpuS) / Math.max(1, framesDelivered)).toFixed(1)),
      virtual100_peak_heap_mib: Math.round(peakHeap / 2 ** 20),
    };
  } finally {
    for (const node of nodes) await node.stop();
  }
}

if (isMain(import.meta.url)) printFigures(await benchVirtual100());
