import type { MessageCryptoService, PeerEvents, SecurityAdvisor } from "../api/index.js";
import { type PeerIdentityType, pkiHex } from "../api/index.js";
import { createGossipTransport, DEFAULT_GOSSIP_TRANSPORT, GossipPortTransport, type GossipTransportKind, type GrpcTlsOptions, type TlsTrustStore } from "../comm/grpc/index.js";
import type { Transport } from "../comm/index.js";
import { commOptionsOf, type GossipConfig, internalEndpointOf, socketLimitsOf } from "../config/index.js";
import type { MspOrgMaterial } from "../crypto/index.js";
import type { NetworkMember } from "../discovery/index.js";
import type { JoinChannelMessage } from "../gossip/channel/index.js";
import type { GossipNode, GossipNodeOptions } from "../gossip/node/index.js";
import type { Logger, LogLevels } from "../logging/index.js";
import { promMetricsProvider, Registry, registerFabricGossipMetrics, registerProcessMetrics } from "../metrics/index.js";
import { type Clock, errorMessage, FABRIC_GOSSIP_VERSION, fromUtf8, GossipError, type Random, SystemClock, SystemRandom, toHex, utf8 } from "../util/index.js";
import { AdminServer, type AdminTlsOptions } from "./admin-server.js";
import { peerDashboardSnapshot } from "./dashboard-snapshot.js";
import type { DashboardEndpointOptions } from "./dashboard-stream.js";
import { createPvtDataViews } from "./pvtdata-view.js";
import { EventLog } from "./event-log.js";
import { channelJoinBlockOf } from "./channel-block.js";
import { type ChannelDefinition, ChannelRegistry } from "./channel-definition.js";
import { type GossipService, type GossipServiceComponents, type GossipServiceOptions, createGossipService } from "./gossip-service.js";
import type { ChannelPeerView, ChannelStatusView, DuplicateIdentityView, MembershipView, PeerView } from "./membership-view.js";

/** How long /v1/membership keeps reporting an identity seen run by two processes. */
const DUPLICATE_REPORT_MS = 10 * 60_000;

/** Why a peer node could not start. */
export type PeerNodeErrorCode = "GOSSIP_LISTEN" | "ADMIN_LISTEN" | "BAD_STATE" | "NO_LEDGER";

/** A peer node failure: the listeners could not be opened, or the API was misused. */
export class PeerNodeError extends GossipError {
  declare readonly code: PeerNodeErrorCode;

  constructor(code: PeerNodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** What a peer node is built from: its crypto and, optionally, its clock, randomness, registry and transport. */
export interface PeerNodeComponents {
  mcs: MessageCryptoService;
  securityAdvisor: SecurityAdvisor;
  selfIdentity: PeerIdentityType;
  logger: Logger;
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: the system's randomness. */
  random?: Random;
  /** The peer's metrics registry (served on /metrics). Default: a new one. */
  metrics?: Registry;
  /** The levels of `logger` and its children: the admin endpoint's /logspec reads and changes them. */
  logLevels?: LogLevels;
  /** Default: the gossip port's gRPC (`PeerNodeOptions.grpcTransport`) on `listenAddress`, with TLS when `tls` is given. */
  transport?: Transport;
  /**
   * The TLS CAs that `transport` trusts, for the service to add each joined channel's orgs' TLS CAs
   * to. Default: the given gRPC transport's, or that of the one built from `options.tls`.
   */
  tlsTrust?: TlsTrustStore;
  /**
   * What the full peer (ledger, state, election, deliver per channel) needs beyond the gossip node;
   * required when `PeerNodeOptions.service` is given. `channels` must be the registry whose
   * resolvers the MCS was built with.
   */
  service?: Pick<GossipServiceComponents, "signer" | "deliverConnector" | "ledgers"> & {
    channels: ChannelRegistry;
    /** Adds orgs' MSPs to those the peer's MCS trusts (a channel joined at run time brings its orgs). */
    trustOrgs?: (orgs: readonly MspOrgMaterial[]) => void;
  };
}

/** A peer node's settings. */
export interface PeerNodeOptions {
  /** Where gRPC (gossip.Gossip) listens, "host:port". Also the internal endpoint unless peer.gossip.endpoint is set. */
  listenAddress: string;
  /** The validated peer.gossip configuration (config/loadGossipConfig). */
  config: GossipConfig;
  /** Mutual TLS for the gossip port; plaintext when absent. Ignored when a transport is given. */
  tls?: GrpcTlsOptions;
  /**
   * The gossip port's gRPC implementation, when no transport is given: "grpc-js", or "http2" (gRPC written on
   * Node's http2 directly, the same wire). Default DEFAULT_GOSSIP_TRANSPORT.
   */
  grpcTransport?: GossipTransportKind;
  /** Channels to join at start. */
  channels: readonly string[];
  /** The member orgs (MSP IDs) of every channel joined; there are no anchor peers (no config block yet). */
  channelOrgs: readonly string[];
  /** Admin HTTP endpoint ("host:port", port 0 picks one): /healthz, /metrics, /v1/membership, /v1/channels, /v1/events. None when absent. */
  admin?: string;
  /** HTTPS for the admin endpoint (Fabric's operations.tls.*). Absent: plain HTTP. */
  adminTls?: AdminTlsOptions;
  /**
   * Serve the process and Node.js runtime metrics (CPU, memory, file descriptors, event loop lag, GC) on
   * /metrics beside the gossip ones, as Fabric's operations endpoint does: for a peer that owns its process.
   */
  processMetrics?: boolean;
  /**
   * The full peer: a GossipService around the node, and the channels it initializes (ledger, state,
   * leader election or static leader, the leader's Deliver client). Absent: gossip only.
   */
  service?: {
    options: GossipServiceOptions;
    channels: readonly ChannelDefinition[];
    /** The genesis block of a channel to start its empty ledger with (`--channel-block`); absent: fetched from its orderers. */
    genesisBlocks?: ReadonlyMap<string, Uint8Array>;
  };
}

/**
 * Fabric's gossip.Config from the peer.gossip configuration (what gossip/service does with viper),
 * with the internal endpoint given.
 */
export function gossipNodeOptionsOf(c: GossipConfig, internalEndpoint: string): GossipNodeOptions {
  return {
    internalEndpoint,
    externalEndpoint: c.externalEndpoint,
    bootstrapPeers: [...c.bootstrap],
    propagateIterations: c.propagateIterations,
    propagatePeerNum: c.propagatePeerNum,
    maxPropagationBurstSize: c.maxPropagationBurstSize,
    maxPropagationBurstLatencyMs: c.maxPropagationBurstLatencyMs,
    pullIntervalMs: c.pullIntervalMs,
    pullPeerNum: c.pullPeerNum,
    digestWaitTimeMs: c.digestWaitTimeMs,
    requestWaitTimeMs: c.requestWaitTimeMs,
    responseWaitTimeMs: c.responseWaitTimeMs,
    publishStateInfoIntervalMs: c.publishStateInfoIntervalMs,
    requestStateInfoIntervalMs: c.requestStateInfoIntervalMs,
    publishCertPeriodMs: c.publishCertPeriodMs,
    maxBlockCountToStore: c.maxBlockCountToStore,
    aliveTimeIntervalMs: c.aliveTimeIntervalMs,
    aliveExpirationTimeoutMs: c.aliveExpirationTimeoutMs,
    reconnectIntervalMs: c.reconnectIntervalMs,
    maxConnectionAttempts: c.maxConnectionAttempts,
    msgExpirationFactor: c.msgExpirationFactor,
    leaderAliveThresholdMs: c.election.leaderAliveThresholdMs,
    membershipTrackerIntervalMs: c.membershipTrackerIntervalMs,
    blockPullIntervalMs: c.blockPullIntervalMs,
    pullWaitsFollowRtt: c.pullWaitsFollowRtt,
    membershipDelta: c.membershipDelta,
    startupSync: c.startupSync,
    stateInfoPullWhenMissing: c.stateInfoPullWhenMissing,
    livenessFromTraffic: c.livenessFromTraffic,
    aliveFollowsFabricPeers: c.aliveFollowsFabricPeers,
    comm: commOptionsOf(c),
    preferDirectMembers: c.limits.preferDirectMembers,
    discoveryLimits: {
      maxMembersPerResponse: c.limits.maxMembersPerResponse,
      maxMemberEntriesPerSenderPerInterval: c.limits.maxMemberEntriesPerSender,
      maxNewMembersPerOrgPerInterval: c.limits.maxNewMembersPerOrg,
      memberQuotaIntervalMs: c.limits.memberQuotaIntervalMs,
      maxKnownMembersPerOrg: c.limits.maxKnownMembersPerOrg,
      maxKnownMembers: c.limits.maxKnownMembers,
      maxReconnectPingsInFlight: c.limits.maxReconnectPings,
      ...(c.limits.maxReconnectBackoffMs > 0 ? { maxReconnectBackoffMs: c.limits.maxReconnectBackoffMs } : {}),
    },
  };
}

/**
 * A join message for a channel whose config block we do not have: the given orgs are its members,
 * none has anchor peers. Fabric's peer builds one from the channel config (JoinChannelMessage).
 */
export function staticJoinMessage(orgs: readonly string[], sequenceNumber = 1): JoinChannelMessage {
  const members = [...new Set(orgs)];
  return {
    sequenceNumber,
    members: () => members.map((o) => utf8(o)),
    anchorPeersOf: () => [],
  };
}

/** What {@link membershipViewOf} reads from a node. */
export type MembershipSource = Pick<GossipNode, "selfMembershipInfo" | "peers" | "deadMembers" | "orgOfPeer" | "channels" | "peersOfChannel">;

/** The admin API's view of what a node knows: itself, alive and dead peers, and channel members. */
export function membershipViewOf(node: MembershipSource, selfOrg: string): MembershipView {
  const view = (m: NetworkMember, org?: string): PeerView => ({
    endpoint: m.endpoint,
    internalEndpoint: m.internalEndpoint,
    org: org ?? fromUtf8(node.orgOfPeer(m.pkiId)),
    pkiId: pkiHex(m.pkiId),
  });
  const channels: Record<string, ChannelPeerView[]> = {};
  for (const ch of node.channels()) {
    channels[ch] = node.peersOfChannel(ch).map((m) => ({
      ...view(m),
      ledgerHeight: Number(m.properties?.ledgerHeight ?? 0n),
      leftChannel: m.properties?.leftChannel ?? false,
    }));
  }
  return {
    self: view(node.selfMembershipInfo(), selfOrg),
    alive: node.peers().map((m) => view(m)),
    dead: node.deadMembers().map((m) => view(m)),
    channels,
  };
}

/**
 * A runnable peer process's core: a gRPC transport (unless one is given), the gossip service
 * (which composes the node and, for a full peer, the channels' ledgers, state, election and
 * deliver), gossip-only channels (ledger height 1, no ledger) and the admin HTTP endpoint. Start
 * and stop are idempotent; stop undoes start in reverse order.
 */
export class PeerNode {
  readonly #log: Logger;
  readonly #options: PeerNodeOptions;
  readonly #node: GossipNode;
  readonly #admin: AdminServer | undefined;
  readonly #selfOrg: string;
  readonly #internalEndpoint: string;
  readonly #service: GossipService;
  readonly #fullPeer: boolean;
  readonly #eventLog: EventLog;
  readonly #clock: Clock;
  /** Identities seen run by two processes (duplicate-identity events), for /v1/membership. */
  readonly #duplicates = new Map<string, { endpoints: Set<string>; lastSeen: number }>();
  #state: "new" | "starting" | "started" | "stopped" = "new";
  #stopping: Promise<void> | undefined;

  constructor(components: PeerNodeComponents, options: PeerNodeOptions) {
    this.#options = options;
    this.#log = components.logger.child("peer");
    const clock = components.clock ?? new SystemClock();
    const metrics = promMetricsProvider(components.metrics ?? new Registry());
    // Fabric's 17 gossip metrics are on /metrics from the start, even those no part has updated yet.
    registerFabricGossipMetrics(metrics);
    this.#internalEndpoint = internalEndpointOf(options.config, options.listenAddress);
    const transport =
      components.transport ??
      createGossipTransport(options.grpcTransport ?? DEFAULT_GOSSIP_TRANSPORT, {
        listenAddress: options.listenAddress,
        tls: options.tls,
        logger: components.logger,
        clock,
        metrics,
        limits: socketLimitsOf(options.config.limits),
      });
    // The configured CAs, to which the service adds the TLS CAs of every channel joined (as Fabric's peer does).
    const tlsTrust = components.tlsTrust ?? (transport instanceof GossipPortTransport ? transport.trustStore : undefined);
    for (const r of tlsTrust?.rejected ?? []) this.#log.warn("a configured TLS CA certificate is not trusted: it does not parse", { reason: r.reason });
    const extra = components.service;
    if (options.service !== undefined && extra === undefined) {
      throw new PeerNodeError("BAD_STATE", "a full peer (options.service) needs components.service (signer, channel registry)");
    }
    this.#fullPeer = options.service !== undefined;
    this.#service = createGossipService(
      {
        transport,
        mcs: components.mcs,
        securityAdvisor: components.securityAdvisor,
        selfIdentity: components.selfIdentity,
        // A gossip-only peer never asks an orderer for anything: nothing is signed with this.
        signer: extra?.signer ?? { serialized: components.selfIdentity, sign: (msg) => components.mcs.sign(msg) },
        channels: extra?.channels ?? new ChannelRegistry(),
        clock,
        random: components.random ?? new SystemRandom(),
        logger: components.logger,
        metrics,
        ...(extra?.deliverConnector !== undefined ? { deliverConnector: extra.deliverConnector } : {}),
        ...(extra?.ledgers !== undefined ? { ledgers: extra.ledgers } : {}),
        ...(extra?.trustOrgs !== undefined ? { trustOrgs: extra.trustOrgs } : {}),
        ...(tlsTrust !== undefined ? { tlsTrust } : {}),
      },
      options.service?.options ?? { useLeaderElection: true, orgLeader: false },
      gossipNodeOptionsOf(options.config, this.#internalEndpoint),
    );
    this.#node = this.#service.node;
    this.#eventLog = new EventLog(this.#service.events, clock);
    this.#clock = clock;
    this.#service.events.on("duplicate-identity", (e) => this.#noteDuplicate(e.pkiId, e.endpoint));
    this.#selfOrg = fromUtf8(components.securityAdvisor.orgByPeerIdentity(components.selfIdentity));
    this.#admin =
      options.admin === undefined
        ? undefined
        : new AdminServer({
            listen: options.admin,
            ...(options.adminTls !== undefined ? { tls: options.adminTls } : {}),
            registry: metrics.registry,
            membership: () => this.membershipView(),
            channels: () => this.channelsView(),
            events: (since) => this.#eventLog.view(since),
            join: (block) => this.joinChannelBlock(block),
            distributePrivateData: (channel, txId, data, blockHeight) => this.#service.distributePrivateData(channel, txId, data, blockHeight),
            ...(this.#fullPeer
              ? {
                  privateDataViews: createPvtDataViews({
                    channel: (name) => ({ ledger: this.#service.ledger(name), pvt: this.#service.privateData(name) }),
                    localMspId: this.#selfOrg || undefined,
                  }),
                }
              : {}),
            logger: components.logger.child("peer.admin"),
            ...(components.logLevels !== undefined ? { logLevels: components.logLevels } : {}),
            version: { Version: FABRIC_GOSSIP_VERSION, CommitSHA: "unknown" },
            now: () => new Date(clock.now()),
            dashboard: this.#dashboardOptions(clock, metrics.registry, components.logger),
          });
    if (options.processMetrics === true) registerProcessMetrics(metrics.registry);
  }

  /** The admin endpoint's live dashboard: frames from what the endpoint already serves. */
  #dashboardOptions(clock: Clock, registry: Registry, logger: Logger): DashboardEndpointOptions {
    return {
      clock,
      logger: logger.child("peer.dashboard"),
      snapshot: () =>
        peerDashboardSnapshot({
          title: `fabric-gossip peer ${this.#internalEndpoint} (${this.#selfOrg})`,
          membership: () => this.membershipView(),
          channels: () => this.channelsView(),
          events: (since) => this.#eventLog.view(since),
          registry,
          now: () => clock.now(),
        }),
    };
  }

  /** The gossip node (for tests and for wiring further services). */
  get node(): GossipNode {
    return this.#node;
  }

  /** What the peer's parts tell as it happens: membership, leadership, commits, rejections. */
  get events(): PeerEvents {
    return this.#service.events;
  }

  /** The endpoint our org dials us at. */
  get internalEndpoint(): string {
    return this.#internalEndpoint;
  }

  /** The endpoint other orgs dial us at; empty when we are invisible to them. */
  get externalEndpoint(): string {
    return this.#options.config.externalEndpoint;
  }

  /** The admin endpoint once started ("host:port"), or undefined without one. */
  get adminAddress(): string | undefined {
    return this.#admin?.address;
  }

  /** The admin endpoint's URL once started ("http://host:port", or "https://..." with TLS), or undefined without one. */
  get adminUrl(): string | undefined {
    return this.#admin === undefined || this.#admin.address === "" ? undefined : this.#admin.url;
  }

  /** Our org as the security advisor tells it (the MSP ID). */
  get org(): string {
    return this.#selfOrg;
  }

  /** Our PKI-ID in lower-case hex. */
  get pkiId(): string {
    return pkiHex(this.#node.pkiId());
  }

  /** The full peer's service, when this node runs ledgers (options.service). */
  get service(): GossipService | undefined {
    return this.#fullPeer ? this.#service : undefined;
  }

  /** The channels with a ledger, as GET /v1/channels shows them (empty for a gossip-only peer). */
  channelsView(): ChannelStatusView[] {
    const svc = this.#service;
    return svc.channels().map((channel) => ({
      channel,
      height: Number(svc.ledgerHeight(channel)),
      lastBlockHash: toHex(svc.lastBlockHash(channel)),
      leader: svc.isLeader(channel),
      delivering: svc.isDelivering(channel),
      members: this.#node.peersOfChannel(channel).length,
      alive: this.#node.peers().length,
      orgs: svc.definition(channel).orgs.map((o) => o.mspId),
      orderers: [...svc.definition(channel).orderer.endpoints],
    }));
  }

  /**
   * Joins the channel of a genesis block at run time (Fabric's `peer channel join -b`; the admin
   * endpoint's POST /v1/channels/join): its orgs' MSPs become trusted, the ledger starts with it.
   * @throws PeerNodeError NO_LEDGER for a gossip-only peer; ChannelDefinitionError for a bad block;
   *   GossipServiceError CHANNEL_EXISTS and the rest of initializeChannel's.
   */
  async joinChannelBlock(block: Uint8Array): Promise<ChannelStatusView> {
    if (!this.#fullPeer) throw new PeerNodeError("NO_LEDGER", "this peer runs gossip only (no ledgers): start it with an MSP identity and ledgers to join channels");
    const joined = channelJoinBlockOf(block, "the join block");
    // The service trusts the MSPs the block's configuration defines.
    await this.#service.initializeChannel(joined.def, { genesisBlock: joined.block });
    const status = this.channelsView().find((c) => c.channel === joined.def.name);
    if (status === undefined) throw new PeerNodeError("BAD_STATE", `channel ${joined.def.name} was joined but is not initialized`);
    return status;
  }

  /** What the node knows now, as GET /v1/membership shows it. */
  membershipView(): MembershipView {
    const view = membershipViewOf(this.#node, this.#selfOrg);
    const now = this.#clock.now();
    const duplicates: DuplicateIdentityView[] = [];
    for (const [pkiId, d] of this.#duplicates) {
      if (now - d.lastSeen > DUPLICATE_REPORT_MS) this.#duplicates.delete(pkiId);
      else duplicates.push({ pkiId, endpoints: [...d.endpoints].sort(), lastSeen: new Date(d.lastSeen).toISOString() });
    }
    return duplicates.length === 0 ? view : { ...view, duplicates };
  }

  /** Remembers a duplicate-identity event for /v1/membership (a bounded map: one entry per identity, 1,000 at most). */
  #noteDuplicate(pkiId: string, endpoint: string): void {
    const d = this.#duplicates.get(pkiId) ?? { endpoints: new Set<string>(), lastSeen: 0 };
    if (endpoint !== "" && d.endpoints.size < 16) d.endpoints.add(endpoint);
    d.lastSeen = this.#clock.now();
    if (!this.#duplicates.has(pkiId) && this.#duplicates.size >= 1_000) return;
    this.#duplicates.set(pkiId, d);
  }

  /**
   * Starts gossip (listens, dials bootstrap peers), joins the channels, then opens the admin endpoint.
   * @throws PeerNodeError GOSSIP_LISTEN or ADMIN_LISTEN when a listener cannot be opened; what was
   *   started is stopped again.
   */
  async start(): Promise<void> {
    if (this.#state !== "new") {
      if (this.#state === "stopped") throw new PeerNodeError("BAD_STATE", "the peer node was stopped; create a new one to start again");
      return;
    }
    this.#state = "starting";
    try {
      try {
        await this.#service.start();
      } catch (err) {
        throw new PeerNodeError("GOSSIP_LISTEN", `cannot serve gossip on ${this.#options.listenAddress}: ${errorMessage(err)}`, { cause: err });
      }
      for (const def of this.#options.service?.channels ?? []) {
        const genesisBlock = this.#options.service?.genesisBlocks?.get(def.name);
        await this.#service.initializeChannel(def, genesisBlock === undefined ? {} : { genesisBlock });
      }
      const join = staticJoinMessage(this.#options.channelOrgs);
      for (const channel of new Set(this.#options.channels)) {
        this.#node.joinChan(join, channel);
        this.#node.updateLedgerHeight(1n, channel);
        // Our StateInfo goes out at once, as a Fabric peer's does when it joins a channel.
        this.#node.updateChaincodes([], channel);
      }
      if (this.#admin !== undefined) {
        try {
          await this.#admin.start();
        } catch (err) {
          throw new PeerNodeError("ADMIN_LISTEN", `cannot serve the admin endpoint on ${this.#options.admin}: ${errorMessage(err)}`, { cause: err });
        }
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.#state = "started";
    this.#log.info("peer started", {
      endpoint: this.#internalEndpoint,
      externalEndpoint: this.externalEndpoint,
      listen: this.#options.listenAddress,
      admin: this.adminAddress ?? null,
      adminTls: this.#options.adminTls !== undefined,
      org: this.#selfOrg,
      pkiId: this.pkiId,
      channels: [...new Set([...this.#options.channels, ...(this.#options.service?.channels ?? []).map((d) => d.name)])],
      leaderMode: this.#fullPeer ? this.#service.leaderMode : null,
      bootstrap: this.#options.config.bootstrap,
      tls: this.#options.tls !== undefined,
    });
  }

  /** Stops the admin endpoint, then the gossip node (channels, discovery, comm, transport). */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const wasStarted = this.#state === "started";
      this.#state = "stopped";
      await this.#admin?.stop();
      // The service stops its channels (election, deliver, state, ledger), then the node.
      await this.#service.stop();
      this.#eventLog.close();
      if (wasStarted) this.#log.info("peer stopped", { endpoint: this.#internalEndpoint });
    })();
    return this.#stopping;
  }
}
