import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { type Command, Option } from "commander";
import { DEFAULT_GOSSIP_TRANSPORT, GOSSIP_TRANSPORT_KINDS, type GossipTransportKind, loadTlsMaterial, type TlsMaterial, TlsMaterialError } from "../../comm/grpc/index.js";
import {
  checkHostPort,
  ConfigError,
  type ConfigProblem,
  describeSource,
  internalEndpointOf,
  loadPeerConfig,
  type PeerConfig,
  parseCoreYaml,
} from "../../config/index.js";
import { DEV_ORG } from "../../crypto/index.js";
import { createLogger, type Logger, LogLevels } from "../../logging/index.js";
import {
  type ChannelJoinBlock,
  loadChannelJoinBlock,
  type PeerCryptoChoice,
  type PeerFromConfig,
  type PeerFromConfigOptions,
  peerFromConfig,
  type PeerNode,
  PeerNodeError,
  PeerSetupError,
} from "../../service/index.js";
import { errorMessage, GossipError, toHex } from "../../util/index.js";
import { addressInUseMessage, exitSoon, isAddressInUse, routeGrpcLogs, runUntilSignalled, tunePeerRuntime, writeControl } from "../index.js";
import { repeatableFlag } from "../network/index.js";

/** The flags of `fabric-gossip peer start` (a contract: scripts and docs use these names). */
export interface PeerStartFlags {
  /** Required unless the configuration gives peer.listenAddress (--config or CORE_PEER_LISTENADDRESS). */
  listen?: string;
  external?: string;
  bootstrap?: string[];
  channel?: string[];
  org?: string;
  msp?: string;
  mspId?: string;
  /** Removed: refused with what to do instead (the channels' MSPs decide whom the peer trusts). */
  orgsDir?: string;
  insecureDevCrypto?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string[];
  admin?: string;
  config?: string;
  /** Removed: refused with what to do instead (`channel genesis --channel-def`, then --channel-block). */
  channelDef?: string[];
  channelBlock?: string[];
  ledgerDir?: string;
  reportCommits?: boolean;
  /** The gossip port's gRPC implementation: "grpc-js" or "http2" (the same wire). */
  grpcTransport?: string;
}

/** A bad flag, file or setting, or a failed start: the message names the flag; the CLI prints it without a stack trace. */
export class PeerStartError extends GossipError {
  declare readonly code: "PEER_START";

  constructor(message: string, options?: { cause?: unknown }) {
    super("PEER_START", message, options);
  }
}

/** Which flag sets which peer.gossip key (overrides layer). */
const FLAG_OF_KEY: Readonly<Record<string, string>> = {
  "peer.gossip.bootstrap": "--bootstrap",
  "peer.gossip.externalEndpoint": "--external",
  "peer.listenAddress": "--listen",
  "peer.address": "--listen",
};

/** Fabric's channel name rule (configtx: lower-case letters, digits, '.', '-'; a letter first; under 250). */
const CHANNEL_NAME = /^[a-z][a-z0-9.-]{0,248}$/;

/** `fabric-gossip peer start`: one gossip peer as a long-running process. */
export function registerPeer(program: Command): void {
  const peer = program.command("peer").description("run a gossip peer");
  peer
    .command("start")
    .description(
      'run a gossip peer until SIGINT/SIGTERM; prints one JSON line {"event":"ready",...} on stdout once serving, logs on stderr',
    )
    .option("--listen <host:port>", "address to serve gossip (gRPC) on (peer.listenAddress and peer.address); also the internal endpoint unless peer.gossip.endpoint is set")
    .option("--external <host:port>", "endpoint published to other orgs (peer.gossip.externalEndpoint); none: invisible to them")
    .option("--bootstrap <host:port,...>", "same-org peers to connect to at start (peer.gossip.bootstrap); comma-separated, repeatable", collectList)
    .option("--channel <name...>", "with --insecure-dev-crypto: a gossip-only channel to join (repeatable; no ledger, the one org its member)")
    .option("--org <id>", `with --insecure-dev-crypto: the name of the one org every peer is in (default ${DEV_ORG})`)
    .option("--msp <dir>", "local MSP folder (signcerts, keystore, cacerts, ...)")
    .option("--msp-id <id>", "MSP ID of the local MSP")
    .addOption(new Option("--orgs-dir <dir>").hideHelp())
    .option("--insecure-dev-crypto", "INSECURE: Fabric's gossip test crypto (identity = endpoint, signature = message, one org)")
    .option("--tls-cert <file>", "TLS certificate (server and client); enables mutual TLS")
    .option("--tls-key <file>", "TLS private key")
    .option("--tls-ca <files...>", "TLS CA certificates to trust (repeatable)")
    .option("--admin <host:port>", "admin HTTP endpoint: /healthz, /metrics, /v1/membership (port 0 picks one); default operations.listenAddress, served with operations.tls")
    .option("--config <core.yaml>", "a Fabric core.yaml whose peer section is read (peer.id, address, listenAddress, fileSystemPath, mspConfigPath, localMspId, tls, gossip, deliveryclient, and operations.*; below CORE_PEER_*, CORE_OPERATIONS_* and flags)")
    .addOption(new Option("--channel-def <file>").argParser(repeatableFlag).hideHelp())
    .option(
      "--channel-block <file>",
      "join the channel of this genesis block (Fabric's peer channel join -b; make one with `channel genesis`): ledger, state transfer, leader election, Deliver; its orgs, MSPs, anchor peers and orderers come from the block and follow its config updates (repeatable)",
      repeatableFlag,
    )
    .option("--ledger-dir <dir>", "where the channels' ledgers live (default <peer.fileSystemPath>/ledgers)")
    .option("--report-commits", 'print {"event":"commit",...} after each committed block and {"event":"leader",...} on leadership changes (stdout, JSON lines)')
    .option(
      "--grpc-transport <kind>",
      `the gossip port's gRPC implementation: ${GOSSIP_TRANSPORT_KINDS.join(" or ")} (default ${DEFAULT_GOSSIP_TRANSPORT}); the same wire either way, http2 (gRPC on Node's http2 directly) costs less per message`,
    )
    .action(async (flags: PeerStartFlags, cmd: Command) => {
      const logSpec = (cmd.optsWithGlobals() as { logSpec?: string }).logSpec;
      const logLevels = new LogLevels(logSpec ?? "info");
      const logger = createLogger({ name: "peer", spec: logLevels });
      routeGrpcLogs(logger);
      const v8Flags = tunePeerRuntime();
      if (v8Flags.length > 0) logger.debug("V8 settings of a peer process", { flags: v8Flags.join(" ") });
      try {
        await runPeerStart(flags, { env: process.env, logger, logLevels });
      } finally {
        exitSoon(logger);
      }
    });
}

function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(",").map((s) => s.trim())];
}

/** Everything `peer start` needs, checked: the configuration and what the library builds the peer from. */
export interface PeerStartPlan {
  /** The whole peer configuration (defaults <- core.yaml <- CORE_PEER_* <- flags). */
  peer: PeerConfig;
  options: PeerFromConfigOptions;
  /** The --channel-block files, in the order of `options.channelBlocks`. */
  channelBlockFiles: string[];
}

/** Flags that set a configuration key: overrides layer, and how problems name them. */
const FLAG_KEYS = { listen: "peer.listenAddress", external: "peer.gossip.externalEndpoint", bootstrap: "peer.gossip.bootstrap" } as const;

/**
 * Checks the flags, loads the configuration (defaults <- core.yaml <- CORE_PEER_* <- flags), the
 * channel blocks and the TLS material the flags name.
 * @throws PeerStartError naming the flag, file or key at fault.
 */
export async function planPeerStart(flags: PeerStartFlags, env: Readonly<Record<string, string | undefined>>, logger: Logger): Promise<PeerStartPlan> {
  // Flags of the YAML channel definitions, gone: a peer learns a channel only from its config blocks.
  if (flags.channelDef !== undefined) {
    throw new PeerStartError(
      "--channel-def: removed; a peer learns a channel only from its configuration blocks. Make the channel's genesis block with `fabric-gossip channel genesis --channel-def FILE --out BLOCK` and start the peer with --channel-block BLOCK",
    );
  }
  if (flags.orgsDir !== undefined) {
    throw new PeerStartError(
      "--orgs-dir: removed; the MSPs of the channels joined (from their genesis and config blocks) decide which orgs the peer trusts, as in Fabric. Drop the flag; join channels with --channel-block",
    );
  }
  if (flags.listen !== undefined) checkEndpointFlag("--listen", flags.listen, false);
  if (flags.external !== undefined && flags.external !== "") checkEndpointFlag("--external", flags.external, false);
  if (flags.admin !== undefined) checkEndpointFlag("--admin", flags.admin, true);
  const channels = [...new Set(flags.channel ?? [])];
  for (const ch of channels) {
    if (!CHANNEL_NAME.test(ch)) {
      throw new PeerStartError(
        `--channel ${JSON.stringify(ch)}: not a channel name; expected lower-case letters, digits, '.' and '-', starting with a letter (Fabric's rule)`,
      );
    }
  }

  // Configuration.
  let yaml: unknown;
  let configDir: string | undefined;
  if (flags.config !== undefined) {
    const text = await readFlagFile("--config", flags.config);
    try {
      yaml = parseCoreYaml(text.toString("utf8"));
    } catch (err) {
      if (err instanceof ConfigError) throw new PeerStartError(`--config ${flags.config}: ${formatProblems(err.problems, flags.config)}`);
      throw err;
    }
    configDir = dirname(resolve(flags.config));
  }
  const overrides: Record<string, unknown> = {};
  if (flags.bootstrap !== undefined && flags.bootstrap.length > 0) {
    if (flags.bootstrap.includes("")) throw new PeerStartError(`--bootstrap ${JSON.stringify(flags.bootstrap.join(","))}: has an empty entry; expected host:port,host:port,...`);
    overrides[FLAG_KEYS.bootstrap] = flags.bootstrap;
  }
  if (flags.external !== undefined) overrides[FLAG_KEYS.external] = flags.external;
  // The TLS flags win over peer.tls from CORE_PEER_TLS_* and core.yaml, key by key, so that the
  // configuration's own checks (peer.tls.enabled true needs its files) see what will be used.
  const tlsFlags = checkTlsFlags(flags);
  if (tlsFlags !== undefined) {
    overrides["peer.tls.enabled"] = true;
    overrides["peer.tls.cert.file"] = tlsFlags.cert;
    overrides["peer.tls.key.file"] = tlsFlags.key;
    overrides["peer.tls.clientCert.file"] = tlsFlags.cert;
    overrides["peer.tls.clientKey.file"] = tlsFlags.key;
    overrides["peer.tls.rootcert.file"] = tlsFlags.cas[0];
    overrides["peer.tls.clientRootCAs.files"] = tlsFlags.cas;
  }
  if (flags.listen !== undefined) {
    overrides[FLAG_KEYS.listen] = flags.listen;
    overrides["peer.address"] = flags.listen;
  }
  let peer: PeerConfig;
  try {
    const loaded = loadPeerConfig({ yaml, ...(configDir !== undefined ? { configDir } : {}), env, overrides });
    peer = loaded.config;
    for (const n of loaded.notes) logger.info("configuration note", { key: n.key, note: n.message });
  } catch (err) {
    if (err instanceof ConfigError) throw new PeerStartError(`invalid configuration${err.problems.length > 1 ? ` (${err.problems.length} problems)` : ""}: ${formatProblems(err.problems, flags.config)}`);
    throw err;
  }
  // Without --listen, the configuration says where to listen only if it was given one.
  const configured = flags.config !== undefined || env["CORE_PEER_LISTENADDRESS"] !== undefined;
  if (flags.listen === undefined && !configured) {
    throw new PeerStartError("--listen: required (host:port to serve gossip on), unless --config or CORE_PEER_LISTENADDRESS gives peer.listenAddress");
  }
  const internal = flags.listen !== undefined ? internalEndpointOf(peer.gossip, flags.listen) : peer.gossip.endpoint || peer.address;
  if (/^(0\.0\.0\.0|\[::\]):/.test(internal)) {
    logger.warn("the internal endpoint is a wildcard address other peers cannot dial; set peer.address or peer.gossip.endpoint (CORE_PEER_GOSSIP_ENDPOINT)", {
      endpoint: internal,
    });
  }

  // Channels joined from their genesis blocks (Fabric's `peer channel join -b`).
  const channelBlocks: ChannelJoinBlock[] = [];
  for (const file of flags.channelBlock ?? []) {
    let joinBlock: ChannelJoinBlock;
    try {
      joinBlock = await loadChannelJoinBlock(file);
    } catch (err) {
      throw new PeerStartError(`--channel-block ${file}: ${errorMessage(err)}`);
    }
    const name = joinBlock.def.name;
    if (channelBlocks.some((b) => b.def.name === name)) {
      throw new PeerStartError(`--channel-block ${file}: channel ${name} is given twice (by another --channel-block)`);
    }
    channelBlocks.push(joinBlock);
  }

  // Crypto: flags first, then the configuration's local MSP when a configuration was given.
  const msp = flags.msp ?? (flags.config !== undefined || env["CORE_PEER_MSPCONFIGPATH"] !== undefined ? peer.mspConfigPath : undefined);
  const mspId = flags.mspId ?? (flags.config !== undefined || env["CORE_PEER_LOCALMSPID"] !== undefined ? peer.localMspId : undefined);
  let crypto: PeerCryptoChoice;
  if (flags.insecureDevCrypto) {
    if (flags.msp !== undefined || flags.mspId !== undefined) throw new PeerStartError("--insecure-dev-crypto excludes --msp and --msp-id: choose one");
    if (channelBlocks.length > 0) {
      throw new PeerStartError("--channel-block needs --msp and --msp-id: the ordering service and the other peers authenticate this peer by its MSP identity");
    }
    if (flags.org !== undefined && flags.org.trim() === "") throw new PeerStartError("--org: empty; expected an org name such as ORG1");
    crypto = { insecureDevCrypto: true, ...(flags.org !== undefined ? { org: flags.org } : {}) };
  } else {
    if (msp === undefined || mspId === undefined) {
      throw new PeerStartError("crypto: give --msp DIR and --msp-id ID (channels from --channel-block), or --insecure-dev-crypto for Fabric's test crypto");
    }
    if (flags.org !== undefined && flags.org !== mspId) {
      throw new PeerStartError(`--org ${flags.org}: only meaningful with --insecure-dev-crypto; with --msp the org is the --msp-id (${mspId})`);
    }
    if (channels.length > 0) {
      throw new PeerStartError(
        `--channel ${channels[0]}: only with --insecure-dev-crypto; a peer with an MSP identity knows a channel only from its configuration (its MSPs and Readers policy decide who may gossip in it): join it with --channel-block FILE (make one with \`channel genesis\`) or \`channel join\``,
      );
    }
    crypto = { msp, mspId };
  }

  const tls = tlsFlags === undefined ? undefined : await flagTls(tlsFlags);
  const grpcTransport = flags.grpcTransport;
  if (grpcTransport !== undefined && !(GOSSIP_TRANSPORT_KINDS as readonly string[]).includes(grpcTransport)) {
    throw new PeerStartError(`--grpc-transport ${grpcTransport}: not a gRPC transport we have; use ${GOSSIP_TRANSPORT_KINDS.join(" or ")}`);
  }
  return {
    peer,
    channelBlockFiles: [...(flags.channelBlock ?? [])],
    options: {
      config: peer,
      ...(flags.listen !== undefined ? { listen: flags.listen } : {}),
      crypto,
      channels,
      channelBlocks: channelBlocks.map((b) => b.block),
      // A peer with an MSP identity keeps ledgers, as Fabric's does: channels can be joined while it runs.
      ledgers: crypto.insecureDevCrypto !== true,
      // The flags' TLS replaces peer.tls; without them the library reads peer.tls.
      ...(tls !== undefined ? { tls } : {}),
      ...(flags.ledgerDir !== undefined ? { ledgerDir: flags.ledgerDir } : {}),
      ...(flags.admin !== undefined ? { admin: flags.admin } : {}),
      ...(grpcTransport !== undefined ? { grpcTransport: grpcTransport as GossipTransportKind } : {}),
    },
  };
}

/** The TLS files the flags name. */
interface TlsFlagFiles {
  cert: string;
  key: string;
  /** At least one. */
  cas: [string, ...string[]];
}

/** Checks the TLS flags; undefined when no TLS flag is given (then peer.tls decides). */
function checkTlsFlags(flags: PeerStartFlags): TlsFlagFiles | undefined {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined) {
    if (flags.tlsCa !== undefined && flags.tlsCa.length > 0) {
      throw new PeerStartError("--tls-ca needs --tls-cert and --tls-key (without them the peer runs plaintext gRPC)");
    }
    return undefined;
  }
  if (flags.tlsCert === undefined) throw new PeerStartError("--tls-key needs --tls-cert");
  if (flags.tlsKey === undefined) throw new PeerStartError("--tls-cert needs --tls-key");
  const [first, ...rest] = flags.tlsCa ?? [];
  if (first === undefined) throw new PeerStartError("--tls-cert needs at least one --tls-ca (the TLS CAs of the orgs whose peers we accept and dial)");
  return { cert: flags.tlsCert, key: flags.tlsKey, cas: [first, ...rest] };
}

/** Mutual TLS from the flags' files, naming the flag at fault. */
async function flagTls(files: TlsFlagFiles): Promise<TlsMaterial> {
  try {
    return await loadTlsMaterial({
      cert: { what: "--tls-cert", file: files.cert },
      key: { what: "--tls-key", file: files.key },
      cas: files.cas.map((file) => ({ what: "--tls-ca", file })),
    });
  } catch (err) {
    if (err instanceof TlsMaterialError) throw new PeerStartError(err.message, { cause: err });
    throw err;
  }
}

/** Builds the peer from the plan (src/service's `peerFromConfig`), naming the flag behind a failure. */
async function buildPeer(plan: PeerStartPlan, logger: Logger, logLevels: LogLevels | undefined): Promise<PeerFromConfig> {
  try {
    return await peerFromConfig(plan.options, { logger, ...(logLevels !== undefined ? { logLevels } : {}) });
  } catch (err) {
    if (!(err instanceof PeerSetupError)) throw err;
    const c = plan.options.crypto;
    switch (err.code) {
      case "PEER_CRYPTO":
        if (c !== undefined && c.insecureDevCrypto !== true) {
          throw new PeerStartError(`crypto (--msp ${c.msp} --msp-id ${c.mspId}): ${err.message}`, { cause: err });
        }
        throw new PeerStartError(`crypto: ${err.message}`, { cause: err });
      case "PEER_CHANNEL_BLOCK": {
        const file = err.index === undefined ? undefined : plan.channelBlockFiles[err.index];
        throw new PeerStartError(`--channel-block${file === undefined ? "" : ` ${file}`}: ${err.message}`, { cause: err });
      }
      default:
        throw new PeerStartError(err.message, { cause: err });
    }
  }
}

/** With --report-commits: a JSON line per committed block and per leadership change, from the peer's events. */
function reportCommits(peer: PeerNode): void {
  peer.events.on("block-committed", (e) => writeControl({ event: "commit", channel: e.channel, number: Number(e.number), hash: toHex(e.headerHash), time: Date.now() }));
  peer.events.on("leadership", (e) => writeControl({ event: "leader", channel: e.channel, leader: e.isLeader, time: Date.now() }));
}

/** Runs a peer until SIGINT or SIGTERM. */
export async function runPeerStart(
  flags: PeerStartFlags,
  deps: { env: Readonly<Record<string, string | undefined>>; logger: Logger; logLevels?: LogLevels },
): Promise<void> {
  const { logger } = deps;
  const plan = await planPeerStart(flags, deps.env, logger);
  const { node: peer, full } = await buildPeer({ ...plan, options: { ...plan.options, processMetrics: true } }, logger, deps.logLevels);
  if (flags.reportCommits === true) reportCommits(peer);
  await runUntilSignalled(
    async () => {
      try {
        await peer.start();
      } catch (err) {
        if (err instanceof PeerNodeError) {
          // Without --admin the endpoint listens at operations.listenAddress (peerFromConfig).
          const adminFrom = plan.options.admin !== undefined ? "--admin" : "operations.listenAddress";
          const adminAddress = plan.options.admin ?? plan.peer.operations.listenAddress;
          const flag = err.code === "ADMIN_LISTEN" ? adminFrom : "--listen";
          const address = err.code === "ADMIN_LISTEN" ? adminAddress : (plan.options.listen ?? plan.peer.listenAddress);
          if (address !== undefined && isAddressInUse(err)) throw new PeerStartError(addressInUseMessage(flag, address), { cause: err });
          throw new PeerStartError(`${flag}: ${err.message}`, { cause: err });
        }
        if (err instanceof GossipError) throw new PeerStartError(`cannot start: ${err.message}`, { cause: err });
        throw err;
      }
      return peer;
    },
    (p) => p.stop(),
    {
      logger,
      what: "the peer",
      ready: (p) => ({
        event: "ready",
        endpoint: p.internalEndpoint,
        admin: p.adminAddress ?? null,
        // With operations TLS the endpoint speaks HTTPS: clients need the scheme (admin stays host:port).
        ...(p.adminUrl?.startsWith("https:") === true ? { adminUrl: p.adminUrl } : {}),
        pkiId: p.pkiId,
        ...(full ? { channels: p.channelsView().map((c) => ({ channel: c.channel, height: c.height })) } : {}),
      }),
    },
  );
}

function checkEndpointFlag(flag: string, value: string, portZeroOk: boolean): void {
  const checked = portZeroOk ? value.replace(/:0$/, ":1") : value;
  const why = checkHostPort(checked);
  if (why !== undefined) {
    const hint = flag === "--listen" && /:0$/.test(value) ? " (port 0 cannot be used: the peer advertises its endpoint before it listens; pick a free port)" : "";
    throw new PeerStartError(`${flag} ${JSON.stringify(value)}: ${why}; expected host:port, e.g. 127.0.0.1:7051${hint}`);
  }
}

async function readFlagFile(flag: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new PeerStartError(`${flag} ${file}: cannot read the file: ${errorMessage(err)}`);
  }
}

/** Config problems, one per line, each naming the flag that set the key when it was a flag. */
function formatProblems(problems: readonly ConfigProblem[], yamlFile: string | undefined): string {
  const lines = problems.map((p) => {
    if (p.source?.kind === "override") {
      const flag = FLAG_OF_KEY[p.key];
      return `${flag ?? "a flag"} (${p.key}): ${p.message}`;
    }
    const from = p.source === undefined ? "" : p.source.kind === "yaml" && yamlFile ? ` (from ${yamlFile})` : ` (from ${describeSource(p.source)})`;
    return `${p.key}${from}: ${p.message}`;
  });
  return lines.length === 1 ? lines[0]! : `\n  - ${lines.join("\n  - ")}`;
}
