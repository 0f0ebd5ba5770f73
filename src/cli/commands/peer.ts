import { createPrivateKey, X509Certificate } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import type { SecurityAdvisor } from "../../api/crypto.js";
import type { GrpcTlsOptions } from "../../comm/grpc/index.js";
import {
  checkHostPort,
  ConfigError,
  type ConfigProblem,
  describeSource,
  type GossipConfig,
  internalEndpointOf,
  loadPeerConfig,
  type PeerConfig,
  type PeerTlsConfig,
  parseCoreYaml,
} from "../../config/index.js";
import { DEV_ORG, type MspOrgMaterial, mspIdForOrg } from "../../crypto/index.js";
import { createLogger, type Logger } from "../../logging/index.js";
import {
  type ChannelDefinition,
  ChannelRegistry,
  gossipServiceOptionsOf,
  loadChannelDefinition,
  loadChannelMspOrgs,
} from "../../service/index.js";
import { PeerNode, PeerNodeError } from "../../service/peer-node.js";
import { errorMessage, GossipError, toHex, utf8 } from "../../util/index.js";
import { writeControl } from "../control.js";
import { loadPeerCrypto, type PeerCrypto } from "../peer-crypto.js";

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
  orgsDir?: string;
  insecureDevCrypto?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string[];
  admin?: string;
  config?: string;
  channelDef?: string[];
  ledgerDir?: string;
  reportCommits?: boolean;
}

/** A bad flag, file or setting: the message names it; the CLI prints it without a stack trace. */
export class PeerStartError extends Error {}

/** How long a stop may take before the process gives up on a clean exit. */
const STOP_TIMEOUT_MS = 15_000;

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
    .option("--channel <name...>", "channel to join (repeatable); its members are every org known, with no anchor peers")
    .option("--org <id>", `with --insecure-dev-crypto: the name of the one org every peer is in (default ${DEV_ORG})`)
    .option("--msp <dir>", "local MSP folder (signcerts, keystore, cacerts, ...)")
    .option("--msp-id <id>", "MSP ID of the local MSP")
    .option("--orgs-dir <dir>", "crypto material root (output of `crypto generate`) whose organizations this peer trusts and puts in its channels")
    .option("--insecure-dev-crypto", "INSECURE: Fabric's gossip test crypto (identity = endpoint, signature = message, one org)")
    .option("--tls-cert <file>", "TLS certificate (server and client); enables mutual TLS")
    .option("--tls-key <file>", "TLS private key")
    .option("--tls-ca <files...>", "TLS CA certificates to trust (repeatable)")
    .option("--admin <host:port>", "admin HTTP endpoint: /healthz, /metrics, /v1/membership (port 0 picks one)")
    .option("--config <core.yaml>", "a Fabric core.yaml whose peer section is read (peer.id, address, listenAddress, fileSystemPath, mspConfigPath, localMspId, tls, gossip, deliveryclient; below CORE_PEER_* and flags)")
    .option("--channel-def <file>", "join the channel of this definition YAML as a full peer: ledger, state transfer, leader election, Deliver from its orderers (repeatable)", collectFiles)
    .option("--ledger-dir <dir>", "where the channels' ledgers live (default <peer.fileSystemPath>/ledgers)")
    .option("--report-commits", 'print {"event":"commit",...} after each committed block and {"event":"leader",...} on leadership changes (stdout, JSON lines)')
    .action(async (flags: PeerStartFlags, cmd: Command) => {
      const logSpec = (cmd.optsWithGlobals() as { logSpec?: string }).logSpec;
      await runPeerStart(flags, { env: process.env, logger: createLogger({ name: "peer", ...(logSpec ? { spec: logSpec } : {}) }) });
    });
}

function collectFiles(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(",").map((s) => s.trim())];
}

/** Everything `peer start` needs, checked: built from flags, environment and files. */
export interface PeerStartPlan {
  listen: string;
  config: GossipConfig;
  /** The whole peer configuration (peer.*), of which `config` is peer.gossip. */
  peer: PeerConfig;
  crypto: PeerCrypto;
  /** The orgs (MSP IDs) every `--channel` channel is made of. */
  channelOrgs: string[];
  /** Gossip-only channels (`--channel`). */
  channels: string[];
  /** Full-peer channels (`--channel-def`), with the registry the MCS resolves them through. */
  channelDefs: ChannelDefinition[];
  registry: ChannelRegistry;
  /** Where the ledgers live (one folder per channel). */
  ledgerDir: string;
  tls?: GrpcTlsOptions;
  admin?: string;
}

/** Flags that set a configuration key: overrides layer, and how problems name them. */
const FLAG_KEYS = { listen: "peer.listenAddress", external: "peer.gossip.externalEndpoint", bootstrap: "peer.gossip.bootstrap" } as const;

/**
 * Checks the flags, loads the configuration (defaults <- core.yaml <- CORE_PEER_* <- flags), the
 * channel definitions, the crypto and the TLS material.
 * @throws PeerStartError naming the flag, file or key at fault.
 */
export async function planPeerStart(flags: PeerStartFlags, env: Readonly<Record<string, string | undefined>>, logger: Logger): Promise<PeerStartPlan> {
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
  const config = peer.gossip;
  // Without --listen, the configuration says where to listen only if it was given one.
  const configured = flags.config !== undefined || env["CORE_PEER_LISTENADDRESS"] !== undefined;
  if (flags.listen === undefined && !configured) {
    throw new PeerStartError("--listen: required (host:port to serve gossip on), unless --config or CORE_PEER_LISTENADDRESS gives peer.listenAddress");
  }
  const listen = flags.listen ?? peer.listenAddress;
  const internal = flags.listen !== undefined ? internalEndpointOf(config, flags.listen) : config.endpoint || peer.address;
  if (/^(0\.0\.0\.0|\[::\]):/.test(internal)) {
    logger.warn("the internal endpoint is a wildcard address other peers cannot dial; set peer.address or peer.gossip.endpoint (CORE_PEER_GOSSIP_ENDPOINT)", {
      endpoint: internal,
    });
  }

  // Channel definitions (full-peer channels).
  const channelDefs: ChannelDefinition[] = [];
  for (const file of flags.channelDef ?? []) {
    let def: ChannelDefinition;
    try {
      def = await loadChannelDefinition(file);
    } catch (err) {
      throw new PeerStartError(`--channel-def ${file}: ${errorMessage(err)}`);
    }
    if (channelDefs.some((d) => d.name === def.name) || channels.includes(def.name)) {
      throw new PeerStartError(`--channel-def ${file}: channel ${def.name} is given twice (by --channel or another --channel-def)`);
    }
    channelDefs.push(def);
  }
  const registry = new ChannelRegistry();
  const ledgerDir = flags.ledgerDir ?? join(peer.fileSystemPath, "ledgers");

  // Crypto: flags first, then the configuration's local MSP when a configuration was given.
  const msp = flags.msp ?? (flags.config !== undefined || env["CORE_PEER_MSPCONFIGPATH"] !== undefined ? peer.mspConfigPath : undefined);
  const mspId = flags.mspId ?? (flags.config !== undefined || env["CORE_PEER_LOCALMSPID"] !== undefined ? peer.localMspId : undefined);
  let crypto: PeerCrypto;
  let channelOrgs: string[];
  if (flags.insecureDevCrypto) {
    if (flags.msp !== undefined || flags.mspId !== undefined) throw new PeerStartError("--insecure-dev-crypto excludes --msp and --msp-id: choose one");
    if (flags.orgsDir !== undefined) throw new PeerStartError("--orgs-dir needs --msp and --msp-id (with --insecure-dev-crypto every peer is in one org)");
    if (channelDefs.length > 0) throw new PeerStartError("--channel-def needs --msp and --msp-id: the ordering service and the other peers authenticate this peer by its MSP identity");
    if (flags.org !== undefined && flags.org.trim() === "") throw new PeerStartError("--org: empty; expected an org name such as ORG1");
    crypto = await loadPeerCrypto({ listen: internal, external: config.externalEndpoint || undefined, insecureDevCrypto: true }, logger);
    const org = flags.org ?? DEV_ORG;
    if (flags.org !== undefined) crypto = { ...crypto, securityAdvisor: oneOrg(org) };
    channelOrgs = [org];
  } else {
    if (msp === undefined || mspId === undefined) {
      throw new PeerStartError("crypto: give --msp DIR and --msp-id ID (and --orgs-dir DIR to trust other orgs), or --insecure-dev-crypto for Fabric's test crypto");
    }
    if (flags.org !== undefined && flags.org !== mspId) {
      throw new PeerStartError(`--org ${flags.org}: only meaningful with --insecure-dev-crypto; with --msp the org is the --msp-id (${mspId})`);
    }
    channelOrgs = flags.orgsDir === undefined ? [mspId] : await peerOrgsOf(flags.orgsDir, mspId);
    const extraOrgs: MspOrgMaterial[] = [];
    for (const def of channelDefs) {
      try {
        extraOrgs.push(...(await loadChannelMspOrgs(def)));
      } catch (err) {
        throw new PeerStartError(`--channel-def (channel ${def.name}): ${errorMessage(err)}`);
      }
    }
    // Without channel config blocks, a `--channel` channel's readers are the peer orgs this peer
    // trusts; a `--channel-def` channel's are the orgs its definition names.
    const readers = new Set(channelOrgs);
    const joined = new Set(channels);
    try {
      crypto = await loadPeerCrypto(
        {
          listen: internal,
          msp,
          mspId,
          orgsDir: flags.orgsDir,
          extraOrgs,
          channelOrgs: (ch) => registry.channelOrgs(ch) ?? (joined.has(ch) ? readers : undefined),
          ordererOrgs: registry.ordererOrgs,
        },
        logger,
      );
    } catch (err) {
      throw new PeerStartError(`crypto (--msp ${msp} --msp-id ${mspId}${flags.orgsDir ? ` --orgs-dir ${flags.orgsDir}` : ""}): ${errorMessage(err)}`);
    }
  }

  const tls = await planTls(flags, peer.tls);
  return {
    listen,
    config,
    peer,
    crypto,
    channelOrgs,
    channels,
    channelDefs,
    registry,
    ledgerDir,
    ...(tls ? { tls } : {}),
    ...(flags.admin !== undefined ? { admin: flags.admin } : {}),
  };
}

/** Mutual TLS from the flags, else from peer.tls when it is enabled; plaintext otherwise. */
async function planTls(flags: PeerStartFlags, conf: PeerTlsConfig): Promise<GrpcTlsOptions | undefined> {
  let certFile: string;
  let keyFile: string;
  let caFiles: { what: string; file: string }[];
  if (flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    if (flags.tlsCert === undefined) throw new PeerStartError("--tls-key needs --tls-cert");
    if (flags.tlsKey === undefined) throw new PeerStartError("--tls-cert needs --tls-key");
    const cas = flags.tlsCa ?? [];
    if (cas.length === 0) throw new PeerStartError("--tls-cert needs at least one --tls-ca (the TLS CAs of the orgs whose peers we accept and dial)");
    certFile = flags.tlsCert;
    keyFile = flags.tlsKey;
    caFiles = cas.map((file) => ({ what: "--tls-ca", file }));
  } else if (flags.tlsCa !== undefined && flags.tlsCa.length > 0) {
    throw new PeerStartError("--tls-ca needs --tls-cert and --tls-key (without them the peer runs plaintext gRPC)");
  } else if (conf.enabled) {
    certFile = conf.certFile;
    keyFile = conf.keyFile;
    caFiles = [conf.rootCertFile, ...conf.clientRootCAFiles].filter((f) => f !== "").map((file) => ({ what: "peer.tls root certificate", file }));
  } else {
    return undefined;
  }
  const what = (flag: string, key: string): string => (flags.tlsCert !== undefined ? flag : key);
  const cert = await readFlagFile(what("--tls-cert", "peer.tls.cert.file"), certFile);
  const key = await readFlagFile(what("--tls-key", "peer.tls.key.file"), keyFile);
  try {
    new X509Certificate(cert);
  } catch (err) {
    throw new PeerStartError(`${what("--tls-cert", "peer.tls.cert.file")} ${certFile}: not a PEM certificate: ${errorMessage(err)}`);
  }
  try {
    createPrivateKey(key);
  } catch (err) {
    throw new PeerStartError(`${what("--tls-key", "peer.tls.key.file")} ${keyFile}: not a PEM private key: ${errorMessage(err)}`);
  }
  const roots: Buffer[] = [];
  for (const { what: w, file } of caFiles) {
    const pem = await readFlagFile(w, file);
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new PeerStartError(`${w} ${file}: not a PEM certificate: ${errorMessage(err)}`);
    }
    roots.push(pem, Buffer.from("\n"));
  }
  return { cert, key, rootCAs: Buffer.concat(roots) };
}

/** Runs a peer until SIGINT or SIGTERM. */
export async function runPeerStart(flags: PeerStartFlags, deps: { env: Readonly<Record<string, string | undefined>>; logger: Logger }): Promise<void> {
  const { logger } = deps;
  const plan = await planPeerStart(flags, deps.env, logger);
  const full = plan.channelDefs.length > 0;
  const signer = plan.crypto.signer;
  if (full && signer === undefined) throw new PeerStartError("--channel-def needs an MSP signing identity (--msp, --msp-id)");
  const report = flags.reportCommits === true;
  const peer = new PeerNode(
    {
      mcs: plan.crypto.mcs,
      securityAdvisor: plan.crypto.securityAdvisor,
      selfIdentity: plan.crypto.identity,
      logger,
      ...(full && signer !== undefined
        ? {
            service: {
              signer,
              channels: plan.registry,
              ...(report
                ? {
                    onCommit: (channel: string, number: bigint, hash: Uint8Array) =>
                      writeControl({ event: "commit", channel, number: Number(number), hash: toHex(hash), time: Date.now() }),
                    onLeadershipChange: (channel: string, leader: boolean) => writeControl({ event: "leader", channel, leader, time: Date.now() }),
                  }
                : {}),
            },
          }
        : {}),
    },
    {
      listenAddress: plan.listen,
      config: plan.config,
      tls: plan.tls,
      channels: plan.channels,
      channelOrgs: plan.channelOrgs,
      admin: plan.admin,
      ...(full
        ? {
            service: {
              options: {
                ...gossipServiceOptionsOf(plan.peer, plan.ledgerDir),
                ...(plan.tls !== undefined ? { deliverTls: { rootCAs: plan.tls.rootCAs, cert: plan.tls.cert, key: plan.tls.key } } : {}),
              },
              channels: plan.channelDefs,
            },
          }
        : {}),
    },
  );

  // Signals that come while starting stop the peer as soon as it is up.
  let signalled: (signal: NodeJS.Signals) => void = () => {};
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    signalled = resolve;
  });
  const onSignal = (s: NodeJS.Signals): void => signalled(s);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    await peer.start();
  } catch (err) {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (err instanceof PeerNodeError) {
      const flag = err.code === "ADMIN_LISTEN" ? "--admin" : "--listen";
      throw new PeerStartError(`${flag}: ${err.message}`);
    }
    if (err instanceof GossipError) throw new PeerStartError(`cannot start: ${err.message}`);
    throw err;
  }
  writeControl({
    event: "ready",
    endpoint: peer.internalEndpoint,
    admin: peer.adminAddress ?? null,
    pkiId: peer.pkiId,
    ...(full ? { channels: peer.channelsView().map((c) => ({ channel: c.channel, height: c.height })) } : {}),
  });

  const received = await signal;
  logger.info("stopping", { signal: received });
  // A stop that hangs must not keep the process forever; the timer does not keep it alive either.
  const guard = setTimeout(() => {
    logger.error("the peer did not stop in time; exiting anyway", { timeoutMs: STOP_TIMEOUT_MS });
    process.exit(1);
  }, STOP_TIMEOUT_MS);
  guard.unref();
  try {
    await peer.stop();
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  process.exitCode = 0;
  // Anything left open after a clean stop (a socket a library keeps) must not hold the exit.
  setTimeout(() => {
    logger.warn("handles still open after the peer stopped; exiting");
    process.exit(0);
  }, 2_000).unref();
}

/** A security advisor for development crypto under another org name: every identity is in `org`. */
function oneOrg(org: string): SecurityAdvisor {
  const id = utf8(org);
  return { orgByPeerIdentity: () => id };
}

/** The MSP IDs of the peer orgs of a `crypto generate` root, plus our own. */
async function peerOrgsOf(orgsDir: string, localMspId: string): Promise<string[]> {
  const dir = join(orgsDir, "peerOrganizations");
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    names = [];
  }
  return [...new Set([localMspId, ...names.map((n) => mspIdForOrg(n, "peer"))])].sort();
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
