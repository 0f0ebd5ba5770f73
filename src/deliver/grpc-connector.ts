import { createHash, X509Certificate } from "node:crypto";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { passBytes, takeBytes } from "../comm/grpc/index.js";
import type { Clock } from "../util/index.js";
import { DeliverError } from "./errors.js";
import type { DeliverConnector, DeliverStream, DeliverTlsOptions } from "./interface.js";

/** Fabric's `orderer.AtomicBroadcast/Deliver`: a bidi stream of Envelope up, DeliverResponse down. */
export const DELIVER_METHOD = "/orderer.AtomicBroadcast/Deliver";


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
    this.client.close();
  }
}

/** Dials orderers with @grpc/grpc-js, one connection per stream, raw bytes on the wire. */
export function createGrpcDeliverConnector(options: GrpcDeliverConnectorOptions): DeliverConnector {
  const tls = options.tls;
  const tlsCertHash = tls?.cert !== undefined ? new Uint8Array(createHash("sha256").update(new X509Certificate(tls.cert).raw).digest()) : undefined;
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
      const client = new grpc.Client(endpoint, credentials(endpoint, tls, channelOptions), channelOptions);
      let onAbort: (() => void) | undefined;
      try {
        // stop() must not wait for the dial deadline: an abort ends the wait at once.
        await new Promise<void>((resolve, reject) => {
          onAbort = () => reject(new DeliverError("STOPPED", "deliver client is stopped"));
          signal.addEventListener("abort", onAbort, { once: true });
          client.waitForReady(options.clock.now() + connTimeoutMs, (err) => (err ? reject(err) : resolve()));
        });
        if (signal.aborted) throw new DeliverError("STOPPED", "deliver client is stopped");
        const call = client.makeBidiStreamRequest<Uint8Array, Uint8Array>(DELIVER_METHOD, passBytes, takeBytes, new grpc.Metadata(), {});
        const stream = new GrpcDeliverStream(client, call);
        call.write(seekEnvelope);
        return stream;
      } catch (err) {
        client.close();
        if (err instanceof DeliverError) throw err;
        throw new DeliverError("CONNECT_FAILED", `cannot connect to orderer ${endpoint} within ${connTimeoutMs} ms: ${(err as Error).message}`, {
          cause: err,
        });
      } finally {
        if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
      }
    },
  };
}

function credentials(endpoint: string, tls: DeliverTlsOptions | undefined, options: grpc.ChannelOptions): grpc.ChannelCredentials {
  if (tls === undefined) return grpc.credentials.createInsecure();
  const host = endpoint.slice(0, endpoint.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  const expectedName = tls.serverNameOverride ?? host;
  // Node warns (DEP0123) when the TLS servername is an IP address: send "localhost" as SNI and
  // check the certificate against the name we really expect.
  options["grpc.ssl_target_name_override"] = "localhost";
  const key = tls.key !== undefined ? Buffer.from(tls.key) : null;
  const cert = tls.cert !== undefined ? Buffer.from(tls.cert) : null;
  return grpc.credentials.createSsl(Buffer.from(tls.rootCAs), key, cert, {
    checkServerIdentity: (_name: string, peerCert: PeerCertificate) => checkServerIdentity(expectedName, peerCert),
  });
}
