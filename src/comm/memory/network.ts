import type { Clock, TimerHandle } from "../../util/index.js";
import { CommError, type TransportTls } from "../index.js";
import { MemoryStream, type StreamCarrier } from "./stream.js";

/** What the network needs of a transport attached to it (MemoryTransport). */
export interface MemoryEndpoint {
  readonly listenAddress: string;
  readonly tls: TransportTls;
  readonly tlsEnabled: boolean;
  /** True while listening and not closed. */
  readonly accepting: boolean;
  /** The clock of this endpoint's host: frames reaching it, and the waits of its writes, are scheduled on it. */
  readonly clock: Clock;
  /** Receives the accepting end of a new stream. */
  accepted(stream: MemoryStream): void;
}

/** One-way delay in milliseconds of `bytes` bytes from endpoint `from` to endpoint `to`. */
export type LatencyFn = (from: string, to: string, bytes: number) => number;

/** What happens to one data frame on its way (see MemoryNetworkOptions.frameFate). */
export interface FrameFate {
  /** Delay in ms, from now, of each copy delivered: none loses the frame, two or more duplicate it. */
  delaysMs: readonly number[];
  /** False: the copies may overtake frames written earlier on the stream (reordering). Default true. */
  ordered?: boolean;
  /** Ms until the frame has left the sender (its uplink is free again): the write resolves then. Default 0. */
  sendMs?: number;
}

/** Decides the fate of a data frame from `from` to `to` when it is written. */
export type FrameFateFn = (from: string, to: string, bytes: Uint8Array) => FrameFate;

/**
 * How a partition treats the streams it cuts. "break": open streams between the two sides are
 * reset at once (as when a keepalive gives up). "blackhole": they stay open and silently lose every
 * frame and close, so only timeouts notice. Either way new dials across it time out.
 */
export type PartitionMode = "break" | "blackhole";

export interface MemoryNetworkOptions {
  /**
   * How a dial or ping to an endpoint nobody serves (unknown, down, not listening, TLS mismatch)
   * fails. "timeout" (default): it rejects once the dial timeout has passed in clock time, as
   * Fabric's `grpc.DialContext(ctx, endpoint, grpc.WithBlock())` does: grpc-go retries "connection
   * refused" until the context deadline and reports "context deadline exceeded". "immediate": it
   * rejects on the next clock tick, as a dialer that fails fast on connection refused.
   */
  refusedDial?: "timeout" | "immediate";
  /**
   * Decides loss, duplication, reordering, delay and send time of every data frame (the simulator's
   * link model). Absent: each frame arrives once, in order, after the latency function's delay, and
   * its write resolves at once. Dials and stream closes always use the latency function.
   */
  frameFate?: FrameFateFn;
  /**
   * Copy each frame when it is written (default true), so a sender reusing its buffer cannot change
   * a frame in flight. The simulator turns it off: comm never reuses an encoded frame, and a copy
   * of every block to every peer is most of a large run's memory traffic.
   */
  copyFrames?: boolean;
}

/** A frame as it reaches its destination, for observers. */
export interface MemoryFrame {
  from: string;
  to: string;
  bytes: Uint8Array;
  streamId: number;
}

type Reachability = "ok" | "refused" | "blackhole";

interface Flight {
  at: number;
  bytes: Uint8Array | undefined; // undefined: the sender's clean close (FIN)
}

/** One direction of a stream pair: a FIFO in flight, drained by one clock timer at a time. */
/**
 * Frames a stream takes at once within one instant; past them, each write waits for the current job to
 * end, as a socket whose buffer is full does. grpc-js's call streams hold 16 messages before write()
 * asks the writer to wait (their highWaterMark), so a burst to one peer pushes back as it would there.
 */
const BUFFERED_FRAMES = 16;

class Lane {
  readonly queue: Flight[] = [];
  /** The receiving host's clock: an arrival is its event. */
  readonly clock: Clock;
  /** The sending host's clock: a write waiting for its uplink waits on it. */
  readonly senderClock: Clock;
  timer: TimerHandle | undefined;
  /** Delivery time of the last in-order frame queued: later in-order frames never overtake it. */
  lastAt = Number.NEGATIVE_INFINITY;
  /** Delivers what is due (the lane's timer calls it): one function per lane, not a closure per timer armed. */
  readonly onDue: () => void;
  /** Frames written at the instant `writtenAt` (the send buffer's fill, see BUFFERED_FRAMES). */
  written = 0;
  writtenAt = Number.NaN;

  constructor(
    readonly from: MemoryStream,
    readonly to: MemoryStream,
    sender: MemoryEndpoint,
    receiver: MemoryEndpoint,
    fire: (lane: Lane) => void,
  ) {
    this.clock = receiver.clock;
    this.senderClock = sender.clock;
    this.onDue = () => fire(this);
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.queue.length = 0;
  }
}

interface Pair {
  id: number;
  dialer: MemoryStream;
  acceptor: MemoryStream;
  dialerTransport: MemoryEndpoint;
  acceptorTransport: MemoryEndpoint;
  /** Frames the dialer writes. */
  dialerLane: Lane;
  /** Frames the acceptor writes. */
  acceptorLane: Lane;
  /** Both ends closed: the pair left the network, and nothing written on it goes anywhere. */
  retired: boolean;
}

/** The lane `end` writes into (fields, not a Map: a large run holds a million pairs). */
function laneFrom(pair: Pair, end: MemoryStream): Lane | undefined {
  if (end === pair.dialer) return pair.dialerLane;
  return end === pair.acceptor ? pair.acceptorLane : undefined;
}

const pairKey = (a: string, b: string): string => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);

/**
 * An in-process network of MemoryTransports for tests and the simulator. Every frame travels
 * through the injected clock (`setTimeout` with the latency function's delay, 0 by default), so
 * delivery is asynchronous, ordered per stream direction, and reproducible under a ManualClock.
 * Fault hooks: partitions, endpoints going down, injected raw frames, and a per-frame fate
 * (loss, duplication, reordering, uplink time) for the simulator.
 */
export class MemoryNetwork {
  readonly clock: Clock;
  readonly #latency: LatencyFn;
  readonly #refusedDial: "timeout" | "immediate";
  readonly #frameFate: FrameFateFn | undefined;
  readonly #copyFrames: boolean;
  readonly #listeners = new Map<string, MemoryEndpoint>();
  readonly #down = new Set<string>();
  readonly #partitions = new Map<string, PartitionMode>();
  readonly #cuts = new Set<{ cut: (a: string, b: string) => boolean; mode: PartitionMode }>();
  readonly #pairs = new Set<Pair>();
  /** The pairs each transport owns an end of: a transport that closes breaks only its own (#pairs holds a million in a large run). */
  readonly #pairsOf = new Map<MemoryEndpoint, Set<Pair>>();
  readonly #dials = new Map<string, number>();
  readonly #observers = new Set<(frame: MemoryFrame) => void>();
  #nextId = 1;

  constructor(clock: Clock, latency: LatencyFn = () => 0, options: MemoryNetworkOptions = {}) {
    this.clock = clock;
    this.#latency = latency;
    this.#refusedDial = options.refusedDial ?? "timeout";
    this.#frameFate = options.frameFate;
    this.#copyFrames = options.copyFrames ?? true;
  }

  /** How refused dials fail (see MemoryNetworkOptions.refusedDial). */
  get refusedDial(): "timeout" | "immediate" {
    return this.#refusedDial;
  }

  // --- faults ---

  /** Cuts `a` from `b` (both directions) until `heal`. */
  partition(a: string, b: string, mode: PartitionMode = "break"): void {
    this.#partitions.set(pairKey(a, b), mode);
    if (mode === "break") {
      for (const pair of this.#pairsBetween(a, b)) this.#reset(pair, new CommError("CONNECTION_CLOSED", `network partition between ${a} and ${b}`));
    }
  }

  /**
   * Cuts every link (a, b) for which `cut(a, b)` holds, as `partition` does for one pair, until the
   * returned function heals it. `cut` must be symmetric; it suits partitions of whole groups.
   */
  cutWhere(cut: (a: string, b: string) => boolean, mode: PartitionMode = "break"): () => void {
    const entry = { cut, mode };
    this.#cuts.add(entry);
    if (mode === "break") {
      for (const pair of [...this.#pairs]) {
        const a = pair.dialer.localAddress;
        const b = pair.acceptor.localAddress;
        if (cut(a, b)) this.#reset(pair, new CommError("CONNECTION_CLOSED", `network partition between ${a} and ${b}`));
      }
    }
    return () => {
      this.#cuts.delete(entry);
    };
  }

  #cutMode(a: string, b: string): PartitionMode | undefined {
    const mode = this.#partitions.get(pairKey(a, b));
    if (mode !== undefined) return mode;
    for (const c of this.#cuts) if (c.cut(a, b)) return c.mode;
    return undefined;
  }

  /** Removes the partition between `a` and `b`, or every partition when called without arguments. */
  heal(a?: string, b?: string): void {
    if (a === undefined || b === undefined) {
      this.#partitions.clear();
      this.#cuts.clear();
    }
    else this.#partitions.delete(pairKey(a, b));
  }

  /**
   * Takes `endpoint` down (its host is unreachable: dials and pings to and from it fail, its open
   * streams break at both ends) or brings it back. Its transport stays registered.
   */
  setDown(endpoint: string, down: boolean): void {
    if (!down) {
      this.#down.delete(endpoint);
      return;
    }
    this.#down.add(endpoint);
    for (const pair of [...this.#pairs]) {
      if (pair.dialer.localAddress === endpoint || pair.acceptor.localAddress === endpoint) {
        this.#reset(pair, new CommError("CONNECTION_CLOSED", `${endpoint} went down`));
      }
    }
  }

  isDown(endpoint: string): boolean {
    return this.#down.has(endpoint);
  }

  /**
   * Puts `bytes` on every open stream from `from` to `to` as if `from` had written them (a raw,
   * possibly malformed frame). Returns how many streams carried it.
   */
  inject(from: string, to: string, bytes: Uint8Array): number {
    let n = 0;
    for (const pair of this.#pairs) {
      for (const end of [pair.dialer, pair.acceptor]) {
        const peer = end.peer;
        if (end.localAddress === from && peer !== undefined && peer.localAddress === to && !end.closed) {
          void this.#transmit(pair, end, bytes);
          n++;
        }
      }
    }
    return n;
  }

  /** Delivers `bytes` to `stream` as if its remote end had written them (through the usual lane, so in order). */
  injectInto(stream: MemoryStream, bytes: Uint8Array): void {
    const writer = stream.peer;
    if (writer === undefined) return;
    for (const pair of this.#pairs) {
      if (pair.dialer === writer || pair.acceptor === writer) {
        void this.#transmit(pair, writer, bytes);
        return;
      }
    }
  }

  /** Calls `observer` with every frame delivered. Returns an unsubscribe. */
  observe(observer: (frame: MemoryFrame) => void): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  // --- introspection ---

  /** Stream ends not yet closed. Zero once every peer has stopped. */
  openStreamCount(): number {
    let n = 0;
    for (const pair of this.#pairs) {
      if (!pair.dialer.closed) n++;
      if (!pair.acceptor.closed) n++;
    }
    return n;
  }

  /** Stream pairs with at least one open end: [dialer endpoint, acceptor endpoint, id]. */
  streams(): { id: number; dialer: string; acceptor: string; dialerOpen: boolean; acceptorOpen: boolean }[] {
    return [...this.#pairs].map((p) => ({
      id: p.id,
      dialer: p.dialer.localAddress,
      acceptor: p.acceptor.localAddress,
      dialerOpen: !p.dialer.closed,
      acceptorOpen: !p.acceptor.closed,
    }));
  }

  /** Dial attempts (not pings) from `from` to `to`, or in total. */
  dialCount(from?: string, to?: string): number {
    let n = 0;
    for (const [key, count] of this.#dials) {
      const [f, t] = key.split("\u0000") as [string, string];
      if ((from === undefined || f === from) && (to === undefined || t === to)) n += count;
    }
    return n;
  }

  /** Endpoints with a listening transport. */
  endpoints(): string[] {
    return [...this.#listeners.keys()];
  }

  // --- used by MemoryTransport ---

  /** @internal */
  register(endpoint: string, transport: MemoryEndpoint): void {
    const existing = this.#listeners.get(endpoint);
    if (existing !== undefined && existing !== transport) {
      throw new CommError("DIAL_FAILED", `cannot listen on ${endpoint}: address already in use`);
    }
    this.#listeners.set(endpoint, transport);
  }

  /** @internal */
  unregister(endpoint: string, transport: MemoryEndpoint): void {
    if (this.#listeners.get(endpoint) === transport) this.#listeners.delete(endpoint);
  }

  /** @internal */
  countDial(from: string, to: string): void {
    const key = `${from}\u0000${to}`;
    this.#dials.set(key, (this.#dials.get(key) ?? 0) + 1);
  }

  /** @internal Whether `from` can open a connection to `to` right now, and what serves it. */
  reach(from: MemoryEndpoint, to: string): { reach: Reachability; target: MemoryEndpoint | undefined; why: string } {
    const fromAddr = from.listenAddress;
    if (this.#cutMode(fromAddr, to) !== undefined) return { reach: "blackhole", target: undefined, why: `network partition between ${fromAddr} and ${to}` };
    if (this.#down.has(fromAddr)) return { reach: "refused", target: undefined, why: `${fromAddr} is down` };
    if (this.#down.has(to)) return { reach: "refused", target: undefined, why: `${to} is down` };
    const target = this.#listeners.get(to);
    if (target === undefined || !target.accepting) return { reach: "refused", target: undefined, why: `connection refused by ${to}` };
    if (target.tlsEnabled !== from.tlsEnabled) {
      return { reach: "refused", target: undefined, why: `TLS handshake with ${to} failed: ${from.tlsEnabled ? "server speaks plaintext" : "server requires TLS"}` };
    }
    return { reach: "ok", target, why: "" };
  }

  /** @internal One-way latency, never negative. */
  latency(from: string, to: string, bytes: number): number {
    return Math.max(0, this.#latency(from, to, bytes));
  }

  /** @internal Creates a connected stream pair and hands the accepting end to `acceptor`. */
  connect(dialer: MemoryEndpoint, acceptor: MemoryEndpoint): MemoryStream {
    const id = this.#nextId++;
    // The pair's own carrier: a frame written finds its lane without a lookup (a large run holds a million ends).
    const carrier: StreamCarrier = {
      transmit: (from, bytes) => this.#transmit(pair, from, bytes),
      finish: (end) => this.#finish(pair, end),
    };
    const dialerEnd = new MemoryStream({
      id,
      carrier,
      localAddress: dialer.listenAddress,
      remoteAddress: acceptor.listenAddress,
      remoteCertHash: dialer.tlsEnabled ? acceptor.tls.serverCertHash : undefined,
      dialer: true,
    });
    const acceptorEnd = new MemoryStream({
      id,
      carrier,
      localAddress: acceptor.listenAddress,
      remoteAddress: dialer.listenAddress,
      remoteCertHash: acceptor.tlsEnabled ? dialer.tls.clientCertHash : undefined,
      dialer: false,
    });
    dialerEnd.peer = acceptorEnd;
    acceptorEnd.peer = dialerEnd;
    const pair: Pair = {
      id,
      dialer: dialerEnd,
      acceptor: acceptorEnd,
      dialerTransport: dialer,
      acceptorTransport: acceptor,
      dialerLane: new Lane(dialerEnd, acceptorEnd, dialer, acceptor, this.#fireLane),
      acceptorLane: new Lane(acceptorEnd, dialerEnd, acceptor, dialer, this.#fireLane),
      retired: false,
    };
    this.#pairs.add(pair);
    this.#ownedBy(dialer).add(pair);
    this.#ownedBy(acceptor).add(pair);
    dialerEnd.onClose(() => this.#maybeRetire(pair));
    acceptorEnd.onClose(() => this.#maybeRetire(pair));
    acceptor.accepted(acceptorEnd);
    return dialerEnd;
  }

  /** @internal Breaks every stream `transport` owns an end of (the transport closed). */
  breakAll(transport: MemoryEndpoint): void {
    const owned = this.#pairsOf.get(transport);
    if (owned === undefined || owned.size === 0) return;
    // One error for all of them: each costs a stack trace, and a peer that stops holds a stream per member.
    const err = new CommError("CONNECTION_CLOSED", `${transport.listenAddress} closed its transport`);
    for (const pair of [...owned]) this.#reset(pair, err);
    if (owned.size === 0) this.#pairsOf.delete(transport);
  }

  #ownedBy(transport: MemoryEndpoint): Set<Pair> {
    let owned = this.#pairsOf.get(transport);
    if (owned === undefined) {
      owned = new Set();
      this.#pairsOf.set(transport, owned);
    }
    return owned;
  }

  // --- delivery ---

  /** Queues a data frame; returns a promise when the write must wait for the sender's uplink. */
  #transmit(pair: Pair, from: MemoryStream, bytes: Uint8Array): Promise<void> | undefined {
    const lane = pair.retired ? undefined : laneFrom(pair, from);
    if (lane === undefined) return undefined;
    // A copy: the sender may reuse its buffer, as a real socket would not care.
    const copy = this.#copyFrames ? bytes.slice() : bytes;
    if (this.#frameFate === undefined) {
      this.#enqueue(lane, copy);
      return this.#buffered(lane, this.clock.monotonic());
    }
    const fate = this.#frameFate(lane.from.localAddress, lane.to.localAddress, copy);
    const now = this.clock.monotonic();
    const ordered = fate.ordered ?? true;
    for (const delay of fate.delaysMs) this.#place(lane, { at: now + Math.max(0, delay), bytes: copy }, ordered);
    const sendMs = fate.sendMs ?? 0;
    if (sendMs <= 0) return this.#buffered(lane, now);
    return new Promise<void>((resolve) => {
      lane.senderClock.setTimeout(resolve, sendMs);
    });
  }

  /** Undefined while the lane's send buffer has room at instant `now`, else a wait for the end of the current job. */
  #buffered(lane: Lane, now: number): Promise<void> | undefined {
    if (lane.writtenAt !== now) {
      lane.writtenAt = now;
      lane.written = 0;
    }
    return ++lane.written <= BUFFERED_FRAMES ? undefined : Promise.resolve();
  }

  #finish(pair: Pair, end: MemoryStream): void {
    if (pair.retired) return;
    // Nothing more reaches the closed end.
    const inbound = end.peer === undefined ? undefined : laneFrom(pair, end.peer);
    inbound?.cancel();
    const lane = laneFrom(pair, end);
    if (lane !== undefined && end.peer !== undefined && !end.peer.closed) this.#enqueue(lane, undefined);
    this.#maybeRetire(pair);
  }

  #enqueue(lane: Lane, bytes: Uint8Array | undefined): void {
    const now = this.clock.monotonic();
    const from = lane.from.localAddress;
    const to = lane.to.localAddress;
    let at = now + this.latency(from, to, bytes?.byteLength ?? 0);
    // A close (FIN) never overtakes data, reordered data included.
    const last = lane.queue[lane.queue.length - 1];
    if (bytes === undefined && last !== undefined) at = Math.max(at, last.at);
    this.#place(lane, { at, bytes }, true);
  }

  /** Puts a flight into the lane's queue, kept sorted by delivery time (ties in arrival order). */
  #place(lane: Lane, flight: Flight, ordered: boolean): void {
    if (ordered) {
      flight.at = Math.max(flight.at, lane.lastAt);
      lane.lastAt = flight.at;
    }
    const q = lane.queue;
    if (q.length === 0 || q[q.length - 1]!.at <= flight.at) {
      q.push(flight);
    } else {
      let lo = 0;
      let hi = q.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (q[mid]!.at <= flight.at) lo = mid + 1;
        else hi = mid;
      }
      q.splice(lo, 0, flight);
    }
    if (lane.timer === undefined) this.#schedule(lane);
    else if (q[0] === flight) {
      // It overtook the frame the lane's timer waits for.
      lane.timer.cancel();
      this.#schedule(lane);
    }
  }

  #schedule(lane: Lane): void {
    const head = lane.queue[0];
    if (head === undefined) return;
    lane.timer = lane.clock.setTimeout(lane.onDue, Math.max(0, head.at - this.clock.monotonic()));
  }

  readonly #fireLane = (lane: Lane): void => this.#fire(lane);

  #fire(lane: Lane): void {
    lane.timer = undefined;
    const now = this.clock.monotonic();
    // The head is due (its timer fired); so is everything behind it with the same or an earlier time.
    let first = true;
    while (lane.queue.length > 0 && (first || lane.queue[0]!.at <= now)) {
      first = false;
      const flight = lane.queue.shift()!;
      this.#arrive(lane, flight);
      if (lane.to.closed) {
        lane.cancel();
        return;
      }
    }
    if (lane.timer === undefined) this.#schedule(lane);
  }

  #arrive(lane: Lane, flight: Flight): void {
    const from = lane.from.localAddress;
    const to = lane.to.localAddress;
    if ((this.#partitions.size > 0 || this.#cuts.size > 0) && this.#cutMode(from, to) === "blackhole") return;
    if (flight.bytes === undefined) {
      lane.to.end(undefined);
      return;
    }
    for (const observer of this.#observers) observer({ from, to, bytes: flight.bytes, streamId: lane.from.id });
    lane.to.deliver(flight.bytes);
  }

  #reset(pair: Pair, err: Error): void {
    pair.dialerLane.cancel();
    pair.acceptorLane.cancel();
    pair.dialer.end(err);
    pair.acceptor.end(err);
    this.#maybeRetire(pair);
  }

  #maybeRetire(pair: Pair): void {
    if (!pair.dialer.closed || !pair.acceptor.closed) return;
    pair.dialerLane.cancel();
    pair.acceptorLane.cancel();
    if (!this.#pairs.delete(pair)) return;
    pair.retired = true;
    this.#pairsOf.get(pair.dialerTransport)?.delete(pair);
    this.#pairsOf.get(pair.acceptorTransport)?.delete(pair);
  }

  #pairsBetween(a: string, b: string): Pair[] {
    return [...this.#pairs].filter(
      (p) =>
        (p.dialer.localAddress === a && p.acceptor.localAddress === b) || (p.dialer.localAddress === b && p.acceptor.localAddress === a),
    );
  }
}
