import { createPrivateKey, X509Certificate } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import type { SecurityAdvisor } from "../../api/crypto.js";
import type { GrpcTlsOptions } from "../../comm/grpc/index.js";
import {
  checkHostPort,
  ConfigError,
  type ConfigProblem,
  describeSource,
  type GossipConfig,
  gossipSectionFromCoreYaml,
  internalEndpointOf,
  loadGossipConfig,
} from "../../config/index.js";
import { DEV_ORG, mspIdForOrg } from "../../crypto/index.js";
import { createLogger, type Logger } from "../../logging/index.js";
import { PeerNode, PeerNodeError } from "../../service/peer-node.js";
import { errorMessage, utf8 } from "../../util/index.js";
import { writeControl } from "../control.js";
import { loadPeerCrypto, type PeerCrypto } from "../peer-crypto.js";

/** The flags of `fabric-gossip peer start` (a contract: scripts and docs use these names). */
export interface PeerStartFlags {
  listen: string;
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
}

/** A bad flag, file or setting: the message names it; the CLI prints it without a stack trace. */
export class PeerStartError extends Error {}

/** How long a stop may take before the process gives up on a clean exit. */
const STOP_TIMEOUT_MS = 15_000;

/** Which flag sets which peer.gossip key (overrides layer). */
const FLAG_OF_KEY: Readonly<Record<string, string>> = {
  "peer.gossip.bootstrap": "--bootstrap",
  "peer.gossip.externalEndpoint": "--external",
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
    .requiredOption("--listen <host:port>", "address to serve gossip (gRPC) on; also the internal endpoint unless peer.gossip.endpoint is set")
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
    .option("--config <core.yaml>", "a Fabric core.yaml whose peer.gossip section is read (below CORE_PEER_GOSSIP_* and flags)")
    .action(async (flags: PeerStartFlags, cmd: Command) => {
      const logSpec = (cmd.optsWithGlobals() as { logSpec?: string }).logSpec;
      await runPeerStart(flags, { env: process.env, logger: createLogger({ name: "peer", ...(logSpec ? { spec: logSpec } : {}) }) });
    });
}

function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(",").map((s) => s.trim())];
}

/** Everything `peer start` needs, checked: built from flags, environment and files. */
export interface PeerStartPlan {
  listen: string;
  config: GossipConfig;
  crypto: PeerCrypto;
  /** The orgs (MSP IDs) every channel is made of. */
  channelOrgs: string[];
  channels: string[];
  tls?: GrpcTlsOptions;
  admin?: string;
}

/**
 * Checks the flags, loads the configuration (defaults <- core.yaml <- CORE_PEER_GOSSIP_* <- flags),
 * the crypto and the TLS material.
 * @throws PeerStartError naming the flag, file or key at fault.
 */
export async function planPeerStart(flags: PeerStartFlags, env: Readonly<Record<string, string | undefined>>, logger: Logger): Promise<PeerStartPlan> {
  checkEndpointFlag("--listen", flags.listen, false);
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
  if (flags.config !== undefined) {
    const text = await readFlagFile("--config", flags.config);
    try {
      yaml = gossipSectionFromCoreYaml(text.toString("utf8"));
    } catch (err) {
      if (err instanceof ConfigError) throw new PeerStartError(`--config ${flags.config}: ${formatProblems(err.problems, flags.config)}`);
      throw err;
    }
  }
  const overrides: Record<string, unknown> = {};
  if (flags.bootstrap !== undefined && flags.bootstrap.length > 0) {
    if (flags.bootstrap.includes("")) throw new PeerStartError(`--bootstrap ${JSON.stringify(flags.bootstrap.join(","))}: has an empty entry; expected host:port,host:port,...`);
    overrides["bootstrap"] = flags.bootstrap;
  }
  if (flags.external !== undefined) overrides["externalEndpoint"] = flags.external;
  let config: GossipConfig;
  try {
    const loaded = loadGossipConfig({ yaml, env, overrides });
    config = loaded.config;
    for (const n of loaded.notes) logger.info("configuration note", { key: n.key, note: n.message });
  } catch (err) {
    if (err instanceof ConfigError) throw new PeerStartError(`invalid configuration${err.problems.length > 1 ? ` (${err.problems.length} problems)` : ""}: ${formatProblems(err.problems, flags.config)}`);
    throw err;
  }
  const internal = internalEndpointOf(config, flags.listen);
  if (/^(0\.0\.0\.0|\[::\]):/.test(internal)) {
    logger.warn("the internal endpoint is a wildcard address other peers cannot dial; set peer.gossip.endpoint (CORE_PEER_GOSSIP_ENDPOINT)", {
      endpoint: internal,
    });
  }

  // Crypto.
  let crypto: PeerCrypto;
  let channelOrgs: string[];
  if (flags.insecureDevCrypto) {
    if (flags.msp !== undefined || flags.mspId !== undefined) throw new PeerStartError("--insecure-dev-crypto excludes --msp and --msp-id: choose one");
    if (flags.orgsDir !== undefined) throw new PeerStartError("--orgs-dir needs --msp and --msp-id (with --insecure-dev-crypto every peer is in one org)");
    if (flags.org !== undefined && flags.org.trim() === "") throw new PeerStartError("--org: empty; expected an org name such as ORG1");
    crypto = await loadPeerCrypto({ listen: internal, external: config.externalEndpoint || undefined, insecureDevCrypto: true }, logger);
    const org = flags.org ?? DEV_ORG;
    if (flags.org !== undefined) crypto = { ...crypto, securityAdvisor: oneOrg(org) };
    channelOrgs = [org];
  } else {
    if (flags.msp === undefined || flags.mspId === undefined) {
      throw new PeerStartError("crypto: give --msp DIR and --msp-id ID (and --orgs-dir DIR to trust other orgs), or --insecure-dev-crypto for Fabric's test crypto");
    }
    if (flags.org !== undefined && flags.org !== flags.mspId) {
      throw new PeerStartError(`--org ${flags.org}: only meaningful with --insecure-dev-crypto; with --msp the org is the --msp-id (${flags.mspId})`);
    }
    channelOrgs = flags.orgsDir === undefined ? [flags.mspId] : await peerOrgsOf(flags.orgsDir, flags.mspId);
    // Without channel config blocks, the channels this peer joins are the ones it knows, and their
    // readers are the peer orgs it trusts.
    const readers = new Set(channelOrgs);
    const joined = new Set(channels);
    try {
      crypto = await loadPeerCrypto(
        { listen: internal, msp: flags.msp, mspId: flags.mspId, orgsDir: flags.orgsDir, channelOrgs: (ch) => (joined.has(ch) ? readers : undefined) },
        logger,
      );
    } catch (err) {
      throw new PeerStartError(`crypto (--msp ${flags.msp} --msp-id ${flags.mspId}${flags.orgsDir ? ` --orgs-dir ${flags.orgsDir}` : ""}): ${errorMessage(err)}`);
    }
  }

  // TLS.
  let tls: GrpcTlsOptions | undefined;
  if (flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    if (flags.tlsCert === undefined) throw new PeerStartError("--tls-key needs --tls-cert");
    if (flags.tlsKey === undefined) throw new PeerStartError("--tls-cert needs --tls-key");
    const cas = flags.tlsCa ?? [];
    if (cas.length === 0) throw new PeerStartError("--tls-cert needs at least one --tls-ca (the TLS CAs of the orgs whose peers we accept and dial)");
    const cert = await readFlagFile("--tls-cert", flags.tlsCert);
    const key = await readFlagFile("--tls-key", flags.tlsKey);
    try {
      new X509Certificate(cert);
    } catch (err) {
      throw new PeerStartError(`--tls-cert ${flags.tlsCert}: not a PEM certificate: ${errorMessage(err)}`);
    }
    try {
      createPrivateKey(key);
    } catch (err) {
      throw new PeerStartError(`--tls-key ${flags.tlsKey}: not a PEM private key: ${errorMessage(err)}`);
    }
    const roots: Buffer[] = [];
    for (const f of cas) {
      const pem = await readFlagFile("--tls-ca", f);
      try {
        new X509Certificate(pem);
      } catch (err) {
        throw new PeerStartError(`--tls-ca ${f}: not a PEM certificate: ${errorMessage(err)}`);
      }
      roots.push(pem, Buffer.from("\n"));
    }
    tls = { cert, key, rootCAs: Buffer.concat(roots) };
  } else if (flags.tlsCa !== undefined && flags.tlsCa.length > 0) {
    throw new PeerStartError("--tls-ca needs --tls-cert and --tls-key (without them the peer runs plaintext gRPC)");
  }

  return { listen: flags.listen, config, crypto, channelOrgs, channels, ...(tls ? { tls } : {}), ...(flags.admin !== undefined ? { admin: flags.admin } : {}) };
}

/** Runs a peer until SIGINT or SIGTERM. */
export async function runPeerStart(flags: PeerStartFlags, deps: { env: Readonly<Record<string, string | undefined>>; logger: Logger }): Promise<void> {
  const { logger } = deps;
  const plan = await planPeerStart(flags, deps.env, logger);
  const peer = new PeerNode(
    { mcs: plan.crypto.mcs, securityAdvisor: plan.crypto.securityAdvisor, selfIdentity: plan.crypto.identity, logger },
    { listenAddress: plan.listen, config: plan.config, tls: plan.tls, channels: plan.channels, channelOrgs: plan.channelOrgs, admin: plan.admin },
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
    throw err;
  }
  writeControl({ event: "ready", endpoint: peer.internalEndpoint, admin: peer.adminAddress ?? null, pkiId: peer.pkiId });

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
