import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PeerProcess, type PeerProcessOptions } from "../../src/cli/peer-process.js";
import { issueCertificate, loadCa, loadPeerMaterial } from "../../src/crypto/index.js";
import { createSignedEnvelope } from "../../src/deliver/index.js";
import { broadcastAll } from "../../src/orderer/index.js";
import { HeaderType, Status } from "../../src/protos/gen/common/common.pb.js";
import type { ChannelStatusView, MembershipView } from "../../src/service/index.js";
import { type Clock, SystemClock } from "../../src/util/index.js";
import { createTestOrderer, generateTestOrgs, type TestOrderer, type TestOrgs, testClientOf } from "./channel-setup.js";
import { FAST_GOSSIP_ENV, fastElectionEnv } from "./fast-timers.js";
import { eventually, freePorts } from "./net.js";
import type { LabHost } from "./netns.js";

/**
 * A small network of real `peer start --channel-block` processes (several orgs, MSP identities, optional
 * mutual TLS) and an in-process ordering service, for the reliability scenarios that need real processes:
 * clock skew under libfaketime, certificate expiry and renewal, churn, and the observability contract
 * (what `/v1/membership` and `/metrics` say against which processes really run). Used by test/e2e and bench/.
 */

/** Where Debian's libfaketime puts its multi-threaded preload library (Node runs several threads). */
const FAKETIME_LIBS = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1"];

/** The libfaketime preload library, or undefined when it is not installed (`apt-get install faketime`). */
export function faketimeLibrary(): string | undefined {
  return FAKETIME_LIBS.find((f) => existsSync(f));
}

/**
 * The environment that runs a process under libfaketime with the wall clock read from `file` (re-read
 * every second, so writing "-1h" into it jumps the clock at runtime). Only CLOCK_REALTIME is faked: an NTP
 * step or an operator's `date -s` moves the wall clock, never CLOCK_MONOTONIC, which Node's timers and
 * performance.now() read.
 */
export function faketimeEnv(lib: string, file: string): Record<string, string> {
  return { LD_PRELOAD: lib, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_CACHE_DURATION: "1", FAKETIME_DONT_FAKE_MONOTONIC: "1" };
}

/** One peer process of the cluster; a restart is a new process with the same flags and ledger. */
export class ClusterPeer {
  proc: PeerProcess | undefined;
  admin = "";
  /** The PKI-ID of the current (or last) process, from its ready line. */
  pkiId = "";
  /** Extra environment of the next start (faketime, timers). */
  env: NodeJS.ProcessEnv = {};

  constructor(
    readonly name: string,
    readonly mspId: string,
    /** host:port it listens on and advertises. */
    readonly endpoint: string,
    readonly mspDir: string,
    readonly args: readonly string[],
    readonly baseEnv: NodeJS.ProcessEnv,
    /** How it is started: through a command (a network namespace's nsenter), its output appended to a file. */
    readonly processOptions: PeerProcessOptions = {},
  ) {}

  async start(): Promise<void> {
    const proc = new PeerProcess(this.name, [...this.args], { ...this.baseEnv, ...this.env }, this.processOptions);
    this.proc = proc;
    const ready = await proc.event("ready", 60_000);
    this.admin = String(ready["admin"]);
    this.pkiId = String(ready["pkiId"]);
  }

  /** The blocks its processes reported committing (`--report-commits`), as far as {@link collectCommits} read them. */
  readonly commits: { channel: string; number: number; hash: string; time: number }[] = [];

  /** Reads the commit events its process printed since the last call into {@link commits}; returns them all. */
  collectCommits(): readonly { channel: string; number: number; hash: string; time: number }[] {
    for (const e of this.proc?.takeEvents((m) => m.event === "commit") ?? []) {
      this.commits.push({ channel: String(e["channel"]), number: Number(e["number"]), hash: String(e["hash"]), time: Number(e["time"]) });
    }
    return this.commits;
  }

  get running(): boolean {
    const p = this.proc;
    return p !== undefined && p.child.exitCode === null && p.child.signalCode === null;
  }

  async stop(): Promise<void> {
    await this.proc?.stop(10_000);
  }

  /** kill -9. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (p === undefined) return;
    p.kill();
    await p.stop(1);
  }

  async membership(): Promise<MembershipView | undefined> {
    try {
      const res = await fetch(`http://${this.admin}/v1/membership`, { signal: AbortSignal.timeout(3_000) });
      return (await res.json()) as MembershipView;
    } catch {
      return undefined;
    }
  }

  async status(channel: string): Promise<ChannelStatusView | undefined> {
    try {
      const res = await fetch(`http://${this.admin}/v1/channels`, { signal: AbortSignal.timeout(3_000) });
      return ((await res.json()) as { channels: ChannelStatusView[] }).channels.find((c) => c.channel === channel);
    } catch {
      return undefined;
    }
  }

  /** The Prometheus samples of `/metrics`: "name{labels}" to value. */
  async metrics(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    try {
      const text = await (await fetch(`http://${this.admin}/metrics`, { signal: AbortSignal.timeout(3_000) })).text();
      for (const line of text.split("\n")) {
        if (line === "" || line.startsWith("#")) continue;
        const at = line.lastIndexOf(" ");
        out.set(line.slice(0, at), Number(line.slice(at + 1)));
      }
    } catch {
      // a peer that does not answer has no samples
    }
    return out;
  }

  /** Lines of its stderr matching `re` (the process keeps the first 2,000 lines). */
  logLines(re: RegExp): string[] {
    return this.proc?.stderr.filter((l) => re.test(l)) ?? [];
  }
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  root: string;
  orgs: number;
  peersPerOrg: number;
  channel: string;
  /** Environment of every peer (timers). */
  env: NodeJS.ProcessEnv;
  /** Mutual TLS between peers (each org's TLS CA trusted). Default false. */
  tls?: boolean;
  /** "Now" of the generated certificates (e.g. two hours back, so that clocks an hour behind still trust them). */
  cryptoClock?: Clock;
  /** Extra environment per peer name, for its first start. */
  peerEnv?: Record<string, NodeJS.ProcessEnv>;
  batchSize?: number;
  batchTimeoutMs?: number;
  /**
   * Where each peer runs, org by org (see test/utils/netns.ts): its gossip endpoint is `address:7051`, its admin
   * endpoint listens on `mgmtAddress`, and it is started through `launcher`. Default: 127.0.0.1, free ports.
   */
  hosts?: readonly LabHost[];
  /** The ordering service's listen address (host:port). Default: 127.0.0.1 and a free port. */
  ordererListen?: string;
  /** A folder where each peer's output (control events and logs) is appended to `<name>.log`. Default: none. */
  logDir?: string;
}

/** The cluster: its peers (org by org), the orderer, and what the tests need to feed and check it. */
export interface Cluster {
  readonly orgs: TestOrgs;
  readonly peers: ClusterPeer[];
  readonly orderer: TestOrderer;
  readonly channel: string;
  /** Broadcasts `n` transactions of 1 KiB. */
  feed(n: number): Promise<void>;
  /** Stops every peer and the orderer. */
  stop(): Promise<void>;
}

/**
 * Generates crypto material for `orgs` x `peersPerOrg`, starts an orderer of `channel` whose genesis names
 * each org's first peer as its anchor peer, and starts every peer (the others of an org bootstrap to its first).
 */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const clock = new SystemClock();
  const orgs = await generateTestOrgs(opts.root, opts.orgs, opts.peersPerOrg, opts.cryptoClock);
  const sender = await testClientOf(orgs.peerOrgs[0]!);
  const count = opts.orgs * opts.peersPerOrg;
  if (opts.hosts !== undefined && opts.hosts.length !== count) throw new Error(`${count} peers need ${count} hosts, not ${opts.hosts.length}`);
  const ports = opts.hosts === undefined ? await freePorts(count) : [];
  const hostOf = (o: number, p: number): LabHost | undefined => opts.hosts?.[o * opts.peersPerOrg + p];
  const endpoint = (o: number, p: number): string => {
    const host = hostOf(o, p);
    return host === undefined ? `127.0.0.1:${ports[o * opts.peersPerOrg + p]}` : `${host.address}:7051`;
  };
  const anchorPeers: Record<string, string[]> = {};
  orgs.peerOrgs.forEach((org, o) => {
    anchorPeers[org.mspId] = [endpoint(o, 0)];
  });
  const orderer = await createTestOrderer(opts.root, orgs, clock, {
    channel: opts.channel,
    batchSize: opts.batchSize ?? 5,
    batchTimeoutMs: opts.batchTimeoutMs ?? 100,
    anchorPeers,
    tls: opts.tls === true,
    ...(opts.ordererListen === undefined ? {} : { listen: opts.ordererListen }),
  });
  // Broadcast as org1's first peer would over TLS: its TLS pair, the orderer org's TLS CA trusted.
  const peerTls = opts.tls === true ? (await loadPeerMaterial(orgs.peerOrgs[0]!.nodes[0]!.dir)).tls : undefined;
  const ordererTlsCa = opts.tls === true ? (await loadPeerMaterial(orgs.ordererOrg.nodes[0]!.dir)).tls.ca : undefined;
  const clientTls = peerTls === undefined ? {} : { tls: { rootCAs: ordererTlsCa!, cert: peerTls.cert, key: peerTls.key } };
  await orderer.start();
  const blockFile = join(opts.root, `${opts.channel}.block`);
  await writeFile(blockFile, orderer.genesis);
  const tlsCas = opts.tls === true ? [...orgs.peerOrgs, orgs.ordererOrg].map((o) => join(o.tlsCaDir, `tlsca.${o.name}-cert.pem`)) : [];
  const peers: ClusterPeer[] = [];
  orgs.peerOrgs.forEach((org, o) => {
    for (let p = 0; p < opts.peersPerOrg; p++) {
      const node = org.nodes[p]!;
      const args = ["peer", "start", "--listen", endpoint(o, p), "--external", endpoint(o, p), "--msp", node.mspDir, "--msp-id", org.mspId];
      const host = hostOf(o, p);
      args.push("--channel-block", blockFile, "--ledger-dir", join(opts.root, "ledgers", node.name), "--admin", `${host?.mgmtAddress ?? "127.0.0.1"}:0`, "--report-commits");
      if (p > 0) args.push("--bootstrap", endpoint(o, 0));
      if (opts.tls === true) args.push("--tls-cert", join(node.tlsDir, "server.crt"), "--tls-key", join(node.tlsDir, "server.key"), "--tls-ca", ...tlsCas);
      const peer = new ClusterPeer(node.name, org.mspId, endpoint(o, p), node.mspDir, args, opts.env, {
        ...(host === undefined ? {} : { launcher: host.launcher }),
        ...(opts.logDir === undefined ? {} : { logFile: join(opts.logDir, `${node.name}.log`) }),
      });
      peer.env = { ...(opts.peerEnv?.[node.name] ?? {}) };
      peers.push(peer);
    }
  });
  let txCount = 0;
  const cluster: Cluster = {
    orgs,
    peers,
    orderer,
    channel: opts.channel,
    async feed(n: number): Promise<void> {
      const envs = Array.from({ length: n }, () => createSignedEnvelope(sender, opts.channel, HeaderType.ENDORSER_TRANSACTION, new Uint8Array(1024).fill(txCount++ % 251), { clock }));
      const res = await broadcastAll(orderer.address, envs, clientTls);
      if (!res.every((r) => r.status === Status.SUCCESS)) throw new Error(`the orderer refused a transaction: ${JSON.stringify(res.map((r) => r.status))}`);
    },
    async stop(): Promise<void> {
      await Promise.all(peers.map((p) => p.stop()));
      await orderer.stop();
    },
  };
  try {
    await Promise.all(peers.map((p) => p.start()));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** What `/v1/membership` of `viewer` should show: every other running peer alive, no stopped one alive. */
export interface TruthDiff {
  /** Running peers (PKI-IDs) missing from the alive view. */
  missing: string[];
  /** PKI-IDs in the alive view that no running process holds. */
  extra: string[];
}

/** The symmetric difference between `view`'s alive members and the PKI-IDs of the running peers other than `self`. */
export function diffFromTruth(view: MembershipView, self: ClusterPeer, peers: readonly ClusterPeer[]): TruthDiff {
  const truth = new Set(peers.filter((p) => p !== self && p.running).map((p) => p.pkiId));
  const alive = new Set(view.alive.map((m) => m.pkiId));
  return { missing: [...truth].filter((id) => !alive.has(id)), extra: [...alive].filter((id) => !truth.has(id)) };
}

/** Whether every running peer's alive view equals the truth; the diffs by peer name otherwise. */
export async function viewsMatchTruth(peers: readonly ClusterPeer[]): Promise<{ ok: boolean; diffs: Record<string, TruthDiff | "no answer"> }> {
  const diffs: Record<string, TruthDiff | "no answer"> = {};
  let ok = true;
  for (const p of peers.filter((q) => q.running)) {
    const view = await p.membership();
    if (view === undefined) {
      diffs[p.name] = "no answer";
      ok = false;
      continue;
    }
    const d = diffFromTruth(view, p, peers);
    diffs[p.name] = d;
    if (d.missing.length > 0 || d.extra.length > 0) ok = false;
  }
  return { ok, diffs };
}

/**
 * The sum over the running peers of every `/metrics` sample whose "name{labels}" starts with `prefix`: a metric over all
 * its series (`fabric_gossip_discovery_expired_total`) or one series (`...{cause="expired"}`).
 */
export async function metricTotal(peers: readonly ClusterPeer[], prefix: string): Promise<number> {
  let sum = 0;
  for (const p of peers.filter((q) => q.running)) for (const [k, v] of await p.metrics()) if (k.startsWith(prefix)) sum += v;
  return sum;
}

/** The running peers that say they lead `channel`, by MSP ID. */
export async function leadersByOrg(peers: readonly ClusterPeer[], channel: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const p of peers.filter((q) => q.running)) {
    if (!out.has(p.mspId)) out.set(p.mspId, []);
    if ((await p.status(channel))?.leader === true) out.get(p.mspId)!.push(p.name);
  }
  return out;
}

/**
 * Gives `peer` a new enrolment certificate from its org's CA (a new key, so a new PKI-ID), valid until `notAfter`
 * (default cryptogen's ten years): written over its MSP's signcert and key, used from its next start.
 */
export async function renewEnrolment(cluster: Cluster, peer: ClusterPeer, notAfter?: Date): Promise<void> {
  const org = cluster.orgs.peerOrgs.find((o) => o.mspId === peer.mspId)!;
  const ca = await loadCa(org.caDir);
  const cert = await issueCertificate({ ca, commonName: peer.name, organizationalUnits: ["peer"], ...(notAfter === undefined ? {} : { notAfter }) });
  await writeFile(join(peer.mspDir, "signcerts", `${peer.name}-cert.pem`), cert.certPem);
  await writeFile(join(peer.mspDir, "keystore", "priv_sk"), cert.keyPem, { mode: 0o600 });
}

/** Polling period of the checks below. */
const CHECK_POLL_MS = 200;

/**
 * Waits until every running peer's alive view equals the running processes; returns how long it took. On a
 * timeout the last differences go to stderr.
 */
export async function untilViewsMatch(cluster: Cluster, what: string, timeoutMs: number): Promise<number> {
  const from = Date.now();
  let last: Awaited<ReturnType<typeof viewsMatchTruth>> | undefined;
  try {
    await eventually(
      what,
      async () => {
        last = await viewsMatchTruth(cluster.peers);
        return last.ok;
      },
      timeoutMs,
      CHECK_POLL_MS,
    );
  } catch (err) {
    process.stderr.write(`# views: ${JSON.stringify(last?.diffs)}\n`);
    throw err;
  }
  return Date.now() - from;
}

/** PKI-IDs any running peer holds, alive or dead. */
export async function everyKnownId(cluster: Cluster): Promise<Set<string>> {
  const out = new Set<string>();
  for (const p of cluster.peers.filter((q) => q.running)) {
    const v = await p.membership();
    for (const m of [...(v?.alive ?? []), ...(v?.dead ?? [])]) out.add(m.pkiId);
  }
  return out;
}

/** Waits until each org has exactly one leader among its running peers; returns how long it took. */
export async function untilOneLeaderPerOrg(cluster: Cluster, timeoutMs: number): Promise<number> {
  const from = Date.now();
  await eventually(
    "exactly one leader in each org",
    async () => [...(await leadersByOrg(cluster.peers, cluster.channel)).values()].every((l) => l.length === 1),
    timeoutMs,
    CHECK_POLL_MS,
  );
  return Date.now() - from;
}

/** Feeds `txs` transactions and waits until every running peer holds the orderer's chain; returns its height. */
export async function blocksFlow(cluster: Cluster, txs = 10, timeoutMs = 20_000): Promise<number> {
  await cluster.feed(txs);
  await new Promise((r) => setTimeout(r, 300)); // past the batch timeout: nothing more is cut
  const target = Number(cluster.orderer.height(cluster.channel));
  await eventually(
    `every running peer at height ${target}`,
    async () => {
      for (const p of cluster.peers.filter((q) => q.running)) if ((await p.status(cluster.channel))?.height !== target) return undefined;
      return true;
    },
    timeoutMs,
    CHECK_POLL_MS,
  );
  return target;
}

/**
 * The observability contract (RELIABILITY.md S23): each running peer's metrics agree with its admin endpoint and
 * with the truth: channel peers known (`gossip_membership_total_peers_known`, set every membershipTrackerInterval)
 * and `/v1/membership`'s channel members are the running others, `gossip_state_height` and `/v1/channels` are the
 * orderer's `height`, `gossip_leader_election_leader` is the admin endpoint's leadership. Undefined when they
 * agree, else what differs first.
 */
export async function metricsDisagreement(cluster: Cluster, height: number): Promise<string | undefined> {
  const ch = cluster.channel;
  for (const p of cluster.peers.filter((q) => q.running)) {
    const m = await p.metrics();
    const status = await p.status(ch);
    const view = await p.membership();
    const others = cluster.peers.filter((q) => q !== p && q.running).length;
    const known = m.get(`gossip_membership_total_peers_known{channel="${ch}"}`);
    if (known !== others) return `${p.name}: gossip_membership_total_peers_known ${known}, ${others} others run`;
    if (view?.channels[ch]?.length !== others) return `${p.name}: /v1/membership has ${view?.channels[ch]?.length} channel members, ${others} others run`;
    const h = m.get(`gossip_state_height{channel="${ch}"}`);
    if (h !== height || status?.height !== height) return `${p.name}: gossip_state_height ${h}, /v1/channels ${status?.height}, orderer ${height}`;
    const leader = m.get(`gossip_leader_election_leader{channel="${ch}"}`);
    if (leader !== (status.leader ? 1 : 0)) return `${p.name}: gossip_leader_election_leader ${leader}, /v1/channels leader ${status.leader}`;
  }
  return undefined;
}

/** Waits until {@link metricsDisagreement} finds nothing; fails naming the last difference. */
export async function untilMetricsAgree(cluster: Cluster, height: number, timeoutMs: number): Promise<void> {
  let last: string | undefined;
  try {
    await eventually(
      "metrics agree with /v1/membership, /v1/channels and the running processes",
      async () => {
        last = await metricsDisagreement(cluster, height);
        return last === undefined;
      },
      timeoutMs,
      CHECK_POLL_MS,
    );
  } catch (err) {
    process.stderr.write(`# metrics: ${last}\n`);
    throw err;
  }
}

/** The compressed timers of the reliability scenarios on real processes (Fabric's shape, seconds instead of tens). */
export const CLUSTER_TIMERS = Object.freeze({
  /** A: aliveTimeInterval (FAST_GOSSIP_ENV). */
  aliveMs: 1_000,
  /** R: reconnectInterval. */
  reconnectMs: 1_000,
  /** E: aliveExpirationTimeout. */
  aliveExpirationMs: 4_000,
  leaderAliveThresholdMs: 2_000,
  leaderElectionDurationMs: 1_000,
});

/** {@link CLUSTER_TIMERS} as the peers' environment, with dynamic election and state transfer on. */
export const CLUSTER_ENV: Readonly<NodeJS.ProcessEnv> = Object.freeze({
  CORE_PEER_GOSSIP_USELEADERELECTION: "true",
  CORE_PEER_GOSSIP_ORGLEADER: "false",
  CORE_PEER_GOSSIP_STATE_ENABLED: "true",
  ...FAST_GOSSIP_ENV,
  CORE_PEER_GOSSIP_ALIVEEXPIRATIONTIMEOUT: `${CLUSTER_TIMERS.aliveExpirationMs}ms`,
  CORE_PEER_GOSSIP_RECONNECTINTERVAL: `${CLUSTER_TIMERS.reconnectMs}ms`,
  CORE_PEER_GOSSIP_MEMBERSHIPTRACKERINTERVAL: "500ms",
  ...fastElectionEnv({
    leaderAliveThreshold: `${CLUSTER_TIMERS.leaderAliveThresholdMs}ms`,
    leaderElectionDuration: `${CLUSTER_TIMERS.leaderElectionDurationMs}ms`,
  }),
  CORE_PEER_GOSSIP_STATE_CHECKINTERVAL: "1s",
  CORE_PEER_DELIVERYCLIENT_RECONNECTBACKOFFTHRESHOLD: "1s",
});

/** R + 2A: a new or restarted peer is in every view within it (RELIABILITY.md S2, S10, S17). */
export const REJOIN_MS = CLUSTER_TIMERS.reconnectMs + 2 * CLUSTER_TIMERS.aliveMs;
/** leaderAliveThreshold + leaderElectionDuration: a leaderless org elects within it. */
export const ELECTION_MS = CLUSTER_TIMERS.leaderAliveThresholdMs + CLUSTER_TIMERS.leaderElectionDurationMs;
