import type { ClientTlsMaterial } from "../../comm/grpc/index.js";
import type { TxSigner } from "../../privdata/index.js";
import { errorMessage } from "../../util/index.js";
import { NetworkError } from "./errors.js";
import { type FeederStats, TxFeeder } from "./feeder.js";

/** `tx submit` defaults. */
export const DEFAULT_SUBMIT_RATE = 500;
export const DEFAULT_SUBMIT_TX_SIZE = 100;
export const DEFAULT_SUBMIT_TIMEOUT_MS = 30_000;
/** The longest a dial may take within the run's deadline. */
const MAX_DIAL_TIMEOUT_MS = 10_000;

/** What `submitTransactions` sends, where, and as whom. */
export interface TxSubmitOptions {
  /** The ordering service, "host:port". */
  orderer: string;
  channel: string;
  /** Transactions to send (>= 1). */
  count: number;
  /** The client who signs proposals and envelopes: an identity the channel's /Channel/Writers admits. */
  signer: TxSigner;
  /** The identities that endorse each transaction. Default: the signer alone (see TxFeederOptions.endorsers). */
  endorsers?: readonly TxSigner[];
  /** Bytes of the value each transaction writes. */
  size: number;
  /** Transactions per second. */
  rate: number;
  /** TLS toward the orderer (its CA; our certificate and key for mutual TLS); plaintext when absent. */
  tls?: ClientTlsMaterial;
  /** Deadline of the whole run: dialing, sending, every answer. */
  timeoutMs: number;
}

/** What the orderer answered (the JSON of `tx submit --json`). */
export interface TxSubmitResult {
  orderer: string;
  channel: string;
  /** Transactions asked for. */
  count: number;
  /** Written to the Broadcast stream. */
  sent: number;
  /** Answered SUCCESS: the orderer will put them in a block. */
  accepted: number;
  /** Answered with another status (the last one in `error`). */
  refused: number;
  /** Sent on a stream that failed before answering. */
  lost: number;
  /** Not answered within the deadline. */
  unanswered: number;
  seconds: number;
  /** Why not every transaction was accepted: the orderer's status and reason, or the connection's failure. */
  error?: string;
}

/**
 * Sends `count` endorser transactions (the feeder's: each writes one public key of chaincode feedcc, endorsed
 * and signed as `network up` makes them) to an ordering service on one Broadcast stream and waits for every
 * answer. It stops at the first broken stream rather than dialing again: the caller reports it.
 * Never throws for the orderer's behaviour: an unreachable orderer, a refusal or a deadline are in `error`.
 */
export async function submitTransactions(o: TxSubmitOptions): Promise<TxSubmitResult> {
  const started = Date.now();
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const feeder = new TxFeeder({
    endpoint: o.orderer,
    channel: o.channel,
    signer: o.signer,
    ...(o.endorsers !== undefined && o.endorsers.length > 0 ? { endorsers: o.endorsers } : {}),
    rate: o.rate,
    size: o.size,
    limit: o.count,
    dialTimeoutMs: Math.min(o.timeoutMs, MAX_DIAL_TIMEOUT_MS),
    ...(o.tls !== undefined ? { tls: o.tls } : {}),
    onChange: (s) => {
      if (s.lost > 0 || answered(s) >= o.count) settle();
    },
  });
  const result = (s: FeederStats, error: string | undefined): TxSubmitResult => ({
    orderer: o.orderer,
    channel: o.channel,
    count: o.count,
    sent: s.sent,
    accepted: s.succeeded,
    refused: s.rejected,
    lost: s.lost,
    unanswered: Math.max(0, s.sent - s.succeeded - s.rejected - s.lost),
    seconds: Math.round((Date.now() - started) / 10) / 100,
    ...(error !== undefined ? { error } : {}),
  });
  try {
    await feeder.start();
  } catch (err) {
    await feeder.stop();
    const why = err instanceof NetworkError ? err.message : `cannot reach the orderer ${o.orderer}: ${errorMessage(err)}`;
    // A TLS orderer that wants a client certificate refuses the handshake: grpc-js says only that it failed to connect.
    const hint = o.tls !== undefined && o.tls.cert === undefined ? " (if the orderer requires mutual TLS, give --tls-cert and --tls-key)" : "";
    return result(feeder.stats(), `${why}${hint}`);
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(0, o.timeoutMs - (Date.now() - started)));
  });
  const outcome = await Promise.race([settled.then(() => "settled" as const), deadline]);
  clearTimeout(timer);
  // Stop sending (a broken stream is not dialed again, as the feeder would for a long-running network); answers
  // already on their way still count.
  await feeder.stop();
  const s = feeder.stats();
  let error: string | undefined;
  if (s.lost > 0) error = `${s.lastError ?? `the stream to ${o.orderer} broke`} (${s.lost} transactions sent without an answer)`;
  else if (s.rejected > 0) error = `the orderer refused ${s.rejected} of ${s.sent}: ${s.lastError ?? "no reason given"}`;
  else if (answered(s) < o.count) {
    error = `${answered(s)} of ${o.count} transactions answered within ${outcome === "timeout" ? o.timeoutMs : Date.now() - started} ms${s.lastError !== undefined ? ` (last error: ${s.lastError})` : ""}`;
  }
  return result(s, error);
}

function answered(s: FeederStats): number {
  return s.succeeded + s.rejected + s.lost + s.failed;
}
