import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { MessageCryptoService, PeerIdentityType, SecurityAdvisor } from "../api/index.js";
import { PeerEvents } from "../api/index.js";
import { type ChannelConfig, type ChannelConfigTracker, createChannelConfigTracker, lastConfigIndex } from "../channelconfig/index.js";
import type { TlsTrustStore } from "../comm/grpc/index.js";
import type { FrameDecoder, Transport } from "../comm/index.js";
import type { MspOrgMaterial } from "../crypto/index.js";
import {
  type DeliverClient,
  type DeliverClientOptions,
  type DeliverConnector,
  type DeliverSigner,
  type DeliverTlsOptions,
  createDeliverClient,
  fetchBlock,
} from "../deliver/index.js";
import {
  type LeaderElectionOptions,
  type LeaderElectionService,
  type LeaderMode,
  createLeaderElectionAdapter,
  createLeaderElectionService,
  createStaticLeaderService,
  resolveLeaderMode,
} from "../election/index.js";
import { createGossipNode, type GossipNode, type GossipNodeOptions } from "../gossip/node/index.js";
import type { BlockStoreOptions } from "../ledger/index.js";
import type { Logger } from "../logging/index.js";
import type { MetricsProvider } from "../metrics/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import { GossipMessage_Tag } from "../protos/gen/gossip/message.pb.js";
import type { Payload } from "../protos/gen/gossip/message.pb.js";
import { TxPvtReadWriteSetWithConfigInfo } from "../protos/gen/transientstore/transientstore.pb.js";
import {
  type CollectionsFile,
  createPrivdataMetrics,
  openPvtDataHandler,
  type PrivdataMetrics,
  type PvtDataHandler,
  type PvtDataHandlerOptions,
} from "../privdata/index.js";
import { type StateProvider, type StateProviderOptions, createStateProvider } from "../state/index.js";
import { type Clock, errorMessage, fromUtf8, type Random, utf8 } from "../util/index.js";
import { channelDefinitionOf, checkJoinBlock } from "./channel-block.js";
import { channelTlsCasOf } from "./channel-tls.js";
import { type ChannelDefinition, ChannelRegistry, joinMessageOf, mspMaterialsOf } from "./channel-definition.js";
import { GossipServiceError, type GossipServiceErrorCode } from "./errors.js";

export { GossipServiceError, type GossipServiceErrorCode };
import { blockHashAt, blockStoreLedgers, type ChannelLedger, type LedgerProvider, stateLedgerOf } from "./ledger.js";
import { ChannelTxValidation } from "./tx-validation.js";

/**
 * What a peer is built from. The service composes everything else from these: the gossip node
 * (comm, discovery, channels, pull) and, per channel, ledger, state, election and deliver client.
 * A real peer injects gRPC, the system clock and block stores; the simulator a memory transport,
 * the virtual clock, in-memory ledgers and its ordering service's connector: the same code runs.
 */
export interface GossipServiceComponents {
  /** How the node listens and dials (gRPC, or the simulator's memory network). */
  transport: Transport;
  /** Message crypto: signing and verification of gossip messages and blocks, PKI-IDs. */
  mcs: MessageCryptoService;
  securityAdvisor: SecurityAdvisor;
  /** This peer's serialized identity. */
  selfIdentity: PeerIdentityType;
  /** The peer's signing identity: signs the SeekInfo requests to the ordering service. */
  signer: DeliverSigner;
  /**
   * Where initialized channels are registered (give the same registry's resolvers to the MSP MCS).
   * Default: a new one.
   */
  channels?: ChannelRegistry;
  /** Opens each channel's ledger. Default: block stores under `options.ledgerRootDir`. */
  ledgers?: LedgerProvider;
  /** How deliver clients open Deliver streams. Default: gRPC, with `options.deliverTls`. */
  deliverConnector?: DeliverConnector;
  clock: Clock;
  random: Random;
  logger: Logger;
  metrics: MetricsProvider;
  /**
   * Adds or replaces orgs' MSPs among those the MCS trusts: a channel's configuration brings them
   * (with their CRLs) at join and at each config update. Absent: the MCS keeps what it was built with.
   */
  trustOrgs?: (orgs: readonly MspOrgMaterial[]) => void;
  /** Where the peer's parts tell what happens. Default: a new bus (read it from `events`). */
  events?: PeerEvents;
  /**
   * The TLS CAs the peer trusts (its gRPC transport's): each channel's orgs' TLS CAs are set at join
   * and at each config update, and the channel's Deliver client dials its orderers with their orgs'
   * TLS CAs in force (added to `options.deliverTls.rootCAs`). Absent: TLS trust is only what is configured.
   */
  tlsTrust?: TlsTrustStore;
  /** How comm decodes received frames (CommComponents.decodeFrame). */
  decodeFrame?: FrameDecoder;
}

/** The service's settings, plain data (Fabric's `ServiceConfig` plus the per-part configs). */
export interface GossipServiceOptions {
  /** peer.gossip.useLeaderElection */
  useLeaderElection: boolean;
  /** peer.gossip.orgLeader */
  orgLeader: boolean;
  /** peer.gossip.election.* */
  election?: Partial<LeaderElectionOptions>;
  /** peer.gossip.state.* (useLeaderElection and orgLeader are taken from above). */
  state?: Partial<StateProviderOptions>;
  /** peer.deliveryclient.* (yieldLeadership follows the leader mode). */
  deliver?: Partial<DeliverClientOptions>;
  /** TLS toward the ordering service; plaintext when absent. */
  deliverTls?: DeliverTlsOptions;
  /** The folder of the ledgers (one block store per channel in `<ledgerRootDir>/<channel>`) when no LedgerProvider is given. */
  ledgerRootDir?: string;
  blockStore?: BlockStoreOptions;
  /** Dial timeout of the one-off genesis block request. Default 5000 ms. */
  genesisDialTimeoutMs?: number;
  /** peer.gossip.pvtData.* (defaults: Fabric's sample core.yaml values). */
  pvtData?: PvtDataServiceOptions;
  /**
   * Collections of chaincodes from collections_config.json files, for chaincodes without a definition on the
   * chain (a committed definition wins). `channel` absent: every channel.
   */
  collectionsFiles?: readonly CollectionsFileOption[];
}

/** `peer.gossip.pvtData.*` as the service takes them (gossip/service/config.go, gossip/privdata/config.go). */
export interface PvtDataServiceOptions {
  /** Longest wait for a block's private data from other peers before it commits without. Default 60 s. */
  pullRetryThresholdMs?: number;
  /** Transient store retention in blocks (purge below blockNum - this at multiples of it). Default 1000. */
  transientstoreMaxBlockRetention?: number;
  /** Per-peer acknowledgement timeout of the endorsement-time push. Default 3 s. */
  pushAckTimeoutMs?: number;
  /** Peers whose height + this margin has passed the data's expiry are not asked for it. Default 10. */
  btlPullMargin?: number;
  /** Blocks with missing data per reconciliation batch. Default 10. */
  reconcileBatchSize?: number;
  /** Pause between reconciliation cycles. Default 1 min. */
  reconcileSleepIntervalMs?: number;
  /** Whether missing private data is reconciled. Default true. */
  reconciliationEnabled?: boolean;
  /** Data of invalid transactions is not pulled at commit. Default false. */
  skipPullingInvalidTransactionsDuringCommit?: boolean;
  /** How the peer's own org's implicit collection is disseminated. Default requiredPeerCount 0, maxPeerCount 1. */
  implicitCollectionDisseminationPolicy?: { requiredPeerCount: number; maxPeerCount: number };
}

/** A chaincode's collections_config.json (Fabric's `--collections-config`), for one channel or all. */
export interface CollectionsFileOption {
  channel?: string;
  chaincode: string;
  /** The file's path. */
  file: string;
}

/** The gossip node's settings: Fabric's `gossip.Config` (service/peer-node's gossipNodeOptionsOf builds it from peer.gossip.*). */
export type ServiceNodeOptions = Partial<GossipNodeOptions> & Pick<GossipNodeOptions, "internalEndpoint">;

/** Per-channel extras of `initializeChannel`. */
export interface InitializeChannelOptions {
  /**
   * The genesis block (serialized common.Block) to start an empty ledger with (Fabric's `peer channel
   * join -b`). Absent: block 0 is requested from the channel's orderers.
   */
  genesisBlock?: Uint8Array;
}

interface ChannelResources {
  /** The channel as the configuration in force defines it (replaced by config updates). */
  def: ChannelDefinition;
  /** Follows the channel's configuration block by block; absent when block 0 carries no channel configuration. */
  tracker: ChannelConfigTracker | undefined;
  readonly ledger: ChannelLedger;
  /** The channel's private data: collections, stores, coordinator, reconciler. */
  readonly pvt: PvtDataHandler;
  readonly state: StateProvider;
  readonly deliver: DeliverClient;
  /** A standby placeholder until the channel's leader mode is built (it captures these resources). */
  election: LeaderElectionService;
  /** Serialises deliver start/stop after leadership changes. */
  ops: Promise<void>;
  closing: boolean;
  deliverRunning: boolean;
}

const DEFAULT_GENESIS_DIAL_TIMEOUT_MS = 5_000;

/** A peer's gossip service (Fabric's `gossip/service`): its gossip node and its channels, as `createGossipService` returns it. */
export interface GossipService {
  /** How this peer takes part in delivery: "election", "static-leader" or "standby". */
  readonly leaderMode: LeaderMode;
  /** The registry of initialized channels (its resolvers feed the MSP MCS). */
  readonly channelRegistry: ChannelRegistry;
  /** The gossip node (membership, channels, messages). */
  readonly node: GossipNode;
  /** What the peer's parts tell as it happens: membership, leadership, commits, rejections. */
  readonly events: PeerEvents;
  /** Starts the gossip node. Idempotent. */
  start(): Promise<void>;
  /** The channels initialized. */
  channels(): string[];
  /** Whether we are the leader of `channel` (for static modes: whether we are the org leader). */
  isLeader(channel: string): boolean;
  /** Whether the channel's deliver client is running. */
  isDelivering(channel: string): boolean;
  /** The committed height of `channel`'s ledger. */
  ledgerHeight(channel: string): bigint;
  /** SHA-256 of the last committed block header of `channel`. */
  lastBlockHash(channel: string): Uint8Array;
  /** The channel's ledger (read it; the state provider is its only writer). */
  /** The channel as the configuration in force defines it (orgs, anchor peers, orderers). */
  definition(channel: string): ChannelDefinition;
  ledger(channel: string): ChannelLedger;
  /** The channel's state provider (buffer and commit loop). */
  state(channel: string): StateProvider;
  /** Fabric's `AddPayload`: hands a block to the channel's state provider. */
  addPayload(channel: string, payload: Payload): Promise<void>;
  /** The channel's private data handler (collections, transient and private data stores, coordinator, reconciler). */
  privateData(channel: string): PvtDataHandler;
  /**
   * Fabric's `DistributePrivateData`: an endorser's private write sets of transaction `txId`, simulated at
   * ledger height `blockHeight` (a serialized `TxPvtReadWriteSetWithConfigInfo`, or decoded), are pushed to
   * the peers the collections admit and kept in this peer's transient store for the commit.
   * @throws GossipServiceError UNKNOWN_CHANNEL, BAD_PRIVATE_DATA (bytes that do not decode); the distributor's errors.
   */
  distributePrivateData(channel: string, txId: string, data: Uint8Array | TxPvtReadWriteSetWithConfigInfo, blockHeight: bigint): Promise<void>;
  /** Fabric's `InitializeChannel`; see `GossipServiceImpl.initializeChannel`. */
  initializeChannel(def: ChannelDefinition, opts?: InitializeChannelOptions): Promise<void>;
  /** Stops every channel, then the gossip node. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Fabric's `gossipServiceImpl` (`gossip/service/gossip_service.go`), and the one place a peer is
 * composed: the gossip node plus, per channel, a ledger, a state provider, a deliver client and a
 * leader election service (dynamic, static leader or standby). An elected leader runs the
 * channel's deliver client: blocks from the ordering service go to state (`addPayload`) and are
 * gossiped to the org; after `reconnectTotalTimeThreshold` without an orderer the leader yields.
 * Start order: the node, then each channel as initialized (ledger and its genesis block, the
 * state provider built, the gossip channel joined, state started, election started); stop undoes
 * it in reverse.
 */
export class GossipServiceImpl implements GossipService {
  readonly #c: GossipServiceComponents;
  readonly #o: GossipServiceOptions;
  /** The transport's message size limit, which state responses must fit (comm's default when not set). */
  readonly #maxMessageBytes: number | undefined;
  readonly #node: GossipNode;
  readonly #events: PeerEvents;
  readonly #ledgers: LedgerProvider | undefined;
  readonly #log: Logger;
  readonly #mode: LeaderMode;
  readonly #registry: ChannelRegistry;
  readonly #channels = new Map<string, ChannelResources>();
  readonly #initializing = new Set<string>();
  readonly #pvtMetrics: PrivdataMetrics;
  #started = false;
  #stopping: Promise<void> | undefined;

  /**
   * Builds the gossip node (nothing runs until `start()`).
   * @throws ElectionError CONFLICTING_LEADER_MODE when both useLeaderElection and orgLeader are set.
   */
  constructor(components: GossipServiceComponents, options: GossipServiceOptions, nodeOptions: ServiceNodeOptions) {
    this.#c = components;
    this.#o = options;
    this.#maxMessageBytes = nodeOptions.comm?.maxMessageSize;
    this.#log = components.logger.child("gossip.service");
    this.#mode = resolveLeaderMode(options);
    this.#registry = components.channels ?? new ChannelRegistry();
    this.#events = components.events ?? new PeerEvents((err) => this.#log.error("an event listener failed", { err: errorMessage(err) }));
    this.#ledgers = components.ledgers ?? (options.ledgerRootDir === undefined ? undefined : blockStoreLedgers(options.ledgerRootDir, options.blockStore, components.logger));
    this.#pvtMetrics = createPrivdataMetrics(components.metrics);
    this.#node = createGossipNode(
      {
        transport: components.transport,
        mcs: components.mcs,
        securityAdvisor: components.securityAdvisor,
        selfIdentity: components.selfIdentity,
        clock: components.clock,
        random: components.random,
        logger: components.logger,
        metrics: components.metrics,
        events: this.#events,
        ...(components.decodeFrame !== undefined ? { decodeFrame: components.decodeFrame } : {}),
      },
      nodeOptions,
    );
  }

  /** How this peer takes part in delivery: "election", "static-leader" or "standby". */
  get leaderMode(): LeaderMode {
    return this.#mode;
  }

  /** The registry of initialized channels (its resolvers feed the MSP MCS). */
  get channelRegistry(): ChannelRegistry {
    return this.#registry;
  }

  /** The gossip node (membership, channels, messages). */
  get node(): GossipNode {
    return this.#node;
  }

  /** What the peer's parts tell as it happens: membership, leadership, commits, rejections. */
  get events(): PeerEvents {
    return this.#events;
  }

  /** Starts the gossip node. Idempotent. */
  async start(): Promise<void> {
    if (this.#stopping !== undefined) throw new GossipServiceError("STOPPED", "the gossip service was stopped; create a new one");
    if (this.#started) return;
    this.#started = true;
    await this.#node.start();
  }

  /** The channels initialized. */
  channels(): string[] {
    return [...this.#channels.keys()];
  }

  /** Whether we are the leader of `channel` (for static modes: whether we are the org leader). */
  isLeader(channel: string): boolean {
    return this.#channel(channel).election.isLeader();
  }

  /** Whether the channel's deliver client is running. */
  isDelivering(channel: string): boolean {
    return this.#channel(channel).deliverRunning;
  }

  /** The committed height of `channel`'s ledger. */
  ledgerHeight(channel: string): bigint {
    return this.#channel(channel).ledger.height();
  }

  /** SHA-256 of the last committed block header of `channel`. */
  lastBlockHash(channel: string): Uint8Array {
    return this.#channel(channel).ledger.lastBlockHash();
  }

  definition(channel: string): ChannelDefinition {
    return this.#channel(channel).def;
  }

  /** The channel's ledger (read it; the state provider is its only writer). */
  ledger(channel: string): ChannelLedger {
    return this.#channel(channel).ledger;
  }

  /** The channel's state provider (buffer and commit loop). */
  state(channel: string): StateProvider {
    return this.#channel(channel).state;
  }

  /** Fabric's `AddPayload`: hands a block to the channel's state provider. */
  addPayload(channel: string, payload: Payload): Promise<void> {
    return this.#channel(channel).state.addPayload(payload);
  }

  privateData(channel: string): PvtDataHandler {
    return this.#channel(channel).pvt;
  }

  async distributePrivateData(channel: string, txId: string, data: Uint8Array | TxPvtReadWriteSetWithConfigInfo, blockHeight: bigint): Promise<void> {
    const res = this.#channel(channel);
    let decoded: TxPvtReadWriteSetWithConfigInfo;
    try {
      decoded = data instanceof Uint8Array ? TxPvtReadWriteSetWithConfigInfo.decode(data) : data;
    } catch (err) {
      throw new GossipServiceError("BAD_PRIVATE_DATA", `channel ${channel}, transaction ${txId}: the private data is not a TxPvtReadWriteSetWithConfigInfo: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    await res.pvt.distribute(txId, decoded, blockHeight);
  }

  /**
   * Fabric's `InitializeChannel`: opens the channel's ledger (starting it with the genesis block
   * when empty), starts its state provider, joins the gossip channel with the definition's orgs and
   * anchor peers, and starts the leader mode (election driving the deliver client, static leader
   * delivering at once, or standby). A failure half-way undoes what was done: the gossip channel is
   * left, state stopped, the ledger closed.
   * @throws GossipServiceError CHANNEL_EXISTS, STOPPED, NO_LEDGER, NO_GENESIS_BLOCK; LedgerError; StateError.
   */
  async initializeChannel(def: ChannelDefinition, opts: InitializeChannelOptions = {}): Promise<void> {
    if (this.#stopping !== undefined) throw new GossipServiceError("STOPPED", "the gossip service was stopped");
    const name = def.name;
    if (this.#channels.has(name) || this.#initializing.has(name)) {
      throw new GossipServiceError("CHANNEL_EXISTS", `channel ${name} is already initialized`);
    }
    const ledgers = this.#ledgers;
    if (ledgers === undefined) throw new GossipServiceError("NO_LEDGER", `channel ${name}: this peer has no ledgers (give ledgerRootDir or a LedgerProvider)`);
    this.#initializing.add(name);
    this.#registry.set(def);
    const log = this.#log.child("gossip.service", { channel: name });
    let ledger: ChannelLedger | undefined;
    let pvt: PvtDataHandler | undefined;
    let state: StateProvider | undefined;
    let joined = false;
    let res: ChannelResources | undefined;
    try {
      ledger = await ledgers.open(name);
      if (ledger.height() === 0n) await this.#appendGenesis(def, ledger, opts, log);
      // A channel whose block 0 is a real configuration follows its config updates from the ledger's last config block.
      const tracker = await this.#openConfigTracker(ledger, log);
      const inForce = tracker === undefined ? undefined : this.#definitionOf(tracker.bundle.config, log);
      const current = inForce ?? def;
      // The MCS has checked the header, channel and data hash already: only the signatures are the policy's.
      if (tracker !== undefined) {
        this.#registry.setBlockValidation(name, (block) => tracker.bundle.verifyBlockSignatures(block));
        // Channel messages are checked against /Channel/Application/Readers of the configuration in force.
        this.#registry.setReaders(name, (identity, signature, message) => tracker.bundle.verifyByChannel(identity, signature, message));
      }
      if (inForce !== undefined) this.#registry.set(inForce);
      this.#trustChannelTls(current, tracker?.bundle.config, log);
      // The MSPs a definition carries (one from a channel block does) become trusted; folders are the caller's.
      this.#c.trustOrgs?.(mspMaterialsOf(current));
      const committed: { res?: ChannelResources } = {};
      // The tracker in force: the resources' once they exist (a refused config block clears it there).
      const trackerNow = (): ChannelConfigTracker | undefined => (committed.res === undefined ? tracker : committed.res.tracker);
      const defNow = (): ChannelDefinition => committed.res?.def ?? current;
      const handlerRef: { handler?: PvtDataHandler } = {};
      const validation = new ChannelTxValidation(trackerNow, () => handlerRef.handler?.collections, log.child("txvalidator"));
      pvt = await this.#openPvtData(name, ledger, trackerNow, defNow, log, validation);
      handlerRef.handler = pvt;
      const pvtHandler = pvt;
      state = this.#createState(name, ledger, pvtHandler, (block) => {
        validation.committed(block);
        if (committed.res !== undefined) this.#followConfig(committed.res, block, log);
      });
      this.#node.joinChan(joinMessageOf(current, tracker === undefined ? 1 : Number(tracker.bundle.config.sequence) + 1), name);
      joined = true;
      this.#node.updateLedgerHeight(ledger.height(), name);
      // Published at once, as Fabric's peer does when it joins a channel (its channel initializer fires the
      // chaincode metadata listener, which calls UpdateChaincodes; we run no chaincodes, so the list is empty):
      // the peers already in the channel, the org's leader among them, count us now rather than after a
      // publishStateInfo tick, when our own election may already have declared us leader.
      this.#node.updateChaincodes([], name);
      await state.start();
      res = this.#createDeliveryAndElection(current, ledger, pvt, state, log);
      res.tracker = tracker;
      committed.res = res;
      this.#channels.set(name, res);
      await res.election.start();
      pvt.start();
      log.info("channel initialized", { mode: this.#mode, height: ledger.height().toString(), orderers: def.orderer.endpoints });
    } catch (err) {
      if (res !== undefined) {
        this.#channels.delete(name);
        await this.#stopChannel(res);
      } else {
        await pvt?.interrupt();
        await state?.stop();
        await pvt?.stop();
        await ledger?.close();
        this.#registry.delete(name);
        this.#c.tlsTrust?.removeChannel(name);
      }
      if (joined) this.#node.leaveChan(name);
      throw err;
    } finally {
      this.#initializing.delete(name);
    }
  }

  /**
   * Stops every channel (election, then deliver, then state, then the ledger), in the reverse order
   * of initialization, then the gossip node. Idempotent; afterwards nothing of the service runs.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const res of [...this.#channels.values()].reverse()) {
        this.#channels.delete(res.def.name);
        await this.#stopChannel(res);
      }
      await this.#node.stop();
      this.#log.info("gossip service stopped");
    })();
    return this.#stopping;
  }

  #channel(channel: string): ChannelResources {
    const res = this.#channels.get(channel);
    if (res === undefined) throw new GossipServiceError("UNKNOWN_CHANNEL", `channel ${channel} is not initialized on this peer`);
    return res;
  }

  /** Fabric never verifies the join block (a configtxgen genesis block carries no orderer signature). */
  async #appendGenesis(def: ChannelDefinition, ledger: ChannelLedger, opts: InitializeChannelOptions, log: Logger): Promise<void> {
    const genesis = opts.genesisBlock ?? (await this.#fetchGenesisBlock(def));
    checkJoinBlock(def.name, genesis);
    await ledger.append(genesis);
    log.info("ledger created from the genesis block");
  }

  /**
   * The configuration tracker of a channel whose block 0 is a channel genesis block, resumed at the
   * ledger's last config block; undefined for a block 0 without a channel configuration (our test
   * ordering service's, the simulator's), whose channels keep the definition they were given.
   */
  async #openConfigTracker(ledger: ChannelLedger, log: Logger): Promise<ChannelConfigTracker | undefined> {
    const height = ledger.height();
    let joinBlock: Block;
    try {
      joinBlock = await ledger.getBlock(0n);
      if (height > 1n) {
        const index = lastConfigIndex(await ledger.getBlock(height - 1n));
        if (index > 0n) joinBlock = await ledger.getBlock(index);
      }
    } catch (err) {
      log.warn("cannot read the channel's configuration from its ledger; config updates are not followed", { err: errorMessage(err) });
      return undefined;
    }
    try {
      return createChannelConfigTracker(joinBlock, { clock: this.#c.clock, logger: this.#c.logger, height });
    } catch (err) {
      log.debug("block 0 carries no channel configuration; the channel keeps its definition", { err: errorMessage(err) });
      return undefined;
    }
  }

  /** The channel definition a configuration gives, or undefined (logged) when it lacks what a peer needs. */
  #definitionOf(config: ChannelConfig, log: Logger): ChannelDefinition | undefined {
    try {
      return channelDefinitionOf(config);
    } catch (err) {
      log.error("the channel configuration lacks what a peer needs; keeping the previous one", { sequence: config.sequence.toString(), err: errorMessage(err) });
      return undefined;
    }
  }

  /**
   * Hands a committed block to the channel's configuration tracker (without verifying it again: the
   * MCS checked it against the tracker's bundle before it reached the ledger); a config block's configuration
   * then takes effect as Fabric's peer applies it: the channel is rejoined with the new orgs and
   * anchor peers, the orgs' MSPs (CAs, CRLs) are trusted anew and every known identity re-validated
   * (revoked ones are purged, their connections closed), the Deliver client gets the new endpoints.
   */
  #followConfig(res: ChannelResources, block: Block, log: Logger): void {
    const tracker = res.tracker;
    if (tracker === undefined) return;
    let bundle: ReturnType<ChannelConfigTracker["append"]>;
    try {
      bundle = tracker.advance(block);
    } catch (err) {
      res.tracker = undefined;
      this.#registry.setBlockValidation(res.def.name, undefined);
      this.#registry.setReaders(res.def.name, undefined);
      log.error("the configuration tracker refused a committed block; config updates are no longer followed", { number: block.header?.number.toString(), err: errorMessage(err) });
      return;
    }
    if (bundle === undefined || res.closing) return;
    const config = bundle.config;
    const def = this.#definitionOf(config, log);
    if (def === undefined) return;
    res.def = def;
    this.#registry.set(def);
    this.#c.trustOrgs?.(mspMaterialsOf(def));
    this.#trustChannelTls(def, config, log);
    this.#node.joinChan(joinMessageOf(def, Number(config.sequence) + 1), def.name);
    res.deliver.updateEndpoints(def.orderer.endpoints);
    this.#node.suspectPeers(() => true);
    this.#events.emit({ kind: "config-updated", channel: def.name, sequence: config.sequence });
    log.info("channel configuration updated", {
      sequence: config.sequence.toString(),
      orgs: def.orgs.map((o) => o.mspId),
      anchorPeers: def.orgs.flatMap((o) => o.anchorPeers),
      orderers: def.orderer.endpoints,
    });
  }

  /**
   * Fabric's `updateTrustedRoots`: the channel's orgs' TLS CAs replace those it had in the trust
   * store; the gRPC server verifies new clients with them at once, new dials use them.
   */
  #trustChannelTls(def: ChannelDefinition, config: ChannelConfig | undefined, log: Logger): void {
    const trust = this.#c.tlsTrust;
    if (trust === undefined) return;
    const rejected = trust.setChannel(def.name, channelTlsCasOf(def, config));
    for (const r of rejected) log.warn("a TLS CA certificate of the channel configuration is not trusted: it does not parse", { org: r.source, reason: r.reason });
  }

  /** TLS toward the channel's orderers: the configured CAs plus its orderer orgs' TLS CAs in force, read at each (re)connection. */
  #deliverTlsOf(channel: string): DeliverTlsOptions | undefined {
    const base = this.#o.deliverTls;
    const trust = this.#c.tlsTrust;
    if (base === undefined || trust === undefined) return base;
    const configured = base.rootCAs;
    return {
      ...base,
      rootCAs: (endpoint) =>
        Buffer.concat([Buffer.from(typeof configured === "function" ? configured(endpoint) : configured), Buffer.from("\n"), trust.ordererRoots(channel, endpoint)]),
    };
  }

  /**
   * Fabric's private data half of `InitializeChannel`: the channel's collection store, transient and private
   * data stores (beside the block store, `<ledgerRootDir>/<channel>/{pvtdata,transient}`; in memory when the
   * ledgers are the caller's), coordinator and reconciler, eligibility judged with the channel's MSPs in force.
   */
  async #openPvtData(
    name: string,
    ledger: ChannelLedger,
    tracker: () => ChannelConfigTracker | undefined,
    def: () => ChannelDefinition,
    log: Logger,
    validation: ChannelTxValidation,
  ): Promise<PvtDataHandler> {
    const c = this.#c;
    const o = this.#o.pvtData ?? {};
    const files: CollectionsFile[] = [];
    for (const f of this.#o.collectionsFiles ?? []) {
      if (f.channel !== undefined && f.channel !== name) continue;
      try {
        files.push({ chaincode: f.chaincode, json: await readFile(f.file, "utf8") });
      } catch (err) {
        throw new GossipServiceError("BAD_COLLECTIONS_FILE", `channel ${name}: cannot read the collections of chaincode ${f.chaincode} from ${f.file}: ${errorMessage(err)}`, {
          cause: err,
        });
      }
    }
    const selfData = new Uint8Array(32);
    const options: PvtDataHandlerOptions = {
      pullRetryThresholdMs: o.pullRetryThresholdMs ?? 60_000,
      pushAckTimeoutMs: o.pushAckTimeoutMs ?? 3_000,
      btlPullMargin: BigInt(o.btlPullMargin ?? 10),
      transientBlockRetention: BigInt(o.transientstoreMaxBlockRetention ?? 1_000),
      skipPullingInvalidTransactionsDuringCommit: o.skipPullingInvalidTransactionsDuringCommit ?? false,
      reconcileBatchSize: o.reconcileBatchSize ?? 10,
      reconcileSleepIntervalMs: o.reconcileSleepIntervalMs ?? 60_000,
      reconciliationEnabled: o.reconciliationEnabled ?? true,
      ...(o.implicitCollectionDisseminationPolicy !== undefined ? { implicitCollectionDissemination: o.implicitCollectionDisseminationPolicy } : {}),
      collectionsFiles: files,
      ...(c.ledgers === undefined && this.#o.ledgerRootDir !== undefined ? { storeDir: join(this.#o.ledgerRootDir, name) } : {}),
    };
    try {
      return await openPvtDataHandler(
        {
          channel: name,
          ledger,
          msps: () => tracker()?.bundle.msps,
          applicationMspIds: () => tracker()?.bundle.config.applicationOrgs.map((org) => org.mspId) ?? def().orgs.map((org) => org.mspId),
          applicationCapabilities: () => tracker()?.bundle.config.capabilities.application ?? [],
          localMspId: fromUtf8(c.securityAdvisor.orgByPeerIdentity(c.selfIdentity)) || undefined,
          // Fabric's createSelfSignedData: our signature over 32 zero bytes.
          selfSignedData: { data: selfData, signature: c.mcs.sign(selfData), identity: c.selfIdentity },
          transfer: { gossip: this.#node, random: c.random, selfIdentity: c.selfIdentity, mcs: c.mcs },
          validate: (block) => validation.validate(block),
          onOpenBlock: (block) => validation.committed(block),
          clock: c.clock,
          logger: c.logger,
          metrics: this.#pvtMetrics,
        },
        options,
      );
    } catch (err) {
      log.error("cannot open the channel's private data stores", { err: errorMessage(err) });
      throw err;
    }
  }

  #createState(name: string, ledger: ChannelLedger, pvt: PvtDataHandler, onCommitted: (block: Block) => void): StateProvider {
    const c = this.#c;
    const events = this.#events;
    const commitLog = c.logger.child("kvledger");
    return createStateProvider(
      name,
      {
        gossip: this.#node,
        ledger: stateLedgerOf(
          ledger,
          (block, headerHash, commitMs) => {
            const number = block.header?.number ?? 0n;
            const txCount = block.data?.data.length ?? 0;
            // Fabric's kvledger line, at info: what an operator watches a healthy peer by.
            commitLog.info(`[${name}] Committed block [${number}] with ${txCount} transaction(s) in ${commitMs}ms`, { channel: name, block: number.toString(), txCount, commitMs });
            events.emit({ kind: "block-committed", channel: name, number, headerHash, txCount, commitMs });
            onCommitted(block);
          },
          { commitBlock: (block, pvtData) => pvt.commitBlock(block, pvtData), pvtDataFor: (seqNum, requester) => pvt.pvtDataFor(seqNum, requester) },
          () => c.clock.monotonic(),
        ),
        mcs: c.mcs,
        clock: c.clock,
        random: c.random,
        logger: c.logger,
        metrics: c.metrics,
        events,
      },
      {
        ...this.#o.state,
        useLeaderElection: this.#o.useLeaderElection,
        orgLeader: this.#o.orgLeader,
        ...(this.#maxMessageBytes !== undefined ? { maxMessageBytes: this.#maxMessageBytes } : {}),
      },
    );
  }

  /** The channel's deliver client and the leader mode that drives it. */
  #createDeliveryAndElection(def: ChannelDefinition, ledger: ChannelLedger, pvt: PvtDataHandler, state: StateProvider, log: Logger): ChannelResources {
    const c = this.#c;
    const name = def.name;
    const node = this.#node;
    const channelBytes = utf8(name);
    let election: LeaderElectionService | undefined;
    const deliverTls = this.#deliverTlsOf(name);
    const deliver = createDeliverClient(
      {
        channel: name,
        endpoints: def.orderer.endpoints,
        ...(deliverTls !== undefined ? { tls: deliverTls } : {}),
        signer: c.signer,
        mcs: c.mcs,
        ledgerHeight: () => ledger.height(),
        onBlock: (block, bytes) => state.addPayload({ seqNum: block.header?.number ?? 0n, data: bytes, privateData: [] }),
        gossip: (block, bytes) =>
          node.gossip({
            nonce: 0n,
            channel: channelBytes,
            tag: GossipMessage_Tag.CHAN_AND_ORG,
            content: { $case: "dataMsg", value: { payload: { seqNum: block.header?.number ?? 0n, data: bytes, privateData: [] } } },
          }),
        blockHashAt: (n) => blockHashAt(ledger, n),
        onGiveUp: () => election?.yield(),
        clock: c.clock,
        random: c.random,
        logger: c.logger,
        metrics: c.metrics,
        events: this.#events,
        ...(c.deliverConnector !== undefined ? { connector: c.deliverConnector } : {}),
      },
      { ...this.#o.deliver, yieldLeadership: this.#mode === "election" },
    );
    const res: ChannelResources = {
      def,
      ledger,
      pvt,
      state,
      deliver,
      tracker: undefined,
      election: createStaticLeaderService(false),
      ops: Promise.resolve(),
      closing: false,
      deliverRunning: false,
    };
    const onLeadershipChange = (isLeader: boolean): void => this.#onLeadershipChange(res, isLeader, log);
    election =
      this.#mode === "election"
        ? createLeaderElectionService(
            {
              adapter: createLeaderElectionAdapter({ node, clock: c.clock, logger: c.logger, metrics: c.metrics }, name),
              clock: c.clock,
              logger: c.logger,
              pkiId: node.pkiId(),
              onLeadershipChange,
            },
            this.#o.election ?? {},
          )
        : createStaticLeaderService(this.#mode === "static-leader", onLeadershipChange);
    res.election = election;
    return res;
  }

  #onLeadershipChange(res: ChannelResources, isLeader: boolean, log: Logger): void {
    this.#events.emit({ kind: "leadership", channel: res.def.name, isLeader });
    res.ops = res.ops
      .then(async () => {
        if (res.closing) return;
        if (isLeader) {
          log.info("became leader: starting delivery from the ordering service");
          await res.deliver.start();
          res.deliverRunning = true;
        } else {
          log.info("lost leadership: stopping delivery from the ordering service");
          res.deliverRunning = false;
          await res.deliver.stop();
        }
      })
      .catch((err: unknown) => log.error("leadership change failed", { isLeader, err: errorMessage(err) }));
  }

  async #stopChannel(res: ChannelResources): Promise<void> {
    res.closing = true;
    await res.election.stop();
    await res.ops;
    res.deliverRunning = false;
    await res.deliver.stop();
    // A block waiting for private data from peers would hold state's commit loop until pullRetryThreshold.
    await res.pvt.interrupt();
    await res.state.stop();
    await res.pvt.stop();
    await res.ledger.close();
    this.#registry.delete(res.def.name);
    this.#c.tlsTrust?.removeChannel(res.def.name);
  }

  /** Block 0 from the first orderer that serves it (a one-off Deliver request signed by the peer). */
  async #fetchGenesisBlock(def: ChannelDefinition): Promise<Uint8Array> {
    try {
      return await fetchBlock({
        channel: def.name,
        number: 0n,
        endpoints: def.orderer.endpoints,
        signer: this.#c.signer,
        ...(this.#c.deliverConnector !== undefined ? { connector: this.#c.deliverConnector } : {}),
        ...(this.#o.deliverTls !== undefined ? { tls: this.#o.deliverTls } : {}),
        connTimeoutMs: this.#o.genesisDialTimeoutMs ?? DEFAULT_GENESIS_DIAL_TIMEOUT_MS,
        clock: this.#c.clock,
        random: this.#c.random,
      });
    } catch (err) {
      throw new GossipServiceError(
        "NO_GENESIS_BLOCK",
        // Named for an operator: the library's genesisBlock option is `peer start --channel-block` on the command line.
        `channel ${def.name}: the ledger is empty and no orderer gave the genesis block (${errorMessage(err)}); join the channel from its genesis block (peer start --channel-block FILE, or POST /v1/channels/join), or fix the connection to the orderers the channel's configuration names (reachable, their org's TLS CA trusted)`,
        { cause: err },
      );
    }
  }
}

/** Fabric's `InitGossipService` / `New`: a gossip service and its node; call start(), then initializeChannel(). */
export function createGossipService(components: GossipServiceComponents, options: GossipServiceOptions, nodeOptions: ServiceNodeOptions): GossipService {
  return new GossipServiceImpl(components, options, nodeOptions);
}
