import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type CryptoMaterialSummary, generateCryptoMaterial, loadPeerMaterial, type NodeSummary } from "../../crypto/index.js";
import type { ChannelStatusView } from "../../service/index.js";
import { errorMessage } from "../../util/index.js";
import { type ControlMessage, PeerProcess } from "../index.js";
import { fetchChannelStatus } from "./admin-client.js";
import { NetworkError } from "./errors.js";
import { type FeederStats, TxFeeder } from "./feeder.js";
import { type PrivateDataTxStats, postPrivateData, privateDataTxSource, type TxSource } from "./feeder-sources.js";
import { CommitLatency, type LatencySummary } from "./latency.js";
import { genesisBlockOfPlan, type NetworkPlan, orgTlsCaFile, planNetwork } from "./plan.js";
import { consecutivePorts, freePorts } from "./ports.js";
import { clientUsers } from "./users.js";

/** Defaults of `LocalNetworkOptions`. */
export const DEFAULT_ORGS = 2;
export const DEFAULT_PEERS_PER_ORG = 3;
export const DEFAULT_CHANNEL = "mychannel";
/** How long a process may take from spawn to its ready line. */
export const DEFAULT_READY_TIMEOUT_MS = 60_000;
/** How long a process may take to exit after its stdin closes, before it is killed. */
const STOP_GRACE_MS = 10_000;
/** waitForHeight's default deadline. */
const DEFAULT_WAIT_TIMEOUT_MS = 60_000;
/** setTimeout's longest delay: the event pumps wait this long per event (and end with the process). */
const FOREVER_MS = 2 ** 31 - 1;

/**
 * Gossip settings every peer of a local network gets: Fabric's dynamic leader election with state
 * transfer, as Fabric's v1.4 sample core.yaml has them (2.x turns election and state transfer off
 * and connects every peer to the orderer). Without state transfer a follower that falls more than
 * blockBufferSize blocks behind (a restart, a slow start) never catches up: Fabric's straggler case.
 * Caller env comes after, so it can override these.
 */
export const LOCAL_NETWORK_PEER_ENV: Readonly<Record<string, string>> = {
  CORE_PEER_GOSSIP_USELEADERELECTION: "true",
  CORE_PEER_GOSSIP_ORGLEADER: "false",
  CORE_PEER_GOSSIP_STATE_ENABLED: "true",
  // Ours (off in Fabric): a gap left by gossip is filled by state transfer after 1 s, not at the next
  // checkInterval; a follower catching up at 10 blocks/s otherwise stayed ~2 s behind for good. Not less:
  // at 250 ms a 49 MiB block still in flight was fetched again, and /healthz took 1 s (470 ms without).
  CORE_PEER_GOSSIP_STATE_GAPFILLDELAY: "1s",
  // Private data as the sample core.yaml pushes it (Fabric's code has no default: 0 fails every push), and
  // pulls what a peer missed at commit for 10 s rather than core.yaml's 60 s, so that a run ends in time.
  CORE_PEER_GOSSIP_PVTDATA_PUSHACKTIMEOUT: "3s",
  CORE_PEER_GOSSIP_PVTDATA_PULLRETRYTHRESHOLD: "10s",
};

/** Options of a `LocalNetwork`; every field has a default. */
export interface LocalNetworkOptions {
  /** Peer organizations. Default 2. */
  orgs?: number;
  /** Peers per organization. Default 3. */
  peersPerOrg?: number;
  /** The one channel every peer joins. Default "mychannel". */
  channel?: string;
  /** Mutual TLS everywhere (peers, orderer, feeder). Default false. */
  tls?: boolean;
  /** Network folder, kept after stop(); must be empty or new. Default: a temporary folder, removed by stop(). */
  dir?: string;
  /**
   * Where each process's output goes, as `<name>.log` (see `logFileName`): its logs (stderr) and control
   * events (stdout), appended across restarts. Default: `<dir>/logs`.
   */
  logDir?: string;
  /** Consecutive ports from here (orderer first, then the peers). Default: free ports the system picks. */
  basePort?: number;
  /** Orderer batch size (messages per block). Default: the orderer's (10). */
  batchSize?: number;
  /** Orderer batch timeout, a Fabric duration ("2s", "250ms"). Default: the orderer's (2s). */
  batchTimeout?: string;
  /** Orderer max block bytes. Default: the orderer's. */
  maxBlockBytes?: number;
  /** Extra environment of the peer processes, e.g. CORE_PEER_GOSSIP_* timers; wins over LOCAL_NETWORK_PEER_ENV. */
  env?: Readonly<Record<string, string>>;
  /** Extra environment of the orderer process. */
  ordererEnv?: Readonly<Record<string, string>>;
  /** Deadline of each process's ready line. Default 60 s. */
  readyTimeoutMs?: number;
  /**
   * Stop the network on SIGINT, SIGTERM and SIGHUP of this process, then let the signal take its
   * default course (unless someone else listens for it). Default true; a caller with its own
   * handling passes false and calls stop().
   */
  handleSignals?: boolean;
}

/** What a network process is doing. */
export type ProcessState = "idle" | "starting" | "running" | "stopping" | "stopped" | "exited";

/** A peer of the network. */
export interface NetworkPeer {
  /** Host name, e.g. peer0.org1.example.com. */
  readonly name: string;
  /** MSP ID, e.g. Org1MSP. */
  readonly org: string;
  /** "127.0.0.1:port": gossip, internal and external. */
  readonly endpoint: string;
  readonly ledgerDir: string;
  /** Admin HTTP "host:port", once ready. */
  admin: string | undefined;
  pkiId: string | undefined;
  /** The running process (a new one after restartPeer). */
  process: PeerProcess | undefined;
  state: ProcessState;
  /** Ledger height from its ready line and commit events (genesis included). */
  height: number;
  /** Hex hash of the last committed block header, from its commit events. */
  lastBlockHash: string | undefined;
  /** Its last leader event. */
  leader: boolean;
  /** When it was last ready (epoch ms). */
  readyAt: number | undefined;
}

/** The ordering service of the network. */
export interface NetworkOrderer {
  readonly name: string;
  readonly org: string;
  readonly endpoint: string;
  process: PeerProcess | undefined;
  state: ProcessState;
  /** Blocks in the chain (genesis included), from its block events. */
  height: number;
  lastBlockHash: string | undefined;
  /** Transactions in the blocks it reported after genesis. */
  txs: number;
}

/** What the network's processes report, as it happens. */
export type NetworkEvent =
  | { type: "block"; channel: string; number: number; txs: number; bytes: number; hash: string; time: number }
  | { type: "commit"; peer: string; channel: string; number: number; hash: string; time: number }
  | { type: "leader"; peer: string; channel: string; leader: boolean; time: number }
  /** A process printed its ready line (again, after restartPeer). */
  | { type: "ready"; name: string; time: number }
  /** A process ended; `expected` when stop(), killPeer() or restartPeer() ended it. */
  | { type: "exit"; name: string; code: number | null; signal: string | null; expected: boolean; stderr: string[] };

/** A peer's `/v1/channels` entry for the network's channel, or why there is none. */
export interface PeerStatus {
  peer: string;
  org: string;
  status: ChannelStatusView | undefined;
  error: string | undefined;
}

/** Options of startFeeding. */
export interface FeedOptions {
  /** Transactions per second. */
  rate: number;
  /** Payload bytes per transaction. */
  size: number;
  /**
   * A peer of the org whose client (User1, OU=client) signs the transactions and presents its TLS certificate:
   * the channel's Writers policy admits an org's clients and admins, not its peers. Default: the first peer.
   */
  as?: string;
  /** Stop sending after this many transactions. Default: no limit. */
  limit?: number;
  /**
   * Private data: the first transaction defines chaincode pvtcc with collections collOrg1 (the first org) and
   * collBoth (the first two orgs, blockToLive 3); each next one writes a public key and a private one, its
   * private write set handed to the first org's peer0 (an endorser) for distribution before it is sent.
   * Default false: public writes only.
   */
  privateData?: boolean;
}

type Signal = "SIGINT" | "SIGTERM" | "SIGHUP";
const HANDLED_SIGNALS: readonly Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * The log file name of a process: its host name without the domain's last two labels
 * (peer0.org1.example.com -> peer0.org1.log, orderer.example.com -> orderer.log).
 */
export function logFileName(name: string): string {
  const labels = name.split(".");
  const short = labels.length > 2 ? labels.slice(0, -2).join(".") : name;
  return `${short.replace(/[^A-Za-z0-9._-]/g, "_")}.log`;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/**
 * A Fabric-like network on 127.0.0.1 as separate processes: crypto material (cryptogen's layout, plus a
 * client user per org), the channel's genesis block, one `orderer start` and one `peer start` per peer,
 * both from that block, with dynamic leader
 * election; a transaction feeder; and what the processes report (blocks cut, commits, leadership),
 * for `network up`, end-to-end tests and benchmarks. Stands in for Fabric's test-network scripts.
 *
 * No orphans: stop() ends every process it started; so does a signal to this process (see
 * `handleSignals`) and its exit; if it dies outright, the children see their stdin close and stop.
 */
export class LocalNetwork {
  readonly options: Readonly<LocalNetworkOptions>;
  readonly channel: string;
  readonly tls: boolean;
  readonly latency = new CommitLatency();
  #dir: string | undefined;
  #ownsDir = false;
  #summary: CryptoMaterialSummary | undefined;
  #plan: NetworkPlan | undefined;
  /** Each peer org's client user (User1), by MSP ID: who submits transactions. */
  #clients = new Map<string, NodeSummary>();
  #orderer: NetworkOrderer | undefined;
  readonly #peers: NetworkPeer[] = [];
  readonly #listeners = new Set<(e: NetworkEvent) => void>();
  /** Processes we are ending on purpose: their exit is not news. */
  readonly #expectedExit = new WeakSet<PeerProcess>();
  readonly #live = new Set<PeerProcess>();
  #feeder: TxFeeder | undefined;
  #state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";
  #stopping: Promise<void> | undefined;
  #preparing: Promise<void> | undefined;
  readonly #signalHandlers = new Map<Signal, () => void>();
  readonly #onExit = (): void => {
    // Last resort when this process exits without stop(): nothing may outlive it.
    for (const p of this.#live) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  };

  constructor(options: LocalNetworkOptions = {}) {
    this.options = { ...options };
    this.channel = options.channel ?? DEFAULT_CHANNEL;
    this.tls = options.tls === true;
    for (const [key, v] of [
      ["orgs", options.orgs],
      ["peersPerOrg", options.peersPerOrg],
      ["batchSize", options.batchSize],
      ["maxBlockBytes", options.maxBlockBytes],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new NetworkError("INVALID_OPTIONS", `${key} must be a positive integer, got ${v}`);
    }
  }

  /** The network folder (after start()). */
  get dir(): string {
    if (this.#dir === undefined) throw new NetworkError("BAD_STATE", "the network has not been started");
    return this.#dir;
  }

  /** The folder of the processes' log files (after start()). */
  get logDir(): string {
    return this.options.logDir !== undefined ? resolve(this.options.logDir) : join(this.dir, "logs");
  }

  /** The log file of a process of the network, by its name (after start()). */
  logFile(name: string): string {
    return join(this.logDir, logFileName(name));
  }

  /** The layout: genesis block file, process arguments (after start()). */
  get plan(): NetworkPlan {
    if (this.#plan === undefined) throw new NetworkError("BAD_STATE", "the network has not been started");
    return this.#plan;
  }

  get peers(): readonly NetworkPeer[] {
    return this.#peers;
  }

  get orderer(): NetworkOrderer {
    if (this.#orderer === undefined) throw new NetworkError("BAD_STATE", "the network has not been started");
    return this.#orderer;
  }

  /** Subscribes to the processes' reports; returns the unsubscribe function. */
  onEvent(listener: (e: NetworkEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every process this network started that has not exited, with its pid. */
  pids(): { name: string; pid: number }[] {
    return [...this.#live].flatMap((p) => (p.child.pid === undefined ? [] : [{ name: p.name, pid: p.child.pid }]));
  }

  /**
   * Generates crypto material, writes the channel's genesis block, starts the orderer and every peer and
   * waits for their ready lines. On failure everything started is stopped again.
   * @throws NetworkError START_FAILED (with the process's last stderr lines), INVALID_OPTIONS.
   */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new NetworkError("BAD_STATE", `start(): the network is ${this.#state}; a LocalNetwork starts once`);
    this.#state = "starting";
    this.#installHooks();
    try {
      this.#preparing = this.#prepare();
      await this.#preparing;
      if (this.#state !== "starting") throw new NetworkError("BAD_STATE", "the network was stopped while starting");
      await this.#startOrderer();
      await Promise.all(this.#peers.map((p) => this.#startPeer(p)));
      this.#state = "running";
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async #prepare(): Promise<void> {
    const o = this.options;
    if (o.dir !== undefined) {
      this.#dir = resolve(o.dir);
      await mkdir(this.#dir, { recursive: true });
      const entries = await readdir(this.#dir);
      if (entries.length > 0) {
        throw new NetworkError("INVALID_OPTIONS", `the network folder ${this.#dir} (--dir) is not empty (${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", ..." : ""}); give a new or empty folder`);
      }
    } else {
      this.#dir = await mkdtemp(join(tmpdir(), "fabric-gossip-network-"));
      this.#ownsDir = true;
    }
    const orgs = o.orgs ?? DEFAULT_ORGS;
    const peersPerOrg = o.peersPerOrg ?? DEFAULT_PEERS_PER_ORG;
    await mkdir(this.logDir, { recursive: true });
    this.#summary = await generateCryptoMaterial({ orgs, peersPerOrg, out: join(this.#dir, "crypto"), orderer: true });
    const n = 1 + orgs * peersPerOrg;
    const ports = o.basePort !== undefined ? await consecutivePorts(o.basePort, n) : await freePorts(n);
    this.#plan = planNetwork({
      summary: this.#summary,
      dir: this.#dir,
      channel: this.channel,
      tls: this.tls,
      ordererPort: ports[0]!,
      peerPorts: ports.slice(1),
      ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
      ...(o.batchTimeout !== undefined ? { batchTimeout: o.batchTimeout } : {}),
      ...(o.maxBlockBytes !== undefined ? { maxBlockBytes: o.maxBlockBytes } : {}),
    });
    this.#clients = clientUsers(this.#summary);
    await writeFile(this.#plan.channelBlockFile, await genesisBlockOfPlan(this.#plan.genesis));
    const op = this.#plan.orderer;
    this.#orderer = { name: op.name, org: op.org, endpoint: op.endpoint, process: undefined, state: "idle", height: 1, lastBlockHash: undefined, txs: 0 };
    for (const pp of this.#plan.peers) {
      await mkdir(pp.ledgerDir, { recursive: true });
      this.#peers.push({
        name: pp.name,
        org: pp.org,
        endpoint: pp.endpoint,
        ledgerDir: pp.ledgerDir,
        admin: undefined,
        pkiId: undefined,
        process: undefined,
        state: "idle",
        height: 0,
        lastBlockHash: undefined,
        leader: false,
        readyAt: undefined,
      });
    }
  }

  #spawn(name: string, args: string[], env: Readonly<Record<string, string>>): PeerProcess {
    // Nothing may start once stop() began: it would outlive the network.
    if (this.#state !== "starting" && this.#state !== "running") throw new NetworkError("BAD_STATE", `cannot start ${name}: the network is ${this.#state}`);
    const proc = new PeerProcess(name, args, { ...env }, { logFile: this.logFile(name) });
    this.#live.add(proc);
    proc.child.once("exit", (code, signal) => {
      this.#live.delete(proc);
      const expected = this.#expectedExit.has(proc);
      this.#onProcessExit(proc, expected);
      this.#emit({ type: "exit", name, code, signal, expected, stderr: proc.stderr.slice(-10) });
    });
    // A failed spawn (e.g. EAGAIN) is an error event and may come without an exit event.
    proc.child.on("error", () => {
      if (proc.child.pid === undefined) this.#live.delete(proc);
    });
    return proc;
  }

  #onProcessExit(proc: PeerProcess, expected: boolean): void {
    const state: ProcessState = expected ? "stopped" : "exited";
    if (this.#orderer?.process === proc) this.#orderer.state = state;
    for (const p of this.#peers) if (p.process === proc) p.state = state;
  }

  async #awaitReady(proc: PeerProcess, what: string): Promise<ControlMessage> {
    try {
      return await proc.event("ready", this.options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
    } catch (err) {
      const tail = proc.stderr.slice(-8).join("\n  ");
      throw new NetworkError("START_FAILED", `${what} did not become ready: ${errorMessage(err)}${tail ? `\n  ${tail}` : ""}`, { cause: err });
    }
  }

  async #startOrderer(): Promise<void> {
    const o = this.orderer;
    o.state = "starting";
    const proc = this.#spawn(o.name, this.plan.orderer.args, this.options.ordererEnv ?? {});
    o.process = proc;
    await this.#awaitReady(proc, `the orderer (${o.endpoint})`);
    o.state = "running";
    this.#pump(proc, (m) => this.#onOrdererMessage(m));
    this.#emit({ type: "ready", name: o.name, time: Date.now() });
  }

  async #startPeer(peer: NetworkPeer): Promise<void> {
    const pp = this.plan.peers.find((p) => p.name === peer.name)!;
    peer.state = "starting";
    const proc = this.#spawn(peer.name, pp.args, { ...LOCAL_NETWORK_PEER_ENV, ...(this.options.env ?? {}) });
    peer.process = proc;
    const ready = await this.#awaitReady(proc, `peer ${peer.name} (${peer.endpoint})`);
    peer.admin = typeof ready["admin"] === "string" ? ready["admin"] : undefined;
    peer.pkiId = typeof ready["pkiId"] === "string" ? ready["pkiId"] : undefined;
    const channels = Array.isArray(ready["channels"]) ? (ready["channels"] as unknown[]) : [];
    for (const c of channels) {
      const rec = c as Record<string, unknown>;
      const h = num(rec["height"]);
      if (rec["channel"] === this.channel && h !== undefined) peer.height = Math.max(peer.height, h);
    }
    peer.readyAt = Date.now();
    peer.state = "running";
    this.#pump(proc, (m) => this.#onPeerMessage(peer, proc, m));
    this.#emit({ type: "ready", name: peer.name, time: peer.readyAt });
  }

  /** Hands every control event of `proc` to `handle`, in order, until the process exits. */
  #pump(proc: PeerProcess, handle: (m: ControlMessage) => void): void {
    const loop = async (): Promise<void> => {
      for (;;) {
        let m: ControlMessage;
        try {
          m = await proc.waitFor(() => true, FOREVER_MS);
        } catch {
          return; // exited
        }
        handle(m);
      }
    };
    void loop().catch(() => {});
  }

  #onOrdererMessage(m: ControlMessage): void {
    if (m.event !== "block") return;
    const channel = typeof m["channel"] === "string" ? m["channel"] : "";
    const number = num(m["number"]);
    const time = num(m["time"]);
    if (channel !== this.channel || number === undefined || time === undefined) return;
    const o = this.orderer;
    const hash = typeof m["hash"] === "string" ? m["hash"] : "";
    const txs = num(m["txs"]) ?? 0;
    if (number + 1 >= o.height) {
      o.height = number + 1;
      o.lastBlockHash = hash;
    }
    if (number > 0) o.txs += txs;
    this.latency.recordBlock(number, time);
    this.#emit({ type: "block", channel, number, txs, bytes: num(m["bytes"]) ?? 0, hash, time });
  }

  #onPeerMessage(peer: NetworkPeer, proc: PeerProcess, m: ControlMessage): void {
    if (peer.process !== proc) return;
    const channel = typeof m["channel"] === "string" ? m["channel"] : "";
    const time = num(m["time"]) ?? Date.now();
    if (channel !== this.channel) return;
    if (m.event === "commit") {
      const number = num(m["number"]);
      if (number === undefined) return;
      const hash = typeof m["hash"] === "string" ? m["hash"] : "";
      if (number + 1 >= peer.height) {
        peer.height = number + 1;
        peer.lastBlockHash = hash;
      }
      this.latency.recordCommit(peer.name, number, time);
      this.#emit({ type: "commit", peer: peer.name, channel, number, hash, time });
    } else if (m.event === "leader") {
      peer.leader = m["leader"] === true;
      this.#emit({ type: "leader", peer: peer.name, channel, leader: peer.leader, time });
    }
  }

  #emit(e: NetworkEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(e);
      } catch {
        // A listener's bug must not stop the reports to the others.
      }
    }
  }

  #peer(name: string): NetworkPeer {
    const p = this.#peers.find((x) => x.name === name);
    if (p === undefined) throw new NetworkError("UNKNOWN_PEER", `no peer ${JSON.stringify(name)} in the network (peers: ${this.#peers.map((x) => x.name).join(", ")})`);
    return p;
  }

  #checkRunning(what: string): void {
    if (this.#state !== "running") throw new NetworkError("BAD_STATE", `${what}: the network is ${this.#state}, not running`);
  }

  /**
   * Kills one peer with `signal` (SIGKILL: a crash; SIGTERM: a clean stop) and waits for it to exit.
   * Its ledger stays; restartPeer() brings it back.
   */
  async killPeer(name: string, signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
    this.#checkRunning("killPeer");
    const peer = this.#peer(name);
    const proc = peer.process;
    if (proc === undefined || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    this.#expectedExit.add(proc);
    peer.state = "stopping";
    const exited = new Promise<void>((r) => proc.child.once("exit", () => r()));
    proc.child.kill(signal);
    // A SIGTERM that is not honoured in time becomes a SIGKILL.
    const guard = signal === "SIGTERM" ? setTimeout(() => proc.child.kill("SIGKILL"), STOP_GRACE_MS) : undefined;
    await exited;
    if (guard !== undefined) clearTimeout(guard);
    peer.leader = false;
  }

  /**
   * Starts a peer again with the same arguments and ledger folder (after killPeer, or a crash);
   * a running peer is stopped first. Resolves once it is ready.
   */
  async restartPeer(name: string): Promise<void> {
    this.#checkRunning("restartPeer");
    const peer = this.#peer(name);
    if (peer.process !== undefined && peer.process.child.exitCode === null && peer.process.child.signalCode === null) {
      await this.killPeer(name, "SIGTERM");
    }
    peer.leader = false;
    peer.height = 0;
    peer.lastBlockHash = undefined;
    peer.admin = undefined;
    await this.#startPeer(peer);
  }

  /**
   * Resolves once every peer in `peers` (default: all) has committed `height` blocks (genesis
   * included).
   * @throws NetworkError TIMEOUT naming the peers behind and their heights; BAD_STATE if one of them exits.
   */
  waitForHeight(height: number, peers?: readonly string[], timeoutMs = DEFAULT_WAIT_TIMEOUT_MS): Promise<void> {
    const targets = (peers ?? this.#peers.map((p) => p.name)).map((n) => this.#peer(n));
    const behind = (): NetworkPeer[] => targets.filter((p) => p.height < height);
    if (behind().length === 0) return Promise.resolve();
    return new Promise((resolvePromise, reject) => {
      let unsubscribe = (): void => {};
      const timer = setTimeout(() => {
        unsubscribe();
        const lag = behind().map((p) => `${p.name} at ${p.height}`);
        reject(new NetworkError("TIMEOUT", `peers did not reach height ${height} within ${timeoutMs} ms: ${lag.join(", ")} (orderer at ${this.#orderer?.height ?? "?"})`));
      }, timeoutMs);
      unsubscribe = this.onEvent((e) => {
        if (e.type === "exit" && targets.some((p) => p.name === e.name)) {
          clearTimeout(timer);
          unsubscribe();
          reject(new NetworkError("BAD_STATE", `peer ${e.name} exited (code ${e.code}, signal ${e.signal}) while waiting for height ${height}${e.stderr.length ? `; stderr: ${e.stderr.slice(-3).join(" | ")}` : ""}`));
          return;
        }
        if ((e.type === "commit" || e.type === "ready") && behind().length === 0) {
          clearTimeout(timer);
          unsubscribe();
          resolvePromise();
        }
      });
    });
  }

  /**
   * Resolves once every org has a leader on the channel (from the peers' leader events); returns
   * org MSP ID -> the leaders' names.
   * @throws NetworkError TIMEOUT naming the orgs without one.
   */
  waitForLeaders(timeoutMs = DEFAULT_WAIT_TIMEOUT_MS): Promise<Map<string, string[]>> {
    const orgs = [...new Set(this.#peers.map((p) => p.org))];
    const missing = (): string[] => orgs.filter((o) => !this.#peers.some((p) => p.org === o && p.leader && p.state === "running"));
    if (missing().length === 0) return Promise.resolve(this.leaders());
    return new Promise((resolvePromise, reject) => {
      let unsubscribe = (): void => {};
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new NetworkError("TIMEOUT", `no leader within ${timeoutMs} ms in ${missing().join(", ")}; check the CORE_PEER_GOSSIP_ELECTION_* timers`));
      }, timeoutMs);
      unsubscribe = this.onEvent((e) => {
        if (e.type === "leader" && missing().length === 0) {
          clearTimeout(timer);
          unsubscribe();
          resolvePromise(this.leaders());
        }
      });
    });
  }

  /** Org MSP ID -> the names of the peers whose last leader event said leader (running peers only). */
  leaders(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const p of this.#peers) {
      if (!out.has(p.org)) out.set(p.org, []);
      if (p.leader && p.state === "running") out.get(p.org)!.push(p.name);
    }
    return out;
  }

  /** Each peer's `/v1/channels` entry for the channel, asked now (a peer that is down has an error). */
  async channelStatus(timeoutMs?: number): Promise<PeerStatus[]> {
    return Promise.all(
      this.#peers.map(async (p): Promise<PeerStatus> => {
        if (p.state !== "running" || p.admin === undefined) return { peer: p.name, org: p.org, status: undefined, error: `peer is ${p.state}` };
        try {
          const list = await fetchChannelStatus(p.admin, timeoutMs);
          const status = list.find((c) => c.channel === this.channel);
          return { peer: p.name, org: p.org, status, error: status === undefined ? `not on channel ${this.channel}` : undefined };
        } catch (err) {
          return { peer: p.name, org: p.org, status: undefined, error: errorMessage(err) };
        }
      }),
    );
  }

  /** Commit latency (orderer cut to peer commit) of every peer together, or of one. */
  commitLatency(peer?: string): LatencySummary {
    return this.latency.summary(peer);
  }

  /**
   * Starts feeding the orderer transactions (signed by a peer org's client user, which the channel's
   * /Channel/Writers admits; mutual TLS with its TLS certificate when the network has TLS). A feeder
   * already running is replaced.
   * @throws NetworkError FEED_FAILED when the orderer cannot be reached.
   */
  async startFeeding(opts: FeedOptions): Promise<void> {
    this.#checkRunning("startFeeding");
    if (this.#feeder !== undefined) await this.stopFeeding();
    const peer = opts.as === undefined ? this.#peers[0]! : this.#peer(opts.as);
    const client = this.#clients.get(peer.org);
    if (client === undefined) throw new NetworkError("BAD_STATE", `startFeeding: org ${peer.org} has no client user`);
    const material = await loadPeerMaterial(client.dir, { mspId: peer.org });
    let tls: { rootCAs: string; cert: string; key: string } | undefined;
    if (this.tls) {
      const ordererOrg = this.#summary!.orgs.find((o) => o.kind === "orderer")!;
      tls = { rootCAs: await readFile(orgTlsCaFile(ordererOrg), "utf8"), cert: material.tls.cert, key: material.tls.key };
    }
    // Every org's peer0 endorses, with the signing key of its MSP folder (as its endorser would sign).
    const endorsers = [];
    for (const pp of this.plan.peers) if (pp.anchor) endorsers.push((await loadPeerMaterial(pp.node.dir, { mspId: pp.org })).signingIdentity);
    let source: TxSource | undefined;
    this.#pvtSource = undefined;
    if (opts.privateData === true) {
      const distributor = this.#peers.find((p) => this.plan.peers.find((pp) => pp.name === p.name)?.anchor === true);
      const mspIds = [...new Set(this.plan.peers.map((pp) => pp.org))];
      const pvt = privateDataTxSource({
        channel: this.channel,
        client: material.signingIdentity,
        endorsers,
        size: opts.size,
        layout: { mspIds, peersPerOrg: this.options.peersPerOrg ?? DEFAULT_PEERS_PER_ORG },
        distribute: async (txId, data, height) => {
          const admin = distributor?.admin;
          if (admin === undefined) throw new NetworkError("BAD_STATE", `no admin endpoint of ${distributor?.name ?? "the first org's peer0"} to distribute private data through`);
          await postPrivateData(admin, this.channel, txId, data, height);
        },
        height: () => BigInt(this.orderer.height),
        // The definition is the channel's first transaction: block 1 holds it.
        definitionCommitted: () => this.waitForHeight(2),
      });
      this.#pvtSource = pvt;
      source = pvt;
    }
    const feeder = new TxFeeder({
      endpoint: this.orderer.endpoint,
      channel: this.channel,
      signer: material.signingIdentity,
      endorsers,
      rate: opts.rate,
      size: opts.size,
      ...(source !== undefined ? { source } : {}),
      ...(tls ? { tls } : {}),
      ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
    });
    this.#feeder = feeder;
    try {
      await feeder.start();
    } catch (err) {
      if (this.#feeder === feeder) this.#feeder = undefined;
      throw err;
    }
    if (this.#feeder !== feeder) {
      // stop() (or another startFeeding) came while dialing.
      await feeder.stop();
      throw new NetworkError("BAD_STATE", `startFeeding: the network is ${this.#state}`);
    }
  }

  /** Stops feeding; resolves once the orderer answered what was sent (bounded). Returns the totals. */
  async stopFeeding(): Promise<FeederStats | undefined> {
    const f = this.#feeder;
    this.#feeder = undefined;
    if (f === undefined) return undefined;
    await f.stop();
    this.#lastFeed = f.stats();
    return this.#lastFeed;
  }

  #lastFeed: FeederStats | undefined;
  #pvtSource: { stats(): PrivateDataTxStats } | undefined;

  /** What the private-data feeder wrote (since the last startFeeding with privateData), or undefined. */
  privateDataStats(): PrivateDataTxStats | undefined {
    return this.#pvtSource?.stats();
  }

  /** Whether the running feeder has sent its limit of transactions. */
  feedingDone(): boolean {
    return this.#feeder?.done === true;
  }

  /** The running feeder's totals, or the last one's. */
  feederStats(): FeederStats | undefined {
    return this.#feeder?.stats() ?? this.#lastFeed;
  }

  /**
   * Stops feeding, every peer and the orderer (stdin closed, then SIGKILL after a grace period),
   * and removes the network folder unless it was given. Idempotent; safe after a failed start().
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#state = "stopping";
    try {
      // Crypto generation writes into the folder: let it finish before the folder goes.
      await this.#preparing?.catch(() => undefined);
      await this.stopFeeding().catch(() => undefined);
      const peers = this.#peers.map((p) => p.process).filter((p): p is PeerProcess => p !== undefined);
      await Promise.all(peers.map((p) => this.#stopProcess(p)));
      if (this.#orderer?.process !== undefined) await this.#stopProcess(this.#orderer.process);
      // Anything still alive (a process started by a failed restart, say) goes too.
      await Promise.all([...this.#live].map((p) => this.#stopProcess(p)));
      for (const p of this.#peers) p.leader = false;
    } finally {
      this.#removeHooks();
      if (this.#ownsDir && this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true }).catch(() => undefined);
      this.#state = "stopped";
    }
  }

  async #stopProcess(p: PeerProcess): Promise<void> {
    this.#expectedExit.add(p);
    if (p.child.pid === undefined) return; // never ran
    await p.stop(STOP_GRACE_MS);
  }

  #installHooks(): void {
    process.on("exit", this.#onExit);
    if (this.options.handleSignals === false) return;
    for (const sig of HANDLED_SIGNALS) {
      const handler = (): void => {
        void this.stop().finally(() => {
          // Then the signal's default course, as if we had not been listening, unless someone else is.
          if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
        });
      };
      this.#signalHandlers.set(sig, handler);
      process.once(sig, handler);
    }
  }

  #removeHooks(): void {
    process.off("exit", this.#onExit);
    for (const [sig, handler] of this.#signalHandlers) process.off(sig, handler);
    this.#signalHandlers.clear();
  }
}
