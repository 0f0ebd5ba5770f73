import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { loadTlsMaterial, TlsMaterialError } from "../../comm/grpc/index.js";
import { checkHostPort, DurationError, parseDurationMs } from "../../config/index.js";
import { blockHeaderHash, loadMspFolder, type LocalMsp } from "../../crypto/index.js";
import { LedgerError } from "../../ledger/index.js";
import { createLogger, type Logger } from "../../logging/index.js";
import { createRegistry, promMetricsProvider, type Registry } from "../../metrics/index.js";
import {
  createOrderer,
  type GenesisChannel,
  MAX_BATCH_BYTES,
  ORDERER_MAX_MESSAGE_SIZE,
  type Orderer,
  OrdererError,
  type OrdererTlsOptions,
  readGenesisBlock,
} from "../../orderer/index.js";
import type { Block } from "../../protos/gen/common/common.pb.js";
import { AdminServer } from "../../service/index.js";
import { errorMessage, GossipError, SystemClock, toHex } from "../../util/index.js";
import { addressInUseMessage, type ControlMessage, exitSoon, isAddressInUse, routeGrpcLogs, runUntilSignalled, writeControl } from "../index.js";
import { repeatableFlag } from "../network/index.js";

/** The flags of `fabric-gossip orderer start` (a contract: `network up`, scripts and docs use these names). */
export interface OrdererStartFlags {
  listen?: string;
  msp?: string;
  mspId?: string;
  channelBlock?: string[];
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
const MAX_BLOCK_BYTES_LIMIT = MAX_BATCH_BYTES;

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
    .option("--msp-id <id>", "(required) MSP ID of the orderer's org; must be an orderer org of every channel (its signed blocks must satisfy /Channel/Orderer/BlockValidation)")
    .option(
      "--channel-block <file>",
      "(repeatable) a channel's genesis block (configtxgen's, or `channel genesis`'s): the channel's orgs, MSPs, policies and batch settings come from it; " +
        "Deliver needs /Channel/Readers, Broadcast /Channel/Writers. Stored unchanged as block 0. Needed only for a channel not yet under --dir",
      repeatableFlag,
    )
    .option("--dir <dir>", "(required) where the chains live: <dir>/<channel>; every channel stored there is served again at start")
    .option("--tls-cert <file>", "server TLS certificate (PEM); enables TLS")
    .option("--tls-key <file>", "server TLS private key (PEM)")
    .option("--tls-ca <files...>", "TLS CA certificates of the clients (repeatable); given, a client certificate from one of them is required")
    .option("--batch-size <n>", "max envelopes per block: overrides the channel configuration's BatchSize.MaxMessageCount (the flag wins; default: the configuration's)")
    .option("--batch-timeout <duration>", "a pending batch is cut this long after its first envelope: overrides the configuration's BatchTimeout (the flag wins; Go duration)")
    .option("--max-block-bytes <n>", "max envelope bytes in a block: overrides the configuration's BatchSize.AbsoluteMaxBytes, and PreferredMaxBytes is lowered to it (the flag wins)")
    .option("--report-blocks", 'print {"event":"block",...} once each block is cut and persisted')
    .option("--admin <host:port>", "admin HTTP endpoint: /healthz, /metrics (port 0 picks one)")
    .action(async (flags: OrdererStartFlags, cmd: Command) => {
      const logSpec = (cmd.optsWithGlobals() as { logSpec?: string }).logSpec;
      const logger = createLogger({ name: "orderer", ...(logSpec ? { spec: logSpec } : {}) });
      routeGrpcLogs(logger);
      try {
        await runOrdererStart(flags, { logger });
      } finally {
        exitSoon(logger);
      }
    });
}

/** One channel the orderer is given, with the file of its genesis block. */
export interface OrdererChannelPlan {
  file: string;
  genesis: GenesisChannel;
}

/** Everything `orderer start` needs, checked: built from flags and files. */
export interface OrdererStartPlan {
  listen: string;
  local: LocalMsp;
  /** The folder of the chains (absolute). */
  dir: string;
  /** The channels of --channel-block (the ones already stored under --dir come back at start). */
  channels: OrdererChannelPlan[];
  tls?: OrdererTlsOptions;
  /** Overrides of the channels' batch settings, from the flags. */
  batchSize?: number;
  batchTimeoutMs?: number;
  maxBlockBytes?: number;
  reportBlocks: boolean;
  admin?: string;
}

/**
 * Checks the flags and loads the files: the orderer's MSP, each --channel-block (a genesis block whose
 * orderer orgs include --msp-id), the TLS material.
 * @throws OrdererStartError naming the flag (and file) at fault.
 */
export async function planOrdererStart(flags: OrdererStartFlags, logger: Logger): Promise<OrdererStartPlan> {
  if (flags.listen === undefined) throw new OrdererStartError("--listen is required: the host:port to serve Broadcast and Deliver on, e.g. 127.0.0.1:7050");
  checkEndpointFlag("--listen", flags.listen);
  if (flags.admin !== undefined) checkEndpointFlag("--admin", flags.admin);
  if (flags.msp === undefined) throw new OrdererStartError("--msp is required: the orderer's MSP folder (signcerts, keystore, cacerts), e.g. from `crypto generate --orderer`");
  if (flags.mspId === undefined || flags.mspId.trim() === "") throw new OrdererStartError("--msp-id is required: the MSP ID of the orderer's org, e.g. OrdererMSP");
  if (flags.dir === undefined || flags.dir.trim() === "") throw new OrdererStartError("--dir is required: the folder of the chains (<dir>/<channel>)");
  const batchSize = flags.batchSize === undefined ? undefined : positiveIntFlag("--batch-size", flags.batchSize, Number.MAX_SAFE_INTEGER);
  const maxBlockBytes = flags.maxBlockBytes === undefined ? undefined : positiveIntFlag("--max-block-bytes", flags.maxBlockBytes, MAX_BLOCK_BYTES_LIMIT);
  let batchTimeoutMs: number | undefined;
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

  // The channels: each genesis block, read as the orderer will read it.
  const clock = new SystemClock();
  const channels: OrdererChannelPlan[] = [];
  for (const file of flags.channelBlock ?? []) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new OrdererStartError(`--channel-block ${file}: cannot read the file: ${errorMessage(err)}`, { cause: err });
    }
    let genesis: GenesisChannel;
    try {
      genesis = readGenesisBlock(bytes, { signer: local.signingIdentity, clock, logger }, `--channel-block ${file}`);
    } catch (err) {
      if (err instanceof OrdererError && err.code === "ORDERER_ORG") {
        throw new OrdererStartError(`--channel-block ${file} does not fit --msp-id ${local.mspId}: ${err.message}`, { cause: err });
      }
      if (err instanceof OrdererError) throw new OrdererStartError(`--channel-block ${file}: ${err.message}`, { cause: err });
      throw err;
    }
    const twin = channels.find((c) => c.genesis.name === genesis.name);
    if (twin !== undefined) throw new OrdererStartError(`--channel-block ${file}: channel ${genesis.name} is already given by --channel-block ${twin.file}`);
    channels.push({ file, genesis });
  }

  const tls = await loadTls(flags);
  return {
    listen: flags.listen,
    local,
    dir: resolve(flags.dir),
    channels,
    ...(tls ? { tls } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(batchTimeoutMs !== undefined ? { batchTimeoutMs } : {}),
    ...(maxBlockBytes !== undefined ? { maxBlockBytes } : {}),
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
  let orderer: Orderer;
  try {
    orderer = createOrderer(
    {
      listen: plan.listen,
      ...(plan.tls ? { tls: plan.tls } : {}),
      dir: plan.dir,
      channels: plan.channels.map((c) => c.genesis.bytes),
      ...(plan.batchSize !== undefined ? { batchSize: plan.batchSize } : {}),
      ...(plan.batchTimeoutMs !== undefined ? { batchTimeoutMs: plan.batchTimeoutMs } : {}),
      ...(plan.maxBlockBytes !== undefined ? { maxBlockBytes: plan.maxBlockBytes } : {}),
    },
    { signer: plan.local.signingIdentity, clock, logger, metrics: promMetricsProvider(metrics), onBlock },
  );
  } catch (err) {
    if (err instanceof OrdererError) throw new OrdererStartError(`--channel-block: ${err.message}`, { cause: err });
    throw err;
  }

  let admin: AdminServer | undefined;
  const start = async (): Promise<Orderer> => {
    try {
      await orderer.start();
    } catch (err) {
      if (err instanceof LedgerError) throw new OrdererStartError(`--dir ${flags.dir}: cannot open a block store: ${err.message}`, { cause: err });
      if (err instanceof OrdererError && (err.code === "CONFIG" || err.code === "ORDERER_ORG")) {
        throw new OrdererStartError(`--dir ${flags.dir} / --channel-block: ${err.message}`, { cause: err });
      }
      if (isAddressInUse(err)) throw new OrdererStartError(addressInUseMessage("--listen", plan.listen), { cause: err });
      throw new OrdererStartError(`--listen ${plan.listen}: cannot serve: ${errorMessage(err)}`, { cause: err });
    }
    if (orderer.channels().length === 0) {
      await orderer.stop();
      throw new OrdererStartError(`no channel to serve: --dir ${flags.dir} holds no chain; give a channel's genesis block with --channel-block FILE`);
    }
    if (plan.admin !== undefined) {
      admin = adminServer(plan, orderer, metrics, logger);
      try {
        await admin.start();
      } catch (err) {
        await orderer.stop();
        if (isAddressInUse(err)) throw new OrdererStartError(addressInUseMessage("--admin", plan.admin), { cause: err });
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
    ready: (o) => ({ event: "ready", endpoint: o.address, admin: admin?.address ?? null, channels: o.channels() }),
  });
}

/** Hosts have aliases (localhost, 0.0.0.0 for any address); a port no endpoint names is the likely mistake. */
function warnUnlistedPort(plan: OrdererStartPlan, orderer: Orderer, logger: Logger): void {
  const port = orderer.address.slice(orderer.address.lastIndexOf(":") + 1);
  for (const c of plan.channels) {
    const endpoints = c.genesis.config.ordererEndpoints;
    if (!endpoints.some((e) => e.slice(e.lastIndexOf(":") + 1) === port)) {
      logger.warn("no orderer endpoint of the channel's configuration has this orderer's port; its peers will not find it there", {
        channel: c.genesis.name,
        address: orderer.address,
        endpoints,
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

function checkEndpointFlag(flag: string, value: string): void {
  // Port 0 (any free port) is fine for a listen address; checkHostPort wants 1-65535.
  const why = checkHostPort(value.replace(/:0$/, ":1"));
  if (why !== undefined) throw new OrdererStartError(`${flag} ${JSON.stringify(value)}: ${why}; expected host:port, e.g. 127.0.0.1:7050 (port 0 picks a free port)`);
}

function positiveIntFlag(flag: string, value: string, max: number): number {
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
