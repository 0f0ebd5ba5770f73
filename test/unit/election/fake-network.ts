import assert from "node:assert/strict";
import { silentLogger } from "../../../src/logging/index.js";
import {
  type LeaderElectionAdapter,
  type LeaderElectionOptions,
  LeaderElectionServiceImpl,
  type Msg,
  type Peer,
} from "../../../src/election/index.js";
import { ManualClock, utf8 } from "../../../src/util/index.js";

/** A leadership message of the fake network. */
export interface FakeMsg extends Msg {
  readonly declaration: boolean;
}

function fakeMsg(senderId: Uint8Array, declaration: boolean): FakeMsg {
  return { senderId, declaration, isDeclaration: () => declaration, isProposal: () => !declaration };
}

/** One election service over the fake network, with what it did recorded. */
export class FakePeer implements LeaderElectionAdapter<FakeMsg> {
  readonly name: string;
  readonly id: Uint8Array;
  readonly #net: FakeNetwork;
  readonly #handlers = new Set<(m: FakeMsg) => void>();
  readonly svc: LeaderElectionServiceImpl<FakeMsg>;
  /** Whether the peer is up (started and not crashed). */
  up = false;
  /** Every callback invocation, in order. */
  readonly callbacks: boolean[] = [];
  /** Every reportMetrics value, in order. */
  readonly reports: boolean[] = [];
  sentProposals = 0;
  sentDeclarations = 0;
  /** When set, replaces the view (a test of the start-up stabilisation). */
  viewOverride: (() => Peer[]) | undefined;

  constructor(net: FakeNetwork, name: string, options: Partial<LeaderElectionOptions>) {
    this.#net = net;
    this.name = name;
    this.id = utf8(name);
    this.svc = new LeaderElectionServiceImpl(
      { adapter: this, clock: net.clock, logger: silentLogger, pkiId: this.id, onLeadershipChange: (b) => this.callbacks.push(b) },
      options,
    );
  }

  gossip(msg: FakeMsg): void {
    if (msg.declaration) this.sentDeclarations++;
    else this.sentProposals++;
    this.#net.send(this, msg);
  }
  accept(handler: (msg: FakeMsg) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }
  createMessage(isDeclaration: boolean): FakeMsg {
    return fakeMsg(this.id, isDeclaration);
  }
  peers(): Peer[] {
    if (this.viewOverride) return this.viewOverride();
    return this.#net.peersOf(this).map((p) => ({ id: p.id }));
  }
  reportMetrics(isLeader: boolean): void {
    this.reports.push(isLeader);
  }
  stop(): void {
    this.#handlers.clear();
  }

  /** A message arrives from the network. */
  deliver(msg: FakeMsg): void {
    for (const h of [...this.#handlers]) h(msg);
  }
  /** A message from an arbitrary sender, as if it came from the network now. */
  inject(senderId: Uint8Array, declaration: boolean): void {
    this.deliver(fakeMsg(senderId, declaration));
  }
  /** The last leadership status reported by the callback (false when never invoked). */
  get leaderFromCallback(): boolean {
    return this.callbacks.at(-1) ?? false;
  }
}

/** Fabric's election_test.go peers in virtual time: messages travel as clock timeouts. */
export class FakeNetwork {
  readonly clock = new ManualClock();
  readonly peers: FakePeer[] = [];
  readonly latencyMs: number;
  readonly #cut = new Set<string>();

  constructor(latencyMs = 2) {
    this.latencyMs = latencyMs;
  }

  /** Creates (and by default starts) peers with the given names. */
  async add(names: string[], options: Partial<LeaderElectionOptions> = {}, start = true): Promise<FakePeer[]> {
    const out = names.map((n) => new FakePeer(this, n, options));
    this.peers.push(...out);
    if (!start) return out;
    // Started together: every one of them is in the others' view from the first instant.
    for (const p of out) p.up = true;
    for (const p of out) await this.start(p);
    return out;
  }

  async start(p: FakePeer): Promise<void> {
    p.up = true;
    await p.svc.start();
  }

  /** A crash: the service stops and the peer leaves everyone's view. */
  async crash(p: FakePeer): Promise<void> {
    p.up = false;
    await p.svc.stop();
    p.stop();
  }

  connected(a: FakePeer, b: FakePeer): boolean {
    return a !== b && a.up && b.up && !this.#cut.has(`${a.name}|${b.name}`);
  }

  peersOf(p: FakePeer): FakePeer[] {
    return this.peers.filter((q) => this.connected(p, q));
  }

  send(from: FakePeer, msg: FakeMsg): void {
    for (const to of this.peersOf(from)) {
      this.clock.setTimeout(() => {
        if (this.connected(from, to)) to.deliver(msg);
      }, this.latencyMs);
    }
  }

  /** Cuts every link between the two groups (both ways). */
  partition(a: FakePeer[], b: FakePeer[]): void {
    for (const x of a) {
      for (const y of b) {
        this.#cut.add(`${x.name}|${y.name}`);
        this.#cut.add(`${y.name}|${x.name}`);
      }
    }
  }

  heal(): void {
    this.#cut.clear();
  }

  leaders(peers: FakePeer[] = this.peers): string[] {
    return peers.filter((p) => p.up && p.svc.isLeader()).map((p) => p.name);
  }

  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  /** Advances in steps until `pred` holds; returns the virtual ms it took, or fails after `limitMs`. */
  async until(what: string, pred: () => boolean, limitMs: number, stepMs = 10): Promise<number> {
    const start = this.clock.now();
    while (!pred()) {
      if (this.clock.now() - start > limitMs) assert.fail(`${what}: not within ${limitMs} ms of virtual time (leaders: ${this.leaders().join(",")})`);
      await this.clock.advance(stepMs);
    }
    return this.clock.now() - start;
  }

  /** Advances `ms` in steps, checking `invariant` after each. */
  async holds(what: string, invariant: () => boolean, ms: number, stepMs = 10): Promise<void> {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      await this.clock.advance(Math.min(stepMs, end - this.clock.now()));
      assert.ok(invariant(), `${what} broke at +${ms - (end - this.clock.now())} ms (leaders: ${this.leaders().join(",")})`);
    }
  }

  async stopAll(): Promise<void> {
    for (const p of this.peers) {
      await p.svc.stop();
      p.stop();
      p.up = false;
    }
    // In-flight deliveries are the network's, not the services': let them land.
    await this.clock.advance(this.latencyMs);
    assert.equal(this.clock.pendingTimers(), 0, "no timer left after every election service stopped");
  }
}
