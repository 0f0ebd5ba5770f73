import { Registry } from "prom-client";
import { pkiHex } from "../api/identity.js";
import { MemoryTransport } from "../comm/memory/index.js";
import type { MemoryNetwork } from "../comm/memory/index.js";
import type { GossipConfig } from "../config/index.js";
import {
  createLeaderElectionAdapter,
  createLeaderElectionService,
  createStaticLeaderService,
  type LeaderElectionService,
} from "../election/index.js";
import type { JoinChannelMessage } from "../gossip/channel/index.js";
import { createGossipNode, type GossipNodeImpl } from "../gossip/node/index.js";
import type { LogFields, Logger } from "../logging/index.js";
import type { ReceivedMessage } from "../protoext/index.js";
import { gossipNodeOptionsOf } from "../service/index.js";
import { createStateProvider, type StateProvider } from "../state/index.js";
import type { Clock, TimerHandle } from "../util/clock.js";
import { errorMessage } from "../util/errors.js";
import type { SimPeerCrypto } from "./crypto.js";
import type { LeaderModeOption } from "./interface.js";
import type { MemoryLedger } from "./ledger.js";
import type { RandomTree } from "./rng.js";

/** A channel of the simulation: its name, member orgs (MSP IDs) and join message. */
export interface SimChannel {
  index: number;
  name: string;
  orgs: ReadonlySet<string>;
  join: JoinChannelMessage;
}

/** What the simulator hears from a peer. */
export interface SimPeerHooks {
  onLeadership(peer: SimPeer, channel: string, isLeader: boolean): void;
  /** Block-carrying messages as received (DataMessage, DataUpdate, RemoteStateResponse). */
  onReceived(peer: SimPeer, msg: ReceivedMessage): void;
  /** Discovery declared the member with this PKI-ID (hex) dead. */
  onDeathDeclared(peer: SimPeer, pkiHex: string): void;
  /** A component logged an error (kept as a count and the first few messages). */
  onError(peer: SimPeer, logger: string, msg: string, fields: LogFields | undefined): void;
}

/** Where a simulated peer is in its life. */
export type SimPeerStatus = "new" | "running" | "crashed" | "stopped";

/** Who a simulated peer is. */
export interface SimPeerSpec {
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
  clock: Clock;
  tree: RandomTree;
  crypto: SimPeerCrypto;
  gossip: GossipConfig;
  leaderMode: LeaderModeOption;
  /** The channels this peer is a member of. */
  channels: readonly SimChannel[];
  /** Its ledgers, one per channel: kept across crashes. */
  ledgers: ReadonlyMap<string, MemoryLedger>;
  /** Offset of this peer's wall clock from true time. */
  skewMs: number;
  hooks: SimPeerHooks;
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

/**
 * Discovery's warning when it moves a member to the dead list (discovery-impl `#expireDeadMembers`):
 * after aliveExpirationTimeout without news, or at once when comm presumes the peer dead.
 */
const DEATH_DECLARATION = "Closing connection to expired peer";

/** A silent logger that tells the simulator about death declarations and errors. */
class SimLogger implements Logger {
  constructor(
    private readonly peer: SimPeer,
    private readonly hooks: SimPeerHooks,
    private readonly name: string,
  ) {}
  debug(): void {}
  info(): void {}
  warn(msg: string, fields?: LogFields): void {
    if (msg === DEATH_DECLARATION && typeof fields?.["pkiId"] === "string") this.hooks.onDeathDeclared(this.peer, fields["pkiId"]);
  }
  error(msg: string, fields?: LogFields): void {
    this.hooks.onError(this.peer, this.name, msg, fields);
  }
  child(name: string): Logger {
    return new SimLogger(this.peer, this.hooks, name);
  }
}

interface RunningChannel {
  state: StateProvider;
  election: LeaderElectionService;
}

/**
 * One simulated peer, built from the real components as Fabric's GossipService composes them: the
 * gossip node on a MemoryTransport, and per channel a state provider over its in-memory ledger and
 * a leader election (dynamic, or static org leader). The block source plays the deliver client.
 * `crash()` takes its host down (streams break at both ends) and stops everything; `restart()`
 * builds a new incarnation over the same ledgers, as a restarted process with a persistent ledger.
 */
export class SimPeer {
  readonly spec: SimPeerSpec;
  readonly #env: SimPeerEnv;
  readonly #clock: Clock;
  readonly pkiHex: string;
  #node: GossipNodeImpl | undefined;
  readonly #channels = new Map<string, RunningChannel>();
  #status: SimPeerStatus = "new";
  #incarnation = 0;
  #metrics: Registry | undefined;

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
  /** The gossip node of the running incarnation. */
  get node(): GossipNodeImpl | undefined {
    return this.#node;
  }
  /**
   * The metrics registry of the latest incarnation (each has its own), kept after a crash or the
   * end of the run so tests can read its rejection counters; undefined before the first start.
   */
  get metrics(): Registry | undefined {
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
    return this.#channels.get(channel)?.state;
  }
  isLeader(channel: string): boolean {
    return this.#channels.get(channel)?.election.isLeader() ?? false;
  }

  /** Builds and starts a new incarnation (the first start, or a restart after a crash). */
  async start(): Promise<void> {
    if (this.#status === "running") return;
    const env = this.#env;
    const spec = this.spec;
    this.#incarnation++;
    const logger = new SimLogger(this, env.hooks, "peer");
    const metrics = new Registry();
    this.#metrics = metrics;
    const random = env.tree.stream(`peer/${spec.index}/${this.#incarnation}`);
    const options = gossipNodeOptionsOf(env.gossip, spec.endpoint);
    options.bootstrapPeers = spec.bootstrap;
    options.externalEndpoint = spec.endpoint;
    const node = createGossipNode(
      {
        transport: new MemoryTransport(env.network, { endpoint: spec.endpoint }),
        mcs: env.crypto.mcs,
        securityAdvisor: env.crypto.securityAdvisor,
        selfIdentity: env.crypto.identity,
        clock: this.#clock,
        random,
        logger,
        metrics,
      },
      options,
    );
    this.#node = node;
    node.acceptPassThrough(
      (rm) => {
        const c = rm.message.message.content?.$case;
        return c === "dataMsg" || c === "dataUpdate" || c === "stateResponse";
      },
      (rm) => env.hooks.onReceived(this, rm),
    );
    await node.start();
    this.#status = "running";
    const g = env.gossip;
    for (const ch of env.channels) {
      const ledger = env.ledgers.get(ch.name);
      if (ledger === undefined) throw new Error(`peer ${spec.name}: no ledger for channel ${ch.name}`);
      const state = createStateProvider(
        ch.name,
        { gossip: node, ledger, mcs: env.crypto.mcs, clock: this.#clock, random, logger, metrics },
        {
          ...g.state,
          nonBlockingCommitMode: g.nonBlockingCommitMode,
          useLeaderElection: env.leaderMode === "election",
          orgLeader: env.leaderMode === "static" && spec.staticLeader,
        },
      );
      node.joinChan(ch.join, ch.name);
      node.updateLedgerHeight(ledger.height(), ch.name);
      await state.start();
      const onChange = (isLeader: boolean): void => env.hooks.onLeadership(this, ch.name, isLeader);
      const election =
        env.leaderMode === "election"
          ? createLeaderElectionService(
              {
                adapter: createLeaderElectionAdapter({ node, clock: this.#clock, logger, metrics }, ch.name),
                clock: this.#clock,
                logger,
                pkiId: node.pkiId(),
                onLeadershipChange: onChange,
              },
              g.election,
            )
          : createStaticLeaderService(spec.staticLeader, onChange);
      this.#channels.set(ch.name, { state, election });
      await election.start();
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
    // Election first (no more leadership callbacks), then state, then the node, as GossipService does.
    for (const [name, ch] of [...this.#channels].reverse()) {
      try {
        await ch.election.stop();
        await ch.state.stop();
      } catch (err) {
        this.#env.hooks.onError(this, "sim", `stopping channel ${name} failed: ${errorMessage(err)}`, undefined);
      }
    }
    this.#channels.clear();
    const node = this.#node;
    this.#node = undefined;
    await node?.stop();
  }
}
