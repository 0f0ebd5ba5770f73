/**
 * The byte-level layer under Comm: a bidirectional stream of envelopes between two processes (or two
 * in-memory peers). Everything Fabric's comm does above the stream (handshake, one connection per
 * PKI-ID, queues, acks, presumed-dead) lives once in CommImpl, over any Transport.
 */
export interface RawStream {
  /** The remote address as the transport sees it ("host:port"). */
  readonly remoteAddress: string;
  /**
   * SHA-256 of the DER certificate the remote side presented on this connection, or undefined
   * when the connection has no TLS (or the remote presented none).
   */
  readonly remoteCertHash: Uint8Array | undefined;
  /** Writes one envelope; resolves once the transport accepted it (flow control), rejects when the stream is broken. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Optional: writes one envelope as write() does, and says at once whether the transport took it
   * without pushing back: undefined when it did (the next may follow at once), else a promise that
   * settles as write()'s would (flow control, or a broken stream). A sender then spends no promise
   * and no microtask on a message that nothing holds up.
   */
  writeNow?(bytes: Uint8Array): Promise<void> | undefined;
  /** Sets the receiver of every envelope that arrives. Only one receiver; set before data can flow. */
  onData(handler: (bytes: Uint8Array) => void): void;
  /**
   * Adds a handler called once when the stream ends (by either side), with the error if it broke.
   * Several handlers may be added; one added after the end is called at once.
   */
  onClose(handler: (err?: Error) => void): void;
  /** Ends the stream; idempotent. */
  close(): void;
  /**
   * Ends this side's writes gracefully: frames already written still reach the remote, and frames
   * the remote sends are still delivered until it ends too. Transports whose close() is already
   * graceful may omit it.
   */
  closeWrite?(): void;
}

/** TLS as a transport runs it; both hashes are undefined without TLS. */
export interface TransportTls {
  /** SHA-256 of the DER certificate this side presents when it accepts (server certificate). */
  serverCertHash: Uint8Array | undefined;
  /** SHA-256 of the DER certificate this side presents when it dials (client certificate). */
  clientCertHash: Uint8Array | undefined;
}

export interface Transport {
  readonly tls: TransportTls;
  /** The address it listens on, once listening ("host:port"). */
  readonly listenAddress: string;
  /** Starts accepting streams; each accepted stream goes to `onStream`. */
  listen(onStream: (stream: RawStream) => void): Promise<void>;
  /**
   * Connects to `endpoint` within `dialTimeoutMs`, pings it within `pingTimeoutMs`, and opens a
   * stream (Fabric's createConnection up to the handshake). When `stillNeeded` is given and says false
   * after the ping, no stream is opened (the remote saw a ping only, as from Fabric's Probe) and the dial
   * fails with DIAL_NOT_NEEDED.
   */
  dial(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number, stillNeeded?: () => boolean): Promise<RawStream>;
  /** Connects to `endpoint` and pings it, without opening a stream (Fabric's Probe). */
  ping(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number): Promise<void>;
  /**
   * Optional: a filter consulted for each new TCP connection by remote host (no port), before any TLS or HTTP/2
   * work; false closes the connection at once. Comm sets it to refuse the addresses it refuses anyway, so that a
   * refused forger does not cost a TLS handshake per attempt.
   */
  setAcceptFilter?(filter: (remoteHost: string) => boolean): void;
  /**
   * Optional: closes every connection accepted from `remoteHost` (comm calls it when it starts refusing the
   * address, so that calls on a connection opened before do not keep coming).
   */
  disconnectHost?(remoteHost: string): void;
  /** Stops listening and breaks every stream; idempotent. */
  close(): Promise<void>;
}
