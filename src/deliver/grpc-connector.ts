import * as grpc from "@grpc/grpc-js";
import {
  certHashOfPem,
  type ClientTlsMaterial,
  clientCredentials,
  closeClient,
  diagnoseTlsDial,
  formatTlsDiagnosis,
  passBytes,
  takeBytes,
  waitForReady,
} from "../comm/grpc/index.js";
import type { Clock } from "../util/index.js";
import { DeliverError } from "./errors.js";
import type { DeliverConnector, DeliverStream, DeliverTlsOptions } from "./interface.js";

/** Fabric's `orderer.AtomicBroadcast/Deliver`: a bidi stream of Envelope up, DeliverResponse down. */
export const DELIVER_METHOD = "/orderer.AtomicBroadcast/Deliver";

/** Longest a failed dial's diagnosis may take (it runs after the dial deadline, so it delays the error). */
export const DIAL_DIAGNOSIS_MAX_MS = 2_000;

/** How the gRPC connector dials. */
export interface GrpcDeliverConnectorOptions {
  tls?: DeliverTlsOptions | undefined;
  /** Real time: gRPC deadlines are wall-clock instants. */
  clock: Clock;
  maxMessageSize: number;
}

/** An open Deliver call. Its client (one connection per stream, as Fabric dials per connect) closes with it. */
class GrpcDeliverStream implements DeliverStream {
  #closed = false;

  constructor(
    private readonly client: grpc.Client,
    private readonly call: grpc.ClientDuplexStream<Uint8Array, Uint8Array>,
  ) {
    // Errors surface through the async iterator; this keeps an 'error' after close from being unhandled.
    call.on("error", () => {});
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for await (const msg of this.call) yield msg as Uint8Array;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.call.cancel();
    closeClient(this.client);
  }
}

/** Dials orderers with @grpc/grpc-js, one connection per stream, raw bytes on the wire. */
export function createGrpcDeliverConnector(options: GrpcDeliverConnectorOptions): DeliverConnector {
  const tls = options.tls;
  const tlsCertHash = tls?.cert !== undefined ? certHashOfPem(tls.cert) : undefined;
  return {
    tlsCertHash,
    async open(endpoint, seekEnvelope, connTimeoutMs, signal) {
      if (signal.aborted) throw new DeliverError("STOPPED", "deliver client is stopped");
      const channelOptions: grpc.ChannelOptions = {
        "grpc.max_receive_message_length": options.maxMessageSize,
        "grpc.max_send_message_length": options.maxMessageSize,
        // Fabric's orderer allows a client keepalive ping at most once a minute.
        "grpc.keepalive_time_ms": 60_000,
        "grpc.keepalive_timeout_ms": 20_000,
        "grpc.use_local_subchannel_pool": 1,
      };
      const material = tls === undefined ? undefined : { ...tls, rootCAs: typeof tls.rootCAs === "function" ? tls.rootCAs(endpoint) : tls.rootCAs };
      const client = new grpc.Client(endpoint, clientCredentials(endpoint, material, channelOptions), channelOptions);
      let onAbort: (() => void) | undefined;
      try {
        // stop() must not wait for the dial deadline: an abort ends the wait at once.
        await new Promise<void>((resolve, reject) => {
          onAbort = () => reject(new DeliverError("STOPPED", "deliver client is stopped"));
          signal.addEventListener("abort", onAbort, { once: true });
          waitForReady(client, options.clock.now() + connTimeoutMs).then(resolve, reject);
        });
        if (signal.aborted) throw new DeliverError("STOPPED", "deliver client is stopped");
        const call = client.makeBidiStreamRequest<Uint8Array, Uint8Array>(DELIVER_METHOD, passBytes, takeBytes, new grpc.Metadata(), {});
        const stream = new GrpcDeliverStream(client, call);
        call.write(seekEnvelope);
        return stream;
      } catch (err) {
        closeClient(client);
        if (err instanceof DeliverError) throw err;
        const why = await diagnose(endpoint, material, connTimeoutMs, signal);
        throw new DeliverError("CONNECT_FAILED", `cannot connect to orderer ${endpoint} within ${connTimeoutMs} ms: ${(err as Error).message}${why}`, {
          cause: err,
        });
      } finally {
        if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
      }
    },
  };
}

/**
 * gRPC says only "Failed to connect before the deadline": the dial is repeated with node:tls and the
 * same material to name the cause (unknown CA, expired certificate, plaintext against TLS, ...).
 * Returns "" when the diagnosis finds nothing wrong or is stopped.
 */
async function diagnose(endpoint: string, tls: ClientTlsMaterial | undefined, connTimeoutMs: number, signal: AbortSignal): Promise<string> {
  if (signal.aborted) return "";
  const d = await diagnoseTlsDial(endpoint, { tls, timeoutMs: Math.min(connTimeoutMs, DIAL_DIAGNOSIS_MAX_MS), what: "orderer", signal });
  return d.code === "OK" || signal.aborted ? "" : ` (${formatTlsDiagnosis(d)})`;
}
