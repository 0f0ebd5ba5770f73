/**
 * Like for like with Fabric's Go gossip (the Go side is a harness in Fabric's gossip/gossip package,
 * kept outside this repository; docs/SIDE-BY-SIDE.md describes it and the figures). One process,
 * a publisher and N peers (N = 10, 20) over real gRPC on 127.0.0.1 without TLS, the development
 * crypto of Fabric's test harness (identity = endpoint), one channel, Fabric's default gossip
 * settings. After full channel membership (every node sees the N others in the channel): the steady
 * background over SIDEBYSIDE_BG_S seconds, then 100 blocks of 1 KiB published at 10 blocks/s.
 *
 * Figures over the first 15 s from the first publish: process CPU per block delivery (CPU / (blocks
 * x N)), the same minus the background rate, latency publish -> delivery at each peer (p50/p99),
 * gRPC messages and bytes sent per delivery (bytes: encoded envelope + the 5-byte gRPC prefix, as
 * counted on the Go side). SIDEBYSIDE_N (comma list), SIDEBYSIDE_RUNS (default 1 per N).
 *
 * Run: npm run bench -- sidebyside
 */

import { GrpcTransport } from "../src/comm/grpc/index.js";
import type { RawStream, Transport, TransportTls } from "../src/comm/index.js";
import { DEV_ORG, DevMessageCryptoService } from "../src/crypto/index.js";
import { createGossipNode, type GossipNode } from "../src/gossip/node/index.js";
import { silentLogger } from "../src/logging/index.js";
import { promMetricsProvider, Registry } from "../src/metrics/index.js";
import { SystemClock, SystemRandom, utf8 } from "../src/util/index.js";
import { blockMessage, blockSeq, channelOf, cpuMicros, PreboundTransport, waitFor } from "./gossip-kit.js";
import { isMain, median, printFigures } from "./stats.js";

const CHANNEL = "A";
const BLOCKS = 100;
const BLOCK_TX_BYTES = 1024;
const BLOCKS_PER_S = 10;
const WINDOW_S = 15;
/** gRPC's length prefix on every message. */
const GRPC_PREFIX_BYTES = 5;

/** What every stream of the process wrote: messages and bytes. */
interface SendCounter {
  msgs: number;
  bytes: number;
}

/** A stream that counts what it writes. */
class CountingStream implements RawStream {
  constructor(
    private readonly inner: RawStream,
    private readonly counter: SendCounter,
  ) {}
  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
  get remoteCertHash(): Uint8Array | undefined {
    return this.inner.remoteCertHash;
  }
  write(bytes: Uint8Array): Promise<void> {
    this.counter.msgs++;
    this.counter.bytes += bytes.length + GRPC_PREFIX_BYTES;
    return this.inner.write(bytes);
  }
  onData(handler: (bytes: Uint8Array) => void): void {
    this.inner.onData(handler);
  }
  onClose(handler: (err?: Error) => void): void {
    this.inner.onClose(handler);
  }
  close(): void {
    this.inner.close();
  }
  closeWrite(): void {
    if (this.inner.closeWrite !== undefined) this.inner.closeWrite();
    else this.inner.close();
  }
}

/** A transport whose streams, dialled or accepted, count what they write. */
class CountingTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly counter: SendCounter,
  ) {}
  get tls(): TransportTls {
    return this.inner.tls;
  }
  get listenAddress(): string {
    return this.inner.listenAddress;
  }
  listen(onStream: (stream: RawStream) => void): Promise<void> {
    return this.inner.listen((s) => onStream(new CountingStream(s, this.counter)));
  }
  async dial(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number): Promise<RawStream> {
    return new CountingStream(await this.inner.dial(endpoint, dialTimeoutMs, pingTimeoutMs), this.counter);
  }
  ping(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number): Promise<void> {
    return this.inner.ping(endpoint, dialTimeoutMs, pingTimeoutMs);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface SideBySideRun {
  n: number;
  membershipS: number;
  bgCpuMsPerS: number;
  bgMsgsPerS: number;
  bgBytesPerS: number;
  deliveries: number;
  duplicates: number;
  cpuMsPerDelivery: number;
  cpuMsPerDeliveryNet: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  msgsPerDelivery: number;
  bytesPerDelivery: number;
}

function quantileOf(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** One run: a publisher and `n` peers, membership, background, then the blocks. */
export async function sideBySideOnce(n: number, bgS: number): Promise<SideBySideRun> {
  const clock = new SystemClock();
  const counter: SendCounter = { msgs: 0, bytes: 0 };
  const nodes: GossipNode[] = [];
  const transports: PreboundTransport[] = [];
  try {
    for (let i = 0; i <= n; i++) {
      transports.push(await PreboundTransport.bind(new GrpcTransport({ listenAddress: "127.0.0.1:0", logger: silentLogger, clock })));
    }
    const boot = transports[0]!.listenAddress;
    for (const [i, prebound] of transports.entries()) {
      const endpoint = prebound.listenAddress;
      // One MCS per node, as each Go instance has its own naiveCryptoService.
      const mcs = new DevMessageCryptoService();
      nodes.push(
        createGossipNode(
          {
            transport: new CountingTransport(prebound, counter),
            mcs,
            securityAdvisor: mcs,
            selfIdentity: utf8(endpoint),
            clock,
            random: new SystemRandom(),
            logger: silentLogger,
            metrics: promMetricsProvider(new Registry()),
          },
          // Fabric's defaults otherwise (DEFAULT_GOSSIP_NODE_OPTIONS); the external endpoint as the Go side sets it.
          { internalEndpoint: endpoint, externalEndpoint: endpoint, bootstrapPeers: i === 0 ? [] : [boot] },
        ),
      );
    }
    const delivered = nodes.map(() => new Map<number, number>());
    let duplicates = 0;
    for (const [i, node] of nodes.entries()) {
      await node.start();
      node.joinChan(channelOf([DEV_ORG]), CHANNEL);
      node.updateLedgerHeight(1n, CHANNEL);
      if (i === 0) continue;
      node.accept(
        (m) => m.content?.$case === "dataMsg",
        (m) => {
          const at = performance.now();
          const seq = blockSeq(m);
          if (seq === undefined) return;
          if (delivered[i]!.has(seq)) duplicates++;
          else delivered[i]!.set(seq, at);
        },
      );
    }
    const membershipMs = await waitFor("full channel membership", () => nodes.every((x) => x.peersOfChannel(CHANNEL).length === n), 180_000, 50);

    await sleep(1_000);
    const bg0 = { cpu: cpuMicros(), msgs: counter.msgs, bytes: counter.bytes };
    await sleep(bgS * 1_000);
    const bgCpuPerS = (cpuMicros() - bg0.cpu) / 1e3 / bgS; // ms per s
    const bgMsgsPerS = (counter.msgs - bg0.msgs) / bgS;
    const bgBytesPerS = (counter.bytes - bg0.bytes) / bgS;

    const published = new Map<number, number>();
    const start = { cpu: cpuMicros(), msgs: counter.msgs, bytes: counter.bytes };
    const t0 = performance.now();
    for (let k = 0; k < BLOCKS; k++) {
      await sleep(t0 + (k * 1_000) / BLOCKS_PER_S - performance.now());
      const seq = k + 2;
      const msg = blockMessage(CHANNEL, seq, BLOCK_TX_BYTES);
      published.set(seq, performance.now());
      nodes[0]!.gossip(msg);
    }
    const end = t0 + WINDOW_S * 1_000;
    await sleep(end - performance.now());
    const cpuMs = (cpuMicros() - start.cpu) / 1e3;
    const msgs = counter.msgs - start.msgs;
    const bytes = counter.bytes - start.bytes;

    const latencies: number[] = [];
    for (const d of delivered.slice(1)) {
      for (const [seq, at] of d) {
        const p = published.get(seq);
        if (p !== undefined && at < end) latencies.push(at - p);
      }
    }
    latencies.sort((a, b) => a - b);
    const expected = BLOCKS * n;
    return {
      n,
      membershipS: membershipMs / 1000,
      bgCpuMsPerS: bgCpuPerS,
      bgMsgsPerS,
      deliveries: latencies.length,
      duplicates,
      cpuMsPerDelivery: cpuMs / expected,
      cpuMsPerDeliveryNet: (cpuMs - bgCpuPerS * WINDOW_S) / expected,
      latencyP50Ms: quantileOf(latencies, 0.5),
      latencyP99Ms: quantileOf(latencies, 0.99),
      msgsPerDelivery: msgs / expected,
      bytesPerDelivery: bytes / expected,
      bgBytesPerS,
    };
  } finally {
    await Promise.all(nodes.map((x) => x.stop()));
    // Transports of nodes that never started are not closed by their node.
    await Promise.all(transports.map((t) => t.close()));
  }
}

/** One line per run, in the Go harness's format, so the two sides can be compared by script. */
export function runLine(r: SideBySideRun): string {
  const f = (x: number, d: number): string => x.toFixed(d);
  return (
    `SIDEBYSIDE impl=ts n=${r.n} membership_s=${f(r.membershipS, 2)} bg_cpu_ms_per_s=${f(r.bgCpuMsPerS, 2)} bg_msgs_per_s=${f(r.bgMsgsPerS, 1)} bg_bytes_per_s=${f(r.bgBytesPerS, 0)} ` +
    `deliveries=${r.deliveries} expected=${BLOCKS * r.n} dups=${r.duplicates} cpu_ms_per_delivery=${f(r.cpuMsPerDelivery, 4)} ` +
    `cpu_ms_per_delivery_net=${f(r.cpuMsPerDeliveryNet, 4)} lat_p50_ms=${f(r.latencyP50Ms, 2)} lat_p99_ms=${f(r.latencyP99Ms, 2)} ` +
    `msgs_per_delivery=${f(r.msgsPerDelivery, 3)} bytes_per_delivery=${f(r.bytesPerDelivery, 0)}`
  );
}

export async function benchSideBySide(): Promise<Record<string, number>> {
  const ns = (process.env.SIDEBYSIDE_N ?? "10,20").split(",").map(Number);
  const runs = Number(process.env.SIDEBYSIDE_RUNS ?? 1);
  const bgS = Number(process.env.SIDEBYSIDE_BG_S ?? 20);
  const out: Record<string, number> = {};
  for (const n of ns) {
    const rs: SideBySideRun[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await sideBySideOnce(n, bgS);
      process.stdout.write(`${runLine(r)}\n`);
      rs.push(r);
    }
    const med = (pick: (r: SideBySideRun) => number, digits: number): number => Number(median(rs.map(pick)).toFixed(digits));
    Object.assign(out, {
      [`N=${n} runs`]: runs,
      [`N=${n} deliveries in window (of ${BLOCKS * n})`]: med((r) => r.deliveries, 0),
      [`N=${n} CPU ms per delivery`]: med((r) => r.cpuMsPerDelivery, 4),
      [`N=${n} CPU ms per delivery minus background`]: med((r) => r.cpuMsPerDeliveryNet, 4),
      [`N=${n} background CPU ms per s`]: med((r) => r.bgCpuMsPerS, 2),
      [`N=${n} latency p50 ms`]: med((r) => r.latencyP50Ms, 2),
      [`N=${n} latency p99 ms`]: med((r) => r.latencyP99Ms, 2),
      [`N=${n} messages sent per delivery`]: med((r) => r.msgsPerDelivery, 3),
      [`N=${n} bytes sent per delivery`]: med((r) => r.bytesPerDelivery, 0),
    });
  }
  return out;
}

if (isMain(import.meta.url)) printFigures(await benchSideBySide());
