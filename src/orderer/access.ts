import { type ChannelBundle, ChannelVerifyError } from "../channelconfig/index.js";
import { errorMessage } from "../util/index.js";
import type { ParsedEnvelope } from "./envelope.js";
import { OrdererError } from "./errors.js";

/** The policy a Deliver requester must satisfy (Fabric's `policies.ChannelReaders`). */
export const CHANNEL_READERS_POLICY = "/Channel/Readers";
/** The policy a Broadcast submitter must satisfy (Fabric's `policies.ChannelWriters`). */
export const CHANNEL_WRITERS_POLICY = "/Channel/Writers";

/**
 * Fabric's orderer `SigFilter` / deliver access check: the envelope's signature by the creator of its
 * signature header, as signed data, satisfies `policy` under the channel's configuration (its MSPs decide
 * who is a member: a foreign org, a CRL, an expired certificate or a bad signature fail it).
 * @throws OrdererError FORBIDDEN naming the policy and why it failed
 */
export function checkAccess(parsed: ParsedEnvelope, bundle: ChannelBundle, policy: string): void {
  try {
    bundle.evaluatePolicy(policy, [{ identity: parsed.signatureHeader.creator, data: parsed.envelope.payload, signature: parsed.envelope.signature }]);
  } catch (err) {
    const why = err instanceof ChannelVerifyError ? err.message : errorMessage(err);
    throw new OrdererError("FORBIDDEN", `access denied on channel ${bundle.channelId}: the request does not satisfy ${policy}${creatorProblem(parsed, bundle)}: ${why}`, {
      cause: err,
    });
  }
}

/** Why the creator is no identity of the channel (a foreign MSP, a revoked or expired certificate), if it is not: the policy's own message does not say. */
function creatorProblem(parsed: ParsedEnvelope, bundle: ChannelBundle): string {
  try {
    bundle.msps.validate(parsed.signatureHeader.creator);
    return "";
  } catch (err) {
    return ` (the creator identity: ${errorMessage(err)})`;
  }
}
