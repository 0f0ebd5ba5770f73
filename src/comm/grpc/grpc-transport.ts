import * as grpc from "@grpc/grpc-js";
import { CommError, type RawStream } from "../index.js";
import { clientCredentials, peerCertHash } from "./credentials.js";
import { GossipPortTransport } from "./gossip-port.js";
import { hostPort } from "./socket-gate.js";
import { passBytes, takeBytes } from "./raw-bytes.js";
import { GrpcRawStream } from "./raw-stream.js";
import { closeClient, waitForReady } from "./wait-ready.js";

export type { GrpcTlsOptions, GrpcTransportOptions } from "./gossip-port.js";

const EMPTY = Buffer.alloc(0);
const GOSSIP_STREAM = "/gossip.Gossip/GossipStream";
const PING = "/gossip.Gossip/Ping";

/** Fabric's `gossip.Gossip` service, carrying envelopes as raw bytes so they are never re-encoded. */
const GOSSIP_SERVICE: grpc.ServiceDefinition = {
  GossipStream: {
    path: GOSSIP_STREAM,
    requestStream: true,
    responseStream: true,
    requestSerialize: passBytes,
    requestDeserialize: takeBytes,
    responseSerialize: passBytes,
    responseDeserialize: takeBytes,
  },
  Ping: {
    path: PING,
    requestStream: false,
    responseStream: false,
    requestSerialize: passBytes,
    requestDeserialize: takeBytes,
    responseSerialize: passBytes,
    responseDeserialize: takeBytes,
  },
};

/**
 * gRPC as Fabric runs it: serves `/gossip.Gossip/GossipStream` and `/gossip.Gossip/Ping`; dials
 * with a timeout, pings, then opens the stream; 100 MiB message limits; client keepalive no more
 * often than a Fabric server permits (once a minute).
 */
export class GrpcTransport extends GossipPortTransport<GrpcRawStream, grpc.Client> {
  #server: grpc.Server | undefined;
  readonly #clients = new Set<grpc.Client>();

  async listen(onStream: (stream: RawStream) => void): Promise<void> {
    const server = new grpc.Server({
      "grpc.max_receive_message_length": this.maxSize,
      "grpc.max_send_message_length": this.maxSize,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.max_concurrent_streams": this.limits.maxConcurrentStreams,
      interceptors: [refuseCompressedRequests],
    });
    server.addService(GOSSIP_SERVICE, {
      GossipStream: (call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>) => {
        if (this.closed) {
          call.end();
          return;
        }
        const held = this.gate.calledFrom(stripScheme(call.getPeer()));
        const certHash = held === undefined ? undefined : (): Uint8Array | undefined => (held.certHash ??= peerCertHash(call));
        const stream = new GrpcRawStream(call, peerAddress(call.getPeer()), () => this.streams.delete(stream), certHash);
        this.streams.add(stream);
        onStream(stream);
      },
      Ping: (call: grpc.ServerUnaryCall<Uint8Array, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
        this.gate.calledFrom(stripScheme(call.getPeer()));
        callback(null, EMPTY);
      },
    });
    const tls = this.options.tls;
    const trust = this.trust;
    // Fabric's server only requests a client certificate (clientAuthRequired off) and relies on the
    // ConnEstablish hash binding. grpc-js exposes the peer certificate only once it verified it, so we
    // require a client certificate from one of the trusted TLS CAs (every channel org's, as Fabric's
    // SetClientRootCAs keeps them), replaced in the running server when the trust store changes.
    let creds: grpc.ServerCredentials;
    if (tls !== undefined && trust !== undefined) {
      const updatable = new UpdatableServerCredentials(Buffer.from(tls.cert), Buffer.from(tls.key), trust.peerRoots(), this.limits.tlsHandshakeTimeoutMs);
      this.unsubscribeTrust = trust.onPeerRootsChange((roots) => updatable.setClientRootCAs(roots));
      creds = updatable;
    } else {
      creds = grpc.ServerCredentials.createInsecure();
    }
    // Our own listener hands grpc-js each socket it admits (a connection injector): grpc-js's own
    // listener would take every connection, and tells nothing of the sockets under its sessions.
    const injector = server.createConnectionInjector(creds);
    try {
      this.boundAddress = await this.gate.listen(this.options.listenAddress, (socket) => injector.injectConnection(socket));
    } catch (err) {
      injector.destroy();
      throw err;
    }
    this.#server = server;
    this.log.info("gossip service listening", { address: this.boundAddress, tls: this.options.tls !== undefined });
  }

  protected openStream(client: grpc.Client, endpoint: string): GrpcRawStream {
    const call = client.makeBidiStreamRequest<Uint8Array, Uint8Array>(GOSSIP_STREAM, passBytes, takeBytes, new grpc.Metadata(), {});
    const stream = new GrpcRawStream(call, endpoint, () => {
      this.streams.delete(stream);
      this.release(client);
    });
    return stream;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribeTrust?.();
    this.unsubscribeTrust = undefined;
    for (const s of [...this.streams]) s.close();
    for (const c of [...this.#clients]) closeClient(c);
    this.#clients.clear();
    this.gate.stopListening();
    const server = this.#server;
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        const timer = this.options.clock.setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1_000);
        server.tryShutdown(() => {
          timer.cancel();
          resolve();
        });
      });
    }
    // What grpc-js's shutdown left open (sockets still in their TLS handshake, silent ones).
    this.gate.destroyAll();
    await this.stopDiagnoses();
  }

  /** Creates a client with its own connection and waits until it is ready (Fabric's WithBlock dial). */
  protected async connect(endpoint: string, dialTimeoutMs: number): Promise<grpc.Client> {
    if (this.closed) throw new CommError("STOPPED", "transport is closed");
    const options: grpc.ChannelOptions = {
      "grpc.max_receive_message_length": this.maxSize,
      "grpc.max_send_message_length": this.maxSize,
      // Fabric's server allows a client keepalive ping at most once a minute.
      "grpc.keepalive_time_ms": 60_000,
      "grpc.keepalive_timeout_ms": 20_000,
      // One connection per dial, as Fabric's comm makes one grpc.ClientConn per connection.
      "grpc.use_local_subchannel_pool": 1,
    };
    const client = new grpc.Client(endpoint, this.#credentials(endpoint, options), options);
    this.#clients.add(client);
    try {
      await waitForReady(client, this.options.clock.now() + dialTimeoutMs);
    } catch (err) {
      this.release(client);
      this.diagnoseLater(endpoint, dialTimeoutMs);
      throw new CommError("DIAL_FAILED", `cannot connect to ${endpoint} within ${dialTimeoutMs} ms: ${(err as Error).message}`, { cause: err });
    }
    return client;
  }

  protected pingOver(client: grpc.Client, endpoint: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      client.makeUnaryRequest<Uint8Array, Uint8Array>(PING, passBytes, takeBytes, EMPTY, { deadline: this.options.clock.now() + timeoutMs }, (err) => {
        if (err) reject(new CommError("PING_FAILED", `ping of ${endpoint} failed: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  #credentials(endpoint: string, options: grpc.ChannelOptions): grpc.ChannelCredentials {
    // The CAs of the moment: a channel joined or updated since the last dial counts.
    return clientCredentials(endpoint, this.clientTls(), options);
  }

  protected release(client: grpc.Client): void {
    if (this.#clients.delete(client)) closeClient(client);
  }

}

/**
 * Answers a call whose messages come compressed (grpc-encoding gzip or deflate) with UNIMPLEMENTED
 * before reading any, as Fabric's peers do (their gRPC has no decompressor registered). grpc-js would
 * inflate each message up to the 100 MiB receive limit before any check of ours: eight concurrent
 * calls of one 100 KB gzip bomb each took the process from 105 to 925 MiB. grpc-js drops the header
 * from the metadata it shows, so the encoding is read from its call (a field of grpc-js 1.14; the
 * test in test/unit/comm/compressed-requests.test.ts fails if a new version moves it).
 */
const refuseCompressedRequests: grpc.ServerInterceptor = (_method, call) => {
  const encoding = (call as unknown as { incomingEncoding?: unknown }).incomingEncoding;
  if (encoding === undefined || encoding === "identity") return new grpc.ServerInterceptingCall(call);
  return new grpc.ServerInterceptingCall(call, {
    start: () => {
      call.sendStatus({ code: grpc.status.UNIMPLEMENTED, details: `compressed messages (grpc-encoding ${String(encoding)}) are not accepted`, metadata: null });
    },
  });
};

/** grpc-js's "address:port" of a call as "host:port", with an IPv6 host in brackets. */
function peerAddress(peer: string): string {
  const plain = stripScheme(peer);
  const colon = plain.lastIndexOf(":");
  return colon <= 0 ? plain : hostPort(plain.slice(0, colon), plain.slice(colon + 1));
}

/**
 * Mutual-TLS server credentials whose client CAs can be replaced while the server runs: grpc-js
 * hands each new context to its TLS server (`setSecureContext`), so new handshakes verify client
 * certificates against the new CAs while open connections go on.
 */
class UpdatableServerCredentials extends grpc.ServerCredentials {
  readonly #cert: Buffer;
  readonly #key: Buffer;

  constructor(cert: Buffer, key: Buffer, clientRootCAs: Buffer, handshakeTimeoutMs: number) {
    // handshakeTimeout: a client that starts a TLS handshake and goes silent is dropped in seconds.
    super({ requestCert: true, rejectUnauthorized: true, handshakeTimeout: handshakeTimeoutMs }, { ca: clientRootCAs, cert: [cert], key: [key] });
    this.#cert = cert;
    this.#key = key;
  }

  setClientRootCAs(roots: Buffer): void {
    this.updateSecureContextOptions({ ca: roots, cert: [this.#cert], key: [this.#key] });
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

function stripScheme(peer: string): string {
  return peer.replace(/^ipv[46]:/, "");
}

export { GOSSIP_SERVICE };
