import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { type ClientTlsMaterial, loadTlsMaterial, TlsMaterialError } from "../../comm/grpc/index.js";
import { CryptoError, loadMspFolder } from "../../crypto/index.js";
import type { TxSigner } from "../../privdata/index.js";
import { errorMessage, GossipError } from "../../util/index.js";
import {
  DEFAULT_SUBMIT_RATE,
  DEFAULT_SUBMIT_TIMEOUT_MS,
  DEFAULT_SUBMIT_TX_SIZE,
  durationFlag,
  hostPortFlag,
  nonNegativeIntFlag,
  positiveIntFlag,
  positiveNumberFlag,
  repeatableFlag,
  submitTransactions,
  type TxSubmitOptions,
  type TxSubmitResult,
} from "../network/index.js";

/** The flags of `fabric-gossip tx submit` as commander gives them. */
export interface TxSubmitFlags {
  orderer?: string;
  channel?: string;
  count?: string;
  msp?: string;
  mspId?: string;
  endorser?: string[];
  tlsCa?: string[];
  tlsCert?: string;
  tlsKey?: string;
  txSize: string;
  rate: string;
  timeout: string;
  json?: boolean;
}

/** A bad flag or file of `tx submit`: the message names the flag; the CLI prints it without a stack trace. */
export class TxSubmitError extends GossipError {
  declare readonly code: "TX_SUBMIT";

  constructor(message: string, options?: { cause?: unknown }) {
    super("TX_SUBMIT", message, options);
  }
}

/** Fabric's channel name rule (configtx ValidateChannelID). */
const CHANNEL_NAME = /^[a-z][a-z0-9.-]{0,248}$/;

/** `fabric-gossip tx submit`: transactions to an ordering service started by hand. */
export function registerTx(program: Command): void {
  const tx = program.command("tx").description("transactions toward an ordering service");
  tx.command("submit")
    .description(
      "send N endorser transactions (as `network up`'s feeder makes them: chaincode feedcc writing one key, endorsed, signed by a client) to an ordering service with Broadcast; " +
        "prints how many it accepted; exits 1 naming the cause when it refuses one (e.g. FORBIDDEN and the policy) or cannot be reached",
    )
    .option("--orderer <host:port>", "(required) the ordering service's Broadcast address")
    .option("--channel <name>", "(required) the channel")
    .option("--count <n>", "(required) how many transactions")
    .option("--msp <dir>", "(required) the client's MSP folder (signcerts, keystore), e.g. users/User1@org1.example.com/msp: /Channel/Writers admits an org's clients and admins")
    .option("--msp-id <id>", "(required) the client's MSP ID, e.g. Org1MSP")
    .option("--endorser <MSPID:MSPDIR>", "(repeatable) an identity that endorses every transaction, e.g. a peer's MSP folder (default: the client itself)", repeatableFlag)
    .option("--tls-ca <file>", "(repeatable) the orderer's TLS CA certificate; given, the connection is TLS", repeatableFlag)
    .option("--tls-cert <file>", "client TLS certificate for mutual TLS (with --tls-key and --tls-ca)")
    .option("--tls-key <file>", "client TLS private key")
    .option("--tx-size <bytes>", "bytes of the value each transaction writes", String(DEFAULT_SUBMIT_TX_SIZE))
    .option("--rate <n>", "transactions per second", String(DEFAULT_SUBMIT_RATE))
    .option("--timeout <duration>", "deadline of the whole run: connecting, sending, every answer", `${DEFAULT_SUBMIT_TIMEOUT_MS / 1000}s`)
    .option("--json", "print one JSON object on stdout (orderer, channel, count, sent, accepted, refused, lost, unanswered, seconds, error)")
    .action(async (flags: TxSubmitFlags) => {
      process.exitCode = await runTxSubmit(flags, { stdout: process.stdout, stderr: process.stderr });
    });
}

/** Where `tx submit` writes. */
export interface TxSubmitIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/**
 * Checks the flags, loads the files, submits, prints. Returns the exit code: 0 when every transaction was
 * accepted, 1 otherwise (the cause on stderr).
 * @throws TxSubmitError / NetworkError INVALID_OPTIONS for a bad flag or file (the CLI prints the message).
 */
export async function runTxSubmit(flags: TxSubmitFlags, io: TxSubmitIo): Promise<number> {
  const opts = await txSubmitOptions(flags);
  const r = await submitTransactions(opts);
  if (flags.json === true) io.stdout.write(`${JSON.stringify(r)}\n`);
  else io.stdout.write(`${summary(r)}\n`);
  if (r.error !== undefined) {
    io.stderr.write(`fabric-gossip: tx submit: ${r.error}\n`);
    return 1;
  }
  return 0;
}

function summary(r: TxSubmitResult): string {
  const extra = [r.refused > 0 ? `${r.refused} refused` : "", r.lost > 0 ? `${r.lost} lost` : "", r.unanswered > 0 ? `${r.unanswered} unanswered` : ""].filter((x) => x !== "");
  return `${r.accepted} of ${r.count} transactions accepted by the orderer ${r.orderer} on channel ${r.channel} in ${r.seconds} s${extra.length > 0 ? ` (${extra.join(", ")})` : ""}`;
}

/** The checked options of `tx submit`. @throws TxSubmitError naming the flag at fault. */
export async function txSubmitOptions(flags: TxSubmitFlags): Promise<TxSubmitOptions> {
  if (flags.orderer === undefined) throw new TxSubmitError("--orderer is required: the ordering service's host:port, e.g. 127.0.0.1:7050");
  const orderer = hostPortFlag(flags.orderer, "--orderer");
  if (flags.channel === undefined) throw new TxSubmitError("--channel is required: the channel the transactions go to");
  if (!CHANNEL_NAME.test(flags.channel)) {
    throw new TxSubmitError(`--channel ${JSON.stringify(flags.channel)}: expected lower-case letters, digits, '.' and '-', starting with a letter (Fabric's rule)`);
  }
  if (flags.count === undefined) throw new TxSubmitError("--count is required: how many transactions to send");
  const count = positiveIntFlag(flags.count, "--count");
  if (flags.msp === undefined) throw new TxSubmitError("--msp is required: the client's MSP folder (signcerts, keystore), e.g. users/User1@org1.example.com/msp");
  if (flags.mspId === undefined || flags.mspId.trim() === "") throw new TxSubmitError("--msp-id is required: the client's MSP ID, e.g. Org1MSP");
  const signer = await signerOf("--msp", flags.msp, flags.mspId);
  const endorsers: TxSigner[] = [];
  for (const spec of flags.endorser ?? []) {
    const at = spec.indexOf(":");
    if (at <= 0 || at === spec.length - 1) throw new TxSubmitError(`--endorser ${JSON.stringify(spec)}: expected MSPID:MSPDIR, e.g. Org1MSP:peers/peer0.org1.example.com/msp`);
    endorsers.push(await signerOf("--endorser", spec.slice(at + 1), spec.slice(0, at)));
  }
  const tls = await tlsOf(flags);
  return {
    orderer,
    channel: flags.channel,
    count,
    signer,
    endorsers,
    size: nonNegativeIntFlag(flags.txSize, "--tx-size"),
    rate: positiveNumberFlag(flags.rate, "--rate"),
    timeoutMs: durationFlag(flags.timeout, "--timeout"),
    ...(tls !== undefined ? { tls } : {}),
  };
}

async function signerOf(flag: string, dir: string, mspId: string): Promise<TxSigner> {
  try {
    return (await loadMspFolder(dir, mspId)).signingIdentity;
  } catch (err) {
    if (err instanceof CryptoError) throw new TxSubmitError(`${flag} ${dir}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** TLS from --tls-ca (server TLS) and --tls-cert/--tls-key (mutual TLS); undefined for plaintext. */
async function tlsOf(flags: TxSubmitFlags): Promise<ClientTlsMaterial | undefined> {
  const cas = flags.tlsCa ?? [];
  const mutual = flags.tlsCert !== undefined || flags.tlsKey !== undefined;
  if (cas.length === 0) {
    if (mutual) throw new TxSubmitError("--tls-cert and --tls-key need --tls-ca: the orderer's TLS CA certificate (without it the connection is plaintext)");
    return undefined;
  }
  if (flags.tlsCert === undefined && flags.tlsKey !== undefined) throw new TxSubmitError("--tls-key needs --tls-cert");
  if (flags.tlsKey === undefined && flags.tlsCert !== undefined) throw new TxSubmitError("--tls-cert needs --tls-key");
  if (flags.tlsCert !== undefined && flags.tlsKey !== undefined) {
    try {
      const m = await loadTlsMaterial({
        cert: { what: "--tls-cert", file: flags.tlsCert },
        key: { what: "--tls-key", file: flags.tlsKey },
        cas: cas.map((file) => ({ what: "--tls-ca", file })),
      });
      return { rootCAs: m.rootCAs ?? "", cert: m.cert, key: m.key };
    } catch (err) {
      if (err instanceof TlsMaterialError) throw new TxSubmitError(err.message, { cause: err });
      throw err;
    }
  }
  const roots: string[] = [];
  for (const file of cas) {
    let pem: string;
    try {
      pem = await readFile(file, "utf8");
      new X509Certificate(pem);
    } catch (err) {
      throw new TxSubmitError(`--tls-ca ${file}: not a readable PEM certificate: ${errorMessage(err)}`, { cause: err });
    }
    roots.push(pem);
  }
  return { rootCAs: roots.join("\n") };
}
