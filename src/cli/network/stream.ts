import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CryptoMaterialSummary, generateCryptoMaterial } from "../../crypto/index.js";
import { PeerProcess } from "../index.js";
import { nonNegativeIntFlag, positiveIntFlag as positiveInt } from "./flags.js";
import { tlsCaFiles } from "./plan.js";

/** The flags of `network stream` (commander's strings). */
export interface NetworkStreamOptions {
  orgs: string;
  peersPerOrg: string;
  tls: boolean;
  dir?: string;
  seconds: string;
  rate: string;
  size: string;
  basePort: string;
  json?: boolean;
}

interface NetPeer {
  name: string;
  org: string;
  endpoint: string;
  pkiId: string;
  proc: PeerProcess;
}

interface PeerStats {
  received: Record<string, { count: number; bytes: number; p50Ms: number | null; p99Ms: number | null }>;
  rejected: Record<string, number>;
  connections: number;
}

/**
 * `fabric-gossip network stream`: the transport alone. Every peer process (`comm peer`) authenticates
 * every other with the signed, TLS-bound handshake and streams messages to it; the view shows
 * connections, messages and latency per peer. Returns the exit code: 0 when nothing was lost.
 */
export async function runNetworkStream(opts: NetworkStreamOptions): Promise<number> {
  const orgs = positiveInt(opts.orgs, "--orgs");
  const perOrg = positiveInt(opts.peersPerOrg, "--peers-per-org");
  const seconds = nonNegativeIntFlag(opts.seconds, "--seconds");
  const rate = positiveInt(opts.rate, "--rate");
  const size = positiveInt(opts.size, "--size");
  const basePort = positiveInt(opts.basePort, "--base-port");
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "fabric-gossip-net-")));
  const out = (line: string): void => {
    if (!opts.json) process.stdout.write(`${line}\n`);
  };

  out(`generating crypto material for ${orgs} orgs x ${perOrg} peers in ${dir}`);
  const summary = await generateCryptoMaterial({ orgs, peersPerOrg: perOrg, out: dir });
  const peers = startPeers(summary, dir, opts.tls, basePort);
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
  };
  process.on("SIGINT", onSigint);
  try {
    for (const p of peers) {
      const ready = await p.proc.event("ready", 60_000);
      p.endpoint = String(ready["endpoint"]);
      p.pkiId = String(ready["pkiId"]);
    }
    out(`${peers.length} peers up (${opts.tls ? "mutual TLS" : "plaintext"}); authenticating every pair`);
    await Promise.all(peers.flatMap((a) => peers.filter((b) => b !== a).map((b) => a.proc.request({ cmd: "connect", endpoint: b.endpoint, pkiId: b.pkiId }, "connected"))));

    const started = Date.now();
    let sent = 0;
    for (let tick = 0; (seconds === 0 || tick < seconds) && !interrupted; tick++) {
      const t0 = Date.now();
      await Promise.all(
        peers.flatMap((a) => peers.filter((b) => b !== a).map((b) => a.proc.request({ cmd: "blast", endpoint: b.endpoint, pkiId: b.pkiId, count: rate, size }, "blasted", 60_000))),
      );
      sent += rate;
      const stats = await collect(peers);
      if (!opts.json) render(peers, stats, (Date.now() - started) / 1000);
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t0))));
    }
    const stats = await collect(peers);
    const expectedPerPeer = sent * (peers.length - 1);
    const result = {
      peers: peers.map((p, i) => {
        const s = stats[i]!;
        const lat = Object.values(s.received).map((r) => r.p50Ms ?? 0);
        return {
          id: p.name,
          org: p.org,
          endpoint: p.endpoint,
          connections: s.connections,
          received: Object.values(s.received).reduce((a, r) => a + r.count, 0),
          p50LatencyMs: lat.length ? Math.max(...lat) : null,
          rejected: s.rejected,
        };
      }),
      messagesPerPair: sent,
      seconds: (Date.now() - started) / 1000,
      tls: opts.tls,
    };
    const complete = result.peers.every((p) => p.received === expectedPerPeer);
    if (opts.json) process.stdout.write(`${JSON.stringify({ ...result, complete })}\n`);
    else out(complete ? `every peer received all ${expectedPerPeer} messages sent to it` : "some messages were lost");
    return complete ? 0 : 1;
  } finally {
    process.off("SIGINT", onSigint);
    await Promise.all(peers.map((p) => p.proc.stop()));
    if (opts.dir === undefined) await rm(dir, { recursive: true, force: true });
  }
}

function startPeers(summary: CryptoMaterialSummary, root: string, tls: boolean, basePort: number): NetPeer[] {
  const peers: NetPeer[] = [];
  for (const org of summary.orgs.filter((o) => o.kind === "peer")) {
    for (const node of org.nodes) {
      const listen = `127.0.0.1:${basePort + peers.length}`;
      const args = ["comm", "peer", "--listen", listen, "--msp", node.mspDir, "--msp-id", org.mspId, "--orgs-dir", root];
      if (tls) args.push("--tls-cert", join(node.tlsDir, "server.crt"), "--tls-key", join(node.tlsDir, "server.key"), "--tls-ca", ...tlsCaFiles(summary));
      peers.push({ name: node.name, org: org.mspId, endpoint: listen, pkiId: "", proc: new PeerProcess(node.name, args) });
    }
  }
  return peers;
}

async function collect(peers: NetPeer[]): Promise<PeerStats[]> {
  return Promise.all(peers.map(async (p) => (await p.proc.request({ cmd: "stats" }, "stats")) as unknown as PeerStats));
}

function render(peers: NetPeer[], stats: PeerStats[], elapsed: number): void {
  const rows = peers.map((p, i) => {
    const s = stats[i]!;
    const recv = Object.values(s.received).reduce((a, r) => a + r.count, 0);
    const p50 = Math.max(0, ...Object.values(s.received).map((r) => r.p50Ms ?? 0));
    const rejected = Object.values(s.rejected).reduce((a, n) => a + n, 0);
    return `${p.name.padEnd(24)} ${p.org.padEnd(9)} ${p.endpoint.padEnd(16)} ${String(s.connections).padStart(5)} ${String(recv).padStart(9)} ${p50.toFixed(2).padStart(9)} ${String(rejected).padStart(8)}`;
  });
  const header = `${"peer".padEnd(24)} ${"org".padEnd(9)} ${"endpoint".padEnd(16)} ${"conns".padStart(5)} ${"received".padStart(9)} ${"p50 ms".padStart(9)} ${"rejected".padStart(8)}`;
  process.stdout.write(`\n[${elapsed.toFixed(1)} s]\n${header}\n${rows.join("\n")}\n`);
}
