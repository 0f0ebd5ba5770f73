import { type ChannelHeader, ChannelHeader as ChannelHeaderCodec, Envelope, Payload, SignatureHeader } from "../protos/gen/common/common.pb.js";
import { OrdererError } from "./errors.js";

/** An envelope taken apart. */
export interface ParsedEnvelope {
  envelope: Envelope;
  payload: Payload;
  channelHeader: ChannelHeader;
  signatureHeader: SignatureHeader;
}

/** Decodes envelope, payload, channel header and signature header. Throws OrdererError BAD_REQUEST. */
export function parseEnvelope(bytes: Uint8Array): ParsedEnvelope {
  let envelope: Envelope;
  let payload: Payload;
  try {
    envelope = Envelope.decode(bytes);
    payload = Payload.decode(envelope.payload);
  } catch (err) {
    throw new OrdererError("BAD_REQUEST", "the message is not an Envelope with a Payload", { cause: err });
  }
  if (payload.header === undefined) throw new OrdererError("BAD_REQUEST", "the envelope's payload has no header");
  let channelHeader: ChannelHeader;
  let signatureHeader: SignatureHeader;
  try {
    channelHeader = ChannelHeaderCodec.decode(payload.header.channelHeader);
    signatureHeader = SignatureHeader.decode(payload.header.signatureHeader);
  } catch (err) {
    throw new OrdererError("BAD_REQUEST", "the payload header's channel header or signature header does not decode", { cause: err });
  }
  if (signatureHeader.creator.byteLength === 0) throw new OrdererError("BAD_REQUEST", "the signature header has no creator");
  return { envelope, payload, channelHeader, signatureHeader };
}
