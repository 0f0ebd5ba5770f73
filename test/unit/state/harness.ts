/**
 * Fakes for the state provider tests, modelled on Fabric's state_test.go: an in-memory ledger, and
 * a tiny network of fake gossip adapters that route state requests and responses point to point
 * (1 ms latency, in virtual time) and report each other's ledger heights as channel properties.
 */
import { type PKIidType, pkiHex, type RemotePeer } from "../../../src/api/index.js";
import type { NetworkMember } from "../../../src/discovery/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { createRegistry, promMetricsProvider, type Registry } from "../../../src/metrics/index.js";
import { type ReceivedMessage, SignedGossipMessage } from "../../../src/protoext/index.js";
import { Block } from "../../../src/protos/gen/common/common.pb.js";
import { type GossipMessage, GossipMessage_Tag, type Payload, type PvtDataPayload } from "../../../src/protos/gen/gossip/message.pb.js";
import {
  type LedgerAdapter,
  type StateGossipAdapter,
  StateProviderImpl,
  type StateProviderComponents,
  type StateProviderOptions,
} from "../../../src/state/index.js";
import { ManualClock, SeededRandom, utf8 } from "../../../src/util/index.js";

export const CHANNEL = "testchannel";
const EMPTY = new Uint8Array(0);

export function makeBlock(n: bigint): Block {
  return {
    header: { number: n, previousHash: utf8(`hash-${n - 1n}`), dataHash: utf8(`data-${n}`) },
    data: { data: [utf8(`tx-${n}`)] },
    metadata: { metadata: [] },
  };
}

export function makePayload(n: bigint | number): Payload {
  const seq = BigInt(n);
  return { seqNum: seq, data: Block.encode(makeBlock(seq)).finish(), privateData: [] };
}

export function dataMsg(n: bigint | number, channel = CHANNEL): GossipMessage {
  return {
    nonce: 0n,
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    channel: utf8(channel),
    content: { $case: "dataMsg", value: { payload: makePayload(n) } },
  };
}

/** An in-memory ledger: blocks 0 .. height-1. Commits must come in order; they can take virtual time. */
export class FakeLedger implements LedgerAdapter {
  readonly blocks: Block[] = [];
  readonly pvt = new Map<bigint, PvtDataPayload[] | undefined>();
  commitDelayMs = 0;
  failAt: bigint | undefined;
  pvtDataFor?: LedgerAdapter["pvtDataFor"];

  constructor(
    readonly clock: ManualClock,
    height = 1,
  ) {
    for (let i = 0n; i < BigInt(height); i++) this.blocks.push(makeBlock(i));
  }

  height(): bigint {
    return BigInt(this.blocks.length);
  }

  async commitBlock(block: Block, pvtData?: PvtDataPayload[]): Promise<void> {
    if (this.commitDelayMs > 0) await this.clock.sleep(this.commitDelayMs);
    const n = block.header!.number;
    if (n === this.failAt) throw new Error(`disk full at block ${n}`);
    if (n !== this.height()) throw new Error(`expected block ${this.height()}, got ${n}`);
    this.blocks.push(block);
    this.pvt.set(n, pvtData);
  }

  async getBlocks(from: bigint, to: bigint): Promise<Block[]> {
    const out: Block[] = [];
    for (let i = from; i <= to && i < this.height(); i++) out.push(this.blocks[Number(i)]!);
    return out;
  }

  committedNumbers(): bigint[] {
    return this.blocks.map((b) => b.header!.number);
  }
}

export interface Sent {
  msg: GossipMessage;
  to: RemotePeer[];
}

/** A fake gossip node for one peer: subscriptions, sent messages, published heights. */
export class FakeGossip implements StateGossipAdapter {
  readonly subs: Array<{ acceptor: (m: GossipMessage) => boolean; handler: (m: GossipMessage) => void }> = [];
  readonly direct: Array<{ acceptor: (m: ReceivedMessage) => boolean; handler: (m: ReceivedMessage) => void }> = [];
  readonly sent: Sent[] = [];
  readonly heights: bigint[] = [];
  /** Extra members with fixed heights (no provider behind them). */
  readonly extraMembers: NetworkMember[] = [];
  /** The height others see in this peer's StateInfo, when not its ledger's (a report not yet refreshed). */
  reported: bigint | undefined;

  constructor(
    readonly net: FakeNet | undefined,
    readonly name: string,
    readonly ledger: FakeLedger,
  ) {}

  get pkiId(): PKIidType {
    return utf8(this.name);
  }

  accept(acceptor: (m: GossipMessage) => boolean, handler: (m: GossipMessage) => void): () => void {
    const sub = { acceptor, handler };
    this.subs.push(sub);
    return () => this.subs.splice(this.subs.indexOf(sub), 1);
  }

  acceptPassThrough(acceptor: (m: ReceivedMessage) => boolean, handler: (m: ReceivedMessage) => void): () => void {
    const sub = { acceptor, handler };
    this.direct.push(sub);
    return () => this.direct.splice(this.direct.indexOf(sub), 1);
  }

  send(msg: GossipMessage, ...peers: RemotePeer[]): void {
    this.sent.push({ msg, to: peers });
    for (const p of peers) this.net?.route(this, p.pkiId, msg);
  }

  peersOfChannel(_channel: string): NetworkMember[] {
    const others = this.net?.peersExcept(this) ?? [];
    return [...others, ...this.extraMembers];
  }

  updateLedgerHeight(height: bigint, _channel: string): void {
    this.heights.push(height);
  }

  /** From now on others see `height` as this peer's, whatever its ledger holds. */
  reportHeight(height: bigint): void {
    this.reported = height;
  }

  /** Hands a block to the subscribers, as the channel demux does. */
  gossipIn(msg: GossipMessage): void {
    for (const s of [...this.subs]) if (s.acceptor(msg)) s.handler(msg);
  }

  /** Hands a direct message to pass-through subscribers, as comm does. */
  directIn(msg: ReceivedMessage): void {
    for (const s of [...this.direct]) if (s.acceptor(msg)) s.handler(msg);
  }

  stateRequests(): Array<{ start: bigint; end: bigint; nonce: bigint; msg: GossipMessage; to: RemotePeer[] }> {
    return this.sent.flatMap((s) =>
      s.msg.content?.$case === "stateRequest"
        ? [{ start: s.msg.content.value.startSeqNum, end: s.msg.content.value.endSeqNum, nonce: s.msg.nonce, msg: s.msg, to: s.to }]
        : [],
    );
  }
}

export function memberOf(name: string, height: bigint | undefined): NetworkMember {
  return {
    pkiId: utf8(name),
    endpoint: `${name}:7051`,
    internalEndpoint: `${name}:7051`,
    metadata: EMPTY,
    properties: height === undefined ? undefined : { ledgerHeight: height, leftChannel: false, chaincodes: [] },
  };
}

/** A received message from `from`; responses are collected in `responses` (and routed by the net when given). */
export function received(
  msg: GossipMessage,
  from: string,
  onRespond: (m: GossipMessage) => void = () => {},
): ReceivedMessage {
  return {
    message: SignedGossipMessage.noopSign(msg),
    connectionInfo: { id: utf8(from), identity: utf8(from), endpoint: `${from}:7051`, auth: undefined },
    respond: onRespond,
    ack: () => {},
  };
}

export function stateRequest(start: bigint, end: bigint, nonce = 7n, channel = CHANNEL): GossipMessage {
  return {
    nonce,
    tag: GossipMessage_Tag.CHAN_OR_ORG,
    channel: utf8(channel),
    content: { $case: "stateRequest", value: { startSeqNum: start, endSeqNum: end } },
  };
}

export function stateResponse(nonce: bigint, seqs: bigint[], channel = CHANNEL): GossipMessage {
  return {
    nonce,
    tag: GossipMessage_Tag.CHAN_OR_ORG,
    channel: utf8(channel),
    content: { $case: "stateResponse", value: { payloads: seqs.map((s) => makePayload(s)) } },
  };
}

/** Routes point-to-point messages between fake gossip adapters with 1 ms latency. */
export class FakeNet {
  readonly peers = new Map<string, FakeGossip>();
  /** Drops messages from `from` to `to` when it returns true. */
  drop: (from: string, to: string, msg: GossipMessage) => boolean = () => false;

  constructor(readonly clock: ManualClock) {}

  add(g: FakeGossip): void {
    this.peers.set(pkiHex(g.pkiId), g);
  }

  peersExcept(self: FakeGossip): NetworkMember[] {
    return [...this.peers.values()].filter((p) => p !== self).map((p) => memberOf(p.name, p.reported ?? p.ledger.height()));
  }

  route(from: FakeGossip, to: PKIidType, msg: GossipMessage): void {
    const target = this.peers.get(pkiHex(to));
    if (target === undefined || this.drop(from.name, target.name, msg)) return;
    this.clock.setTimeout(() => {
      target.directIn(received(msg, from.name, (reply) => this.route(target, from.pkiId, reply)));
    }, 1);
  }
}

export interface TestPeer {
  name: string;
  ledger: FakeLedger;
  gossip: FakeGossip;
  state: StateProviderImpl;
  metrics: Registry;
}

export class StateHarness {
  readonly clock = new ManualClock();
  readonly net = new FakeNet(this.clock);
  readonly peers: TestPeer[] = [];
  #seed = 1;

  async add(name: string, height: number, options: Partial<StateProviderOptions> = {}, start = true, mcs: StateProviderComponents["mcs"] = { verifyBlock: () => {} }): Promise<TestPeer> {
    const ledger = new FakeLedger(this.clock, height);
    const gossip = new FakeGossip(this.net, name, ledger);
    this.net.add(gossip);
    const metrics = createRegistry();
    const state = new StateProviderImpl(
      CHANNEL,
      {
        gossip,
        ledger,
        mcs,
        clock: this.clock,
        random: new SeededRandom(this.#seed++),
        logger: silentLogger,
        metrics: promMetricsProvider(metrics),
      },
      options,
    );
    const peer = { name, ledger, gossip, state, metrics };
    this.peers.push(peer);
    if (start) await state.start();
    return peer;
  }

  async stopAll(): Promise<void> {
    for (const p of this.peers) await p.state.stop();
  }
}
