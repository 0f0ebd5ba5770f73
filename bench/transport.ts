/**
 * Transport speed between two processes over one mutually authenticated TLS gRPC stream, 1 KiB
 * payloads: messages per second one way (lossless, with flow control), median and p99 one-way
 * latency of unloaded single messages, and CPU per message on each side.
 *
 * Run: node --import tsx bench/transport.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tlsCaFiles } from "../src/cli/commands/network.js";
import { PeerProcess } from "../src/cli/peer-process.js";
import { generateCryptoMaterial } from "../src/crypto/index.js";
import { isMain, printFigures } from "./stats.js";

interface PeerStats {
  received: Record<string, { count: number; p50Ms: number | null; p99Ms: number | null }>;
  cpu: { user: number; system: number };
}

export async function benchTransport(options: { messages?: number; latencySamples?: number } = {}): Promise<Record<string, number>> {
  const messages = options.messages ?? 200_000;
  const samples = options.latencySamples ?? 1_000;
  const root = await mkdtemp(join(tmpdir(), "fabric-gossip-bench-"));
  const procs: PeerProcess[] = [];
  try {
    const net = await generateCryptoMaterial({ orgs: 1, peersPerOrg: 2, out: root });
    const org = net.orgs[0]!;
    const start = async (i: number) => {
      const n = org.nodes[i]!;
      const p = new PeerProcess(n.name, [
        "comm", "peer", "--listen", "127.0.0.1:0", "--msp", n.mspDir, "--msp-id", org.mspId, "--orgs-dir", root,
        "--tls-cert", join(n.tlsDir, "server.crt"), "--tls-key", join(n.tlsDir, "server.key"), "--tls-ca", ...tlsCaFiles(net),
      ]);
      procs.push(p);
      const ready = await p.event("ready", 60_000);
      return { p, endpoint: String(ready["endpoint"]), pkiId: String(ready["pkiId"]) };
    };
    const [a, b] = await Promise.all([start(0), start(1)]);
    const stats = async (x: typeof a) => (await x.p.request({ cmd: "stats" }, "stats")) as unknown as PeerStats;
    const blast = (count: number) => a.p.request({ cmd: "blast", endpoint: b.endpoint, pkiId: b.pkiId, count, size: 1024 }, "blasted", 300_000);

    await blast(20_000); // connect and warm up
    await b.p.request({ cmd: "reset" }, "reset");

    const cpuA0 = (await stats(a)).cpu;
    const cpuB0 = (await stats(b)).cpu;
    const t0 = performance.now();
    await blast(messages);
    for (;;) {
      const got = (await stats(b)).received[a.pkiId]?.count ?? 0;
      if (got >= messages) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpuA1 = (await stats(a)).cpu;
    const cpuB1 = (await stats(b)).cpu;
    const cpuUs = (c0: PeerStats["cpu"], c1: PeerStats["cpu"]) => (c1.user + c1.system - c0.user - c0.system) / messages;

    await b.p.request({ cmd: "reset" }, "reset");
    for (let i = 0; i < samples; i++) await blast(1);
    const lat = (await stats(b)).received[a.pkiId]!;
    return {
      transport_messages_per_s: Math.round(messages / seconds),
      transport_sender_cpu_us_per_msg: Number(cpuUs(cpuA0, cpuA1).toFixed(2)),
      transport_receiver_cpu_us_per_msg: Number(cpuUs(cpuB0, cpuB1).toFixed(2)),
      transport_latency_p50_ms: Number((lat.p50Ms ?? 0).toFixed(3)),
      transport_latency_p99_ms: Number((lat.p99Ms ?? 0).toFixed(3)),
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await rm(root, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) printFigures(await benchTransport());
