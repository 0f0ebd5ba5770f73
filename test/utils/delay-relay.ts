import { createServer, type Server, type Socket, connect } from "node:net";

/** The delay a link adds to each direction: `oneWayMs` plus a uniform draw in [-jitterMs, +jitterMs]. */
export interface LinkDelay {
  oneWayMs: number;
  jitterMs: number;
}

/**
 * A TCP relay that delays every byte by a link's one-way delay, in each direction, keeping their order: a
 * stand-in for netem's delay where the kernel has none (test/utils/netns.ts sends a host's connections to a peer
 * through one, by DNAT). Each chunk read is written to the other side when its time comes: its arrival plus the
 * link's delay and jitter, never before the chunk ahead of it. The TCP handshake itself is not delayed; TLS and
 * everything above it are.
 */
export class DelayRelay {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #delay: LinkDelay;
  #closed = false;
  #accepted = 0;

  /** Relays connections accepted on `listen` to `target` (host and port), with `delay` until {@link setDelay} changes it. */
  constructor(
    private readonly listen: { host: string; port: number },
    private readonly target: { host: string; port: number },
    delay: LinkDelay,
    private readonly random: () => number = Math.random,
  ) {
    this.#delay = { ...delay };
    this.#server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => this.#relay(client));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.listen.port, this.listen.host, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
  }

  /** Connections accepted so far (each a dial over the link). */
  get accepted(): number {
    return this.#accepted;
  }

  /** The delay for bytes read from now on. */
  setDelay(delay: LinkDelay): void {
    this.#delay = { ...delay };
  }

  /** Stops accepting and destroys every relayed connection. */
  async stop(): Promise<void> {
    this.#closed = true;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #relay(client: Socket): void {
    this.#accepted++;
    if (this.#closed) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: this.target.host, port: this.target.port, noDelay: true, allowHalfOpen: true });
    this.#track(client);
    this.#track(upstream);
    // A reset or failed dial on one side resets the other; an orderly end travels as a half-close, after the delay.
    const fail = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", fail);
    upstream.on("error", fail);
    this.#pipe(client, upstream);
    this.#pipe(upstream, client);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
  }

  /** Writes what `from` reads into `to`, each chunk when its delay has passed; `from`'s end ends `to` the same way. */
  #pipe(from: Socket, to: Socket): void {
    // One timer per direction, for the head of the queue: chunks leave in the order they came.
    const queue: { due: number; action: () => void }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = (): void => {
      timer = undefined;
      while (queue.length > 0 && queue[0]!.due <= performance.now()) queue.shift()!.action();
      if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - performance.now());
    };
    const later = (action: () => void): void => {
      const { oneWayMs, jitterMs } = this.#delay;
      const drawn = performance.now() + Math.max(0, oneWayMs + (2 * this.random() - 1) * jitterMs);
      queue.push({ due: Math.max(drawn, queue.at(-1)?.due ?? 0), action });
      if (timer === undefined) timer = setTimeout(flush, queue[0]!.due - performance.now());
    };
    from.on("data", (chunk: Buffer) => later(() => to.destroyed || to.write(chunk)));
    from.on("end", () => later(() => to.destroyed || to.end()));
    // Once `to` is gone nothing more can reach it.
    to.once("close", () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      queue.length = 0;
    });
  }
}
