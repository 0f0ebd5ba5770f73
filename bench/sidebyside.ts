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
 * counted on the Go side). SIDEBYSIDE_N (comma list, default 10,20), SIDEBYSIDE_RUNS (default 1 per N),
 * SIDEBYSIDE_BG_S (default 20: a multiple of the 4 s pull and 5 s alive periods), SIDEBYSIDE_VARIANTS
 * ("plain", the Go harness's setting; "tls": mutual TLS, an ECDSA identity per node and MSP crypto; or both),
 * SIDEBYSIDE_RUNTIME ("peer", the default: the V8 settings `peer start` applies, src/cli/peer-runtime.ts;
 * "node": Node's defaults), SIDEBYSIDE_WARM_BLOCKS (default 0: blocks gossiped before the background, not
 * counted; the Go harness's SB_WARM_BLOCKS), SIDEBYSIDE_PROFILE (a folder: a profile of each run's measured
 * window is written there, and a SIDEBYSIDE_STAGES line says where the main thread's microseconds per delivery
 * went; SIDEBYSIDE_PROFILE_KIND=alloc for allocations instead of CPU), SIDEBYSIDE_TRANSPORT (the gossip
 * port's gRPC: "http2" or "grpc-js"; default a peer's, DEFAULT_GOSSIP_TRANSPORT).
 *
 * Run: npm run bench -- sidebyside
 */

import { mkdir, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { tunePeerRuntime } from "../src/cli/index.js";
import { createGossipTransport, DEFAULT_GOSSIP_TRANSPORT, GOSSIP_TRANSPORT_KINDS, type GossipTransportKind } from "../src/comm/grpc/index.js";
import type { RawStream, Transport, TransportTls } from "../src/comm/index.js";
import { blockDataHash, createMspMessageCryptoService, DEV_ORG, DevMessageCryptoService, MspVerifier } from "../src/crypto/index.js";
import { createGossipNode, type GossipNode } from "../src/gossip/node/index.js";
import { silentLogger } from "../src/logging/index.js";
import { promMetricsProvider, Registry } from "../src/metrics/index.js";
import { Block } from "../src/protos/gen/common/common.pb.js";
import { type GossipMessage, GossipMessage_Tag } from "../src/protos/gen/gossip/message.pb.js";
import { SystemClock, SystemRandom, utf8 } from "../src/util/index.js";
import { type GrpcHarnessCrypto, prepareGrpcHarnessCrypto } from "../test/utils/grpc-comm-harness.js";
import { blockSeq, channelOf, cpuMicros, mainThreadCpuMicros, PreboundTransport, waitFor } from "./gossip-kit.js";
import { type CpuProfile, stagesLine, stagesPerDelivery } from "./profile-stages.js";
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
  writeNow(bytes: Uint8Array): Promise<void> | undefined {
    if (this.inner.writeNow === undefined) return this.write(bytes);
    this.counter.msgs++;
    this.counter.bytes += bytes.length + GRPC_PREFIX_BYTES;
    return this.inner.writeNow(bytes);
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
  async dial(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number, stillNeeded?: () => boolean): Promise<RawStream> {
    return new CountingStream(await this.inner.dial(endpoint, dialTimeoutMs, pingTimeoutMs, stillNeeded), this.counter);
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
  tls: boolean;
  membershipS: number;
  bgCpuMsPerS: number;
  bgMsgsPerS: number;
  bgBytesPerS: number;
  deliveries: number;
  duplicates: number;
  cpuMsPerDelivery: number;
  cpuMsPerDeliveryNet: number;
  /** The main thread's part of the window's CPU (the rest is V8's compilers and GC threads, libuv's pool); Linux only. */
  mainThreadShare: number | undefined;
  latencyP50Ms: number;
  latencyP99Ms: number;
  msgsPerDelivery: number;
  bytesPerDelivery: number;
  /** Minus the background rates over the window. */
  msgsPerDeliveryNet: number;
  bytesPerDeliveryNet: number;
  /** With SIDEBYSIDE_PROFILE: the window's main-thread microseconds per delivery by stage (bench/profile-stages.ts). */
  stages?: Record<string, number>;
  /** After the window and a full collection, the nodes still running: what the process keeps, MiB. */
  retained: { heapMiB: number; arrayBuffersMiB: number };
}

/** A full collection, then the heap and the memory of ArrayBuffers (received frames among them) still held. */
function retainedMemory(): { heapMiB: number; arrayBuffersMiB: number } {
  // gc() without starting Node with --expose-gc: the flag is read when a context is made.
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  const m = process.memoryUsage();
  return { heapMiB: m.heapUsed / 2 ** 20, arrayBuffersMiB: m.arrayBuffers / 2 ** 20 };
}

function quantileOf(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * A block of `seq` with one transaction of BLOCK_TX_BYTES and its true data hash. With `withMetadata`, an
 * empty signatures entry, without which the MSP crypto refuses a block (no orderer orgs are configured, so
 * it checks the data hash only); without, the bytes are those the Go harness sends.
 */
function blockMessage(seq: number, withMetadata: boolean): GossipMessage {
  const data = { data: [new Uint8Array(BLOCK_TX_BYTES).fill(seq & 0xff)] };
  const block = Block.encode({
    header: { number: BigInt(seq), previousHash: new Uint8Array(32), dataHash: blockDataHash(data) },
    data,
    metadata: withMetadata ? { metadata: [new Uint8Array(0)] } : undefined,
  }).finish();
  return {
    nonce: 0n,
    channel: utf8(CHANNEL),
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "dataMsg", value: { payload: { seqNum: BigInt(seq), data: block, privateData: [] } } },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** SIDEBYSIDE_TRANSPORT: the gossip port's gRPC implementation (default: a peer's, DEFAULT_GOSSIP_TRANSPORT). */
function transportKind(): GossipTransportKind {
  const kind = process.env.SIDEBYSIDE_TRANSPORT ?? DEFAULT_GOSSIP_TRANSPORT;
  if (!(GOSSIP_TRANSPORT_KINDS as readonly string[]).includes(kind)) throw new Error(`SIDEBYSIDE_TRANSPORT: ${kind} is not one of ${GOSSIP_TRANSPORT_KINDS.join(", ")}`);
  return kind as GossipTransportKind;
}

/** One run: a publisher and `n` peers, membership, background, then the blocks. */
export async function sideBySideOnce(n: number, bgS: number, tls = false, warmBlocks = 0): Promise<SideBySideRun> {
  const clock = new SystemClock();
  const counter: SendCounter = { msgs: 0, bytes: 0 };
  const nodes: GossipNode[] = [];
  const transports: PreboundTransport[] = [];
  // With TLS: one org, a TLS certificate and an ECDSA signing identity per node, MSP crypto.
  const material: GrpcHarnessCrypto | undefined = tls ? await prepareGrpcHarnessCrypto({ orgs: 1, peersPerOrg: n + 1 }) : undefined;
  const org = material?.nodes[0]?.mspId ?? DEV_ORG;
  try {
    for (let i = 0; i <= n; i++) {
      const node = material?.nodes[i];
      const tlsOptions = node === undefined || material === undefined ? undefined : { cert: node.tls.cert, key: node.tls.key, rootCAs: material.tlsRootCAs };
      transports.push(await PreboundTransport.bind(createGossipTransport(transportKind(), { listenAddress: "127.0.0.1:0", tls: tlsOptions, logger: silentLogger, clock })));
    }
    const boot = transports[0]!.listenAddress;
    for (const [i, prebound] of transports.entries()) {
      const endpoint = prebound.listenAddress;
      const node = material?.nodes[i];
      // One MCS per node, as each Go instance has its own naiveCryptoService.
      const mcs =
        node === undefined || material === undefined
          ? new DevMessageCryptoService()
          : createMspMessageCryptoService(
              { signer: node.signingIdentity, verifier: new MspVerifier(material.orgs, { clock }) },
              { channelOrgs: () => new Set([org]), checkBlockChannel: false },
            );
      const selfIdentity = node === undefined ? utf8(endpoint) : node.signingIdentity.serialized;
      nodes.push(
        createGossipNode(
          {
            transport: new CountingTransport(prebound, counter),
            mcs,
            securityAdvisor: mcs,
            selfIdentity,
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
      node.joinChan(channelOf([org]), CHANNEL);
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

    // Optional warm-up (not the issue's workload): blocks before the measurement, so that the data path is
    // compiled by then; the measured blocks follow them in sequence.
    for (let k = 0; k < warmBlocks; k++) {
      nodes[0]!.gossip(blockMessage(k + 2, tls));
      await sleep(1_000 / BLOCKS_PER_S);
    }
    if (warmBlocks > 0) await sleep(3_000);
    await sleep(1_000);
    const bg0 = { cpu: cpuMicros(), msgs: counter.msgs, bytes: counter.bytes };
    await sleep(bgS * 1_000);
    const bgCpuPerS = (cpuMicros() - bg0.cpu) / 1e3 / bgS; // ms per s
    const bgMsgsPerS = (counter.msgs - bg0.msgs) / bgS;
    const bgBytesPerS = (counter.bytes - bg0.bytes) / bgS;

    const published = new Map<number, number>();
    const profiler = await startWindowProfile();
    const start = { cpu: cpuMicros(), main: mainThreadCpuMicros(), msgs: counter.msgs, bytes: counter.bytes };
    // For a profiler outside the process (perf record -p <pid>, docs/SIDE-BY-SIDE.md): the window starts now.
    process.stderr.write(`sidebyside: window starts, pid ${process.pid}, n ${n}\n`);
    const t0 = performance.now();
    for (let k = 0; k < BLOCKS; k++) {
      await sleep(t0 + (k * 1_000) / BLOCKS_PER_S - performance.now());
      const seq = warmBlocks + k + 2;
      const msg = blockMessage(seq, tls);
      published.set(seq, performance.now());
      nodes[0]!.gossip(msg);
    }
    const end = t0 + WINDOW_S * 1_000;
    await sleep(end - performance.now());
    const cpuMs = (cpuMicros() - start.cpu) / 1e3;
    const mainEnd = mainThreadCpuMicros();
    const mainCpuMs = start.main === undefined || mainEnd === undefined ? undefined : (mainEnd - start.main) / 1e3;
    const profile = await profiler?.stop(`sidebyside-${tls ? "tls" : "plain"}-n${n}`);
    const retained = retainedMemory();
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
      tls,
      membershipS: membershipMs / 1000,
      bgCpuMsPerS: bgCpuPerS,
      bgMsgsPerS,
      deliveries: latencies.length,
      duplicates,
      cpuMsPerDelivery: cpuMs / expected,
      cpuMsPerDeliveryNet: (cpuMs - bgCpuPerS * WINDOW_S) / expected,
      mainThreadShare: mainCpuMs === undefined ? undefined : mainCpuMs / cpuMs,
      latencyP50Ms: quantileOf(latencies, 0.5),
      latencyP99Ms: quantileOf(latencies, 0.99),
      msgsPerDelivery: msgs / expected,
      bytesPerDelivery: bytes / expected,
      msgsPerDeliveryNet: (msgs - bgMsgsPerS * WINDOW_S) / expected,
      bytesPerDeliveryNet: (bytes - bgBytesPerS * WINDOW_S) / expected,
      bgBytesPerS,
      stages: profile === undefined ? undefined : stagesPerDelivery(profile, expected, mainCpuMs === undefined ? undefined : mainCpuMs * 1e3),
      retained,
    };
  } finally {
    await Promise.all(nodes.map((x) => x.stop()));
    // Transports of nodes that never started are not closed by their node.
    await Promise.all(transports.map((t) => t.close()));
    await material?.cleanup();
  }
}

/**
 * With SIDEBYSIDE_PROFILE=<dir>: a profile of the measured window only (not the start-up, the membership or the
 * background), written to <dir> for Chrome's DevTools or a script: CPU (<name>-<time>.cpuprofile) or, with
 * SIDEBYSIDE_PROFILE_KIND=alloc, a sampling profile of what was allocated (<name>-<time>.heapprofile).
 */
async function startWindowProfile(): Promise<{ stop(name: string): Promise<CpuProfile | undefined> } | undefined> {
  const dir = process.env.SIDEBYSIDE_PROFILE;
  if (dir === undefined || dir === "") return undefined;
  const alloc = process.env.SIDEBYSIDE_PROFILE_KIND === "alloc";
  const session = new Session();
  session.connect();
  if (alloc) {
    await session.post("HeapProfiler.enable");
    // Every object survives in the profile (collected ones too): what the window allocated, not what it kept.
    await session.post("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  } else {
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
  }
  return {
    async stop(name: string): Promise<CpuProfile | undefined> {
      const save = async (profile: unknown, extension: string): Promise<void> => {
        session.disconnect();
        await mkdir(dir, { recursive: true });
        const file = join(dir, `${name}-${Date.now()}.${extension}`);
        await writeFile(file, JSON.stringify(profile));
        process.stderr.write(`sidebyside: window profile in ${file}\n`);
      };
      if (alloc) {
        await save((await session.post("HeapProfiler.stopSampling")).profile, "heapprofile");
        return undefined;
      }
      const { profile } = await session.post("Profiler.stop");
      await save(profile, "cpuprofile");
      return profile;
    },
  };
}

/** One line per run, in the Go harness's format, so the two sides can be compared by script. */
export function runLine(r: SideBySideRun): string {
  const f = (x: number, d: number): string => x.toFixed(d);
  return (
    `SIDEBYSIDE impl=${r.tls ? "ts-tls" : "ts"} transport=${transportKind()} n=${r.n} membership_s=${f(r.membershipS, 2)} bg_cpu_ms_per_s=${f(r.bgCpuMsPerS, 2)} bg_msgs_per_s=${f(r.bgMsgsPerS, 1)} bg_bytes_per_s=${f(r.bgBytesPerS, 0)} ` +
    `deliveries=${r.deliveries} expected=${BLOCKS * r.n} dups=${r.duplicates} cpu_ms_per_delivery=${f(r.cpuMsPerDelivery, 4)} ` +
    `cpu_ms_per_delivery_net=${f(r.cpuMsPerDeliveryNet, 4)} lat_p50_ms=${f(r.latencyP50Ms, 2)} lat_p99_ms=${f(r.latencyP99Ms, 2)} ` +
    `msgs_per_delivery=${f(r.msgsPerDelivery, 3)} bytes_per_delivery=${f(r.bytesPerDelivery, 0)} ` +
    `msgs_per_delivery_net=${f(r.msgsPerDeliveryNet, 3)} bytes_per_delivery_net=${f(r.bytesPerDeliveryNet, 0)}` +
    (r.mainThreadShare === undefined ? "" : ` main_thread_share=${f(r.mainThreadShare, 3)}`) +
    ` retained_heap_mib=${f(r.retained.heapMiB, 1)} retained_array_buffers_mib=${f(r.retained.arrayBuffersMiB, 2)}`
  );
}

export async function benchSideBySide(): Promise<Record<string, number>> {
  const ns = (process.env.SIDEBYSIDE_N ?? "10,20").split(",").map(Number);
  const runs = Number(process.env.SIDEBYSIDE_RUNS ?? 1);
  const bgS = Number(process.env.SIDEBYSIDE_BG_S ?? 20);
  const warmBlocks = Number(process.env.SIDEBYSIDE_WARM_BLOCKS ?? 0);
  // As `peer start` runs: its V8 settings (src/cli/peer-runtime.ts), unless SIDEBYSIDE_RUNTIME=node (Node's defaults).
  if ((process.env.SIDEBYSIDE_RUNTIME ?? "peer") === "peer") tunePeerRuntime();
  // "plain" (the Go harness's setting), "tls" (mutual TLS, ECDSA identities, MSP crypto), or both.
  const variants = (process.env.SIDEBYSIDE_VARIANTS ?? "plain").split(",");
  const out: Record<string, number> = {};
  for (const variant of variants) {
    const tls = variant === "tls";
    for (const n of ns) {
      const rs: SideBySideRun[] = [];
      for (let i = 0; i < runs; i++) {
        const r = await sideBySideOnce(n, bgS, tls, warmBlocks);
        process.stdout.write(`${runLine(r)}\n`);
        if (r.stages !== undefined) process.stdout.write(`${stagesLine(`SIDEBYSIDE_STAGES impl=${r.tls ? "ts-tls" : "ts"} n=${r.n}`, r.stages)}\n`);
        rs.push(r);
      }
      const med = (pick: (r: SideBySideRun) => number, digits: number): number => Number(median(rs.map(pick)).toFixed(digits));
      const k = `${tls ? "TLS " : ""}N=${n}`;
      Object.assign(out, {
        [`${k} runs`]: runs,
        [`${k} deliveries in window (of ${BLOCKS * n})`]: med((r) => r.deliveries, 0),
        [`${k} CPU ms per delivery`]: med((r) => r.cpuMsPerDelivery, 4),
        [`${k} CPU ms per delivery minus background`]: med((r) => r.cpuMsPerDeliveryNet, 4),
        [`${k} background CPU ms per s`]: med((r) => r.bgCpuMsPerS, 2),
        [`${k} latency p50 ms`]: med((r) => r.latencyP50Ms, 2),
        [`${k} latency p99 ms`]: med((r) => r.latencyP99Ms, 2),
        [`${k} messages sent per delivery`]: med((r) => r.msgsPerDelivery, 3),
        [`${k} bytes sent per delivery`]: med((r) => r.bytesPerDelivery, 0),
        [`${k} messages sent per delivery minus background`]: med((r) => r.msgsPerDeliveryNet, 3),
        [`${k} bytes sent per delivery minus background`]: med((r) => r.bytesPerDeliveryNet, 0),
        [`${k} ArrayBuffer MiB held after the window`]: med((r) => r.retained.arrayBuffersMiB, 2),
      });
    }
  }
  return out;
}

if (isMain(import.meta.url)) printFigures(await benchSideBySide());
