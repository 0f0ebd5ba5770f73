/**
 * An in-memory network of discovery instances in virtual time, modelled on the dummy comm module of
 * Fabric's discovery_test.go. Every message travels as envelope bytes through a ManualClock timeout.
 * The harness plays the Node's part: the discovery adapters (push with a fan-out, forward excluding
 * the sender, the disclosure envelope filter on gossip and on MembershipRequests), the
 * "self information PKI-ID equals the connection's PKI-ID" check on MembershipRequests, and the
 * handshake-based identifier of `connect`. Crypto has the development MCS's semantics: an identity is
 * its endpoint's bytes and its own PKI-ID, a signature equals the signed bytes.
 */
import type { PKIidType } from "../../../src/api/identity.js";
import type { PeerEventSink } from "../../../src/api/index.js";
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
  preferredEndpoint,
} from "../../../src/discovery/index.js";
import { type Logger, silentLogger } from "../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../src/metrics/index.js";
import type { ReceivedMessage } from "../../../src/protoext/received-message.js";
import { SignedGossipMessage } from "../../../src/protoext/signed-message.js";
import { Envelope, type GossipMessage } from "../../../src/protos/gen/gossip/message.pb.js";
import { bytesEqual, fromUtf8, utf8 } from "../../../src/util/bytes.js";
import type { TimerHandle } from "../../../src/util/clock.js";
import { ManualClock } from "../../../src/util/manual-clock.js";
import { SeededRandom } from "../../../src/util/random.js";

/** Fabric's defaultTestConfig: 300 ms heartbeats, 3 s expiration, 300 ms checks, 3 s reconnect. */
export const TEST_OPTIONS: Partial<DiscoveryOptions> = Object.freeze({
  aliveTimeIntervalMs: 300,
  aliveExpirationTimeoutMs: 3_000,
  aliveExpirationCheckIntervalMs: 300,
  reconnectIntervalMs: 3_000,
  maxConnectionAttempts: 120,
  msgExpirationFactor: 20,
});

export interface NodeSpec {
  /** The internal endpoint, also the PKI-ID and identity (UTF-8). Required. */
  endpoint: string;
  /** The external endpoint; defaults to the internal one, "" publishes none. */
  externalEndpoint?: string;
  org?: string;
  bootstrap?: string[];
  /** Push heartbeats and forward alive messages (Fabric's shouldGossip). Default true. */
  gossip?: boolean;
  /** Defaults to the network's policy factory, or disclose everything. */
  disclosurePolicy?: DisclosurePolicy;
  anchorPeerTracker?: AnchorPeerTracker;
  options?: Partial<DiscoveryOptions>;
  logger?: Logger;
  /** The PKI-ID and identity (UTF-8) when not the endpoint's: a twin names another node's. */
  identity?: string;
  /** Where discovery's typed events go. */
  events?: PeerEventSink;
}

export interface NodeStats {
  signs: number;
  validations: number;
  sent: { to: string; kind: string; msg: SignedGossipMessage }[];
  pings: string[];
  closed: string[];
  received: number;
}

function kindOf(msg: GossipMessage): string {
  return msg.content?.$case ?? "none";
}

export class TestNode {
  readonly pkiId: PKIidType;
  readonly org: string;
  disc: Discovery | undefined;
  up = false;
  stats: NodeStats = { signs: 0, validations: 0, sent: [], pings: [], closed: [], received: 0 };
  readonly #handlers = new Set<(msg: ReceivedMessage) => void>();
  readonly #deadListeners = new Set<(pkiId: PKIidType, endpoint?: string) => void>();
  readonly #switchListeners = new Set<(pkiId: PKIidType) => void>();
  /** Incarnations started so far. */
  incarnations = 0;

  constructor(
    readonly net: TestNetwork,
    readonly spec: NodeSpec,
  ) {
    this.pkiId = utf8(spec.identity ?? spec.endpoint);
    this.org = spec.org ?? "ORG1";
  }

  get endpoint(): string {
    return this.spec.endpoint;
  }

  get externalEndpoint(): string {
    return this.spec.externalEndpoint ?? this.spec.endpoint;
  }

  get d(): Discovery {
    if (this.disc === undefined) throw new Error(`${this.endpoint} was never started`);
    return this.disc;
  }

  policy(): DisclosurePolicy {
    return this.spec.disclosurePolicy ?? this.net.policyFor?.(this) ?? NOOP_DISCLOSURE_POLICY;
  }

  /** Starts a new incarnation (a new inc_num) and connects it to its bootstrap peers. */
  async start(): Promise<void> {
    if (this.up) return;
    const net = this.net;
    const mcs = new DevMessageCryptoService();
    const adapter = createDiscoverySecurityAdapter({
      mcs,
      identities: {
        put: (pkiId, identity) => {
          if (!bytesEqual(mcs.getPKIidOfCert(identity), pkiId)) throw new Error("identity does not match the PKI-ID");
        },
        // The development identity of a PKI-ID is the PKI-ID itself.
        get: (pkiId) => pkiId,
      },
      selfIdentity: this.pkiId,
      clock: net.clock,
      logger: silentLogger,
    });
    const crypto: CryptoService = {
      signMessage: (msg, internalEndpoint) => {
        this.stats.signs++;
        return adapter.signMessage(msg, internalEndpoint);
      },
      validateAliveMsg: (msg) => {
        this.stats.validations++;
        return adapter.validateAliveMsg(msg);
      },
    };
    const self: NetworkMember = {
      endpoint: this.externalEndpoint,
      internalEndpoint: this.endpoint,
      pkiId: this.pkiId,
      metadata: new Uint8Array(0),
    };
    const bootstrap = this.spec.bootstrap ?? [];
    this.disc = createDiscovery(
      self,
      {
        clock: net.clock,
        random: net.random,
        logger: this.spec.logger ?? silentLogger,
        metrics: memoryMetricsProvider(),
        comm: this.#comm(),
        crypto,
        disclosurePolicy: this.policy(),
        anchorPeerTracker: this.spec.anchorPeerTracker ?? NO_ANCHOR_PEERS,
        ...(this.spec.events !== undefined ? { events: this.spec.events } : {}),
      },
      { ...TEST_OPTIONS, ...net.options, ...this.spec.options, bootstrapPeers: bootstrap },
    );
    this.up = true;
    this.incarnations++;
    await this.disc.start();
    for (const endpoint of bootstrap) {
      this.disc.connect({ endpoint, internalEndpoint: endpoint, pkiId: new Uint8Array(0), metadata: new Uint8Array(0) }, () =>
        net.identify(this, endpoint),
      );
    }
  }

  /** Crashes the node: discovery stops and nothing reaches it any more. */
  async stop(): Promise<void> {
    this.up = false;
    await this.disc?.stop();
    this.#handlers.clear();
    this.#deadListeners.clear();
    this.#switchListeners.clear();
  }

  /** Comm reports `pkiId` presumed dead (a failed send or dial). */
  presumeDead(pkiId: PKIidType): void {
    for (const l of [...this.#deadListeners]) l(pkiId);
  }

  /** Comm reports an identity switch of `pkiId`. */
  identitySwitch(pkiId: PKIidType): void {
    for (const l of [...this.#switchListeners]) l(pkiId);
  }

  /** Delivers envelope bytes from `from`, doing the Node's checks first. */
  receive(bytes: Uint8Array, from: TestNode): void {
    if (!this.up) return;
    this.stats.received++;
    const msg = SignedGossipMessage.fromEnvelopeBytes(bytes);
    const content = msg.message.content;
    if (content?.$case === "memReq") {
      // The Node's anti-spoofing check: the self information must be the sender's own.
      const env = content.value.selfInformation;
      if (env === undefined) return;
      const self = SignedGossipMessage.fromEnvelope(env).message.content;
      const claimed = self?.$case === "aliveMsg" ? self.value.membership?.pkiId : undefined;
      if (claimed === undefined || !bytesEqual(claimed, from.pkiId)) {
        this.net.spoofsDropped++;
        return;
      }
    }
    this.inject(msg, from.pkiId, from.endpoint);
  }

  /** Hands a message to discovery as if it came from `fromPki` (no Node checks). */
  inject(msg: SignedGossipMessage, fromPki: PKIidType, fromEndpoint = ""): void {
    const rm: ReceivedMessage = {
      message: msg,
      connectionInfo: { id: fromPki, identity: fromPki, endpoint: fromEndpoint, auth: undefined },
      respond: () => {},
      ack: () => {},
    };
    for (const h of [...this.#handlers]) h(rm);
  }

  /** Pushes `msg` to up to `fanout` alive members that the disclosure policy lets see it. */
  #push(msg: SignedGossipMessage, exclude: PKIidType | undefined): void {
    const policy = this.policy();
    const targets = this.d.getMembership().filter((m) => {
      if (exclude !== undefined && bytesEqual(m.pkiId, exclude)) return false;
      return policy(m).sieve(msg);
    });
    const picked = this.net.random.shuffle(targets).slice(0, this.net.fanout);
    for (const target of picked) {
      const env = policy(target).envelopeFilter(msg);
      this.net.send(this, target, Envelope.encode(env).finish());
    }
  }

  #comm(): CommService {
    const shouldGossip = this.spec.gossip ?? true;
    return {
      gossip: (msg) => {
        if (shouldGossip) this.#push(msg, undefined);
      },
      forward: (rm) => {
        if (shouldGossip) this.#push(rm.message, rm.connectionInfo.id);
      },
      sendToPeer: (peer, msg) => {
        let out = msg;
        const content = msg.message.content;
        // The Node's discoveryAdapter applies the envelope filter to a MembershipRequest's self information.
        if (content?.$case === "memReq" && peer.pkiId.byteLength > 0 && content.value.selfInformation !== undefined) {
          const selfMsg = SignedGossipMessage.fromEnvelope(content.value.selfInformation);
          const filtered = this.policy()(peer).envelopeFilter(selfMsg);
          out = SignedGossipMessage.noopSign({ ...msg.message, content: { $case: "memReq", value: { ...content.value, selfInformation: filtered } } });
        }
        this.stats.sent.push({ to: preferredEndpoint(peer), kind: kindOf(msg.message), msg: out });
        this.net.send(this, peer, out.bytes);
      },
      ping: (peer) => {
        this.stats.pings.push(preferredEndpoint(peer));
        return this.net.ping(preferredEndpoint(peer));
      },
      accept: (handler) => {
        this.#handlers.add(handler);
        return () => this.#handlers.delete(handler);
      },
      onPresumedDead: (listener) => {
        this.#deadListeners.add(listener);
        return () => this.#deadListeners.delete(listener);
      },
      onIdentitySwitch: (listener) => {
        this.#switchListeners.add(listener);
        return () => this.#switchListeners.delete(listener);
      },
      closeConn: (peer) => {
        this.stats.closed.push(preferredEndpoint(peer));
      },
    };
  }

  /** PKI-IDs (as endpoint strings) of the alive view, sorted. */
  view(): string[] {
    return this.d
      .getMembership()
      .map((m) => fromUtf8(m.pkiId))
      .sort();
  }
}

export interface NetworkOptions {
  seed?: number;
  latencyMs?: number;
  /** Peers per push (Fabric's propagatePeerNum). Default 3. */
  fanout?: number;
  /** Discovery options for every node (over TEST_OPTIONS). */
  options?: Partial<DiscoveryOptions>;
  /** A failed send makes the sender's comm presume the target dead (the real comm does). Default false. */
  presumeDeadOnFailedSend?: boolean;
}

export class TestNetwork {
  readonly clock = new ManualClock(1_700_000_000_000);
  readonly random: SeededRandom;
  readonly latencyMs: number;
  readonly fanout: number;
  readonly options: Partial<DiscoveryOptions>;
  readonly presumeDeadOnFailedSend: boolean;
  readonly nodes: TestNode[] = [];
  /** A per-node disclosure policy factory, used when a spec names none. */
  policyFor: ((node: TestNode) => DisclosurePolicy) | undefined;
  spoofsDropped = 0;
  readonly #inflight = new Set<TimerHandle>();

  constructor(options: NetworkOptions = {}) {
    this.random = new SeededRandom(options.seed ?? 1);
    this.latencyMs = options.latencyMs ?? 2;
    this.fanout = options.fanout ?? 3;
    this.options = options.options ?? {};
    this.presumeDeadOnFailedSend = options.presumeDeadOnFailedSend ?? false;
  }

  add(spec: NodeSpec): TestNode {
    const node = new TestNode(this, spec);
    this.nodes.push(node);
    return node;
  }

  /** The node listening on `endpoint` (its internal or external endpoint). */
  at(endpoint: string): TestNode | undefined {
    return this.nodes.find((n) => n.endpoint === endpoint || (n.externalEndpoint !== "" && n.externalEndpoint === endpoint));
  }

  /** Runs `fn` after the network latency; the timer is cancelled by `shutdown()`. */
  after(fn: () => void, ms = this.latencyMs): void {
    const handle = this.clock.setTimeout(() => {
      this.#inflight.delete(handle);
      fn();
    }, ms);
    this.#inflight.add(handle);
  }

  send(from: TestNode, peer: NetworkMember, bytes: Uint8Array): void {
    const target = this.at(preferredEndpoint(peer));
    if (target === undefined || !target.up || (peer.pkiId.byteLength > 0 && !bytesEqual(peer.pkiId, target.pkiId))) {
      if (this.presumeDeadOnFailedSend && peer.pkiId.byteLength > 0) {
        const id = peer.pkiId;
        this.after(() => {
          if (from.up) from.presumeDead(id);
        });
      }
      return;
    }
    this.after(() => target.receive(bytes, from));
  }

  ping(endpoint: string): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      this.after(() => resolve(this.at(endpoint)?.up ?? false));
    });
  }

  /** The probe handshake of `connect`: the PKI-ID at `endpoint`, and whether it is in `from`'s org. */
  identify(from: TestNode, endpoint: string): Promise<{ id: PKIidType; selfOrg: boolean }> {
    return new Promise((resolve, reject) => {
      this.after(() => {
        const target = this.at(endpoint);
        if (target === undefined || !target.up) reject(new Error(`cannot reach ${endpoint}`));
        else resolve({ id: target.pkiId, selfOrg: target.org === from.org });
      });
    });
  }

  async startAll(): Promise<void> {
    for (const n of this.nodes) await n.start();
  }

  /** Stops every node and drops the messages still in flight. */
  async shutdown(): Promise<void> {
    for (const n of this.nodes) await n.stop();
    for (const t of this.#inflight) t.cancel();
    this.#inflight.clear();
  }

  /** Advances virtual time in steps until `pred` holds; returns the virtual ms it took, or throws. */
  async until(pred: () => boolean, limitMs: number, stepMs = 50): Promise<number> {
    const start = this.clock.monotonic();
    for (;;) {
      if (pred()) return this.clock.monotonic() - start;
      if (this.clock.monotonic() - start >= limitMs) throw new Error(`condition not met within ${limitMs} virtual ms`);
      await this.clock.advance(stepMs);
    }
  }
}

export function endpoints(prefix: string, n: number, base = 7000): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}:${base + i}`);
}
