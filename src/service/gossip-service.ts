import { join } from "node:path";
import type { Registry } from "prom-client";
import type { MessageCryptoService } from "../api/crypto.js";
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
import type { GossipNode } from "../gossip/node/index.js";
import { blockHeaderHash } from "../crypto/index.js";
import { type BlockStore, type BlockStoreOptions, openBlockStore } from "../ledger/index.js";
import type { Logger } from "../logging/logger.js";
import { Block } from "../protos/gen/common/common.pb.js";
import { GossipMessage_Tag } from "../protos/gen/gossip/message.pb.js";
import type { Payload } from "../protos/gen/gossip/message.pb.js";
import { type LedgerAdapter, type StateProvider, type StateProviderOptions, createStateProvider } from "../state/index.js";
import { type Clock, errorMessage, GossipError, type Random, utf8 } from "../util/index.js";
import { type ChannelDefinition, ChannelRegistry, joinMessageOf } from "./channel-definition.js";

/** Why the gossip service refused a call. */
export type GossipServiceErrorCode = "CHANNEL_EXISTS" | "UNKNOWN_CHANNEL" | "NO_GENESIS_BLOCK" | "STOPPED";

/** A gossip service failure. */
export class GossipServiceError extends GossipError {
  declare readonly code: GossipServiceErrorCode;

  constructor(code: GossipServiceErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** What the gossip service is built from. */
export interface GossipServiceComponents {
  /** The gossip node; the service starts it in `start()` and stops it last in `stop()`. */
  node: GossipNode;
  /** Block verification (deliver, state transfer) and the channel Readers check of state messages. */
  mcs: Pick<MessageCryptoService, "verifyBlock" | "verifyByChannel">;
  /** The peer's signing identity: signs the SeekInfo requests to the ordering service. */
  signer: DeliverSigner;
  /**
   * Where initialized channels are registered (give the same registry's resolvers to the MSP MCS).
   * Default: a new one.
   */
  channels?: ChannelRegistry;
  clock: Clock;
  random: Random;
  logger: Logger;
  metrics: Registry;
  /** How deliver clients open Deliver streams; gRPC when absent (tests pass a fake). */
  deliverConnector?: DeliverConnector;
  /** Told after each block a channel's ledger commits: its number and header hash (reports, tests). */
  onCommit?: (channel: string, number: bigint, headerHash: Uint8Array) => void;
  /** Told on each leadership change of a channel (election or static mode). */
  onLeadershipChange?: (channel: string, isLeader: boolean) => void;
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
  /** The folder of the ledgers: one block store per channel in `<ledgerRootDir>/<channel>`. */
  ledgerRootDir: string;
  blockStore?: BlockStoreOptions;
  /** Dial timeout of the one-off genesis block request. Default 5000 ms. */
  genesisDialTimeoutMs?: number;
}

/** Per-channel extras of `initializeChannel`. */
export interface InitializeChannelOptions {
  /**
   * The genesis block (serialized common.Block) to start an empty ledger with (Fabric's `peer channel
   * join -b`). Absent: block 0 is requested from the channel's orderers.
   */
  genesisBlock?: Uint8Array;
}

interface ChannelResources {
  readonly def: ChannelDefinition;
  readonly store: BlockStore;
  readonly state: StateProvider;
  readonly deliver: DeliverClient;
  election: LeaderElectionService;
  /** Serialises deliver start/stop after leadership changes. */
  ops: Promise<void>;
  closing: boolean;
  deliverRunning: boolean;
}

const DEFAULT_GENESIS_DIAL_TIMEOUT_MS = 5_000;

/**
 * The block store as the state provider's ledger (Fabric's `ledgerResources` of the coordinator;
 * no private data yet: that seam is `pvtDataFor` and the `pvtData` argument of `commitBlock`).
 */
export function blockStoreLedger(store: BlockStore, onCommit?: (number: bigint, headerHash: Uint8Array) => void): LedgerAdapter {
  return {
    height: () => store.height(),
    commitBlock: async (block) => {
      await store.append(block);
      if (onCommit !== undefined && block.header !== undefined) onCommit(block.header.number, blockHeaderHash(block.header));
    },
    getBlocks: async (from, to) => {
      const out: Block[] = [];
      const end = to + 1n < store.height() ? to + 1n : store.height();
      if (from >= end) return out;
      for await (const b of store.iterate(from, end)) out.push(b);
      return out;
    },
  };
}

/**
 * Fabric's `gossipServiceImpl` (`gossip/service/gossip_service.go`): the gossip node plus, per
 * channel, a block store, a state provider, a deliver client and a leader election service
 * (dynamic, static leader or standby). An elected leader runs the channel's deliver client: blocks
 * from the ordering service go to state (`addPayload`) and are gossiped to the org; after
 * `reconnectTotalTimeThreshold` without an orderer the leader yields.
 */
export class GossipService {
  readonly #c: GossipServiceComponents;
  readonly #o: GossipServiceOptions;
  readonly #log: Logger;
  readonly #mode: LeaderMode;
  readonly #registry: ChannelRegistry;
  readonly #channels = new Map<string, ChannelResources>();
  readonly #initializing = new Set<string>();
  #started = false;
  #stopping: Promise<void> | undefined;

  /** @throws ElectionError CONFLICTING_LEADER_MODE when both useLeaderElection and orgLeader are set. */
  constructor(components: GossipServiceComponents, options: GossipServiceOptions) {
    this.#c = components;
    this.#o = options;
    this.#log = components.logger.child("gossip.service");
    this.#mode = resolveLeaderMode(options);
    this.#registry = components.channels ?? new ChannelRegistry();
  }

  /** How this peer takes part in delivery: "election", "static-leader" or "standby". */
  get leaderMode(): LeaderMode {
    return this.#mode;
  }

  /** The registry of initialized channels (its resolvers feed the MSP MCS). */
  get channelRegistry(): ChannelRegistry {
    return this.#registry;
  }

  get node(): GossipNode {
    return this.#c.node;
  }

  /** Starts the gossip node. Idempotent. */
  async start(): Promise<void> {
    if (this.#stopping !== undefined) throw new GossipServiceError("STOPPED", "the gossip service was stopped; create a new one");
    if (this.#started) return;
    this.#started = true;
    await this.#c.node.start();
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
    return this.#channel(channel).store.height();
  }

  /** SHA-256 of the last committed block header of `channel`. */
  lastBlockHash(channel: string): Uint8Array {
    return this.#channel(channel).store.lastBlockHash();
  }

  /** The channel's block store (read it; the state provider is its only writer). */
  blockStore(channel: string): BlockStore {
    return this.#channel(channel).store;
  }

  /** Fabric's `AddPayload`: hands a block to the channel's state provider. */
  addPayload(channel: string, payload: Payload): Promise<void> {
    return this.#channel(channel).state.addPayload(payload);
  }

  /**
   * Fabric's `InitializeChannel`: opens the channel's block store (starting it with the genesis
   * block when empty), starts its state provider, joins the gossip channel with the definition's
   * orgs and anchor peers, and starts the leader mode (election driving the deliver client, static
   * leader delivering at once, or standby).
   * @throws GossipServiceError CHANNEL_EXISTS, STOPPED, NO_GENESIS_BLOCK; LedgerError; StateError.
   */
  async initializeChannel(def: ChannelDefinition, opts: InitializeChannelOptions = {}): Promise<void> {
    if (this.#stopping !== undefined) throw new GossipServiceError("STOPPED", "the gossip service was stopped");
    const name = def.name;
    if (this.#channels.has(name) || this.#initializing.has(name)) {
      throw new GossipServiceError("CHANNEL_EXISTS", `channel ${name} is already initialized`);
    }
    this.#initializing.add(name);
    this.#registry.set(def);
    const c = this.#c;
    const log = this.#log.child("gossip.service", { channel: name });
    let store: BlockStore | undefined;
    let state: StateProvider | undefined;
    try {
      store = await openBlockStore(join(this.#o.ledgerRootDir, name), this.#o.blockStore ?? {}, { logger: log });
      if (store.height() === 0n) {
        const genesis = opts.genesisBlock ?? (await this.#fetchGenesisBlock(def));
        const block = Block.decode(genesis);
        c.mcs.verifyBlock(name, 0n, block);
        await store.append(genesis);
        log.info("ledger created from the genesis block");
      }
      const openStore = store;
      const st = createStateProvider(
        name,
        { gossip: c.node, ledger: blockStoreLedger(openStore, c.onCommit && ((n, h) => c.onCommit?.(name, n, h))), mcs: c.mcs, clock: c.clock, random: c.random, logger: c.logger, metrics: c.metrics },
        { ...this.#o.state, useLeaderElection: this.#o.useLeaderElection, orgLeader: this.#o.orgLeader },
      );
      state = st;
      c.node.joinChan(joinMessageOf(def), name);
      c.node.updateLedgerHeight(openStore.height(), name);
      await st.start();

      const channelBytes = utf8(name);
      let election: LeaderElectionService | undefined;
      const deliver = createDeliverClient(
        {
          channel: name,
          endpoints: def.orderer.endpoints,
          ...(this.#o.deliverTls !== undefined ? { tls: this.#o.deliverTls } : {}),
          signer: c.signer,
          mcs: c.mcs,
          ledgerHeight: () => openStore.height(),
          onBlock: (block, bytes) => st.addPayload({ seqNum: block.header?.number ?? 0n, data: bytes, privateData: [] }),
          gossip: (block, bytes) =>
            c.node.gossip({
              nonce: 0n,
              channel: channelBytes,
              tag: GossipMessage_Tag.CHAN_AND_ORG,
              content: { $case: "dataMsg", value: { payload: { seqNum: block.header?.number ?? 0n, data: bytes, privateData: [] } } },
            }),
          blockHashAt: async (n) => {
            const h = openStore.height();
            if (n >= h) return undefined;
            if (n === h - 1n) return openStore.lastBlockHash();
            const b = await openStore.getBlock(n);
            return b.header === undefined ? undefined : blockHeaderHash(b.header);
          },
          onGiveUp: () => election?.yield(),
          clock: c.clock,
          random: c.random,
          logger: c.logger,
          metrics: c.metrics,
          ...(c.deliverConnector !== undefined ? { connector: c.deliverConnector } : {}),
        },
        { ...this.#o.deliver, yieldLeadership: this.#mode === "election" },
      );
      const res: ChannelResources = {
        def,
        store: openStore,
        state: st,
        deliver,
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
                adapter: createLeaderElectionAdapter({ node: c.node, clock: c.clock, logger: c.logger, metrics: c.metrics }, name),
                clock: c.clock,
                logger: c.logger,
                pkiId: c.node.pkiId(),
                onLeadershipChange,
              },
              this.#o.election ?? {},
            )
          : createStaticLeaderService(this.#mode === "static-leader", onLeadershipChange);
      res.election = election;
      this.#channels.set(name, res);
      await election.start();
      log.info("channel initialized", { mode: this.#mode, height: openStore.height().toString(), orderers: def.orderer.endpoints });
    } catch (err) {
      const res = this.#channels.get(name);
      if (res !== undefined) {
        this.#channels.delete(name);
        await this.#stopChannel(res);
      } else {
        await state?.stop();
        await store?.close();
      }
      this.#registry.delete(name);
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
      await this.#c.node.stop();
      this.#log.info("gossip service stopped");
    })();
    return this.#stopping;
  }

  #channel(channel: string): ChannelResources {
    const res = this.#channels.get(channel);
    if (res === undefined) throw new GossipServiceError("UNKNOWN_CHANNEL", `channel ${channel} is not initialized on this peer`);
    return res;
  }

  #onLeadershipChange(res: ChannelResources, isLeader: boolean, log: Logger): void {
    this.#c.onLeadershipChange?.(res.def.name, isLeader);
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
    await res.state.stop();
    await res.store.close();
    this.#registry.delete(res.def.name);
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
        `channel ${def.name}: the ledger is empty and no orderer gave the genesis block (${errorMessage(err)}); pass genesisBlock or check orderer.endpoints`,
        { cause: err },
      );
    }
  }
}

/** Fabric's `InitGossipService` / `New`: a gossip service around a node; call start(), then initializeChannel(). */
export function createGossipService(components: GossipServiceComponents, options: GossipServiceOptions): GossipService {
  return new GossipService(components, options);
}
