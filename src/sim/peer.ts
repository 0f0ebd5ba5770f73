import { type MemberDeathCause, PeerEvents, pkiHex } from "../api/index.js";
import type { FrameDecoder } from "../comm/index.js";
import { type MemoryNetwork, MemoryTransport } from "../comm/memory/index.js";
import type { GossipConfig } from "../config/index.js";
import type { DeliverConnector } from "../deliver/index.js";
import type { GossipNode } from "../gossip/node/index.js";
import type { LogFields, Logger } from "../logging/index.js";
import { type MemoryMetricsProvider, memoryMetricsProvider } from "../metrics/index.js";
import type { ReceivedMessage } from "../protoext/index.js";
import { type ChannelDefinition, createGossipService, type GossipService, gossipNodeOptionsOf } from "../service/index.js";
import type { StateProvider } from "../state/index.js";
import type { Clock, TimerHandle } from "../util/index.js";
import type { SimPeerCrypto } from "./crypto.js";
import type { LeaderModeOption, SimPvtDataSettings } from "./interface.js";
import type { MemoryLedger } from "./ledger.js";
import type { RandomTree } from "./rng.js";

/** A channel of the simulation: its name, member orgs (MSP IDs) and definition (orgs, anchor peers, orderer). */
export interface SimChannel {
  index: number;
  name: string;
  orgs: ReadonlySet<string>;
  def: ChannelDefinition;
}

/** What the simulator hears from a peer: its typed events, and the block-carrying messages it receives. */
export interface SimPeerHooks {
  onLeadership(peer: SimPeer, channel: string, isLeader: boolean): void;
  /** Block-carrying messages as received (DataMessage, DataUpdate, RemoteStateResponse). */
  onReceived(peer: SimPeer, msg: ReceivedMessage): void;
  /** Discovery declared the member with this PKI-ID (hex), last known at `endpoint`, dead (a "member-dead" event). */
  onDeathDeclared(peer: SimPeer, pkiHex: string, endpoint: string, cause: MemberDeathCause): void;
  /** Discovery saw the identity with this PKI-ID (hex) in use by two processes, one at `endpoint`. */
  onDuplicateIdentity(peer: SimPeer, pkiHex: string, endpoint: string): void;
  /** The peer's ledger of `channel` committed block `seq` with this header hash (a "block-committed" event). */
  onCommit(peer: SimPeer, channel: string, seq: bigint, headerHash: Uint8Array): void;
  /** A component logged an error (kept as a count and the first few messages). */
  onError(peer: SimPeer, logger: string, msg: string, fields: LogFields | undefined): void;
}

/** Where a simulated peer is in its life. */
export type SimPeerStatus = "new" | "running" | "crashed" | "stopped";

/** Who a simulated peer is. */
export interface SimPeerSpec {
  /** 0..peers-1; a twin (SimOptions.twins) has peers + its index in the twins list. */
  index: number;
  name: string;
  /** 1-based org number. */
  org: number;
  mspId: string;
  endpoint: string;
  bootstrap: string[];
  /** In static leader mode: whether this peer is its org's leader. */
  staticLeader: boolean;
}

/** What a simulated peer runs on. */
export interface SimPeerEnv {
  network: MemoryNetwork;
  /** This peer's clock: the simulation's, grouped for this host (ManualClock.grouped). */
  clock: Clock;
  tree: RandomTree;
  crypto: SimPeerCrypto;
  gossip: GossipConfig;
  leaderMode: LeaderModeOption;
  /** The channels this peer is a member of. */
  channels: readonly SimChannel[];
  /** Its ledgers, one per channel: kept across crashes. */
  ledgers: ReadonlyMap<string, MemoryLedger>;
  /** How its deliver clients reach the simulated ordering service. */
  orderer: DeliverConnector;
  /** Offset of this peer's wall clock from true time. */
  skewMs: number;
  hooks: SimPeerHooks;
  /** peer.gossip.pvtData.* (runs with private data); absent: the service's defaults. */
  pvtData?: SimPvtDataSettings;
  /** How its comm decodes received frames; absent: each frame at each peer. */
  decodeFrame?: FrameDecoder;
}

/** A clock whose wall time is off by a fixed offset; monotonic time and timers are the true clock's. */
export class SkewedClock implements Clock {
  readonly #base: Clock;
  readonly #offsetMs: number;

  constructor(base: Clock, offsetMs: number) {
    this.#base = base;
    this.#offsetMs = Math.round(offsetMs);
  }
  now(): number {
    return this.#base.now() + this.#offsetMs;
  }
  nowNs(): bigint {
    return this.#base.nowNs() + BigInt(this.#offsetMs) * 1_000_000n;
  }
  monotonic(): number {
    return this.#base.monotonic();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#base.setTimeout(fn, ms);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.#base.sleep(ms, signal);
  }
}

/** A silent logger that tells the simulator about errors (counted; nothing else is read from logs). */
class SimLogger implements Logger {
  constructor(
    private readonly peer: SimPeer,
    private readonly hooks: SimPeerHooks,
    private readonly name: string,
  ) {}
  debug(): void {}
  info(): void {}
  warn(): void {}
  error(msg: string, fields?: LogFields): void {
    this.hooks.onError(this.peer, this.name, msg, fields);
  }
  child(name: string): Logger {
    return new SimLogger(this.peer, this.hooks, name);
  }
}

/**
 * One simulated peer: a {@link GossipService}, composed as a real peer's (the same node, ledger
 * adapter, state provider, leader election and deliver client), on a MemoryTransport, the
 * simulation's virtual clock, in-memory ledgers and the simulated ordering service's connector.
 * The simulator hears it through its typed events. `crash()` takes its host down (streams break at
 * both ends) and stops everything; `restart()` builds a new incarnation over the same ledgers, as
 * a restarted process with a persistent ledger.
 */
export class SimPeer {
  readonly spec: SimPeerSpec;
  readonly #env: SimPeerEnv;
  readonly #clock: Clock;
  readonly pkiHex: string;
  #service: GossipService | undefined;
  #status: SimPeerStatus = "new";
  #incarnation = 0;
  #metrics: MemoryMetricsProvider | undefined;

  constructor(spec: SimPeerSpec, env: SimPeerEnv) {
    this.spec = spec;
    this.#env = env;
    this.#clock = env.skewMs === 0 ? env.clock : new SkewedClock(env.clock, env.skewMs);
    this.pkiHex = pkiHex(env.crypto.mcs.getPKIidOfCert(env.crypto.identity));
  }

  get name(): string {
    return this.spec.name;
  }
  get running(): boolean {
    return this.#status === "running";
  }
  /** "new" before the first start, "crashed" while down after a crash, "stopped" after the end of the run. */
  get status(): SimPeerStatus {
    return this.#status;
  }
  /** Starts so far (1 after the first start). */
  get incarnation(): number {
    return this.#incarnation;
  }
  /** The gossip service of the running incarnation. */
  get service(): GossipService | undefined {
    return this.#status === "running" ? this.#service : undefined;
  }
  /** The gossip node of the running incarnation. */
  get node(): GossipNode | undefined {
    return this.service?.node;
  }
  /**
   * The metrics of the latest incarnation (each has its own), kept after a crash or the end of the
   * run so tests can read its rejection counters; undefined before the first start.
   */
  get metrics(): MemoryMetricsProvider | undefined {
    return this.#metrics;
  }
  /** Its crypto (MCS, identity): what a test needs to sign as this peer, e.g. an adversary's messages. */
  get crypto(): SimPeerCrypto {
    return this.#env.crypto;
  }
  get channels(): readonly SimChannel[] {
    return this.#env.channels;
  }
  ledger(channel: string): MemoryLedger | undefined {
    return this.#env.ledgers.get(channel);
  }
  /** The running incarnation's state provider of `channel`. */
  state(channel: string): StateProvider | undefined {
    const svc = this.service;
    return svc?.channels().includes(channel) ? svc.state(channel) : undefined;
  }
  isLeader(channel: string): boolean {
    const svc = this.service;
    return svc?.channels().includes(channel) ? svc.isLeader(channel) : false;
  }

  /** Builds and starts a new incarnation (the first start, or a restart after a crash). */
  async start(): Promise<void> {
    if (this.#status === "running") return;
    const env = this.#env;
    const spec = this.spec;
    this.#incarnation++;
    const logger = new SimLogger(this, env.hooks, "peer");
    const metrics = memoryMetricsProvider();
    this.#metrics = metrics;
    const random = env.tree.stream(`peer/${spec.index}/${this.#incarnation}`);
    const nodeOptions = gossipNodeOptionsOf(env.gossip, spec.endpoint);
    nodeOptions.bootstrapPeers = spec.bootstrap;
    nodeOptions.externalEndpoint = spec.endpoint;
    const events = new PeerEvents((err) => env.hooks.onError(this, "sim.events", `an event listener failed: ${String(err)}`, undefined));
    events.on("member-dead", (e) => env.hooks.onDeathDeclared(this, e.pkiId, e.endpoint, e.cause));
    events.on("duplicate-identity", (e) => env.hooks.onDuplicateIdentity(this, e.pkiId, e.endpoint));
    events.on("leadership", (e) => env.hooks.onLeadership(this, e.channel, e.isLeader));
    events.on("block-committed", (e) => env.hooks.onCommit(this, e.channel, e.number, e.headerHash));
    const { mcs, securityAdvisor, identity } = env.crypto;
    const g = env.gossip;
    const service = createGossipService(
      {
        transport: new MemoryTransport(env.network, { endpoint: spec.endpoint, clock: this.#clock }),
        mcs,
        securityAdvisor,
        selfIdentity: identity,
        signer: { serialized: identity, sign: (msg) => mcs.sign(msg) },
        ledgers: {
          open: async (channel) => {
            const ledger = env.ledgers.get(channel);
            if (ledger === undefined) throw new Error(`peer ${spec.name}: no ledger for channel ${channel}`);
            return ledger;
          },
        },
        deliverConnector: env.orderer,
        clock: this.#clock,
        random,
        logger,
        metrics,
        events,
        ...(env.decodeFrame !== undefined ? { decodeFrame: env.decodeFrame } : {}),
      },
      {
        useLeaderElection: env.leaderMode === "election",
        orgLeader: env.leaderMode === "static" && spec.staticLeader,
        election: g.election,
        state: { ...g.state, nonBlockingCommitMode: g.nonBlockingCommitMode },
        ...(env.pvtData !== undefined ? { pvtData: env.pvtData } : {}),
      },
      nodeOptions,
    );
    this.#service = service;
    service.node.acceptPassThrough(
      (rm) => {
        const c = rm.message.message.content?.$case;
        return c === "dataMsg" || c === "dataUpdate" || c === "stateResponse";
      },
      (rm) => env.hooks.onReceived(this, rm),
    );
    await service.start();
    this.#status = "running";
    try {
      for (const ch of env.channels) await service.initializeChannel(ch.def);
    } catch (err) {
      // Crashed while joining its channels: the teardown stopped the service; nothing to report.
      if (this.#service === service) throw err;
    }
  }

  /** Kills the peer: its host goes down (open streams break at both ends), then everything stops. */
  async crash(): Promise<void> {
    if (this.#status !== "running") return;
    this.#env.network.setDown(this.spec.endpoint, true);
    await this.#teardown("crashed");
  }

  /** Restarts a crashed peer with its ledgers. */
  async restart(): Promise<void> {
    if (this.#status === "running") return;
    this.#env.network.setDown(this.spec.endpoint, false);
    await this.start();
  }

  /** Stops the peer gracefully (end of the run). */
  async stop(): Promise<void> {
    if (this.#status !== "running") return;
    await this.#teardown("stopped");
  }

  async #teardown(status: SimPeerStatus): Promise<void> {
    this.#status = status;
    const service = this.#service;
    this.#service = undefined;
    // The service stops each channel (election, deliver, state, ledger) in reverse order, then the node.
    await service?.stop();
  }
}
