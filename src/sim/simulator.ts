import { type MemberDeathCause, pkiHex } from "../api/index.js";
import type { FrameDecoder } from "../comm/index.js";
import { type FrameFate, MemoryNetwork } from "../comm/memory/index.js";
import type { LogFields } from "../logging/index.js";
import { type ReceivedMessage, SignedGossipMessage } from "../protoext/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import { type Payload, PullMsgType } from "../protos/gen/gossip/message.pb.js";
import type { ChannelDefinition } from "../service/index.js";
import { bytesEqual, errorMessage, fromUtf8, ManualClock, type TimerHandle, toHex } from "../util/index.js";
import { BlockSource } from "./block-source.js";
import { fastCryptoSuite, realCryptoSuite, type SimCryptoSuite, simMspId } from "./crypto.js";
import { SimError, type SimInvariantError } from "./errors.js";
import type { CrashSpec, PartitionSpec, PrivateDataFigures, SimEvent, SimOptions, SimResult, SimSeries, TwinSpec } from "./interface.js";
import { InvariantChecker } from "./invariants.js";
import { MemoryLedger } from "./ledger.js";
import { HOW_DELIVER, HOW_PULL, HOW_PUSH, HOW_STATE, quantile, SimMetrics } from "./metrics.js";
import { LatencySampler, LinkModel, validateLink } from "./network-model.js";
import { SimOrderer } from "./orderer.js";
import { type SimChannel, SimPeer, type SimPeerHooks, type SimPeerSpec } from "./peer.js";
import { PrivateDataDriver, simGenesisBlock } from "./privdata.js";
import { RandomTree } from "./rng.js";
import { SharedFrameDecoder } from "./shared-decoder.js";
import { TraceHasher } from "./trace.js";
import { CONN_TYPE, DATA_TYPE, FRAME_TYPES, type FrameInfo, STATE_RESPONSE_TYPE, scanFrame, UPDATE_TYPE } from "./wire.js";

/** Rewrites the fate the link model gave a data frame from endpoint `from` to endpoint `to` (Simulator.shapeFrames). */
export type FrameShaper = (from: string, to: string, bytes: Uint8Array, fate: FrameFate) => FrameFate;

/** Wall-clock start of the virtual clock (any fixed instant: it is part of what makes a run reproducible). */
export const SIM_EPOCH_MS = 1_700_000_000_000;
/** The main loop advances virtual time in steps of this much, checking for violations in between. */
const STEP_MS = 100;
/** Peers start spread over this much virtual time, so their periodic timers are not in lockstep. */
const START_SPREAD_MS = 1_000;
/** Anchor peers start within this much virtual time, before the others. */
const ANCHOR_START_SPREAD_MS = 100;
/** Peers whose views are sampled for the membership series and the forged-member check, per sample. */
const VIEW_SAMPLE_PEERS = 64;
const PORT = 7051;
/** TCP's minimum retransmission timeout on Linux: how late a lost handshake segment arrives. */
const TCP_RETRANSMIT_MS = 200;
/** Where the peers' deliver clients find the simulated ordering service. */
const ORDERER_ENDPOINT = "orderer:7050";

/**
 * A deterministic simulation of a Fabric gossip network in one process: N peers built from the
 * real components (gossip node, state provider, leader election) on an in-memory network with a
 * link model and faults, a virtual clock, seeded randomness, an ordering service feeding org
 * leaders, continuous invariant checks and a trace hash. `run()` resolves with the figures, or
 * rejects with a {@link SimInvariantError} (seed and history) when an invariant fails.
 */
export class Simulator {
  readonly options: SimOptions;
  /** No event loop turn per instant: nothing in a run waits on real I/O (the trace is the same either way). */
  readonly clock = new ManualClock(SIM_EPOCH_MS, { turnPerInstant: false });
  readonly tree: RandomTree;
  readonly network: MemoryNetwork;
  readonly checker: InvariantChecker;
  readonly trace = new TraceHasher();
  readonly peers: SimPeer[] = [];
  /** Twins (SimOptions.twins), in the order given: not in `peers`, not counted in the figures. */
  readonly twins: SimPeer[] = [];
  readonly channels: SimChannel[] = [];
  #metrics: SimMetrics;
  #link: LinkModel;
  #source: BlockSource | undefined;
  #crypto: SimCryptoSuite | undefined;
  readonly #endpointIndex = new Map<string, number>();
  readonly #channelIndex = new Map<string, number>();
  readonly #byPki = new Map<string, SimPeer>();
  readonly #timers = new Set<TimerHandle>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #disturbedAt: Float64Array;
  readonly #frame: FrameInfo = { type: 0, channelStart: 0, channelEnd: 0 };
  /** One decode of a frame for every peer it reaches (SimOptions.shareDecodedFrames), or each peer's own. */
  readonly #decoding: { decodeFrame?: FrameDecoder };
  /** Scratch for #frameFate, which may run inside #onSend's scan. */
  readonly #fateFrame: FrameInfo = { type: 0, channelStart: 0, channelEnd: 0 };
  #t0 = 0;
  #blocksCut = 0;
  #convergedAt: number | undefined;
  #viewCursor = 0;
  readonly #series: SimSeries;
  #ordererLatency: LatencySampler;
  readonly #eventListeners = new Set<(e: SimEvent) => void>();
  readonly #stepListeners = new Set<(nowMs: number) => void>();
  #frameShaper: FrameShaper | undefined;
  #pvt: PrivateDataDriver | undefined;
  #pvtFigures: PrivateDataFigures | undefined;

  constructor(options: SimOptions) {
    validateOptions(options);
    this.options = options;
    this.tree = new RandomTree(options.seed);
    this.checker = new InvariantChecker(options.seed, options.historySize);
    this.#metrics = new SimMetrics(options.peers, 1, options.blocks);
    this.#link = new LinkModel(options.link, this.tree.stream("network"), this.clock, (from, to, bytes) => this.#onSend(from, to, bytes));
    this.network = new MemoryNetwork(this.clock, this.#link.latency, { refusedDial: "immediate", frameFate: (from, to, bytes) => this.#frameFate(from, to, bytes), copyFrames: false });
    this.#ordererLatency = new LatencySampler(options.link.latency, this.tree.stream("orderer"));
    this.#disturbedAt = new Float64Array(options.peers).fill(Number.NEGATIVE_INFINITY);
    this.#series = { latencies: [], sampleTimes: [], heights: [], membership: [], trafficByType: {}, peerNames: [] };
    this.#decoding = options.shareDecodedFrames === false ? {} : { decodeFrame: new SharedFrameDecoder().decode };
  }

  /** The private data of a run with `privateData` (ground truth, outcomes), once the run has set up. */
  get privateData(): PrivateDataDriver | undefined {
    return this.#pvt;
  }

  /** Virtual ms since the run started. */
  now(): number {
    return this.clock.monotonic() - this.#t0;
  }

  /**
   * Calls `listener` with every {@link SimEvent} as it happens (starts, crashes, restarts,
   * partitions, death declarations, leadership changes, commits): what scenario tests measure
   * convergence against. Listeners only read. Returns an unsubscribe.
   */
  onEvent(listener: (e: SimEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /**
   * Calls `listener` after every step of the main loop (every 100 virtual ms) with the virtual
   * time, so a test can sample peers' views (`peers[i].node?.peers()`) over time. Returns an
   * unsubscribe.
   */
  onStep(listener: (nowMs: number) => void): () => void {
    this.#stepListeners.add(listener);
    return () => this.#stepListeners.delete(listener);
  }

  /**
   * Test hook: `shaper` rewrites the link model's fate of every data frame written from now on
   * (more copies, loss by message type or in bursts, wider reordering). The link model draws first,
   * as always, so shaping never shifts its random stream. Frames are not copied (copyFrames is
   * off), so a shaper can recognise frames it injected itself by identity. Undefined removes it.
   */
  shapeFrames(shaper: FrameShaper | undefined): void {
    this.#frameShaper = shaper;
  }

  #frameFate(from: string, to: string, bytes: Uint8Array): FrameFate {
    let fate = this.#link.fate(from, to, bytes);
    // Loss stands for what TCP turns it into for gossip messages (resets, overflow drops), but TCP does
    // not lose a handshake: the segment is sent again after the retransmission timeout. Losing it would
    // fail the dial, which comm reports as a dead peer at once: a false death no real link causes.
    if (fate.delaysMs.length === 0 && scanFrame(bytes, this.#fateFrame).type === CONN_TYPE) {
      fate = { ...fate, delaysMs: [(fate.sendMs ?? 0) + TCP_RETRANSMIT_MS + this.#link.latency(from, to, bytes.byteLength)] };
    }
    return this.#frameShaper === undefined ? fate : this.#frameShaper(from, to, bytes, fate);
  }

  #emit(e: SimEvent): void {
    for (const listener of this.#eventListeners) listener(e);
  }

  // --- setup ---------------------------------------------------------------------------------

  async #setup(): Promise<void> {
    const o = this.options;
    const specs: SimPeerSpec[] = [];
    const byOrg: number[][] = Array.from({ length: o.orgs }, () => []);
    for (let i = 0; i < o.peers; i++) {
      const org = (i % o.orgs) + 1;
      byOrg[org - 1]!.push(i);
      const name = `p${i}`;
      specs.push({ index: i, name, org, mspId: simMspId(org), endpoint: `${name}:${PORT}`, bootstrap: [], staticLeader: false });
      this.#endpointIndex.set(`${name}:${PORT}`, i);
    }
    for (const members of byOrg) {
      const [first, second] = members;
      for (const i of members) {
        const s = specs[i]!;
        const boot = i === first ? second : first;
        s.bootstrap = boot === undefined ? [] : [specs[boot]!.endpoint];
        s.staticLeader = i === first;
      }
    }
    // Channel 0 has every org; channel c >= 1 leaves out one org, so some peers are outside it.
    for (let c = 0; c < o.channels; c++) {
      const orgs = new Set<string>();
      for (let org = 1; org <= o.orgs; org++) if (c === 0 || o.orgs === 1 || org !== ((c - 1) % o.orgs) + 1) orgs.add(simMspId(org));
      const anchors = new Map<string, { host: string; port: number }[]>();
      for (const [k, members] of byOrg.entries()) {
        const first = members[0];
        if (first !== undefined) anchors.set(simMspId(k + 1), [{ host: specs[first]!.name, port: PORT }]);
      }
      const name = `ch${c}`;
      const def: ChannelDefinition = {
        name,
        orgs: [...orgs].map((mspId) => ({ mspId, mspDir: "", anchorPeers: (anchors.get(mspId) ?? []).map((a) => `${a.host}:${a.port}`) })),
        orderer: { mspId: "OrdererMSP", mspDir: "", endpoints: [ORDERER_ENDPOINT] },
      };
      this.channels.push({ index: c, name, orgs, def });
      this.#channelIndex.set(name, c);
    }
    this.#metrics = new SimMetrics(o.peers, o.channels, o.blocks);
    const channelOrgs = (name: string): ReadonlySet<string> | undefined => this.channels[this.#channelIndex.get(name) ?? -1]?.orgs;
    try {
      this.#crypto =
        o.crypto === "fast"
          ? fastCryptoSuite(o.orgs, channelOrgs)
          : await realCryptoSuite(
              this.tree,
              o.orgs,
              specs.map((s) => ({ name: s.name, mspId: s.mspId })),
              channelOrgs,
              this.clock,
            );
    } catch (err) {
      throw new SimError("SETUP_FAILED", `crypto material for ${o.peers} peers in ${o.orgs} orgs: ${errorMessage(err)}`, { cause: err });
    }
    // Private data needs the channel's MSPs, which a peer takes from the channel's configuration: the
    // private-data channel starts from a configtx genesis block instead of a padded block 0.
    const genesis = new Map<string, Block>();
    const pvtChannel = this.channels[0]!;
    const msp = this.#crypto.msp;
    if (o.privateData !== undefined) {
      if (msp === undefined) throw new SimError("INVALID_OPTIONS", "private data needs real crypto (MSP identities): drop --fast-crypto");
      try {
        genesis.set(pvtChannel.name, simGenesisBlock(pvtChannel, msp, this.#crypto.ordererMspId, this.clock, this.tree.stream("pvt/genesis")));
      } catch (err) {
        throw new SimError("SETUP_FAILED", `genesis block of ${pvtChannel.name}: ${errorMessage(err)}`, { cause: err });
      }
    }
    const source = new BlockSource(
      this.channels.map((c) => c.name),
      this.#crypto.ordererSigner,
      this.clock,
      this.tree.stream("blocks"),
      o.blockBytes,
      genesis,
    );
    this.#source = source;
    if (o.forkAt !== undefined) for (const c of this.channels) source.prepareFork(c.name, o.forkAt.seq);
    const orderer = new SimOrderer(source, this.clock, {
      delayMs: (bytes) => this.#ordererLatency.sample() + (o.link.uplinkBytesPerSec === undefined ? 0 : (bytes * 1000) / o.link.uplinkBytesPerSec),
      onDelivered: (peer, channel, seq) => {
        const c = this.#channelIndex.get(channel);
        if (c !== undefined) this.#metrics.arrived(c, peer, seq, HOW_DELIVER);
      },
    });
    const hooks = this.#hooks();
    const skewRng = this.tree.stream("skew");
    for (const s of specs) {
      const mine = this.channels.filter((c) => c.orgs.has(s.mspId));
      const ledgers = new Map<string, MemoryLedger>();
      for (const c of mine) {
        const ledger = new MemoryLedger(c.name, source);
        ledgers.set(c.name, ledger);
      }
      const skew = (skewRng.float() * 2 - 1) * o.clockSkewMs;
      const peer = new SimPeer(s, {
        network: this.network,
        // Each peer is a host of its own: its timers and the frames that reach it run together within an instant.
        clock: this.clock.grouped(1 + s.index),
        tree: this.tree,
        crypto: this.#crypto.peer(s.name, s.mspId, s.endpoint),
        gossip: o.gossipByPeer?.[s.index] ?? o.gossip,
        leaderMode: o.leaderMode,
        channels: mine,
        ledgers,
        orderer: orderer.connector(s.index, o.forkAt !== undefined && o.forkAt.org === s.org),
        skewMs: skew,
        hooks,
        ...this.#decoding,
        ...(o.privateData !== undefined ? { pvtData: o.privateData.pvtData } : {}),
      });
      this.peers.push(peer);
      this.#byPki.set(peer.pkiHex, peer);
    }
    for (const [k, t] of (o.twins ?? []).entries()) {
      const of = this.peers.find((p) => p.name === t.of)!;
      const name = `${of.name}-twin${k}`;
      const spec: SimPeerSpec = { ...of.spec, index: o.peers + k, name, endpoint: `${name}:${PORT}`, bootstrap: [...of.spec.bootstrap], staticLeader: false };
      // The same identity (so the same PKI-ID) on another host: no channel, so no ledger and no orderer use.
      const twin = new SimPeer(spec, {
        network: this.network,
        clock: this.clock.grouped(1 + spec.index),
        tree: this.tree,
        crypto: of.crypto,
        gossip: o.gossip,
        leaderMode: o.leaderMode,
        channels: [],
        ledgers: new Map(),
        orderer: orderer.connector(of.spec.index, false),
        skewMs: (this.tree.stream(`twin/${k}/skew`).float() * 2 - 1) * o.clockSkewMs,
        hooks,
        ...this.#decoding,
      });
      this.twins.push(twin);
    }
    if (o.privateData !== undefined && msp !== undefined) {
      this.#pvt = new PrivateDataDriver(
        {
          clock: this.clock,
          now: () => this.now(),
          peers: this.peers,
          checker: this.checker,
          trace: this.trace,
          emit: (e) => this.#emit(e),
        },
        o.privateData,
        pvtChannel,
        msp,
        Array.from({ length: o.orgs }, (_, k) => simMspId(k + 1)),
        this.tree.stream("pvt/tx"),
        o.blockBytes,
      );
      try {
        await this.#pvt.prepare();
      } catch (err) {
        throw new SimError("SETUP_FAILED", `client identities for private data: ${errorMessage(err)}`, { cause: err });
      }
    }
    this.#series.peerNames = this.peers.map((p) => p.name);
    this.#series.heights = this.peers.map(() => []);
    for (const t of FRAME_TYPES) this.#series.trafficByType[t] = [];
  }

  #hooks(): SimPeerHooks {
    return {
      onLeadership: (peer, channel, isLeader) => this.#onLeadership(peer, channel, isLeader),
      onReceived: (peer, msg) => this.#onReceived(peer, msg),
      onDeathDeclared: (peer, hex, endpoint, cause) => this.#onDeath(peer, hex, endpoint, cause),
      onDuplicateIdentity: (peer, hex, endpoint) => this.#onDuplicateIdentity(peer, hex, endpoint),
      onCommit: (peer, channel, seq, hash) => this.#onCommit(peer, channel, seq, hash),
      onError: (peer, logger, msg, fields) => this.#onError(peer, logger, msg, fields),
    };
  }

  // --- events from peers and the network -------------------------------------------------------

  #onSend(from: string, _to: string, bytes: Uint8Array): void {
    scanFrame(bytes, this.#frame);
    this.#metrics.sent(this.#endpointIndex.get(from) ?? -1, this.#frame.type, bytes.byteLength);
  }

  #onDelivered(from: string, to: string, bytes: Uint8Array): void {
    const f = scanFrame(bytes, this.#frame);
    const fromIdx = this.#endpointIndex.get(from) ?? -1;
    const toIdx = this.#endpointIndex.get(to) ?? -1;
    this.#metrics.framesDelivered++;
    this.trace.frame(this.now(), fromIdx, toIdx, bytes.byteLength, f.type);
    if ((f.type === DATA_TYPE || f.type === UPDATE_TYPE || f.type === STATE_RESPONSE_TYPE) && f.channelEnd > f.channelStart && toIdx >= 0) {
      const channel = Buffer.from(bytes.buffer, bytes.byteOffset + f.channelStart, f.channelEnd - f.channelStart).toString("latin1");
      const c = this.#channelIndex.get(channel);
      const peer = this.peers[toIdx]!;
      this.checker.check(
        "ineligible-delivery",
        c !== undefined && this.channels[c]!.orgs.has(peer.spec.mspId),
        () => `${FRAME_TYPES[f.type]} of channel ${JSON.stringify(channel)} from ${from} reached ${peer.name} of ${peer.spec.mspId}, which is not in it`,
        this.now(),
        peer.name,
      );
    }
  }

  /** A "block-committed" event: the block is stored, so the ledger's height is one past it. */
  #onCommit(peer: SimPeer, channelName: string, number: bigint, hash: Uint8Array): void {
    const channel = this.channels[this.#channelIndex.get(channelName) ?? -1];
    if (channel === undefined) return;
    const seq = Number(number);
    const now = this.now();
    const height = Number(peer.ledger(channel.name)?.height() ?? 0n) - 1;
    this.checker.note(now, peer.name, `commit ${channel.name}#${seq} ${toHex(hash).slice(0, 12)}`);
    this.checker.check("commit-order", seq === height, () => `${peer.name} committed block ${seq} of ${channel.name} at height ${height} (gap or duplicate)`, now, peer.name);
    const canonical = this.#source?.block(channel.name, seq);
    this.checker.check(
      "fork",
      canonical !== undefined && bytesEqual(canonical.hash, hash),
      () =>
        canonical === undefined
          ? `${peer.name} committed block ${seq} of ${channel.name}, which the ordering service never cut (forged)`
          : `${peer.name} committed block ${seq} of ${channel.name} with hash ${toHex(hash).slice(0, 16)}, the ordering service's is ${toHex(canonical.hash).slice(0, 16)}`,
      now,
      peer.name,
    );
    this.#metrics.committed(channel.index, peer.spec.index, seq, now);
    this.trace.commit(now, peer.spec.index, channel.index, seq, hash);
    if (this.#pvt !== undefined && channel.index === 0) this.#track(this.#pvt.checkHoldings(peer, seq));
    if (this.#eventListeners.size > 0) this.#emit({ kind: "commit", atMs: now, peer: peer.name, channel: channel.name, seq });
  }

  #onReceived(peer: SimPeer, rm: ReceivedMessage): void {
    const m = rm.message.message;
    const c = this.#channelIndex.get(fromUtf8(m.channel));
    if (c === undefined) return;
    const content = m.content;
    const p = peer.spec.index;
    // Only the ordering service's blocks count as arrivals: a forged one (an attack scenario) is no delivery.
    const arrived = (payload: Payload | undefined, how: number): void => {
      if (payload === undefined) return;
      const seq = Number(payload.seqNum);
      const canonical = this.#source?.block(this.channels[c]!.name, seq);
      if (canonical !== undefined && bytesEqual(canonical.bytes, payload.data)) this.#metrics.arrived(c, p, seq, how);
    };
    if (content?.$case === "dataMsg") {
      arrived(content.value.payload, HOW_PUSH);
    } else if (content?.$case === "dataUpdate" && content.value.msgType === PullMsgType.BLOCK_MSG) {
      for (const env of content.value.data) {
        try {
          const inner = SignedGossipMessage.fromEnvelope(env).message.content;
          if (inner?.$case === "dataMsg") arrived(inner.value.payload, HOW_PULL);
        } catch {
          // A malformed item: the node rejects it; nothing arrived.
        }
      }
    } else if (content?.$case === "stateResponse") {
      for (const payload of content.value.payloads) arrived(payload, HOW_STATE);
    }
  }

  /**
   * A "leadership" event. The peer's own service starts or stops its deliver client from it (the
   * leader-to-deliver hand-off runs as in a real peer); the simulator only records it.
   */
  #onLeadership(peer: SimPeer, channel: string, isLeader: boolean): void {
    const now = this.now();
    this.checker.note(now, peer.name, `${isLeader ? "became" : "stopped being"} leader of ${channel}`);
    this.trace.event(now, `leader ${peer.name} ${channel} ${isLeader}`);
    this.#emit({ kind: "leader", atMs: now, peer: peer.name, channel, isLeader });
    if (isLeader) {
      const orgKey = `${channel}/${peer.spec.org}`;
      this.#metrics.leaderEvents.set(orgKey, (this.#metrics.leaderEvents.get(orgKey) ?? 0) + 1);
    }
  }

  #onDeath(peer: SimPeer, hex: string, endpoint: string, cause: MemberDeathCause): void {
    const m = this.#metrics;
    m.deaths++;
    const target = this.#byPki.get(hex);
    const now = this.now();
    this.checker.note(now, peer.name, `declared ${target?.name ?? hex.slice(0, 12)} dead`);
    this.#emit({ kind: "death", atMs: now, peer: peer.name, target: target?.name ?? hex, endpoint, cause });
    if (target === undefined || !target.running) return;
    const g = this.options.gossip;
    const window = g.aliveExpirationTimeoutMs + g.reconnectIntervalMs;
    // A twin has no entry (undefined): its declarations are never counted false.
    const quiet = now - (this.#disturbedAt[peer.spec.index] ?? now) > window && now - this.#disturbedAt[target.spec.index]! > window;
    if (quiet) m.falseDeaths++;
  }

  #onDuplicateIdentity(peer: SimPeer, hex: string, endpoint: string): void {
    const target = this.#byPki.get(hex)?.name ?? hex;
    const now = this.now();
    this.checker.note(now, peer.name, `reported ${target}'s identity in use at ${endpoint} too`);
    this.trace.event(now, `duplicate ${peer.name} ${target} ${endpoint}`);
    this.#emit({ kind: "duplicate-identity", atMs: now, peer: peer.name, target, endpoint });
  }

  #onError(peer: SimPeer, logger: string, msg: string, fields: LogFields | undefined): void {
    const m = this.#metrics;
    m.errors++;
    if (m.firstErrors.length < 10) {
      let extra = "";
      if (fields !== undefined) {
        try {
          extra = ` ${JSON.stringify(fields, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`;
        } catch {
          extra = "";
        }
      }
      m.firstErrors.push(`${(this.now() / 1000).toFixed(3)}s ${peer.name} ${logger}: ${msg}${extra}`);
    }
  }

  // --- scheduling ------------------------------------------------------------------------------

  /** Runs `fn` at virtual `atMs` after the start. */
  #at(atMs: number, fn: () => void): void {
    const handle = this.clock.setTimeout(() => {
      this.#timers.delete(handle);
      fn();
    }, Math.max(0, this.#t0 + atMs - this.clock.monotonic()));
    this.#timers.add(handle);
  }

  /** Keeps a background task so the run can wait for it; its failure is an error of the run. */
  #track(task: Promise<void>): void {
    const t = task.catch((err: unknown) => {
      this.#metrics.errors++;
      if (this.#metrics.firstErrors.length < 10) this.#metrics.firstErrors.push(`sim task failed: ${errorMessage(err)}`);
    });
    this.#tasks.add(t);
    void t.finally(() => this.#tasks.delete(t));
  }

  #disturb(indices: Iterable<number>): void {
    const now = this.now();
    for (const i of indices) this.#disturbedAt[i] = now;
  }

  #scheduleBlocks(): void {
    const o = this.options;
    const cut = (): void => {
      if (this.#blocksCut >= o.blocks) return;
      this.#blocksCut++;
      const pvt = this.#pvt;
      for (const c of this.channels) {
        if (pvt !== undefined && c.index === 0) this.#source!.cut(c.name, pvt.envelopesFor(this.#source!.height(c.name)));
        else this.#source!.cut(c.name);
      }
      pvt?.afterCut();
      this.checker.note(this.now(), "sim", `block ${this.#blocksCut} cut`);
      if (this.#blocksCut < o.blocks) this.#at(this.now() + o.blockIntervalMs, cut);
    };
    if (o.blocks > 0) this.#at(o.warmupMs, cut);
  }

  #schedulePartition(p: PartitionSpec, i: number): void {
    const all = this.peers.map((_, k) => k);
    const endpointOf = (k: number): string => this.peers[k]!.spec.endpoint;
    const rng = this.tree.stream(`partition/${i}`);
    const label = `partition ${i} ${p.kind}`;
    if (p.kind === "swizzle") {
      const step = p.stepMs ?? 1_000;
      const victims = rng.shuffle(all).slice(0, Math.max(1, Math.floor(this.peers.length / 4)));
      const heals = new Map<number, () => void>();
      victims.forEach((v, k) => {
        this.#at(p.atMs + k * step, () => {
          const e = endpointOf(v);
          heals.set(v, this.network.cutWhere((a, b) => a !== b && (a === e || b === e), p.mode));
          this.#disturb([v]);
          this.checker.note(this.now(), this.peers[v]!.name, `${label}: clogged`);
          this.trace.event(this.now(), `${label} clog ${v}`);
          this.#emit({ kind: "partition", atMs: this.now(), label: `${label} clog`, sides: [[this.peers[v]!.name]] });
        });
      });
      const order = rng.shuffle(victims);
      const healStart = p.atMs + Math.max(p.forMs, victims.length * step);
      order.forEach((v, k) => {
        this.#at(healStart + k * step, () => {
          heals.get(v)?.();
          this.#disturb([v]);
          this.checker.note(this.now(), this.peers[v]!.name, `${label}: unclogged`);
          this.trace.event(this.now(), `${label} unclog ${v}`);
          this.#emit({ kind: "heal", atMs: this.now(), label: `${label} clog`, sides: [[this.peers[v]!.name]] });
        });
      });
      return;
    }
    let side: (k: number) => number;
    let affected: number[];
    if (p.kind === "orgs") {
      side = (k) => this.peers[k]!.spec.org;
      affected = all;
    } else if (p.kind === "half") {
      const half = new Set(rng.shuffle(all).slice(0, Math.floor(all.length / 2)));
      side = (k) => (half.has(k) ? 1 : 0);
      affected = all;
    } else {
      const names = new Set(p.peers ?? []);
      const named = all.filter((k) => names.has(this.peers[k]!.name));
      // "isolate": each named peer is its own side; "split", "oneway": the named peers are side 1.
      // Everyone else is side -1.
      side = p.kind === "isolate" ? (k) => (names.has(this.peers[k]!.name) ? k : -1) : (k) => (names.has(this.peers[k]!.name) ? 1 : -1);
      affected = p.kind === "split" ? all : named;
    }
    const endpointSide = (e: string): number | undefined => {
      const i = this.#endpointIndex.get(e);
      return i === undefined ? undefined : side(i);
    };
    // A one-way cut holds only towards the named peers: frames and dials to them are lost (blackhole
    // mode checks the direction of each frame), theirs still arrive.
    const cut =
      p.kind === "oneway"
        ? (a: string, b: string): boolean => endpointSide(a) !== undefined && endpointSide(b) === 1
        : (a: string, b: string): boolean => {
            const sa = endpointSide(a);
            const sb = endpointSide(b);
            return sa !== undefined && sb !== undefined && sa !== sb;
          };
    const sides = (): string[][] => {
      if (p.kind === "oneway") return [affected.map((k) => this.peers[k]!.name)];
      const groups = new Map<number, string[]>();
      for (const k of all) {
        const g = groups.get(side(k)) ?? [];
        g.push(this.peers[k]!.name);
        groups.set(side(k), g);
      }
      return [...groups.values()];
    };
    let heal: (() => void) | undefined;
    this.#at(p.atMs, () => {
      heal = this.network.cutWhere(cut, p.mode);
      this.#disturb(affected);
      this.checker.note(this.now(), "sim", `${label} (${p.mode}) starts`);
      this.trace.event(this.now(), `${label} start`);
      if (this.#eventListeners.size > 0) this.#emit({ kind: "partition", atMs: this.now(), label, sides: sides() });
    });
    this.#at(p.atMs + p.forMs, () => {
      heal?.();
      this.#disturb(affected);
      this.checker.note(this.now(), "sim", `${label} healed`);
      this.trace.event(this.now(), `${label} heal`);
      if (this.#eventListeners.size > 0) this.#emit({ kind: "heal", atMs: this.now(), label, sides: sides() });
    });
  }

  #scheduleCrash(c: CrashSpec, i: number): void {
    const rng = this.tree.stream(`crash/${i}`);
    this.#at(c.atMs, () => {
      const victims = this.#crashTargets(c, rng.shuffle(this.peers.filter((p) => p.running)));
      for (const v of victims) {
        this.checker.note(this.now(), v.name, "crash");
        this.trace.event(this.now(), `crash ${v.name}`);
        this.#emit({ kind: "crash", atMs: this.now(), peer: v.name });
        this.#disturb([v.spec.index]);
        this.#track(this.#crash(v));
        if (c.downMs !== undefined) {
          this.#at(this.now() + c.downMs, () => {
            this.checker.note(this.now(), v.name, "restart");
            this.trace.event(this.now(), `restart ${v.name}`);
            this.#emit({ kind: "restart", atMs: this.now(), peer: v.name });
            this.#disturb([v.spec.index]);
            this.#track(v.restart());
          });
        }
      }
    });
  }

  /**
   * A twin starts, then stops as a crashed host. Both disturb the peer whose identity it uses: what that
   * peer's membership goes through meanwhile is the misconfiguration's doing, not a false death.
   */
  #scheduleTwin(t: TwinSpec, k: number): void {
    const twin = this.twins[k]!;
    const of = this.peers.find((p) => p.name === t.of)!;
    const event = (kind: "twin-start" | "twin-stop"): void => {
      this.checker.note(this.now(), twin.name, kind === "twin-start" ? `started with ${of.name}'s identity` : "stopped");
      this.trace.event(this.now(), `${kind} ${twin.name}`);
      this.#emit({ kind, atMs: this.now(), peer: twin.name, of: of.name, endpoint: twin.spec.endpoint });
      this.#disturb([of.spec.index]);
    };
    this.#at(t.atMs, () => {
      event("twin-start");
      this.#track(twin.start());
    });
    if (t.forMs !== undefined) {
      this.#at(t.atMs + t.forMs, () => {
        event("twin-stop");
        this.#track(this.#crash(twin));
      });
    }
  }

  #crashTargets(c: CrashSpec, shuffled: SimPeer[]): SimPeer[] {
    if (c.target === "random") return shuffled.slice(0, c.count);
    if (c.target === "leader") {
      const ch = this.channels[0]!.name;
      const org1 = this.peers.filter((p) => p.running && p.spec.org === 1);
      const leader = org1.find((p) => p.isLeader(ch)) ?? org1[0];
      return leader === undefined ? [] : [leader];
    }
    const p = this.peers.find((x) => x.name === c.target);
    return p?.running ? [p] : [];
  }

  async #crash(peer: SimPeer): Promise<void> {
    this.#link.resetUplink(peer.spec.endpoint);
    await peer.crash();
  }

  // --- sampling --------------------------------------------------------------------------------

  /**
   * Membership convergence, looked for at every step (100 ms) rather than every sample, so that it can be
   * compared with a bound finer than the sample interval: the first instant every running peer sees every
   * other, counted only once every peer has started.
   */
  #checkConvergence(): void {
    if (!this.peers.every((p) => p.incarnation > 0)) return;
    const running = this.peers.filter((p) => p.running);
    if (running.length > 0 && running.every((p) => (p.node?.peers().length ?? 0) >= running.length - 1)) this.#convergedAt = this.now();
  }

  #sample(): void {
    const s = this.#series;
    const now = this.now();
    s.sampleTimes.push(now / 1000);
    const ch0 = this.channels[0]!.name;
    for (const [i, p] of this.peers.entries()) {
      const ledger = p.ledger(ch0);
      s.heights[i]!.push(ledger === undefined ? 0 : Number(ledger.height()) - 1);
    }
    for (const [t, name] of FRAME_TYPES.entries()) {
      s.trafficByType[name]!.push(this.#metrics.intervalBytesByType[t]!);
      this.#metrics.intervalBytesByType[t] = 0;
    }
    const running = this.peers.filter((p) => p.running);
    // Views of a rotating subset: the membership series and the forged-member check.
    const sizes: number[] = [];
    const count = Math.min(VIEW_SAMPLE_PEERS, running.length);
    for (let k = 0; k < count; k++) {
      const p = running[(this.#viewCursor + k) % running.length]!;
      const members = p.node?.peers() ?? [];
      sizes.push(members.length);
      for (const m of members) {
        const hex = pkiHex(m.pkiId);
        this.checker.check("forged-member", this.#byPki.has(hex), () => `${p.name} has ${hex} (${m.endpoint}) in its view: not a simulated peer`, now, p.name);
      }
    }
    this.#viewCursor = (this.#viewCursor + count) % Math.max(1, running.length);
    sizes.sort((a, b) => a - b);
    s.membership.push({ min: sizes[0] ?? 0, median: quantile(sizes, 0.5), max: sizes[sizes.length - 1] ?? 0 });
    const bound = 2 * this.options.gossip.state.blockBufferSize + 1;
    for (const p of running) {
      for (const c of p.channels) {
        const size = p.state(c.name)?.bufferSize() ?? 0;
        this.checker.check("buffer-bound", size <= bound, () => `${p.name}'s payload buffer of ${c.name} holds ${size} blocks, above 2 x blockBufferSize + 1 = ${bound}`, now, p.name);
      }
    }
  }

  /** Every block cut and committed by every running peer of its channels. */
  #allDelivered(): boolean {
    if (this.#blocksCut < this.options.blocks) return false;
    for (const p of this.peers) {
      if (!p.running) continue;
      for (const c of p.channels) if (Number(p.ledger(c.name)!.height()) < this.options.blocks + 1) return false;
    }
    return true;
  }

  // --- the run ---------------------------------------------------------------------------------

  /**
   * Runs the simulation to its end (or to the first invariant violation, which it throws after
   * stopping every peer) and returns the figures.
   * @throws SimInvariantError, SimError SETUP_FAILED.
   */
  async run(): Promise<SimResult> {
    const wall0 = performance.now();
    const o = this.options;
    await this.#setup();
    this.#t0 = this.clock.monotonic();
    const unobserve = this.network.observe((f) => this.#onDelivered(f.from, f.to, f.bytes));
    const startRng = this.tree.stream("start");
    for (const p of this.peers) {
      // Anchor peers (static leaders, the first of each org) come up first, as in a real rollout: a
      // peer whose bootstrap peer is not up yet retries only after reconnectInterval (25 s).
      const at = p.spec.staticLeader ? startRng.float() * ANCHOR_START_SPREAD_MS : ANCHOR_START_SPREAD_MS + startRng.float() * START_SPREAD_MS;
      this.#at(at, () => {
        this.checker.note(this.now(), p.name, "start");
        this.#emit({ kind: "start", atMs: this.now(), peer: p.name });
        this.#track(p.start());
      });
    }
    this.#scheduleBlocks();
    for (const [i, p] of o.partitions.entries()) this.#schedulePartition(p, i);
    for (const [i, c] of o.crashes.entries()) this.#scheduleCrash(c, i);
    for (const [k, t] of (o.twins ?? []).entries()) this.#scheduleTwin(t, k);
    const early = o.durationMs === undefined;
    const durationMs = o.durationMs ?? o.warmupMs + o.blocks * o.blockIntervalMs + o.drainMs;
    let nextSample = 0;
    let violation: SimInvariantError | undefined;
    try {
      while (this.now() < durationMs) {
        await this.clock.advance(Math.min(STEP_MS, durationMs - this.now()));
        violation = this.checker.violation;
        if (violation !== undefined) break;
        if (this.#convergedAt === undefined) this.#checkConvergence();
        for (const listener of this.#stepListeners) listener(this.now());
        if (this.now() >= nextSample) {
          this.#sample();
          nextSample += o.sampleIntervalMs;
          violation = this.checker.violation;
          if (violation !== undefined) break;
        }
        if (early && this.#allDelivered()) break;
      }
      this.#pvt?.stop();
      if (violation === undefined && this.#pvt !== undefined) {
        // Leak checks of the last commits still in flight, then the end state of every running peer.
        while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
        this.#pvtFigures = await this.#pvt.finish();
        violation = this.checker.violation;
      }
    } finally {
      this.#pvt?.stop();
      await this.#shutdown();
      unobserve();
    }
    if (violation !== undefined) throw violation;
    return this.#result(wall0);
  }

  async #shutdown(): Promise<void> {
    for (const t of this.#timers) t.cancel();
    this.#timers.clear();
    // Let starts and crashes in progress finish, then stop every peer.
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
    for (const p of [...this.peers, ...this.twins]) await p.stop();
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  #result(wall0: number): SimResult {
    const o = this.options;
    const m = this.#metrics;
    const source = this.#source!;
    const { all, figures } = m.latencies((c, seq) => {
      const created = source.block(this.channels[c]!.name, seq)?.createdAt;
      return created === undefined ? undefined : created - this.#t0;
    });
    const delivery = m.delivery();
    const seconds = this.now() / 1000;
    const byType: Record<string, number> = {};
    let total = 0;
    for (const [t, name] of FRAME_TYPES.entries()) {
      const v = m.bytesByType[t]!;
      total += v;
      if (v > 0) byType[name] = round(v / o.peers / Math.max(seconds, 1e-9), 1);
    }
    let missing = 0;
    for (const p of this.peers) {
      if (p.status === "crashed") continue;
      for (const c of p.channels) for (let s = 1; s <= this.#blocksCut; s++) if (!m.hasCommitted(c.index, p.spec.index, s)) missing++;
    }
    this.trace.event(this.now(), "end");
    const traceHash = this.trace.digest();
    this.#series.latencies = all;
    return {
      report: {
        seed: o.seed,
        peers: o.peers,
        orgs: o.orgs,
        channels: o.channels,
        blocks: this.#blocksCut,
        blockBytes: o.blockBytes,
        crypto: o.crypto,
        leaderMode: o.leaderMode,
        virtualSeconds: round(seconds, 3),
        latencyMs: { p50: round(figures.p50, 1), p99: round(figures.p99, 1), max: round(figures.max, 1), deliveries: figures.deliveries },
        redundancy: round(delivery.redundancy, 3),
        pushShare: round(delivery.push, 4),
        pullShare: round(delivery.pull, 4),
        stateShare: round(delivery.state, 4),
        bytesPerPeerPerSec: round(total / o.peers / Math.max(seconds, 1e-9), 1),
        bytesPerPeerPerSecByType: byType,
        membershipConvergenceSeconds: this.#convergedAt === undefined ? undefined : round(this.#convergedAt / 1000, 3),
        falseDeaths: m.falseDeaths,
        deathDeclarations: m.deaths,
        leaderChanges: m.leaderChanges(),
        missingCommits: missing,
        commits: m.commits(),
        frames: m.framesDelivered,
        traceHash,
        wallSeconds: round((performance.now() - wall0) / 1000, 2),
        ...(this.#pvtFigures !== undefined ? { privateData: { ...this.#pvtFigures } } : {}),
      },
      series: this.#series,
    };
  }

  /** Figures not in the report: link fault counts, errors logged, invariant checks, timers left. */
  diagnostics(): {
    link: LinkModel["counts"];
    errors: number;
    firstErrors: string[];
    checks: Record<string, number>;
    pendingTimers: number;
    openStreams: number;
    framesSentByType: Record<string, number>;
  } {
    const framesSentByType: Record<string, number> = {};
    for (const [t, name] of FRAME_TYPES.entries()) if (this.#metrics.framesByType[t]! > 0) framesSentByType[name] = this.#metrics.framesByType[t]!;
    return {
      framesSentByType,
      link: { ...this.#link.counts },
      errors: this.#metrics.errors,
      firstErrors: [...this.#metrics.firstErrors],
      checks: { ...this.checker.checks },
      pendingTimers: this.clock.pendingTimers(),
      openStreams: this.network.openStreamCount(),
    };
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Throws INVALID_OPTIONS, naming the setting, unless the options describe a runnable simulation. */
export function validateOptions(o: SimOptions): void {
  const bad = (msg: string): never => {
    throw new SimError("INVALID_OPTIONS", msg);
  };
  const int = (name: string, v: number, min: number): void => {
    if (!Number.isInteger(v) || v < min) bad(`${name} must be an integer >= ${min}, got ${v}`);
  };
  int("seed", o.seed, 0);
  int("peers", o.peers, 1);
  int("orgs", o.orgs, 1);
  if (o.orgs > o.peers) bad(`orgs (${o.orgs}) must not exceed peers (${o.peers})`);
  int("channels", o.channels, 1);
  int("blocks", o.blocks, 0);
  int("block size", o.blockBytes, 1);
  if (!(o.blockIntervalMs > 0)) bad(`block interval must be > 0 ms, got ${o.blockIntervalMs}`);
  if (!(o.warmupMs >= 0)) bad(`warm-up must be >= 0 ms, got ${o.warmupMs}`);
  if (o.durationMs !== undefined && !(o.durationMs > 0)) bad(`duration must be > 0 ms, got ${o.durationMs}`);
  if (!(o.sampleIntervalMs >= STEP_MS)) bad(`sample interval must be >= ${STEP_MS} ms, got ${o.sampleIntervalMs}`);
  if (!(o.clockSkewMs >= 0)) bad(`clock skew must be >= 0 ms, got ${o.clockSkewMs}`);
  validateLink(o.link);
  const names = new Set(Array.from({ length: o.peers }, (_, i) => `p${i}`));
  for (const p of o.partitions) {
    if (!(p.atMs >= 0 && p.forMs >= 0)) bad(`partition ${p.kind}: start and length must be >= 0, got @${p.atMs}+${p.forMs} ms`);
    for (const n of p.peers ?? []) if (!names.has(n)) bad(`partition ${p.kind}: no peer named ${n} (peers are p0..p${o.peers - 1})`);
    if ((p.kind === "isolate" || p.kind === "split" || p.kind === "oneway") && (p.peers ?? []).length === 0) bad(`partition ${p.kind}: peers must name at least one peer`);
    if (p.kind === "oneway" && p.mode !== "blackhole") bad("partition oneway: mode must be blackhole (a reset stream would cut both directions)");
  }
  for (const c of o.crashes) {
    if (!(c.atMs >= 0)) bad(`crash ${c.target}: time must be >= 0, got ${c.atMs} ms`);
    if (c.target !== "leader" && c.target !== "random" && !names.has(c.target)) bad(`crash: no peer named ${c.target} (peers are p0..p${o.peers - 1}, or "leader", "random")`);
    int(`crash ${c.target} count`, c.count, 1);
  }
  for (const t of o.twins ?? []) {
    if (!names.has(t.of)) bad(`twin: no peer named ${t.of} (peers are p0..p${o.peers - 1})`);
    if (!(t.atMs >= 0)) bad(`twin of ${t.of}: start must be >= 0, got ${t.atMs} ms`);
    if (t.forMs !== undefined && !(t.forMs > 0)) bad(`twin of ${t.of}: length must be > 0 ms, got ${t.forMs}`);
  }
  if (o.privateData !== undefined) {
    const p = o.privateData;
    if (o.crypto !== "real") bad("private data needs real crypto (MSP identities): drop --fast-crypto");
    if (!(p.share >= 0 && p.share <= 1)) bad(`private data share must be within [0, 1], got ${p.share}`);
    int("private data blockToLive", p.shortBlockToLive, 0);
    int("private data requiredPeerCount", p.requiredPeerCount, 0);
    int("private data maximumPeerCount", p.maximumPeerCount, p.requiredPeerCount);
    int("private data endorsement attempts", p.endorsementAttempts, 1);
  }
  if (o.forkAt !== undefined && (o.forkAt.org < 1 || o.forkAt.org > o.orgs || o.forkAt.seq < 1)) bad(`forkAt must name a block >= 1 and an org in 1..${o.orgs}`);
}

