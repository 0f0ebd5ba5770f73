import { join, resolve } from "node:path";
import type { Command } from "commander";
import { loadTlsMaterial, TlsMaterialError } from "../../comm/grpc/index.js";
import { checkHostPort, DurationError, parseDurationMs } from "../../config/index.js";
import { blockHeaderHash, loadMspFolder, type LocalMsp, MspVerifier, type MspOrgMaterial } from "../../crypto/index.js";
import { LedgerError } from "../../ledger/index.js";
import { createLogger, type Logger } from "../../logging/index.js";
import { createRegistry, promMetricsProvider, type Registry } from "../../metrics/index.js";
import {
  createOrderer,
  DEFAULT_BATCH_SIZE,
  DEFAULT_BATCH_TIMEOUT_MS,
  DEFAULT_MAX_BLOCK_BYTES,
  ORDERER_MAX_MESSAGE_SIZE,
  type Orderer,
  type OrdererChannelConfig,
  type OrdererTlsOptions,
} from "../../orderer/index.js";
import type { Block } from "../../protos/gen/common/common.pb.js";
import { AdminServer, type ChannelDefinition, ChannelDefinitionError, loadChannelDefinition, loadChannelMspOrgs } from "../../service/index.js";
import { errorMessage, GossipError, SystemClock, toHex } from "../../util/index.js";
import { type ControlMessage, exitSoon, runUntilSignalled, writeControl } from "../index.js";
import { repeatableFlag } from "../network/index.js";

/** The flags of `fabric-gossip orderer start` (a contract: `network up`, scripts and docs use these names). */
export interface OrdererStartFlags {
  listen?: string;
  msp?: string;
  mspId?: string;
  channelDef?: string[];
  dir?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string[];
  batchSize?: string;
  batchTimeout?: string;
  maxBlockBytes?: string;
  reportBlocks?: boolean;
  admin?: string;
}

/** A bad flag, file or setting, or a failed start or stop: the message names the flag; the CLI prints it without a stack trace. */
export class OrdererStartError extends GossipError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ORDERER_START", message, options);
  }
}

/**
 * The largest --max-block-bytes: a block (envelopes plus header and metadata) must still fit in one
 * gRPC message of the Deliver service, whose limit is ORDERER_MAX_MESSAGE_SIZE.
 */
const MAX_BLOCK_BYTES_LIMIT = ORDERER_MAX_MESSAGE_SIZE - 1024 * 1024;

/** `fabric-gossip orderer start`: the ordering service as a long-running process. */
export function registerOrderer(program: Command): void {
  const orderer = program.command("orderer").description("run the ordering service of a local network");
  orderer
    .command("start")
    .description(
      'run the ordering service (Broadcast/Deliver, solo-like) until SIGINT/SIGTERM or the end of stdin; prints JSON lines on stdout ({"event":"ready",...}, and {"event":"block",...} with --report-blocks), logs on stderr',
    )
    .option("--listen <host:port>", "(required) address to serve Broadcast and Deliver (gRPC) on; port 0 picks a free port, shown in the ready event")
    .option("--msp <dir>", "(required) the orderer's local MSP folder (signcerts, keystore, cacerts), e.g. from `crypto generate --orderer`")
    .option("--msp-id <id>", "(required) MSP ID of the orderer's org; must be each channel definition's orderer.mspId")
    .option("--channel-def <file>", "(required, repeatable) channel definition YAML; its member orgs may Broadcast and Deliver", repeatableFlag)
    .option("--dir <dir>", "(required) where the block stores live: <dir>/<channel>")
    .option("--tls-cert <file>", "server TLS certificate (PEM); enables TLS")
    .option("--tls-key <file>", "server TLS private key (PEM)")
    .option("--tls-ca <files...>", "TLS CA certificates of the clients (repeatable); given, a client certificate from one of them is required")
    .option("--batch-size <n>", `max envelopes per block (BatchSize.MaxMessageCount; default ${DEFAULT_BATCH_SIZE})`)
    .option("--batch-timeout <duration>", `a pending batch is cut this long after its first envelope (BatchTimeout; Go duration, default ${DEFAULT_BATCH_TIMEOUT_MS / 1000}s)`)
    .option("--max-block-bytes <n>", `max envelope bytes in a block (BatchSize.AbsoluteMaxBytes; default ${DEFAULT_MAX_BLOCK_BYTES})`)
    .option("--report-blocks", 'print {"event":"block",...} once each block is cut and persisted')
    .option("--admin <host:port>", "admin HTTP endpoint: /healthz, /metrics (port 0 picks one)")
    .action(async (flags: OrdererStartFlags, cmd: Command) => {
      const logSpec = (cmd.optsWithGlobals() as { logSpec?: string }).logSpec;
      const logger = createLogger({ name: "orderer", ...(logSpec ? { spec: logSpec } : {}) });
      try {
        await runOrdererStart(flags, { logger });
      } finally {
        exitSoon(logger);
      }
    });
}

/** One channel the orderer serves, with the file that defined it. */
export interface OrdererChannelPlan {
  file: string;
  definition: ChannelDefinition;
  config: OrdererChannelConfig;
}

/** Everything `orderer start` needs, checked: built from flags and files. */
export interface OrdererStartPlan {
  listen: string;
  local: LocalMsp;
  verifier: MspVerifier;
  channels: OrdererChannelPlan[];
  tls?: OrdererTlsOptions;
  batchSize: number;
  batchTimeoutMs: number;
  maxBlockBytes: number;
  reportBlocks: boolean;
  admin?: string;
}

/**
 * Checks the flags and loads the files: the orderer's MSP, the channel definitions with every org's
 * MSP folder, the TLS material.
 * @throws OrdererStartError naming the flag (and file or field) at fault.
 */
export async function planOrdererStart(flags: OrdererStartFlags, logger: Logger): Promise<OrdererStartPlan> {
  if (flags.listen === undefined) throw new OrdererStartError("--listen is required: the host:port to serve Broadcast and Deliver on, e.g. 127.0.0.1:7050");
  checkEndpointFlag("--listen", flags.listen);
  if (flags.admin !== undefined) checkEndpointFlag("--admin", flags.admin);
  if (flags.msp === undefined) throw new OrdererStartError("--msp is required: the orderer's MSP folder (signcerts, keystore, cacerts), e.g. from `crypto generate --orderer`");
  if (flags.mspId === undefined || flags.mspId.trim() === "") throw new OrdererStartError("--msp-id is required: the MSP ID of the orderer's org, e.g. OrdererMSP");
  const defFiles = flags.channelDef ?? [];
  if (defFiles.length === 0) throw new OrdererStartError("--channel-def is required: at least one channel definition YAML (the channel's member orgs and orderer)");
  if (flags.dir === undefined || flags.dir.trim() === "") throw new OrdererStartError("--dir is required: the folder for the block stores (<dir>/<channel>)");
  const batchSize = positiveIntFlag("--batch-size", flags.batchSize, DEFAULT_BATCH_SIZE, Number.MAX_SAFE_INTEGER);
  const maxBlockBytes = positiveIntFlag("--max-block-bytes", flags.maxBlockBytes, DEFAULT_MAX_BLOCK_BYTES, MAX_BLOCK_BYTES_LIMIT);
  let batchTimeoutMs = DEFAULT_BATCH_TIMEOUT_MS;
  if (flags.batchTimeout !== undefined) {
    try {
      batchTimeoutMs = parseDurationMs(flags.batchTimeout);
    } catch (err) {
      if (err instanceof DurationError) throw new OrdererStartError(`--batch-timeout ${JSON.stringify(flags.batchTimeout)}: ${err.message}`);
      throw err;
    }
    if (!(batchTimeoutMs >= 1)) {
      throw new OrdererStartError(`--batch-timeout ${JSON.stringify(flags.batchTimeout)}: must be at least 1ms, e.g. 2s or 250ms`);
    }
  }

  // The orderer's identity.
  let local: LocalMsp;
  try {
    local = await loadMspFolder(flags.msp, flags.mspId);
  } catch (err) {
    throw new OrdererStartError(`--msp ${flags.msp} (--msp-id ${flags.mspId}): ${errorMessage(err)}`, { cause: err });
  }

  // The channels, and every org they name.
  const orgs = new Map<string, { org: MspOrgMaterial; from: string }>([[local.mspId, { org: local.org, from: `--msp ${flags.msp}` }]]);
  const channels: OrdererChannelPlan[] = [];
  for (const file of defFiles) {
    let def: ChannelDefinition;
    let defOrgs: MspOrgMaterial[];
    try {
      def = await loadChannelDefinition(file);
      defOrgs = await loadChannelMspOrgs(def);
    } catch (err) {
      if (err instanceof ChannelDefinitionError) throw new OrdererStartError(`--channel-def ${file}: ${err.message}`, { cause: err });
      throw err;
    }
    const twin = channels.find((c) => c.definition.name === def.name);
    if (twin !== undefined) throw new OrdererStartError(`--channel-def ${file}: channel ${def.name} is already defined by --channel-def ${twin.file}`);
    if (def.orderer.mspId !== local.mspId) {
      throw new OrdererStartError(
        `--channel-def ${file}: orderer.mspId is ${def.orderer.mspId}, but this orderer signs blocks as --msp-id ${local.mspId}; the channel's peers would refuse its blocks`,
      );
    }
    for (const org of defOrgs) {
      const known = orgs.get(org.mspId);
      if (known === undefined) {
        orgs.set(org.mspId, { org, from: `--channel-def ${file}` });
      } else if (!sameRoots(known.org, org)) {
        throw new OrdererStartError(
          `--channel-def ${file}: the MSP folder of ${org.mspId} has other root CAs than the one from ${known.from}; one MSP ID must name one org`,
        );
      }
    }
    channels.push({
      file,
      definition: def,
      config: { name: def.name, dir: join(resolve(flags.dir), def.name), memberOrgs: def.orgs.map((o) => o.mspId) },
    });
  }
  const verifier = new MspVerifier(
    [...orgs.values()].map((o) => o.org),
    { clock: new SystemClock(), logger },
  );
  try {
    verifier.validate(local.signingIdentity.serialized);
  } catch (err) {
    throw new OrdererStartError(`--msp ${flags.msp} (--msp-id ${flags.mspId}): the orderer's own identity is not valid: ${errorMessage(err)}`, { cause: err });
  }

  const tls = await loadTls(flags);
  return {
    listen: flags.listen,
    local,
    verifier,
    channels,
    ...(tls ? { tls } : {}),
    batchSize,
    batchTimeoutMs,
    maxBlockBytes,
    reportBlocks: flags.reportBlocks === true,
    ...(flags.admin !== undefined ? { admin: flags.admin } : {}),
  };
}

/** What `runOrdererStart` uses from its host. */
export interface OrdererStartDeps {
  logger: Logger;
  /** Where control events go. Default: JSON lines on stdout (`writeControl`). */
  emit?: (msg: ControlMessage) => void;
  /** Stops the orderer when aborted, like SIGTERM (in-process callers). */
  signal?: AbortSignal;
  /** Stop when stdin ends, if stdin is a pipe or socket. Default true. */
  watchStdin?: boolean;
}

/**
 * Runs the ordering service until SIGINT, SIGTERM, the end of stdin (when it is a pipe, as
 * `PeerProcess` gives it) or `deps.signal`; then stops it (pending batches are cut and written)
 * and resolves.
 * @throws OrdererStartError for bad flags, a failed start or a stop that does not finish.
 */
export async function runOrdererStart(flags: OrdererStartFlags, deps: OrdererStartDeps): Promise<void> {
  const { logger } = deps;
  const emit = deps.emit ?? writeControl;
  const plan = await planOrdererStart(flags, logger);

  // The orderer records its metrics (src/orderer/metrics.ts) on this registry, served on /metrics.
  const metrics = createRegistry();
  const onBlock = (channel: string, block: Block, bytes: number): void => {
    const header = block.header;
    if (header === undefined) return;
    const txs = block.data?.data.length ?? 0;
    if (plan.reportBlocks) {
      emit({ event: "block", channel, number: Number(header.number), txs, bytes, hash: toHex(blockHeaderHash(header)), time: Date.now() });
    }
  };

  const clock = new SystemClock();
  const orderer = createOrderer(
    {
      listen: plan.listen,
      ...(plan.tls ? { tls: plan.tls } : {}),
      channels: plan.channels.map((c) => c.config),
      batchSize: plan.batchSize,
      batchTimeoutMs: plan.batchTimeoutMs,
      maxBlockBytes: plan.maxBlockBytes,
    },
    { signer: plan.local.signingIdentity, verifier: plan.verifier, clock, logger, metrics: promMetricsProvider(metrics), onBlock },
  );

  let admin: AdminServer | undefined;
  const start = async (): Promise<Orderer> => {
    try {
      await orderer.start();
    } catch (err) {
      if (err instanceof LedgerError) throw new OrdererStartError(`--dir ${flags.dir}: cannot open a block store: ${err.message}`, { cause: err });
      throw new OrdererStartError(`--listen ${plan.listen}: cannot serve: ${errorMessage(err)}`, { cause: err });
    }
    if (plan.admin !== undefined) {
      admin = adminServer(plan, orderer, metrics, logger);
      try {
        await admin.start();
      } catch (err) {
        await orderer.stop();
        throw new OrdererStartError(`--admin ${plan.admin}: cannot listen: ${errorMessage(err)}`, { cause: err });
      }
    }
    warnUnlistedPort(plan, orderer, logger);
    return orderer;
  };
  const stop = async (o: Orderer): Promise<void> => {
    await o.stop(); // cuts the pending batches; their block events come out before this resolves
    await admin?.stop();
  };
  await runUntilSignalled(start, stop, {
    logger,
    what: "the orderer",
    emit,
    ...(deps.signal !== undefined ? { signal: deps.signal } : {}),
    watchStdin: deps.watchStdin ?? true,
    stdinHint: "orderer start takes no commands (close stdin or send SIGTERM to stop it)",
    ready: (o) => ({ event: "ready", endpoint: o.address, admin: admin?.address ?? null, channels: plan.channels.map((c) => c.config.name) }),
  });
}

/** Hosts have aliases (localhost, 0.0.0.0 for any address); a port no endpoint names is the likely mistake. */
function warnUnlistedPort(plan: OrdererStartPlan, orderer: Orderer, logger: Logger): void {
  const port = orderer.address.slice(orderer.address.lastIndexOf(":") + 1);
  for (const c of plan.channels) {
    if (!c.definition.orderer.endpoints.some((e) => e.slice(e.lastIndexOf(":") + 1) === port)) {
      logger.warn("no orderer endpoint of the channel definition has this orderer's port; its peers will not find it there", {
        channel: c.config.name,
        address: orderer.address,
        endpoints: c.definition.orderer.endpoints,
      });
    }
  }
}

/** /healthz and /metrics; /v1/membership shows only the orderer itself (it is not a gossip member). */
function adminServer(plan: OrdererStartPlan, orderer: Orderer, metrics: Registry, logger: Logger): AdminServer {
  const org = plan.local.mspId;
  const pkiId = toHex(plan.local.signingIdentity.pkiId);
  return new AdminServer({
    listen: plan.admin ?? "",
    registry: metrics,
    membership: () => ({ self: { endpoint: orderer.address, internalEndpoint: orderer.address, org, pkiId }, alive: [], dead: [], channels: {} }),
    logger: logger.child("orderer.admin"),
    now: () => new Date(),
  });
}

function sameRoots(a: MspOrgMaterial, b: MspOrgMaterial): boolean {
  const key = (o: MspOrgMaterial): string => [...o.rootCerts].map((p) => p.trim()).sort().join("\n");
  return key(a) === key(b);
}

function checkEndpointFlag(flag: string, value: string): void {
  // Port 0 (any free port) is fine for a listen address; checkHostPort wants 1-65535.
  const why = checkHostPort(value.replace(/:0$/, ":1"));
  if (why !== undefined) throw new OrdererStartError(`${flag} ${JSON.stringify(value)}: ${why}; expected host:port, e.g. 127.0.0.1:7050 (port 0 picks a free port)`);
}

function positiveIntFlag(flag: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = /^[0-9]+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new OrdererStartError(`${flag} ${JSON.stringify(value)}: expected a positive whole number`);
  if (n > max) throw new OrdererStartError(`${flag} ${value}: at most ${max} (a block must fit in one ${ORDERER_MAX_MESSAGE_SIZE}-byte gRPC message)`);
  return n;
}

/** Server TLS from --tls-cert, --tls-key and --tls-ca (comm/grpc's loader checks the key against the certificate); undefined for plaintext. */
async function loadTls(flags: OrdererStartFlags): Promise<OrdererTlsOptions | undefined> {
  const cas = flags.tlsCa ?? [];
  if (flags.tlsCert === undefined && flags.tlsKey === undefined) {
    if (cas.length > 0) throw new OrdererStartError("--tls-ca needs --tls-cert and --tls-key (without them the orderer serves plaintext gRPC)");
    return undefined;
  }
  if (flags.tlsCert === undefined) throw new OrdererStartError("--tls-key needs --tls-cert");
  if (flags.tlsKey === undefined) throw new OrdererStartError("--tls-cert needs --tls-key");
  try {
    return await loadTlsMaterial({
      cert: { what: "--tls-cert", file: flags.tlsCert },
      key: { what: "--tls-key", file: flags.tlsKey },
      cas: cas.map((file) => ({ what: "--tls-ca", file })),
    });
  } catch (err) {
    if (err instanceof TlsMaterialError) throw new OrdererStartError(err.message, { cause: err });
    throw err;
  }
}
