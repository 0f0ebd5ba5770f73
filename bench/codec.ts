// Codec speed: full round trips of a gossiped 1 KiB block (encode GossipMessage -> payload, encode Envelope,
// decode Envelope, decode GossipMessage), plus each step alone, and the same round trip with bufbuild's writer.
import { BinaryWriter as BufWriter } from "@bufbuild/protobuf/wire";
import { Envelope, type GossipMessage, GossipMessage as GossipMessageCodec, GossipMessage_Tag } from "../src/protos/gen/gossip/message.pb.js";
import type { BinaryWriter } from "../src/protos/wire/writer.js";
import { isMain, opsPerSecond, printFigures } from "./stats.js";

export interface CodecBenchOptions {
  /** Timed runs per figure; the median is reported. Default 7. */
  runs?: number;
  /** Operations per timed run. Default 100000. */
  opsPerRun?: number;
  /** Untimed operations first, so the JIT has optimised the code. Default 100000. */
  warmupOps?: number;
}

const EMPTY = new Uint8Array(0);

/** A block as the leader gossips it: 1 KiB of block bytes, CHAN_AND_ORG, NoopSigned (Fabric does not sign blocks). */
function blockMessage(): GossipMessage {
  const data = new Uint8Array(1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  return {
    nonce: 0xd3a1_5c7e_9b20_4f61n,
    channel: new TextEncoder().encode("mychannel"),
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "dataMsg", value: { payload: { seqNum: 123_456n, data, privateData: [] } } },
  };
}

/**
 * Measures the codec (figures in operations per second, medians of several runs) for a 1 KiB DataMessage
 * envelope. Prints nothing; the caller reports the returned record.
 */
export async function benchCodec(options: CodecBenchOptions = {}): Promise<Record<string, number>> {
  const o: Required<CodecBenchOptions> = { runs: 7, opsPerRun: 100_000, warmupOps: 100_000, ...options };
  const msg = blockMessage();
  const payload = GossipMessageCodec.encode(msg).finish();
  const envelope: Envelope = { payload, signature: EMPTY, secretEnvelope: undefined };
  const wire = Envelope.encode(envelope).finish();

  const roundTrip = (): number => {
    const p = GossipMessageCodec.encode(msg).finish();
    const bytes = Envelope.encode({ payload: p, signature: EMPTY, secretEnvelope: undefined }).finish();
    const m = GossipMessageCodec.decode(Envelope.decode(bytes).payload);
    return m.content?.$case === "dataMsg" ? m.content.value.payload!.data.length : 0;
  };
  // The same with @bufbuild/protobuf's writer, which the generated code used before src/protos/wire.
  const bufWriter = () => new BufWriter() as unknown as BinaryWriter;
  const roundTripBufbuild = (): number => {
    const p = (GossipMessageCodec.encode(msg, bufWriter()) as unknown as BufWriter).finish();
    const bytes = (Envelope.encode({ payload: p, signature: EMPTY, secretEnvelope: undefined }, bufWriter()) as unknown as BufWriter).finish();
    const m = GossipMessageCodec.decode(Envelope.decode(bytes).payload);
    return m.content?.$case === "dataMsg" ? m.content.value.payload!.data.length : 0;
  };

  const rt = await opsPerSecond(roundTrip, o);
  const result: Record<string, number> = {
    codec_roundtrip_per_s: rt.median,
    codec_roundtrip_per_s_min: rt.min,
    codec_roundtrip_per_s_max: rt.max,
    codec_encode_gossip_message_per_s: (await opsPerSecond(() => GossipMessageCodec.encode(msg).finish().length, o)).median,
    codec_encode_envelope_per_s: (await opsPerSecond(() => Envelope.encode(envelope).finish().length, o)).median,
    codec_decode_envelope_per_s: (await opsPerSecond(() => Envelope.decode(wire).payload.length, o)).median,
    codec_decode_gossip_message_per_s: (await opsPerSecond(() => Number(GossipMessageCodec.decode(payload).nonce & 1n), o)).median,
    codec_roundtrip_bufbuild_writer_per_s: (await opsPerSecond(roundTripBufbuild, o)).median,
    codec_envelope_bytes: wire.length,
  };
  return result;
}

if (isMain(import.meta.url)) printFigures(await benchCodec());
