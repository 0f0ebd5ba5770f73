import type { Command } from "commander";
import type { CryptoMaterialSummary } from "../../crypto/index.js";
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_BATCH_TIMEOUT,
  DEFAULT_PHASE_TIMEOUT_MS,
  DEFAULT_TX_RATE,
  DEFAULT_TX_SIZE,
  durationFlag,
  hostPortFlag,
  NetworkError,
  type NetworkStreamOptions,
  type NetworkUpOptions,
  nonNegativeIntFlag,
  tlsCaFiles as orgTlsCas,
  positiveIntFlag,
  positiveNumberFlag,
  runNetworkStream,
  runNetworkUp,
} from "../network/index.js";

/** The flags of `network up` as commander gives them (names are a contract). */
interface NetworkUpFlags {
  orgs: string;
  peersPerOrg: string;
  channel: string;
  tls?: boolean;
  txRate: string;
  txSize: string;
  blocks?: string;
  seconds?: string;
  dir?: string;
  json?: boolean;
  basePort?: string;
  batchSize: string;
  batchTimeout: string;
  timeout: string;
  privateData?: boolean;
  /** "host:port", or false with --no-dashboard. */
  dashboard?: string | false;
}

/** Fabric's channel name rule (configtx ValidateChannelID). */
const CHANNEL_NAME = /^[a-z][a-z0-9.-]{0,248}$/;

/**
 * `fabric-gossip network up` (the main job: a local Fabric-like network of orderer and peer
 * processes, fed transactions, with a live view) and `fabric-gossip network stream` (the transport
 * alone: `comm peer` processes streaming messages to each other).
 */
export function registerNetwork(program: Command): void {
  const network = program.command("network").description("local networks of processes on 127.0.0.1");
  network
    .command("up")
    .description(
      "generate crypto and the channel's genesis block (<dir>/channel-<name>.block, what configtxgen makes for the generated orgs), start an orderer and every peer from it as processes on 127.0.0.1, feed transactions and show a live view; " +
        "with --blocks N stop once every peer has committed N blocks (Ctrl-C stops every process)",
    )
    .option("--orgs <n>", "peer organizations", "2")
    .option("--peers-per-org <n>", "peers per organization", "3")
    .option("--channel <name>", "the channel every peer joins", "mychannel")
    .option("--tls", "mutual TLS between peers and toward the orderer (plaintext without it)")
    .option("--tx-rate <n>", "transactions per second fed to the orderer", String(DEFAULT_TX_RATE))
    .option("--tx-size <bytes>", "payload bytes per transaction", String(DEFAULT_TX_SIZE))
    .option("--blocks <n>", "stop once the orderer cut N blocks after genesis and every peer committed them; exit 0 only if every peer holds the same chain")
    .option("--seconds <n>", "like --blocks, but feed for this many seconds")
    .option("--dir <dir>", "network folder (crypto, the channel's genesis block, ledgers), kept at exit; must be new or empty (default: a temporary folder, removed at exit)")
    .option("--json", "print one JSON object at the end on stdout (progress on stderr); needs --blocks or --seconds")
    .option("--base-port <n>", "consecutive ports from here: the orderer, then the peers (default: free ports)")
    .option("--batch-size <n>", "transactions per block: the channel's BatchSize.MaxMessageCount in its genesis block", String(DEFAULT_BATCH_SIZE))
    .option("--batch-timeout <duration>", "a pending batch is cut after this long: the channel's BatchTimeout in its genesis block (Fabric duration)", DEFAULT_BATCH_TIMEOUT)
    .option("--timeout <duration>", "deadline of each waiting phase: processes ready, leaders elected, every peer at the final height", `${DEFAULT_PHASE_TIMEOUT_MS / 1000}s`)
    .option(
      "--private-data",
      "the first transaction defines chaincode pvtcc with collections collOrg1 (the first org) and collBoth (the first two orgs, blockToLive 3); every next one also writes a private key, its write set distributed through the first org's peer0 before it is sent",
    )
    .option("--dashboard <host:port>", "serve the live dashboard (a web page: membership by org, heights, latency, message rates, refusals) here; port 0 picks a free one", "127.0.0.1:0")
    .option("--no-dashboard", "serve no dashboard")
    .action(async (flags: NetworkUpFlags) => {
      const opts = networkUpOptions(flags);
      process.exitCode = await runNetworkUp(opts, { stdout: process.stdout, stderr: process.stderr });
    });

  network
    .command("stream")
    .description("the transport alone: generate crypto, start one `comm peer` process per peer, connect them all, stream messages between them, show a live view")
    .option("--orgs <n>", "organizations", "2")
    .option("--peers-per-org <n>", "peers per organization", "2")
    .option("--tls", "mutual TLS between peers", true)
    .option("--no-tls", "plaintext gRPC")
    .option("--dir <dir>", "where crypto material goes (a temporary folder by default, removed at exit)")
    .option("--seconds <n>", "how long to stream (0 = until Ctrl-C)", "10")
    .option("--rate <n>", "messages per second each peer sends to each other peer", "200")
    .option("--size <bytes>", "message payload size", "1024")
    .option("--base-port <n>", "first port; peers listen on consecutive ports", "17051")
    .option("--json", "print one JSON summary at the end instead of the live view")
    .action(async (opts: NetworkStreamOptions) => {
      process.exitCode = await runNetworkStream(opts);
    });
}

/**
 * Checks the flags of `network up`.
 * @throws NetworkError INVALID_OPTIONS naming the flag.
 */
export function networkUpOptions(f: NetworkUpFlags): NetworkUpOptions {
  if (!CHANNEL_NAME.test(f.channel)) {
    throw new NetworkError("INVALID_OPTIONS", `--channel ${JSON.stringify(f.channel)}: expected lower-case letters, digits, '.' and '-', starting with a letter (Fabric's rule)`);
  }
  const blocks = f.blocks === undefined ? undefined : positiveIntFlag(f.blocks, "--blocks");
  const seconds = f.seconds === undefined ? undefined : positiveNumberFlag(f.seconds, "--seconds");
  if (blocks !== undefined && seconds !== undefined) throw new NetworkError("INVALID_OPTIONS", "--blocks and --seconds exclude each other: choose one end condition");
  if (f.json === true && blocks === undefined && seconds === undefined) {
    throw new NetworkError("INVALID_OPTIONS", "--json prints the result of a bounded run: add --blocks N (or --seconds N)");
  }
  return {
    orgs: positiveIntFlag(f.orgs, "--orgs"),
    peersPerOrg: positiveIntFlag(f.peersPerOrg, "--peers-per-org"),
    channel: f.channel,
    tls: f.tls === true,
    txRate: positiveNumberFlag(f.txRate, "--tx-rate"),
    txSize: nonNegativeIntFlag(f.txSize, "--tx-size"),
    ...(blocks !== undefined ? { blocks } : {}),
    ...(seconds !== undefined ? { seconds } : {}),
    ...(f.dir !== undefined ? { dir: f.dir } : {}),
    json: f.json === true,
    ...(f.basePort !== undefined ? { basePort: positiveIntFlag(f.basePort, "--base-port") } : {}),
    batchSize: positiveIntFlag(f.batchSize, "--batch-size"),
    batchTimeout: f.batchTimeout,
    batchTimeoutMs: durationFlag(f.batchTimeout, "--batch-timeout"),
    phaseTimeoutMs: durationFlag(f.timeout, "--timeout"),
    ...(f.privateData === true ? { privateData: true } : {}),
    ...(typeof f.dashboard === "string" ? { dashboard: hostPortFlag(f.dashboard, "--dashboard") } : {}),
  };
}

/** Every org's TLS CA certificate file (tests and benchmarks import it from here). */
export function tlsCaFiles(summary: CryptoMaterialSummary): string[] {
  return orgTlsCas(summary);
}
