/**
 * Several GossipChannels of one channel wired together through fake adapters: each `send`, `gossip`,
 * `forward` and `respond` becomes envelope bytes delivered to the other channel's handleMessage after a
 * clock timeout, as a node would do it. The push routing is a simplified version of the node's:
 * blocks go to same-org peers, StateInfo to every peer; a forward excludes the sender.
 */
import { type OrgIdentityType, type PKIidType, pkiHex, type RemotePeer } from "../../../../src/api/index.js";
import { createGossipChannel, type GossipChannel, type JoinChannelMessage } from "../../../../src/gossip/channel/index.js";
import { MemoryLogger } from "../../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../../src/metrics/index.js";
import { type ReceivedMessage, SignedGossipMessage } from "../../../../src/protoext/index.js";
import type { GossipMessage } from "../../../../src/protos/gen/gossip/message.pb.js";
import { bytesEqual, ManualClock, SeededRandom, type TimerHandle } from "../../../../src/util/index.js";
import { CHANNEL, FakeAdapter, pki, TEST_CONFIG, TestMcs } from "./harness.js";

export const LATENCY_MS = 5;

export interface NetNode {
  readonly name: string;
  readonly pkiId: PKIidType;
  readonly org: OrgIdentityType;
  readonly endpoint: string;
  readonly adapter: WiredAdapter;
  readonly mcs: TestMcs;
  readonly gc: GossipChannel;
}

/** Kinds of messages on the wire, for assertions. */
export interface WireRecord {
  from: string;
  to: string;
  via: "send" | "gossip" | "forward" | "respond";
  kind: string;
}

class WiredAdapter extends FakeAdapter {
  constructor(
    readonly net: ChannelNet,
    readonly self: string,
  ) {
    super();
  }

  override gossip(msg: SignedGossipMessage): void {
    super.gossip(msg);
    this.net.push(this.self, msg, "gossip");
  }

  override forward(msg: ReceivedMessage): void {
    super.forward(msg);
    this.net.push(this.self, msg.message, "forward", msg.connectionInfo.id);
  }

  override send(msg: SignedGossipMessage, ...peers: RemotePeer[]): void {
    super.send(msg, ...peers);
    for (const peer of peers) this.net.deliver(this.self, this.net.nameOf(peer.pkiId), msg, "send");
  }
}

export class ChannelNet {
  readonly clock = new ManualClock(0);
  readonly nodes = new Map<string, NetNode>();
  readonly wire: WireRecord[] = [];
  /** Push StateInfo with gossip (default true); when false, peers learn StateInfo by pull only. */
  pushStateInfo = true;
  readonly #inFlight = new Set<TimerHandle>();
  readonly #orgs = new Map<string, OrgIdentityType>();

  /** Adds a node; every node sees every other as an alive member with an external endpoint. */
  add(name: string, org: OrgIdentityType, joinMsg: JoinChannelMessage, seed = this.nodes.size + 1): NetNode {
    const pkiId = pki(name);
    const adapter = new WiredAdapter(this, name);
    const mcs = new TestMcs();
    this.#orgs.set(pkiHex(pkiId), org);
    const gc = createGossipChannel(
      {
        pkiId,
        org,
        channelId: CHANNEL,
        adapter,
        joinMsg,
        clock: this.clock,
        random: new SeededRandom(seed),
        logger: new MemoryLogger(name),
        metrics: memoryMetricsProvider(),
        mcs,
      },
      TEST_CONFIG,
    );
    const node: NetNode = { name, pkiId, org, endpoint: `${name}:7051`, adapter, mcs, gc };
    this.nodes.set(name, node);
    this.#rewire();
    return node;
  }

  node(name: string): NetNode {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  nameOf(pkiId: PKIidType): string {
    for (const n of this.nodes.values()) if (bytesEqual(n.pkiId, pkiId)) return n.name;
    throw new Error(`unknown peer ${pkiHex(pkiId)}`);
  }

  /** Every adapter knows every node's org and sees all the other nodes. */
  #rewire(): void {
    for (const n of this.nodes.values()) {
      n.adapter.members = [];
      for (const [hex, org] of this.#orgs) n.adapter.orgs.set(hex, org);
      for (const other of this.nodes.values()) {
        if (other === n) {
          n.adapter.known.set(pkiHex(n.pkiId), { pkiId: n.pkiId, endpoint: n.endpoint, internalEndpoint: n.endpoint, metadata: new Uint8Array(0) });
          continue;
        }
        n.adapter.members.push({ pkiId: other.pkiId, endpoint: other.endpoint, internalEndpoint: other.endpoint, metadata: new Uint8Array(0) });
      }
    }
  }

  async startAll(): Promise<void> {
    for (const n of this.nodes.values()) await n.gc.start();
  }

  async stop(): Promise<void> {
    for (const n of this.nodes.values()) await n.gc.stop();
    for (const t of this.#inFlight) t.cancel();
    this.#inFlight.clear();
  }

  /** The node's push routing: blocks to same-org peers, StateInfo to all (if enabled), never back to `exclude`. */
  push(from: string, msg: SignedGossipMessage, via: "gossip" | "forward", exclude?: PKIidType): void {
    const kind = msg.message.content?.$case;
    if (kind === "stateInfo" && !this.pushStateInfo) return;
    const sender = this.node(from);
    for (const n of this.nodes.values()) {
      if (n === sender || (exclude !== undefined && bytesEqual(n.pkiId, exclude))) continue;
      if (kind === "dataMsg" && !bytesEqual(n.org, sender.org)) continue;
      this.deliver(from, n.name, msg, via);
    }
  }

  /** Delivers envelope bytes to `to` after LATENCY_MS, decoded again as a peer would receive them. */
  deliver(from: string, to: string, msg: SignedGossipMessage, via: WireRecord["via"]): void {
    this.wire.push({ from, to, via, kind: msg.message.content?.$case ?? "none" });
    const bytes = msg.bytes;
    const timer = this.clock.setTimeout(() => {
      this.#inFlight.delete(timer);
      const target = this.nodes.get(to);
      if (target === undefined) return;
      target.gc.handleMessage(this.#received(SignedGossipMessage.fromEnvelopeBytes(bytes), from, to));
    }, LATENCY_MS);
    this.#inFlight.add(timer);
  }

  #received(message: SignedGossipMessage, from: string, to: string): ReceivedMessage {
    const sender = this.node(from);
    return {
      message,
      connectionInfo: { id: sender.pkiId, identity: sender.pkiId, endpoint: sender.endpoint, auth: undefined },
      respond: (reply: GossipMessage) => this.deliver(to, from, SignedGossipMessage.noopSign(reply), "respond"),
      ack: () => {},
    };
  }
}
