import type { FrameFate } from "../comm/memory/index.js";
import type { Clock, Random } from "../util/index.js";
import { SimError } from "./errors.js";
import type { LatencySpec, LinkOptions } from "./interface.js";

/** z of the 99th percentile of the standard normal distribution. */
const Z99 = 2.3263478740408408;

/** Draws one-way latencies in ms from a {@link LatencySpec}. */
export class LatencySampler {
  readonly #spec: LatencySpec;
  readonly #rng: Random;
  readonly #sigma: number;

  constructor(spec: LatencySpec, rng: Random) {
    validateLatency(spec);
    this.#spec = spec;
    this.#rng = rng;
    this.#sigma = spec.kind === "longtail" ? longtailSigma(spec) : 0;
  }

  sample(): number {
    const s = this.#spec;
    switch (s.kind) {
      case "fixed":
        return s.ms;
      case "uniform":
        return s.minMs + this.#rng.float() * (s.maxMs - s.minMs);
      case "longtail": {
        // Log-normal through Box-Muller: median medianMs, 99th percentile p99Ms.
        const u1 = 1 - this.#rng.float();
        const u2 = this.#rng.float();
        const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
        return s.medianMs * Math.exp(this.#sigma * z);
      }
    }
  }
}

/** The log-normal's sigma that puts the 99th percentile at p99Ms for that median. */
function longtailSigma(spec: { medianMs: number; p99Ms: number }): number {
  return Math.log(spec.p99Ms / spec.medianMs) / Z99;
}

/** The mean one-way latency in ms that a {@link LatencySpec} draws (a log-normal's: median x e^(sigma^2 / 2)). */
export function meanLatencyMs(spec: LatencySpec): number {
  switch (spec.kind) {
    case "fixed":
      return spec.ms;
    case "uniform":
      return (spec.minMs + spec.maxMs) / 2;
    case "longtail":
      return spec.medianMs * Math.exp(longtailSigma(spec) ** 2 / 2);
  }
}

/** Throws INVALID_OPTIONS unless the latency spec is usable. */
export function validateLatency(spec: LatencySpec): void {
  const bad = (why: string): never => {
    throw new SimError("INVALID_OPTIONS", `latency: ${why}`);
  };
  if (spec.kind === "fixed" && !(spec.ms >= 0)) bad(`fixed latency must be >= 0 ms, got ${spec.ms}`);
  if (spec.kind === "uniform" && !(spec.minMs >= 0 && spec.maxMs >= spec.minMs)) bad(`uniform range must be 0 <= min <= max, got ${spec.minMs}-${spec.maxMs} ms`);
  if (spec.kind === "longtail" && !(spec.medianMs > 0 && spec.p99Ms >= spec.medianMs)) {
    bad(`long tail needs 0 < median <= p99, got median ${spec.medianMs} ms, p99 ${spec.p99Ms} ms`);
  }
}

/** Throws INVALID_OPTIONS unless the link options are usable. */
export function validateLink(link: LinkOptions): void {
  validateLatency(link.latency);
  for (const [name, p] of [
    ["loss", link.loss],
    ["duplicate", link.duplicate],
    ["reorder", link.reorder],
  ] as const) {
    if (!(p >= 0 && p < 1)) throw new SimError("INVALID_OPTIONS", `${name} must be a probability in [0, 1), got ${p}`);
  }
  if (!(link.reorderWindowMs >= 0)) throw new SimError("INVALID_OPTIONS", `reorder window must be >= 0 ms, got ${link.reorderWindowMs}`);
  if (link.uplinkBytesPerSec !== undefined && !(link.uplinkBytesPerSec > 0)) {
    throw new SimError("INVALID_OPTIONS", `bandwidth must be > 0 bytes/s, got ${link.uplinkBytesPerSec}`);
  }
}

/** Told of every data frame as it is written (before loss), for traffic accounting. */
export type SendObserver = (from: string, to: string, bytes: Uint8Array) => void;

/**
 * The simulator's link model, plugged into MemoryNetwork as its latency function (dials) and frame
 * fate (data frames). Per frame: the sender's uplink serialises it (a frame waits for the frames
 * before it, then takes size / bandwidth), then it travels one latency draw; it may be lost,
 * duplicated (the copy up to one more latency later) or allowed to overtake earlier frames by up to
 * the reorder window. Every draw comes from the one stream given, in the order frames are written,
 * which the virtual clock makes reproducible.
 */
export class LinkModel {
  readonly #o: LinkOptions;
  readonly #rng: Random;
  readonly #clock: Clock;
  readonly #latency: LatencySampler;
  readonly #uplinkFreeAt = new Map<string, number>();
  readonly #observe: SendObserver | undefined;
  /** Frames lost, duplicated and reordered so far. */
  readonly counts = { frames: 0, lost: 0, duplicated: 0, reordered: 0 };

  constructor(options: LinkOptions, rng: Random, clock: Clock, observe?: SendObserver) {
    validateLink(options);
    this.#o = options;
    this.#rng = rng;
    this.#clock = clock;
    this.#latency = new LatencySampler(options.latency, rng);
    this.#observe = observe;
  }

  /** One-way latency of a dial's round trip half or a close (MemoryNetwork's latency function). */
  latency = (_from: string, _to: string, _bytes: number): number => this.#latency.sample();

  /** The fate of one data frame (MemoryNetwork's frameFate). */
  fate = (from: string, to: string, bytes: Uint8Array): FrameFate => {
    this.#observe?.(from, to, bytes);
    this.counts.frames++;
    const o = this.#o;
    let sendMs = 0;
    if (o.uplinkBytesPerSec !== undefined) {
      const now = this.#clock.monotonic();
      const start = Math.max(now, this.#uplinkFreeAt.get(from) ?? 0);
      const done = start + (bytes.byteLength * 1000) / o.uplinkBytesPerSec;
      this.#uplinkFreeAt.set(from, done);
      sendMs = done - now;
    }
    const delay = sendMs + this.#latency.sample();
    // Draws happen whether or not the fault is on, so turning one fault on does not shift the others.
    const lost = this.#rng.float() < o.loss;
    const dup = this.#rng.float() < o.duplicate;
    const reorder = this.#rng.float() < o.reorder;
    const extra = this.#rng.float();
    if (lost) {
      this.counts.lost++;
      return { delaysMs: [], sendMs };
    }
    if (reorder) this.counts.reordered++;
    const first = reorder ? delay + extra * o.reorderWindowMs : delay;
    if (dup) {
      this.counts.duplicated++;
      return { delaysMs: [first, first + extra * this.#latency.sample()], ordered: !reorder, sendMs };
    }
    return { delaysMs: [first], ordered: !reorder, sendMs };
  };

  /** Forgets a peer's uplink queue (it crashed). */
  resetUplink(endpoint: string): void {
    this.#uplinkFreeAt.delete(endpoint);
  }
}
