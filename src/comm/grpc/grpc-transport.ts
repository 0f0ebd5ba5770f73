import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../../logging/index.js";
import type { Clock } from "../../util/index.js";
import { CommError, DEF_MAX_MESSAGE_SIZE, type RawStream, type Transport, type TransportTls } from "../index.js";
import { certHashOfPem, clientCredentials } from "./credentials.js";
import { passBytes, takeBytes } from "./raw-bytes.js";
import { GrpcRawStream } from "./raw-stream.js";
import { TlsTrustStore } from "./trust-store.js";

/** PEM material for mutual TLS. One certificate may serve as both server and client certificate. */
export interface GrpcTlsOptions {
  /** Server certificate (PEM) and its key. */
  cert: string | Buffer;
  key: string | Buffer;
  /** Client certificate and key; the server pair when absent. */
  clientCert?: string | Buffer;
  clientKey?: string | Buffer;
  /**
   * TLS CA certificates of every org whose peers we accept and dial: fixed PEM (concatenated), or a
   * trust store whose gossip CAs follow the channels' configurations (new connections use the CAs
   * of the moment; connections already open stay).
   */
  rootCAs: string | Buffer | TlsTrustStore;
  /** TLS server name to expect when dialing, instead of the endpoint's host. */
  serverNameOverride?: string;
}

export interface GrpcTransportOptions {
  /** "host:port" to listen on; port 0 picks a free port. */
  listenAddress: string;
  tls?: GrpcTlsOptions;
  maxMessageSize?: number;
  logger: Logger;
  /** Real time: gRPC deadlines are wall-clock instants. */
  clock: Clock;
}

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
export class GrpcTransport implements Transport {
  readonly tls: TransportTls;
  #listenAddress: string;
  #server: grpc.Server | undefined;
  readonly #clients = new Set<grpc.Client>();
  readonly #streams = new Set<GrpcRawStream>();
  readonly #maxSize: number;
  readonly #log: Logger;
  readonly #trust: TlsTrustStore | undefined;
  #unsubscribeTrust: (() => void) | undefined;
  #closed = false;

  constructor(private readonly options: GrpcTransportOptions) {
    this.#listenAddress = options.listenAddress;
    this.#maxSize = options.maxMessageSize ?? DEF_MAX_MESSAGE_SIZE;
    this.#log = options.logger.child("gossip.comm.grpc");
    const tls = options.tls;
    this.#trust = tls === undefined ? undefined : tls.rootCAs instanceof TlsTrustStore ? tls.rootCAs : new TlsTrustStore(tls.rootCAs);
    this.tls = {
      serverCertHash: tls ? certHashOfPem(tls.cert) : undefined,
      clientCertHash: tls ? certHashOfPem(tls.clientCert ?? tls.cert) : undefined,
    };
  }

  /** The TLS CAs this transport trusts (undefined without TLS). */
  get trustStore(): TlsTrustStore | undefined {
    return this.#trust;
  }

  get listenAddress(): string {
    return this.#listenAddress;
  }

  async listen(onStream: (stream: RawStream) => void): Promise<void> {
    const server = new grpc.Server({
      "grpc.max_receive_message_length": this.#maxSize,
      "grpc.max_send_message_length": this.#maxSize,
      "grpc.keepalive_permit_without_calls": 1,
    });
    server.addService(GOSSIP_SERVICE, {
      GossipStream: (call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>) => {
        if (this.#closed) {
          call.end();
          return;
        }
        const stream = new GrpcRawStream(call, stripScheme(call.getPeer()), () => this.#streams.delete(stream));
        this.#streams.add(stream);
        onStream(stream);
      },
      Ping: (_call: grpc.ServerUnaryCall<Uint8Array, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
        callback(null, EMPTY);
      },
    });
    const tls = this.options.tls;
    const trust = this.#trust;
    // Fabric's server only requests a client certificate (clientAuthRequired off) and relies on the
    // ConnEstablish hash binding. grpc-js exposes the peer certificate only once it verified it, so we
    // require a client certificate from one of the trusted TLS CAs (every channel org's, as Fabric's
    // SetClientRootCAs keeps them), replaced in the running server when the trust store changes.
    let creds: grpc.ServerCredentials;
    if (tls !== undefined && trust !== undefined) {
      const updatable = new UpdatableServerCredentials(Buffer.from(tls.cert), Buffer.from(tls.key), trust.peerRoots());
      this.#unsubscribeTrust = trust.onPeerRootsChange((roots) => updatable.setClientRootCAs(roots));
      creds = updatable;
    } else {
      creds = grpc.ServerCredentials.createInsecure();
    }
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(this.options.listenAddress, creds, (err, p) => (err ? reject(err) : resolve(p)));
    });
    const host = this.options.listenAddress.slice(0, this.options.listenAddress.lastIndexOf(":"));
    this.#listenAddress = `${host}:${port}`;
    this.#server = server;
    this.#log.info("gossip service listening", { address: this.#listenAddress, tls: this.options.tls !== undefined });
  }

  async dial(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number): Promise<RawStream> {
    const client = await this.#connect(endpoint, dialTimeoutMs);
    try {
      await this.#ping(client, endpoint, pingTimeoutMs);
    } catch (err) {
      this.#closeClient(client);
      throw err;
    }
    const call = client.makeBidiStreamRequest<Uint8Array, Uint8Array>(GOSSIP_STREAM, passBytes, takeBytes, new grpc.Metadata(), {});
    const stream = new GrpcRawStream(call, endpoint, () => {
      this.#streams.delete(stream);
      this.#closeClient(client);
    });
    this.#streams.add(stream);
    return stream;
  }

  async ping(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number): Promise<void> {
    const client = await this.#connect(endpoint, dialTimeoutMs);
    try {
      await this.#ping(client, endpoint, pingTimeoutMs);
    } finally {
      this.#closeClient(client);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribeTrust?.();
    this.#unsubscribeTrust = undefined;
    for (const s of [...this.#streams]) s.close();
    for (const c of [...this.#clients]) c.close();
    this.#clients.clear();
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
  }

  /** Creates a client with its own connection and waits until it is ready (Fabric's WithBlock dial). */
  async #connect(endpoint: string, dialTimeoutMs: number): Promise<grpc.Client> {
    if (this.#closed) throw new CommError("STOPPED", "transport is closed");
    const options: grpc.ChannelOptions = {
      "grpc.max_receive_message_length": this.#maxSize,
      "grpc.max_send_message_length": this.#maxSize,
      // Fabric's server allows a client keepalive ping at most once a minute.
      "grpc.keepalive_time_ms": 60_000,
      "grpc.keepalive_timeout_ms": 20_000,
      // One connection per dial, as Fabric's comm makes one grpc.ClientConn per connection.
      "grpc.use_local_subchannel_pool": 1,
    };
    const client = new grpc.Client(endpoint, this.#credentials(endpoint, options), options);
    this.#clients.add(client);
    try {
      await new Promise<void>((resolve, reject) => {
        client.waitForReady(this.options.clock.now() + dialTimeoutMs, (err) => (err ? reject(err) : resolve()));
      });
    } catch (err) {
      this.#closeClient(client);
      throw new CommError("DIAL_FAILED", `cannot connect to ${endpoint} within ${dialTimeoutMs} ms: ${(err as Error).message}`, { cause: err });
    }
    return client;
  }

  #ping(client: grpc.Client, endpoint: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      client.makeUnaryRequest<Uint8Array, Uint8Array>(PING, passBytes, takeBytes, EMPTY, { deadline: this.options.clock.now() + timeoutMs }, (err) => {
        if (err) reject(new CommError("PING_FAILED", `ping of ${endpoint} failed: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  #credentials(endpoint: string, options: grpc.ChannelOptions): grpc.ChannelCredentials {
    const tls = this.options.tls;
    if (!tls || this.#trust === undefined) return clientCredentials(endpoint, undefined, options);
    // The CAs of the moment: a channel joined or updated since the last dial counts.
    return clientCredentials(
      endpoint,
      { rootCAs: this.#trust.peerRoots(), cert: tls.clientCert ?? tls.cert, key: tls.clientKey ?? tls.key, serverNameOverride: tls.serverNameOverride },
      options,
    );
  }

  #closeClient(client: grpc.Client): void {
    if (this.#clients.delete(client)) client.close();
  }

  /** Open streams (for tests and the admin view). */
  openStreams(): number {
    return this.#streams.size;
  }
}

/**
 * Mutual-TLS server credentials whose client CAs can be replaced while the server runs: grpc-js
 * hands each new context to its TLS server (`setSecureContext`), so new handshakes verify client
 * certificates against the new CAs while open connections go on.
 */
class UpdatableServerCredentials extends grpc.ServerCredentials {
  readonly #cert: Buffer;
  readonly #key: Buffer;

  constructor(cert: Buffer, key: Buffer, clientRootCAs: Buffer) {
    super({ requestCert: true, rejectUnauthorized: true }, { ca: clientRootCAs, cert: [cert], key: [key] });
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
