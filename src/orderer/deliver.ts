import type { ChannelBundle } from "../channelconfig/index.js";
import { HeaderType, Status } from "../protos/gen/common/common.pb.js";
import { SeekInfo, SeekInfo_SeekBehavior, type SeekPosition } from "../protos/gen/orderer/ab.pb.js";
import { bytesEqual, toHex } from "../util/index.js";
import { CHANNEL_READERS_POLICY, checkAccess } from "./access.js";
import type { OrdererChain } from "./chain.js";
import { parseEnvelope } from "./envelope.js";
import { OrdererError } from "./errors.js";
import { SEEK_MAX } from "./interface.js";

/** A deliver request that passed: blocks `start`..`stop` (inclusive) of `chain`. */
export interface DeliverRange {
  chain: OrdererChain;
  start: bigint;
  /** Inclusive; SEEK_MAX follows forever. */
  stop: bigint;
  /** BLOCK_UNTIL_READY (true) or FAIL_IF_NOT_READY. */
  waitForBlocks: boolean;
}

/** How the orderer looks up a channel: its chain, and the bundle (MSPs, policies) of its configuration. */
export interface DeliverContext {
  channel(name: string): { chain: OrdererChain; bundle: ChannelBundle } | undefined;
  /**
   * SHA-256 of the TLS certificate the client presented, when the orderer requires client
   * certificates: the request's channel header must carry it (the TLS binding). Undefined otherwise.
   */
  clientCertHash?: Uint8Array | undefined;
}

/** The status Fabric's deliver handler answers for an OrdererError. */
export function statusOf(err: unknown): Status {
  if (err instanceof OrdererError) {
    switch (err.code) {
      case "BAD_REQUEST":
        return Status.BAD_REQUEST;
      case "FORBIDDEN":
        return Status.FORBIDDEN;
      case "NOT_FOUND":
        return Status.NOT_FOUND;
      case "SERVICE_UNAVAILABLE":
        return Status.SERVICE_UNAVAILABLE;
    }
  }
  return Status.INTERNAL_SERVER_ERROR;
}

function position(p: SeekPosition | undefined, height: bigint, what: string): bigint {
  switch (p?.Type?.$case) {
    case "oldest":
      return 0n;
    case "newest":
      return height > 0n ? height - 1n : 0n;
    case "specified":
      return p.Type.value.number;
    default:
      throw new OrdererError("BAD_REQUEST", `unknown type for the seek ${what} position`);
  }
}

/**
 * Fabric's deliver handler checks (`common/deliver.Handler.deliverBlocks`): a decodable envelope
 * with a DELIVER_SEEK_INFO header, a known channel (NOT_FOUND), under mutual TLS the hash of the
 * client's TLS certificate in the channel header (BAD_REQUEST), a request satisfying the channel's
 * /Channel/Readers policy (FORBIDDEN), a decodable SeekInfo with start <= stop (BAD_REQUEST); with
 * FAIL_IF_NOT_READY a start past the newest block is NOT_FOUND. Throws OrdererError.
 */
export function evaluateSeek(bytes: Uint8Array, ctx: DeliverContext): DeliverRange {
  const parsed = parseEnvelope(bytes);
  const ch = parsed.channelHeader;
  if (ch.type !== HeaderType.DELIVER_SEEK_INFO) {
    throw new OrdererError("BAD_REQUEST", `the channel header type is ${ch.type}, expected DELIVER_SEEK_INFO (${HeaderType.DELIVER_SEEK_INFO})`);
  }
  const served = ctx.channel(ch.channelId);
  if (served === undefined) throw new OrdererError("NOT_FOUND", `channel ${JSON.stringify(ch.channelId)} not found`);
  const { chain, bundle } = served;
  if (ctx.clientCertHash !== undefined) inspectBinding(ch.tlsCertHash, ctx.clientCertHash);
  checkAccess(parsed, bundle, CHANNEL_READERS_POLICY);
  let info: SeekInfo;
  try {
    info = SeekInfo.decode(parsed.payload.data);
  } catch (err) {
    throw new OrdererError("BAD_REQUEST", "the payload data is not a SeekInfo", { cause: err });
  }
  const height = chain.store.height();
  const start = position(info.start, height, "start");
  const stop = info.stop?.Type?.$case === "oldest" ? 0n : position(info.stop, height, "stop");
  if (start > stop) throw new OrdererError("BAD_REQUEST", `the seek start ${start} is after the stop ${stop}`);
  const waitForBlocks = info.behavior !== SeekInfo_SeekBehavior.FAIL_IF_NOT_READY;
  if (!waitForBlocks && start >= height) throw new OrdererError("NOT_FOUND", `block ${start} of channel ${ch.channelId} is not there yet (height ${height})`);
  return { chain, start, stop, waitForBlocks };
}

/** Fabric's `comm.NewBindingInspector` under mutual TLS: the request names the certificate of its connection. */
function inspectBinding(claimed: Uint8Array, actual: Uint8Array): void {
  if (claimed.byteLength === 0) throw new OrdererError("BAD_REQUEST", "client didn't include its TLS cert hash");
  if (!bytesEqual(claimed, actual)) throw new OrdererError("BAD_REQUEST", `claimed TLS cert hash is ${toHex(claimed)} but actual TLS cert hash is ${toHex(actual)}`);
}

/** Field 2 (block, length-delimited) of DeliverResponse around already-serialized block bytes: no re-encoding. */
export function deliverResponseBlockBytes(block: Uint8Array): Uint8Array {
  const len: number[] = [];
  let n = block.byteLength;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  const out = new Uint8Array(1 + len.length + block.byteLength);
  out[0] = 0x12;
  out.set(len, 1);
  out.set(block, 1 + len.length);
  return out;
}

/**
 * Streams the blocks of `range` through `send` (already-encoded DeliverResponse bytes) and returns the
 * final status: SUCCESS once `stop` was sent, NOT_FOUND when FAIL_IF_NOT_READY meets a missing block.
 * Rejects with the signal's reason when aborted.
 */
export async function streamBlocks(range: DeliverRange, send: (bytes: Uint8Array) => Promise<void>, signal: AbortSignal): Promise<Status> {
  for (let n = range.start; n <= range.stop; n++) {
    signal.throwIfAborted();
    if (n >= range.chain.store.height()) {
      if (!range.waitForBlocks) return Status.NOT_FOUND;
      await range.chain.store.waitForHeight(n + 1n, signal);
    }
    await send(deliverResponseBlockBytes(await range.chain.store.getBlockBytes(n)));
    if (n === SEEK_MAX) break;
  }
  return Status.SUCCESS;
}
