import { createHash } from "node:crypto";
import type { Clock, TimerHandle } from "../../util/index.js";
import { CommError, dialNotNeeded, type RawStream, type Transport, type TransportTls } from "../index.js";
import type { MemoryEndpoint, MemoryNetwork } from "./network.js";
import type { MemoryStream } from "./stream.js";

/**
 * Simulated TLS: opaque DER bytes standing for this side's certificates. Only their SHA-256 is ever
 * used (Fabric's `certHashFromRawCert`), so any bytes do.
 */
export interface MemoryTlsCerts {
  /** Presented when accepting. Setting it makes the endpoint a TLS server: plaintext dialers are refused. */
  serverCert?: Uint8Array;
  /** Presented when dialing; without it the acceptor sees no client certificate (Fabric then says "no TLS certificate"). */
  clientCert?: Uint8Array;
}

export interface MemoryTransportOptions {
  /** The "host:port" this transport listens on and dials from. */
  endpoint: string;
  /** Simulated TLS; without it the transport speaks plaintext and both TLS hashes are undefined. */
  tls?: MemoryTlsCerts;
  /**
   * The clock of the host this transport is on (default: the network's). Its dials wait on it, and the
   * frames that reach it are its events: under a ManualClock, a grouped clock (ManualClock.grouped)
   * keeps each host's events together within an instant. It must tell the network's time: the network's
   * clock itself, a group of it, or a skewed view of either (only the wall time may differ).
   */
  clock?: Clock;
}

interface PendingOp {
  timer: TimerHandle | undefined;
  reject: (err: Error) => void;
}

function sha256(der: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(der).digest());
}

/**
 * A Transport over a MemoryNetwork, registered under its endpoint once listening. A dial takes a
 * connect round trip and a ping round trip of network latency, and fails as MemoryNetworkOptions
 * say when nobody serves the endpoint; the accepting side's stream reports the dialer's client
 * certificate hash and the dialing side's the listener's server certificate hash.
 */
export class MemoryTransport implements Transport, MemoryEndpoint {
  readonly tls: TransportTls;
  readonly listenAddress: string;
  /** True when this side speaks TLS (it has a server or a client certificate). */
  readonly tlsEnabled: boolean;
  readonly clock: Clock;
  readonly #network: MemoryNetwork;
  readonly #pending = new Set<PendingOp>();
  #onStream: ((stream: RawStream) => void) | undefined;
  #closed = false;

  constructor(network: MemoryNetwork, options: MemoryTransportOptions) {
    this.#network = network;
    this.clock = options.clock ?? network.clock;
    this.listenAddress = options.endpoint;
    const serverCert = options.tls?.serverCert;
    const clientCert = options.tls?.clientCert;
    this.tlsEnabled = serverCert !== undefined || clientCert !== undefined;
    this.tls = {
      serverCertHash: serverCert === undefined ? undefined : sha256(serverCert),
      clientCertHash: clientCert === undefined ? undefined : sha256(clientCert),
    };
  }

  /** True while listening and not closed. */
  get accepting(): boolean {
    return this.#onStream !== undefined && !this.#closed;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Dials and pings still in progress. */
  pendingOperations(): number {
    return this.#pending.size;
  }

  async listen(onStream: (stream: RawStream) => void): Promise<void> {
    if (this.#closed) throw new CommError("STOPPED", `transport ${this.listenAddress} is closed`);
    if (this.#onStream !== undefined) throw new CommError("DIAL_FAILED", `transport ${this.listenAddress} is already listening`);
    this.#network.register(this.listenAddress, this);
    this.#onStream = onStream;
  }

  async dial(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number, stillNeeded?: () => boolean): Promise<MemoryStream> {
    const stream = await this.#connect(endpoint, dialTimeoutMs, pingTimeoutMs, true, stillNeeded);
    return stream!;
  }

  async ping(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number): Promise<void> {
    await this.#connect(endpoint, dialTimeoutMs, pingTimeoutMs, false);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onStream = undefined;
    this.#network.unregister(this.listenAddress, this);
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const op of pending) {
      op.timer?.cancel();
      op.reject(new CommError("STOPPED", `transport ${this.listenAddress} closed`));
    }
    this.#network.breakAll(this);
  }

  /** @internal The network hands over the accepting end of a new stream. */
  accepted(stream: MemoryStream): void {
    const onStream = this.#onStream;
    if (onStream === undefined || this.#closed) {
      stream.close();
      return;
    }
    onStream(stream);
  }

  /**
   * Connect (one round trip, within `dialTimeoutMs`), ping (one round trip, within `pingTimeoutMs`),
   * then, when `openStream`, open the stream. Every step waits on this host's clock.
   */
  #connect(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number, openStream: boolean, stillNeeded?: () => boolean): Promise<MemoryStream | undefined> {
    if (this.#closed) return Promise.reject(new CommError("STOPPED", `transport ${this.listenAddress} is closed`));
    const net = this.#network;
    const clock = this.clock;
    if (openStream) net.countDial(this.listenAddress, endpoint);
    return new Promise<MemoryStream | undefined>((resolve, reject) => {
      const op: PendingOp = { timer: undefined, reject };
      this.#pending.add(op);
      const finish = (): boolean => {
        op.timer = undefined;
        return this.#pending.delete(op);
      };
      const failAfter = (ms: number, err: CommError): void => {
        op.timer = clock.setTimeout(() => {
          if (finish()) reject(err);
        }, ms);
      };
      const first = net.reach(this, endpoint);
      if (first.reach !== "ok") {
        const ms = first.reach === "refused" && net.refusedDial === "immediate" ? 0 : dialTimeoutMs;
        failAfter(ms, new CommError("DIAL_FAILED", `cannot connect to ${endpoint} within ${dialTimeoutMs} ms: ${first.why}`));
        return;
      }
      const rtt = net.latency(this.listenAddress, endpoint, 0) + net.latency(endpoint, this.listenAddress, 0);
      if (rtt > dialTimeoutMs) {
        failAfter(dialTimeoutMs, new CommError("DIAL_FAILED", `cannot connect to ${endpoint} within ${dialTimeoutMs} ms: round trip is ${rtt} ms`));
        return;
      }
      op.timer = clock.setTimeout(() => {
        const connected = net.reach(this, endpoint);
        if (connected.reach !== "ok") {
          if (finish()) reject(new CommError("DIAL_FAILED", `connection to ${endpoint} lost while connecting: ${connected.why}`));
          return;
        }
        if (rtt > pingTimeoutMs) {
          failAfter(pingTimeoutMs, new CommError("PING_FAILED", `no ping reply from ${endpoint} within ${pingTimeoutMs} ms`));
          return;
        }
        op.timer = clock.setTimeout(() => {
          const pinged = net.reach(this, endpoint);
          if (pinged.reach !== "ok" || pinged.target === undefined) {
            if (finish()) reject(new CommError("PING_FAILED", `ping to ${endpoint} failed: ${pinged.why}`));
            return;
          }
          if (!finish()) return;
          if (openStream && stillNeeded !== undefined && !stillNeeded()) {
            reject(dialNotNeeded(endpoint));
            return;
          }
          resolve(openStream ? net.connect(this, pinged.target) : undefined);
        }, rtt);
      }, rtt);
    });
  }
}
