import type { PeerEvent } from "../../../src/api/index.js";
/** One discovery instance against a CommService that records every call (for single-peer unit tests). */
import type { PKIidType } from "../../../src/api/identity.js";
import { DevMessageCryptoService } from "../../../src/crypto/dev-mcs.js";
import {
  type AnchorPeerTracker,
  type CommService,
  type CryptoService,
  createDiscovery,
  createDiscoverySecurityAdapter,
  type DisclosurePolicy,
  type Discovery,
  type DiscoveryOptions,
  NO_ANCHOR_PEERS,
  NOOP_DISCLOSURE_POLICY,
  type NetworkMember,
} from "../../../src/discovery/index.js";
import { type Logger, silentLogger } from "../../../src/logging/index.js";
import { createRegistry, promMetricsProvider, type Registry } from "../../../src/metrics/index.js";
import type { ReceivedMessage } from "../../../src/protoext/received-message.js";
import { SignedGossipMessage } from "../../../src/protoext/signed-message.js";
import { type Envelope, type GossipMessage, GossipMessage_Tag } from "../../../src/protos/gen/gossip/message.pb.js";
import { bytesEqual, fromUtf8, utf8 } from "../../../src/util/bytes.js";
import { ManualClock } from "../../../src/util/manual-clock.js";
import type { Clock } from "../../../src/util/clock.js";
import { SeededRandom } from "../../../src/util/random.js";
import { TEST_OPTIONS } from "./harness.js";

const EMPTY = new Uint8Array(0);
const devSign = (b: Uint8Array): Uint8Array => b;

export class RecordingComm implements CommService {
  gossiped: SignedGossipMessage[] = [];
  forwarded: ReceivedMessage[] = [];
  sent: { peer: NetworkMember; msg: SignedGossipMessage }[] = [];
  pinged: NetworkMember[] = [];
  closed: NetworkMember[] = [];
  /** Misbehaviour reported against senders: who (as text) and the code. */
  misbehaviours: { from: string; code: string }[] = [];
  /** What `ping` answers; a pending promise when undefined. */
  pingAnswer: ((peer: NetworkMember) => boolean) | undefined = () => false;
  handlers = new Set<(msg: ReceivedMessage) => void>();
  deadListeners = new Set<(pkiId: PKIidType, endpoint?: string) => void>();
  switchListeners = new Set<(pkiId: PKIidType) => void>();

  gossip(msg: SignedGossipMessage): void {
    this.gossiped.push(msg);
  }
  sendToPeer(peer: NetworkMember, msg: SignedGossipMessage): void {
    this.sent.push({ peer, msg });
  }
  ping(peer: NetworkMember): Promise<boolean> {
    this.pinged.push(peer);
    const answer = this.pingAnswer;
    if (answer === undefined) return new Promise<boolean>(() => {});
    return Promise.resolve(answer(peer));
  }
  accept(handler: (msg: ReceivedMessage) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }
  onPresumedDead(listener: (pkiId: PKIidType, endpoint?: string) => void): () => void {
    this.deadListeners.add(listener);
    return () => this.deadListeners.delete(listener);
  }
  onIdentitySwitch(listener: (pkiId: PKIidType) => void): () => void {
    this.switchListeners.add(listener);
    return () => this.switchListeners.delete(listener);
  }
  closeConn(peer: NetworkMember): void {
    this.closed.push(peer);
  }
  forward(msg: ReceivedMessage): void {
    this.forwarded.push(msg);
  }
  reportMisbehaviour(pkiId: PKIidType, code: string): void {
    this.misbehaviours.push({ from: fromUtf8(pkiId), code });
  }

  /** Delivers `msg` as received from `from`. */
  deliver(msg: SignedGossipMessage, from: PKIidType): ReceivedMessage {
    const rm: ReceivedMessage = {
      message: SignedGossipMessage.fromEnvelopeBytes(msg.bytes),
      connectionInfo: { id: from, identity: from, endpoint: fromUtf8(from), auth: undefined },
      respond: () => {},
      ack: () => {},
    };
    for (const h of [...this.handlers]) h(rm);
    return rm;
  }

  sentOf(kind: string): { peer: NetworkMember; msg: SignedGossipMessage }[] {
    return this.sent.filter((s) => s.msg.message.content?.$case === kind);
  }
}

/** A remote peer that builds (dev-signed) alive messages about itself. */
export class RemotePeer {
  readonly pkiId: PKIidType;
  seq = 0n;

  constructor(
    readonly endpoint: string,
    public incNum = 1_000n,
    readonly internalEndpoint = endpoint,
  ) {
    this.pkiId = utf8(endpoint);
  }

  /** The next alive message (seq + 1), signed, with the internal endpoint secret unless `secret` is false. */
  alive(opts: { secret?: boolean; metadata?: string; endpoint?: string; seq?: bigint } = {}): SignedGossipMessage {
    if (opts.seq === undefined) this.seq++;
    const msg: GossipMessage = {
      nonce: 0n,
      channel: EMPTY,
      tag: GossipMessage_Tag.EMPTY,
      content: {
        $case: "aliveMsg",
        value: {
          membership: { endpoint: opts.endpoint ?? this.endpoint, metadata: utf8(opts.metadata ?? ""), pkiId: this.pkiId },
          timestamp: { incNum: this.incNum, seqNum: opts.seq ?? this.seq },
          identity: EMPTY,
        },
      },
    };
    const signed = SignedGossipMessage.sign(msg, devSign);
    if (opts.secret === false) return signed;
    return signed.withSecret({ content: { $case: "internalEndpoint", value: this.internalEndpoint } }, devSign);
  }

  memReq(nonce = 0n, selfInfo: Envelope = this.alive().envelope, known: Uint8Array[] = []): SignedGossipMessage {
    return SignedGossipMessage.noopSign({
      nonce,
      channel: EMPTY,
      tag: GossipMessage_Tag.EMPTY,
      content: { $case: "memReq", value: { selfInformation: selfInfo, known } },
    });
  }
}

export function memRes(nonce: bigint, alive: SignedGossipMessage[], dead: SignedGossipMessage[] = []): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce,
    channel: EMPTY,
    tag: GossipMessage_Tag.EMPTY,
    content: { $case: "memRes", value: { alive: alive.map((m) => m.envelope), dead: dead.map((m) => m.envelope) } },
  });
}

export interface Fixture {
  clock: ManualClock;
  comm: RecordingComm;
  disc: Discovery;
  registry: Registry;
  self: NetworkMember;
  stats: { signs: number; validations: number };
  /** Every event discovery emitted, in order. */
  events: PeerEvent[];
}

export interface FixtureOptions {
  endpoint?: string;
  externalEndpoint?: string;
  options?: Partial<DiscoveryOptions>;
  disclosurePolicy?: DisclosurePolicy;
  anchorPeerTracker?: AnchorPeerTracker;
  logger?: Logger;
  /** Validation verdict override (after counting); default: the security adapter's. */
  validate?: (msg: SignedGossipMessage) => boolean;
  publishCertPeriodMs?: number;
  start?: boolean;
  /** The org of a PKI-ID (discovery's per-org quotas and log keys); default: none known. */
  orgOf?: (pkiId: PKIidType) => string | undefined;
  /** Replaces the recording comm (a subclass with other ping behaviour). */
  comm?: RecordingComm;
  /** The clock discovery sees, made from the fixture's ManualClock (which the test still advances). */
  wrapClock?: (clock: ManualClock) => Clock;
}

export async function fixture(opts: FixtureOptions = {}): Promise<Fixture> {
  const clock = new ManualClock(1_700_000_000_000);
  const comm = opts.comm ?? new RecordingComm();
  const endpoint = opts.endpoint ?? "self:7051";
  const pkiId = utf8(endpoint);
  const mcs = new DevMessageCryptoService();
  const adapter = createDiscoverySecurityAdapter(
    {
      mcs,
      identities: {
        put: (id, identity) => {
          if (!bytesEqual(id, identity)) throw new Error("identity does not match the PKI-ID");
        },
        get: (id) => id,
      },
      selfIdentity: pkiId,
      clock,
      logger: silentLogger,
    },
    opts.publishCertPeriodMs === undefined ? {} : { publishCertPeriodMs: opts.publishCertPeriodMs },
  );
  const stats = { signs: 0, validations: 0 };
  const crypto: CryptoService = {
    signMessage: (msg, internal) => {
      stats.signs++;
      return adapter.signMessage(msg, internal);
    },
    validateAliveMsg: (msg) => {
      stats.validations++;
      return opts.validate ? opts.validate(msg) : adapter.validateAliveMsg(msg);
    },
    checkAliveMsg: (msg) => {
      stats.validations++;
      if (opts.validate) return opts.validate(msg) ? "ok" : "forged";
      return adapter.checkAliveMsg!(msg);
    },
  };
  const self: NetworkMember = { endpoint: opts.externalEndpoint ?? endpoint, internalEndpoint: endpoint, pkiId, metadata: EMPTY };
  const registry = createRegistry();
  const events: PeerEvent[] = [];
  const disc = createDiscovery(
    self,
    {
      clock: opts.wrapClock?.(clock) ?? clock,
      random: new SeededRandom(42),
      logger: opts.logger ?? silentLogger,
      metrics: promMetricsProvider(registry),
      events: { emit: (e) => events.push(e) },
      comm,
      crypto,
      disclosurePolicy: opts.disclosurePolicy ?? NOOP_DISCLOSURE_POLICY,
      anchorPeerTracker: opts.anchorPeerTracker ?? NO_ANCHOR_PEERS,
      ...(opts.orgOf === undefined ? {} : { orgOf: opts.orgOf }),
    },
    { ...TEST_OPTIONS, ...opts.options },
  );
  if (opts.start ?? true) await disc.start();
  return { clock, comm, disc, registry, self, stats, events };
}

/** The alive message inside a gossiped/sent message or envelope. */
export function aliveOf(msg: SignedGossipMessage) {
  const c = msg.message.content;
  if (c?.$case !== "aliveMsg") throw new Error(`expected an alive message, got ${c?.$case}`);
  return c.value;
}
