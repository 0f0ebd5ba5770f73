import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { PeerEvents } from "../api/index.js";
import { loadPeerConfig, type PeerConfig, parseCoreYaml } from "../config/index.js";
import { createLogger, type Logger } from "../logging/index.js";
import type { Block } from "../protos/gen/common/common.pb.js";
import { errorMessage, GossipError } from "../util/index.js";
import type { ChannelStatusView, MembershipView } from "./membership-view.js";
import { type PeerFromConfigComponents, type PeerFromConfigOptions, peerFromConfig } from "./peer-from-config.js";
import { type PeerNode, PeerNodeError } from "./peer-node.js";

/**
 * Why a peer facade call failed:
 * - PEER_CONFIG: the core.yaml cannot be read.
 * - NO_LEDGER: a ledger operation on a peer without an MSP signing identity, or on a channel it did not join.
 * - PEER_STOPPED: the peer was stopped.
 */
export type PeerErrorCode = "PEER_CONFIG" | "NO_LEDGER" | "PEER_STOPPED";

/** A peer facade call failed; the message says what to do. */
export class PeerError extends GossipError {
  declare readonly code: PeerErrorCode;

  constructor(code: PeerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** How to start a peer: everything `peerFromConfig` takes, with the configuration given or loaded here. */
export interface StartPeerOptions extends Omit<PeerFromConfigOptions, "config"> {
  /** A loaded configuration (config's `loadPeerConfig`). Else it is loaded from `coreYaml`, `env` and `overrides`. */
  config?: PeerConfig;
  /** A core.yaml file whose peer section is read; relative paths in it are resolved against its folder. */
  coreYaml?: string;
  /** `CORE_PEER_*` variables to apply over the core.yaml (pass `process.env` to read the process's). Default none. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Settings by full key over everything else, e.g. `{ "peer.gossip.pullInterval": "1s" }`. */
  overrides?: Readonly<Record<string, unknown>>;
  /** Same-org peers to connect to at start (peer.gossip.bootstrap). */
  bootstrap?: readonly string[];
  /** Default: logs at FABRIC_LOGGING_SPEC, else warn, on stderr. */
  logger?: Logger;
}

/** A committed block as `Peer.blocks` yields it. */
export interface CommittedBlock {
  channel: string;
  number: bigint;
  block: Block;
}

/** A running peer, as a program embedding one uses it. */
export interface Peer {
  /** The endpoint our org dials us at (peer.gossip.endpoint, else the listen address or peer.address). */
  readonly endpoint: string;
  /** Our PKI-ID, lower-case hex. */
  readonly pkiId: string;
  /** Our org (MSP ID). */
  readonly org: string;
  /** What happens as it happens: members alive and dead, leadership, blocks committed, refusals. */
  readonly events: PeerEvents;
  /** The composed peer underneath (gossip node, service, admin endpoint). */
  readonly node: PeerNode;
  /**
   * Joins the channel of a genesis block as a full peer (Fabric's `peer channel join -b`, and the admin
   * endpoint's POST /v1/channels/join): ledger, state transfer, leader election, Deliver from its
   * orderers. Orgs, MSPs, anchor peers and orderers come from the block's configuration and follow each
   * config block committed. The channel is rejoined from its ledger after a restart. Needs an MSP
   * signing identity.
   * @param block the channel's block 0 (serialized common.Block, as configtxgen or `channel genesis` writes it); trusted as given, as Fabric trusts it.
   * @returns the joined channel's status (as GET /v1/channels shows it).
   * @throws PeerError NO_LEDGER (no MSP identity), PEER_STOPPED; ChannelDefinitionError (not a usable genesis
   *   block); GossipServiceError CHANNEL_EXISTS (joined already).
   */
  joinChannel(block: Uint8Array): Promise<ChannelStatusView>;
  /**
   * The channel's committed blocks in order, from `from` (default 0): those already in the ledger,
   * then each one as it commits. Ends when the peer stops or `signal` aborts; `break` ends it too.
   */
  blocks(channel: string, opts?: { from?: bigint; signal?: AbortSignal }): AsyncIterable<CommittedBlock>;
  /** Who this peer knows now: itself, alive and dead members, channel members. */
  membership(): MembershipView;
  /** Stops everything (admin endpoint, channels, gossip, transport). Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a peer: loads the configuration (a core.yaml, CORE_PEER_* and overrides, or the one given),
 * builds the peer with `peerFromConfig` (the same path as `fabric-gossip peer start`) and starts it.
 * @throws PeerError PEER_CONFIG, ConfigError (naming each bad key), PeerSetupError, PeerNodeError (listeners).
 */
export async function startPeer(options: StartPeerOptions, components: Omit<PeerFromConfigComponents, "logger"> = {}): Promise<Peer> {
  const logger = options.logger ?? createLogger({ name: "peer", spec: process.env["FABRIC_LOGGING_SPEC"] ?? "warn" });
  const { listen, bootstrap } = options;
  // As `peer start --listen`: the listen address is also peer.address (the internal endpoint's fallback).
  const layered = {
    ...(listen !== undefined ? { "peer.listenAddress": listen, "peer.address": listen } : {}),
    ...(bootstrap !== undefined ? { "peer.gossip.bootstrap": [...bootstrap] } : {}),
    ...options.overrides,
  };
  const config = options.config ?? (await loadConfig(options.coreYaml, options.env, layered));
  const { crypto, channels, channelBlocks, tls, ledgerDir, admin } = options;
  // With an MSP identity the peer can join channels later (joinChannel), so it gets its ledger service now.
  const msp = crypto?.insecureDevCrypto !== true;
  const { node } = await peerFromConfig({ config, listen, crypto, channels, channelBlocks, tls, ledgerDir, admin, ledgers: msp }, { ...components, logger });
  await node.start();
  return new EmbeddedPeer(node);
}

async function loadConfig(
  coreYaml: string | undefined,
  env: Readonly<Record<string, string | undefined>> | undefined,
  overrides: Readonly<Record<string, unknown>>,
): Promise<PeerConfig> {
  let yaml: unknown;
  if (coreYaml !== undefined) {
    let text: string;
    try {
      text = await readFile(coreYaml, "utf8");
    } catch (err) {
      throw new PeerError("PEER_CONFIG", `core.yaml ${coreYaml}: cannot read the file: ${errorMessage(err)}`, { cause: err });
    }
    yaml = parseCoreYaml(text);
  }
  return loadPeerConfig({ yaml, ...(coreYaml !== undefined ? { configDir: dirname(resolve(coreYaml)) } : {}), env: env ?? {}, overrides }).config;
}

class EmbeddedPeer implements Peer {
  readonly node: PeerNode;
  #stopped = false;
  /** Wakes the `blocks` iterators waiting for a commit (or the stop). */
  readonly #waiters = new Set<() => void>();

  constructor(node: PeerNode) {
    this.node = node;
    node.events.on("block-committed", () => this.#wake());
  }

  get endpoint(): string {
    return this.node.internalEndpoint;
  }

  get pkiId(): string {
    return this.node.pkiId;
  }

  get org(): string {
    return this.node.org;
  }

  get events(): PeerEvents {
    return this.node.events;
  }

  async joinChannel(block: Uint8Array): Promise<ChannelStatusView> {
    if (this.#stopped) throw new PeerError("PEER_STOPPED", "the peer was stopped");
    try {
      return await this.node.joinChannelBlock(block);
    } catch (err) {
      if (err instanceof PeerNodeError && err.code === "NO_LEDGER") {
        throw new PeerError("NO_LEDGER", "cannot join a channel with a ledger: this peer has no MSP signing identity (it runs the insecure development crypto)", { cause: err });
      }
      throw err;
    }
  }

  async *blocks(channel: string, opts: { from?: bigint; signal?: AbortSignal } = {}): AsyncGenerator<CommittedBlock> {
    const service = this.node.service;
    if (service === undefined || !service.channels().includes(channel)) {
      throw new PeerError("NO_LEDGER", `channel ${channel} has no ledger on this peer: join it first (joinChannel with its genesis block)`);
    }
    const ledger = service.ledger(channel);
    const signal = opts.signal;
    let next = opts.from ?? 0n;
    for (;;) {
      if (this.#stopped || signal?.aborted) return;
      if (next < ledger.height()) {
        for await (const block of ledger.iterate(next)) {
          yield { channel, number: next, block };
          next++;
          if (this.#stopped || signal?.aborted) return;
        }
        continue;
      }
      await new Promise<void>((wake) => {
        const done = (): void => {
          this.#waiters.delete(done);
          signal?.removeEventListener("abort", done);
          wake();
        };
        this.#waiters.add(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }

  membership(): MembershipView {
    return this.node.membershipView();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake();
    await this.node.stop();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}
