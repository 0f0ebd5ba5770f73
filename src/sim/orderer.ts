import type { DeliverConnector, DeliverStream } from "../deliver/index.js";
import { ChannelHeader, Envelope, Payload } from "../protos/gen/common/common.pb.js";
import { SeekInfo } from "../protos/gen/orderer/ab.pb.js";
import type { Clock } from "../util/index.js";
import type { BlockSource } from "./block-source.js";
import { SimError } from "./errors.js";

/** What the simulated ordering service tells the simulator. */
export interface SimOrdererHooks {
  /** Orderer-to-leader delay of a block of `bytes` (latency plus the uplink's serialisation). */
  delayMs(bytes: number): number;
  /** A block left the ordering service for `peer`'s deliver client. */
  onDelivered(peer: number, channel: string, seq: number): void;
}

/** The channel and first block a signed SeekInfo envelope asks for. */
export function parseSeek(envelope: Uint8Array): { channel: string; start: number } {
  const env = Envelope.decode(envelope);
  const payload = Payload.decode(env.payload);
  const ch = ChannelHeader.decode(payload.header?.channelHeader ?? new Uint8Array(0));
  const start = SeekInfo.decode(payload.data).start?.Type;
  if (start?.$case !== "specified") throw new SimError("SETUP_FAILED", `deliver request of ${ch.channelId}: only a specified start is served, got ${start?.$case ?? "none"}`);
  return { channel: ch.channelId, start: Number(start.value.number) };
}

/** `orderer.DeliverResponse{block}` around already encoded block bytes (field 2, length-delimited). */
export function deliverResponseOf(blockBytes: Uint8Array): Uint8Array {
  const head: number[] = [0x12];
  let n = blockBytes.byteLength;
  while (n > 0x7f) {
    head.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  head.push(n);
  const out = new Uint8Array(head.length + blockBytes.byteLength);
  out.set(head, 0);
  out.set(blockBytes, head.length);
  return out;
}

/**
 * The ordering service of a simulation as the peers' deliver clients reach it: a
 * {@link DeliverConnector} per peer that serves the block source's chain from the requested block
 * on, each block after the orderer's delay in virtual time, the forked chain to the org the run
 * forks. The real deliver client (verification, hash chain, failover, leadership yield) runs on it.
 */
export class SimOrderer {
  readonly #source: BlockSource;
  readonly #clock: Clock;
  readonly #hooks: SimOrdererHooks;

  constructor(source: BlockSource, clock: Clock, hooks: SimOrdererHooks) {
    this.#source = source;
    this.#clock = clock;
    this.#hooks = hooks;
  }

  /** The connector of peer `index`; `forked` serves it the forked chain. */
  connector(index: number, forked: boolean): DeliverConnector {
    return {
      open: async (_endpoint, seekEnvelope, _connTimeoutMs, signal) => {
        signal.throwIfAborted();
        const { channel, start } = parseSeek(seekEnvelope);
        return this.#stream(index, channel, start, forked);
      },
    };
  }

  #stream(index: number, channel: string, start: number, forked: boolean): DeliverStream {
    const abort = new AbortController();
    const signal = abort.signal;
    const source = this.#source;
    const clock = this.#clock;
    const hooks = this.#hooks;
    async function* blocks(): AsyncGenerator<Uint8Array> {
      let next = start;
      while (!signal.aborted) {
        const b = source.blockFor(channel, next, forked);
        if (b === undefined) {
          await source.next(channel, signal);
          continue;
        }
        try {
          await clock.sleep(hooks.delayMs(b.bytes.length), signal);
        } catch {
          return; // closed while the block was on its way
        }
        if (signal.aborted) return;
        hooks.onDelivered(index, channel, next);
        yield deliverResponseOf(b.bytes);
        next++;
      }
    }
    const it = blocks();
    return {
      [Symbol.asyncIterator]: () => it,
      close: () => abort.abort(),
    };
  }
}
