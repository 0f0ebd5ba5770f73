import type { Command } from "commander";
import { type PKIidType, pkiHex, type RemotePeer } from "../../api/index.js";
import { type Comm, createComm, type Transport } from "../../comm/index.js";
import { GrpcTransport, loadTlsMaterial } from "../../comm/grpc/index.js";
import { createLogger } from "../../logging/index.js";
import { promMetricsProvider, Registry } from "../../metrics/index.js";
import { GossipMessage_Tag } from "../../protos/gen/gossip/message.pb.js";
import { SignedGossipMessage } from "../../protoext/index.js";
import { fromHex, SystemClock, SystemRandom, toHex, utf8 } from "../../util/index.js";
import {
  type ControlMessage,
  exitSoon,
  runUntilSignalled,
  writeControl,
  type Fault,
  loadPeerCrypto,
  type PeerCryptoArgs,
} from "../index.js";

interface CommPeerOptions extends PeerCryptoArgs {
  listen: string;
  fault?: Fault;
  sendBuffSize?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string[];
}

/**
 * `fabric-gossip comm peer`: one gossip transport endpoint driven by JSON lines on stdin. It is what
 * `network up`, the end-to-end tests and the benchmarks start as separate processes.
 */
export function registerCommPeer(program: Command): void {
  const comm = program.command("comm").description("the gossip transport on its own (diagnostics, tests, benchmarks)");
  comm
    .command("peer")
    .description("run one comm endpoint controlled by JSON lines on stdin (cmds: connect, blast, stats, reset, stop)")
    .requiredOption("--listen <host:port>", "address to serve Gossip on")
    .option("--msp <dir>", "local MSP folder (signcerts, keystore, cacerts, ...)")
    .option("--msp-id <id>", "MSP ID of the local MSP")
    .option("--orgs-dir <dir>", "crypto material root whose organizations this peer trusts (output of `crypto generate`)")
    .option("--insecure-dev-crypto", "INSECURE: Fabric's gossip test crypto (identity = endpoint, signature = message)")
    .option("--tls-cert <file>", "TLS certificate (server and client)")
    .option("--tls-key <file>", "TLS private key")
    .option("--tls-ca <files...>", "TLS CA certificates to trust")
    .option("--send-buff-size <n>", "per-connection send queue (peer.gossip.sendBuffSize)")
    .option("--fault <fault>", "misbehave on purpose, for tests: forge-signature | wrong-tls-hash")
    .action(async (opts: CommPeerOptions) => {
      try {
        await runCommPeer(opts);
      } finally {
        exitSoon();
      }
    });
}

interface ReceiveStats {
  count: number;
  bytes: number;
  latenciesMs: number[];
}

const LATENCY_SAMPLES = 200_000;

async function runCommPeer(opts: CommPeerOptions): Promise<void> {
  const logger = createLogger({ name: "peer" });
  const clock = new SystemClock();
  const crypto = await loadPeerCrypto(opts, logger);
  const material =
    opts.tlsCert && opts.tlsKey
      ? await loadTlsMaterial({
          cert: { what: "--tls-cert", file: opts.tlsCert },
          key: { what: "--tls-key", file: opts.tlsKey },
          cas: (opts.tlsCa ?? []).map((file) => ({ what: "--tls-ca", file })),
        })
      : undefined;
  const tls = material === undefined ? undefined : { cert: material.cert, key: material.key, rootCAs: material.rootCAs ?? Buffer.alloc(0) };
  let transport: Transport = new GrpcTransport({ listenAddress: opts.listen, tls, logger, clock });
  if (opts.fault === "wrong-tls-hash") transport = withWrongTlsHash(transport);
  const metrics = new Registry();
  const comm = createComm(
    {
      transport,
      clock,
      random: new SystemRandom(),
      logger,
      metrics: promMetricsProvider(metrics),
      mcs: crypto.mcs,
      securityAdvisor: crypto.securityAdvisor,
      selfIdentity: crypto.identity,
    },
    opts.sendBuffSize ? { sendBuffSize: Number(opts.sendBuffSize) } : {},
  );
  const received = new Map<string, ReceiveStats>();
  comm.accept(
    (m) => m.message.message.content?.$case === "dataMsg",
    (m) => {
      const key = pkiHex(m.connectionInfo.id);
      let s = received.get(key);
      if (s === undefined) {
        s = { count: 0, bytes: 0, latenciesMs: [] };
        received.set(key, s);
      }
      s.count++;
      s.bytes += m.message.size;
      const content = m.message.message.content;
      if (content?.$case === "dataMsg" && content.value.payload && content.value.payload.data.byteLength >= 8) {
        const d = content.value.payload.data;
        const sentAt = new DataView(d.buffer, d.byteOffset, 8).getFloat64(0, true);
        if (s.latenciesMs.length < LATENCY_SAMPLES) s.latenciesMs.push(wallMs() - sentAt);
      }
    },
  );
  await runUntilSignalled(
    async () => {
      await comm.start();
      return comm;
    },
    async (c) => {
      await c.stop();
      writeControl({ event: "stopped" });
    },
    {
      logger,
      what: "the comm peer",
      ready: (c) => ({ event: "ready", endpoint: transport.listenAddress, pkiId: toHex(c.getPKIid()) }),
      onCommand: (msg, requestStop) => {
        if (msg.cmd === "stop") {
          requestStop("stop command");
          return;
        }
        void handle(msg).catch((err: unknown) => writeControl({ event: "error", cmd: msg.cmd, error: err instanceof Error ? err.message : String(err) }));
      },
    },
  );

  async function handle(msg: ControlMessage): Promise<void> {
    switch (msg.cmd) {
      case "connect": {
        const peer = remotePeer(msg);
        const identity = await comm.handshake(peer);
        writeControl({ event: "connected", endpoint: peer.endpoint, identity: toHex(identity) });
        return;
      }
      case "blast": {
        const peer = remotePeer(msg);
        const count = Number(msg["count"] ?? 1000);
        const size = Number(msg["size"] ?? 1024);
        const started = wallMs();
        await blast(comm, peer, count, size);
        writeControl({ event: "blasted", to: peer.endpoint, count, seconds: (wallMs() - started) / 1000 });
        return;
      }
      case "stats": {
        const peers: Record<string, { count: number; bytes: number; p50Ms: number | null; p99Ms: number | null }> = {};
        for (const [k, s] of received) {
          const sorted = s.latenciesMs.slice().sort((a, b) => a - b);
          peers[k] = { count: s.count, bytes: s.bytes, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99) };
        }
        const metricsJson = await metrics.getMetricsAsJSON();
        const rejected: Record<string, number> = {};
        for (const m of metricsJson) {
          if (m.name !== "fabric_gossip_comm_rejected_total") continue;
          for (const v of m.values) rejected[String(v.labels["code"])] = v.value;
        }
        writeControl({ event: "stats", received: peers, rejected, connections: comm.stats().connections, cpu: process.cpuUsage() });
        return;
      }
      case "reset":
        received.clear();
        writeControl({ event: "reset" });
        return;
      default:
        writeControl({ event: "error", error: `unknown cmd ${String(msg.cmd)}` });
    }
  }
}

/** Sends `count` DataMessages of `size` bytes, keeping a window in flight so none is dropped. */
async function blast(comm: Comm, peer: RemotePeer, count: number, size: number): Promise<void> {
  const WINDOW = 256;
  const inflight: Promise<void>[] = [];
  const channel = utf8("bench");
  for (let i = 0; i < count; i++) {
    const data = new Uint8Array(Math.max(8, size));
    new DataView(data.buffer).setFloat64(0, wallMs(), true);
    const msg = SignedGossipMessage.noopSign({
      nonce: 0n,
      channel,
      tag: GossipMessage_Tag.CHAN_AND_ORG,
      content: { $case: "dataMsg", value: { payload: { seqNum: BigInt(i), data, privateData: [] } } },
    });
    inflight.push(comm.sendAndWait(msg, peer));
    if (inflight.length >= WINDOW) await inflight.shift();
  }
  await Promise.all(inflight);
}

function remotePeer(msg: ControlMessage): RemotePeer {
  const endpoint = String(msg["endpoint"] ?? "");
  const pki: PKIidType = typeof msg["pkiId"] === "string" ? fromHex(msg["pkiId"]) : new Uint8Array(0);
  if (endpoint === "") throw new Error("missing endpoint");
  return { endpoint, pkiId: pki };
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Wall time with sub-millisecond resolution; processes on one machine share it. */
function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A transport that claims a TLS certificate other than the one it presents (tests of the hash binding). */
function withWrongTlsHash(inner: Transport): Transport {
  const wrong = new Uint8Array(32).fill(0xab);
  return {
    tls: { serverCertHash: wrong, clientCertHash: wrong },
    get listenAddress() {
      return inner.listenAddress;
    },
    listen: (onStream) => inner.listen(onStream),
    dial: (e, d, p) => inner.dial(e, d, p),
    ping: (e, d, p) => inner.ping(e, d, p),
    close: () => inner.close(),
  };
}
