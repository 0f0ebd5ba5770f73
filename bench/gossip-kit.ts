/**
 * Small pieces shared by the gossip-node benchmarks (hotpath, dissemination, virtual100): an MCS
 * wrapper that counts signature checks, block messages as a leader gossips them, a one-org channel
 * definition, a gRPC transport bound before its node exists (so the development identity, the
 * endpoint, is known), and polling in real time.
 */
import { readFileSync } from "node:fs";
import type { MessageCryptoService, SecurityAdvisor } from "../src/api/index.js";
import type { GossipTransport } from "../src/comm/grpc/index.js";
import type { RawStream, Transport, TransportTls } from "../src/comm/index.js";
import type { JoinChannelMessage } from "../src/gossip/channel/index.js";
import { Block } from "../src/protos/gen/common/common.pb.js";
import { type GossipMessage, GossipMessage_Tag } from "../src/protos/gen/gossip/message.pb.js";
import { utf8 } from "../src/util/index.js";

/** An MCS and security advisor that delegates everything and counts signature verifications. */
export class CountingMcs implements MessageCryptoService, SecurityAdvisor {
  verifyCalls = 0;
  verifyBlockCalls = 0;

  constructor(private readonly inner: MessageCryptoService & SecurityAdvisor) {}

  getPKIidOfCert(identity: Uint8Array): Uint8Array {
    return this.inner.getPKIidOfCert(identity);
  }
  verifyBlock(channel: string, seq: bigint, block: Block): void {
    this.verifyBlockCalls++;
    this.inner.verifyBlock(channel, seq, block);
  }
  sign(msg: Uint8Array): Uint8Array {
    return this.inner.sign(msg);
  }
  verify(identity: Uint8Array, signature: Uint8Array, message: Uint8Array): void {
    this.verifyCalls++;
    this.inner.verify(identity, signature, message);
  }
  verifyByChannel(channel: string, identity: Uint8Array, signature: Uint8Array, message: Uint8Array): void {
    this.verifyCalls++;
    this.inner.verifyByChannel(channel, identity, signature, message);
  }
  validateIdentity(identity: Uint8Array): void {
    this.inner.validateIdentity(identity);
  }
  expiration(identity: Uint8Array): Date | undefined {
    return this.inner.expiration(identity);
  }
  orgByPeerIdentity(identity: Uint8Array): Uint8Array {
    return this.inner.orgByPeerIdentity(identity);
  }
}

/** A block of `seq` on `channel` as a leader gossips it: one transaction of `txBytes` bytes. */
export function blockMessage(channel: string, seq: number, txBytes = 8): GossipMessage {
  const tx = new Uint8Array(txBytes).fill(seq & 0xff);
  const block = Block.encode({
    header: { number: BigInt(seq), previousHash: new Uint8Array(32), dataHash: new Uint8Array(32) },
    data: { data: [tx] },
    metadata: undefined,
  }).finish();
  return {
    nonce: 0n,
    channel: utf8(channel),
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "dataMsg", value: { payload: { seqNum: BigInt(seq), data: block, privateData: [] } } },
  };
}

/** The sequence number of a block message, or undefined. */
export function blockSeq(msg: GossipMessage): number | undefined {
  return msg.content?.$case === "dataMsg" && msg.content.value.payload !== undefined ? Number(msg.content.value.payload.seqNum) : undefined;
}

/** A channel of the given orgs (MSP IDs or, with the development MCS, "ORG1") without anchor peers. */
export function channelOf(orgs: string[], sequenceNumber = 1): JoinChannelMessage {
  return { sequenceNumber, members: () => orgs.map((o) => utf8(o)), anchorPeersOf: () => [] };
}

/**
 * A GrpcTransport bound (port 0: the OS picks) before the node that uses it is created, so its
 * endpoint is known first; streams accepted before the node listens wait for it.
 */
export class PreboundTransport implements Transport {
  #sink: ((stream: RawStream) => void) | undefined;
  readonly #early: RawStream[] = [];

  private constructor(readonly inner: GossipTransport) {}

  static async bind(inner: GossipTransport): Promise<PreboundTransport> {
    const t = new PreboundTransport(inner);
    await inner.listen((s) => {
      if (t.#sink !== undefined) t.#sink(s);
      else t.#early.push(s);
    });
    return t;
  }

  get tls(): TransportTls {
    return this.inner.tls;
  }
  get listenAddress(): string {
    return this.inner.listenAddress;
  }
  async listen(onStream: (stream: RawStream) => void): Promise<void> {
    this.#sink = onStream;
    for (const s of this.#early.splice(0)) onStream(s);
  }
  dial(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number, stillNeeded?: () => boolean): Promise<RawStream> {
    return this.inner.dial(endpoint, dialTimeoutMs, pingTimeoutMs, stillNeeded);
  }
  ping(endpoint: string, dialTimeoutMs: number, pingTimeoutMs: number): Promise<void> {
    return this.inner.ping(endpoint, dialTimeoutMs, pingTimeoutMs);
  }
  async close(): Promise<void> {
    for (const s of this.#early.splice(0)) s.close();
    await this.inner.close();
  }
}

/** Polls `pred` every `stepMs` of real time; resolves with the ms it took, rejects after `limitMs`. */
export async function waitFor(what: string, pred: () => boolean, limitMs: number, stepMs = 10): Promise<number> {
  const start = performance.now();
  while (!pred()) {
    if (performance.now() - start > limitMs) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return performance.now() - start;
}

/** CPU time (user + system) of this process in microseconds. */
export function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * CPU of this process's main thread in microseconds (Linux: /proc/self/task/<pid>/stat, in clock ticks of 10 ms),
 * so that what V8's helper threads (compilers, GC) and libuv's pool take is the rest of cpuMicros; undefined
 * elsewhere.
 */
export function mainThreadCpuMicros(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}
