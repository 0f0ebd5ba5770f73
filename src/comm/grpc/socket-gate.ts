import { lookup } from "node:dns/promises";
import * as net from "node:net";
import { type Logger, REMOTE_LOG_WINDOW_MS, RemoteLogLimiter } from "../../logging/index.js";
import type { CounterMetric, CounterSpec, MetricsProvider } from "../../metrics/index.js";
import { type Clock, errorMessage, type TimerHandle } from "../../util/index.js";
import type { SocketLimits } from "../index.js";

/** Ours: sockets the gossip server closed at accept or before their first call, by reason. */
export const COMM_SOCKETS_REFUSED: CounterSpec<"reason"> = {
  name: "fabric_gossip_comm_sockets_refused_total",
  type: "counter",
  help: "TCP connections to the gossip port closed at accept, by reason (too_many, too_many_from_address, too_many_pending, no_call_in_time, refused_address: a host comm refuses for its offences)",
  labelNames: ["reason"],
};

type SocketRefusal = "too_many" | "too_many_from_address" | "too_many_pending" | "no_call_in_time" | "refused_address";

/** A socket the server holds, until it closes. */
export interface HeldSocket {
  readonly socket: net.Socket;
  readonly host: string;
  /** True until the socket's first gRPC call. */
  pending: boolean;
  /** Closes the socket if it makes no call in time; armed while pending. */
  firstCall: TimerHandle | undefined;
  /** SHA-256 of the client's TLS certificate, once a call asked: fixed for the connection. */
  certHash?: Uint8Array | undefined;
}

/**
 * The gossip port's own listeners and the limits on what they hold: each accepted TCP socket is
 * admitted (or closed at once, counted and logged) before any TLS or HTTP/2 work, then handed to the
 * gRPC server of the transport. Shared by both gRPC transports.
 */
export class SocketGate {
  readonly #limits: SocketLimits;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #refusedLog: RemoteLogLimiter;
  readonly #refusedMetric: CounterMetric<"reason"> | undefined;
  /** Comm's verdict on a remote host, consulted at accept (see Transport.setAcceptFilter). */
  acceptFilter: ((remoteHost: string) => boolean) | undefined;
  #netServers: net.Server[] = [];
  /** Held sockets by "remoteAddress:remotePort". */
  readonly #sockets = new Map<string, HeldSocket>();
  readonly #socketsByHost = new Map<string, number>();
  readonly #pendingByHost = new Map<string, number>();
  #pending = 0;
  #flushTimer: TimerHandle | undefined;
  #closed = false;

  constructor(limits: SocketLimits, clock: Clock, log: Logger, metrics: MetricsProvider | undefined) {
    this.#limits = limits;
    this.#clock = clock;
    this.#log = log;
    this.#refusedMetric = metrics?.counter(COMM_SOCKETS_REFUSED);
    this.#refusedLog = new RemoteLogLimiter(log, clock, "gossip socket");
  }

  /**
   * Listens on every address `listenAddress`'s host resolves to ("localhost": 127.0.0.1 and ::1), the first
   * on the port asked for (0: a free one), the others on the port it got; each admitted socket goes to
   * `hand`. Returns the listen address with the port bound.
   */
  async listen(listenAddress: string, hand: (socket: net.Socket) => void): Promise<string> {
    const { host, port: wanted } = splitListenAddress(listenAddress);
    const addresses = host === "" ? [undefined] : (await lookup(host, { all: true })).map((a) => a.address);
    let port = wanted;
    for (const [i, address] of addresses.entries()) {
      const netServer = net.createServer((socket) => {
        if (this.#admit(socket)) hand(socket);
      });
      try {
        port = await new Promise<number>((resolve, reject) => {
          netServer.once("error", reject);
          netServer.listen(port, address, () => {
            netServer.off("error", reject);
            const a = netServer.address();
            resolve(typeof a === "object" && a !== null ? a.port : port);
          });
        });
      } catch (err) {
        if (i === 0) {
          for (const n of this.#netServers) n.close();
          this.#netServers = [];
          throw err;
        }
        this.#log.warn("gossip service not listening on one of its addresses", { address, error: errorMessage(err) });
        continue;
      }
      netServer.on("error", (err) => this.#log.error("gossip listener failed", { error: err.message }));
      this.#netServers.push(netServer);
    }
    return `${listenAddress.slice(0, listenAddress.lastIndexOf(":"))}:${port}`;
  }

  /** The held socket a call came over ("address:port" of its remote end), now in use; undefined when not ours. */
  calledFrom(remote: string): HeldSocket | undefined {
    const held = this.#sockets.get(remote);
    if (held !== undefined) this.#unpend(held);
    return held;
  }

  /** Closes every socket held from `remoteHost`. */
  disconnectHost(remoteHost: string): void {
    for (const held of [...this.#sockets.values()]) if (held.host === remoteHost) held.socket.destroy();
  }

  /** Sockets held, and how many of them made no gRPC call yet. */
  stats(): { held: number; pending: number } {
    return { held: this.#sockets.size, pending: this.#pending };
  }

  /** Stops listening and disarms the first-call timers; sockets stay until destroyAll (the server may close them gracefully first). */
  stopListening(): void {
    this.#closed = true;
    const netServers = this.#netServers;
    this.#netServers = [];
    this.#flushTimer?.cancel();
    this.#flushTimer = undefined;
    for (const n of netServers) n.close();
    for (const held of this.#sockets.values()) this.#unpend(held);
  }

  /** Destroys every socket still held. */
  destroyAll(): void {
    for (const held of [...this.#sockets.values()]) held.socket.destroy();
  }

  /** Admits `socket` within the limits, or closes it at once (false). */
  #admit(socket: net.Socket): boolean {
    const address = socket.remoteAddress;
    if (this.#closed || address === undefined) {
      socket.destroy();
      return false;
    }
    socket.on("error", () => undefined); // a reset before the server took it over must not crash us
    const host = address.startsWith("::ffff:") ? address.slice(7) : address;
    const l = this.#limits;
    const here = this.#socketsByHost.get(host) ?? 0;
    const pendingHere = this.#pendingByHost.get(host) ?? 0;
    const refusal: SocketRefusal | undefined =
      this.acceptFilter?.(host) === false
        ? "refused_address"
        : this.#sockets.size >= l.maxSockets
          ? "too_many"
          : here >= l.maxSocketsPerAddress
            ? "too_many_from_address"
            : this.#pending >= l.maxPendingSockets || pendingHere >= l.maxPendingSocketsPerAddress
              ? "too_many_pending"
              : undefined;
    if (refusal !== undefined) {
      socket.destroy();
      this.#refused(refusal, host, `closed a connection from ${host}: ${refusal.replace(/_/g, " ")} (held ${this.#sockets.size}, ${here} from it; ${this.#pending} without a call yet, ${pendingHere} from it)`);
      return false;
    }
    const key = `${address}:${socket.remotePort ?? 0}`;
    const held: HeldSocket = { socket, host, pending: true, firstCall: undefined };
    this.#sockets.set(key, held);
    bump(this.#socketsByHost, host, 1);
    bump(this.#pendingByHost, host, 1);
    this.#pending++;
    held.firstCall = this.#clock.setTimeout(() => {
      held.firstCall = undefined;
      this.#unpend(held);
      socket.destroy();
      this.#refused("no_call_in_time", host, `closed a connection from ${host}: no gRPC call within ${l.firstCallTimeoutMs} ms`);
    }, l.firstCallTimeoutMs);
    socket.once("close", () => {
      if (this.#sockets.get(key) === held) this.#sockets.delete(key);
      bump(this.#socketsByHost, host, -1);
      this.#unpend(held);
    });
    return true;
  }

  #unpend(held: HeldSocket): void {
    if (!held.pending) return;
    held.pending = false;
    held.firstCall?.cancel();
    held.firstCall = undefined;
    this.#pending--;
    bump(this.#pendingByHost, held.host, -1);
  }

  #refused(reason: SocketRefusal, host: string, message: string): void {
    this.#refusedMetric?.inc({ reason });
    this.#refusedLog.warn(reason, host, message);
    // The summary of what was held back is due when the window ends, even if the flood stopped.
    if (this.#refusedLog.suppressedInWindow > 0 && this.#flushTimer === undefined && !this.#closed) {
      this.#flushTimer = this.#clock.setTimeout(() => {
        this.#flushTimer = undefined;
        this.#refusedLog.flush();
      }, REMOTE_LOG_WINDOW_MS);
    }
  }
}

/** Adds `delta` to a count by key, dropping keys that reach 0. */
function bump(counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}

/** "host:port" of a socket's remote end, an IPv4-mapped address as IPv4, an IPv6 host in brackets. */
export function hostPort(address: string, port: number | string): string {
  const host = address.startsWith("::ffff:") && !address.slice(7).includes(":") ? address.slice(7) : address;
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** "host:port" of a listen address; IPv6 hosts in brackets lose them. */
function splitListenAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  let host = address.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host, port: Number(address.slice(colon + 1)) };
}
