import { Envelope, Status } from "../protos/gen/common/common.pb.js";
import { type Clock, errorMessage, type Random } from "../util/index.js";
import { createSeekInfoEnvelope } from "./envelope.js";
import { DeliverError } from "./errors.js";
import { createGrpcDeliverConnector } from "./grpc-connector.js";
import { DEFAULT_DELIVER_CLIENT_OPTIONS, type DeliverConnector, type DeliverSigner, type DeliverTlsOptions } from "./interface.js";
import { decodeDeliverResponse } from "./seek-info.js";

/** How long an orderer may take to send the block once the stream is open, by default. */
export const DEFAULT_FETCH_BLOCK_WAIT_MS = 10_000;

/** What `fetchBlock` asks for, of whom, and how it dials. */
export interface FetchBlockRequest {
  channel: string;
  /** The block's number (0: the genesis block). */
  number: bigint;
  /** Orderer endpoints, tried in order until one sends the block. */
  endpoints: readonly string[];
  /** Signs the SeekInfo (the peer's identity). */
  signer: DeliverSigner;
  /** How to open the Deliver stream. Default: gRPC with `tls`; its TLS cert hash binds the request. */
  connector?: DeliverConnector;
  /** Dial material for the default gRPC connector. */
  tls?: DeliverTlsOptions;
  /** Real time for gRPC deadlines; the channel header's timestamp. */
  clock: Clock;
  /** The SeekInfo's nonce source. Default: node:crypto. */
  random?: Random;
  /** Dial deadline per endpoint. Default: the deliver client's `connTimeoutMs`. */
  connTimeoutMs?: number;
  /** How long to wait for the block once connected, per endpoint. Default `DEFAULT_FETCH_BLOCK_WAIT_MS`. */
  waitMs?: number;
  /** Default: the deliver client's `maxMessageSize`. */
  maxMessageSize?: number;
  /** Stops the fetch (DeliverError STOPPED). */
  signal?: AbortSignal;
}

/**
 * Fetches one block from the ordering service, as Fabric's peer fetches a channel's genesis block on
 * join: a SeekInfo from `number` to `number`, BLOCK_UNTIL_READY, signed by the peer with the TLS
 * binding (the orderer refuses a mutual-TLS request whose channel header lacks its client
 * certificate's hash). Returns the block's bytes as the orderer sent them. Throws DeliverError
 * FETCH_FAILED naming each endpoint's failure, or STOPPED when `signal` aborts.
 */
export async function fetchBlock(req: FetchBlockRequest): Promise<Uint8Array> {
  const connector =
    req.connector ??
    createGrpcDeliverConnector({ tls: req.tls, clock: req.clock, maxMessageSize: req.maxMessageSize ?? DEFAULT_DELIVER_CLIENT_OPTIONS.maxMessageSize });
  const signal = req.signal ?? new AbortController().signal;
  const failures: string[] = [];
  for (const endpoint of req.endpoints) {
    if (signal.aborted) throw new DeliverError("STOPPED", `fetching block ${req.number} of channel ${req.channel} was stopped`);
    try {
      return await fetchFrom(endpoint, connector, req, signal);
    } catch (err) {
      if (err instanceof DeliverError && err.code === "STOPPED") throw err;
      failures.push(`${endpoint}: ${errorMessage(err)}`);
    }
  }
  const why = failures.length > 0 ? failures.join("; ") : "no orderer endpoints";
  throw new DeliverError("FETCH_FAILED", `no orderer gave block ${req.number} of channel ${req.channel} (${why})`);
}

async function fetchFrom(endpoint: string, connector: DeliverConnector, req: FetchBlockRequest, signal: AbortSignal): Promise<Uint8Array> {
  const seek = createSeekInfoEnvelope(
    req.signer,
    req.channel,
    { start: req.number, stop: req.number, behavior: "block" },
    { clock: req.clock, ...(req.random !== undefined ? { random: req.random } : {}), tlsCertHash: connector.tlsCertHash },
  );
  const connTimeoutMs = req.connTimeoutMs ?? DEFAULT_DELIVER_CLIENT_OPTIONS.connTimeoutMs;
  const stream = await connector.open(endpoint, Envelope.encode(seek).finish(), connTimeoutMs, signal);
  const waitMs = req.waitMs ?? DEFAULT_FETCH_BLOCK_WAIT_MS;
  let timedOut = false;
  // Closing the stream ends the iteration below, whether by the deadline or by a stop.
  const timer = req.clock.setTimeout(() => {
    timedOut = true;
    stream.close();
  }, waitMs);
  const onAbort = (): void => stream.close();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const bytes of stream) {
      const msg = decodeDeliverResponse(bytes);
      if (msg.kind === "malformed") throw fetchFailed(msg.error);
      if (msg.kind === "status") throw fetchFailed(`status ${Status[msg.status] ?? msg.status} before the block`);
      const got = msg.block.header?.number;
      if (got !== req.number) throw fetchFailed(`sent block ${String(got)} instead of ${req.number}`);
      return msg.bytes;
    }
    throw fetchFailed("the stream ended without the block");
  } catch (err) {
    if (signal.aborted) throw new DeliverError("STOPPED", `fetching block ${req.number} of channel ${req.channel} was stopped`, { cause: err });
    if (timedOut) throw fetchFailed(`no block within ${waitMs} ms`, err);
    throw err;
  } finally {
    timer.cancel();
    signal.removeEventListener("abort", onAbort);
    stream.close();
  }
}

function fetchFailed(message: string, cause?: unknown): DeliverError {
  return new DeliverError("FETCH_FAILED", message, cause === undefined ? undefined : { cause });
}
