import type { MspVerifier } from "../crypto/index.js";
import { errorMessage } from "../util/index.js";
import type { ParsedEnvelope } from "./envelope.js";
import { OrdererError } from "./errors.js";

/**
 * Stands in for the channel's Readers/Writers policy: the envelope's signature verifies with the
 * SerializedIdentity in its signature header's creator, that identity is valid for `verifier`, and
 * its MSP is one of `orgs`. Returns the MSP ID; throws OrdererError FORBIDDEN.
 */
export function checkAccess(parsed: ParsedEnvelope, verifier: MspVerifier, channel: string, orgs: ReadonlySet<string>): string {
  let mspId: string;
  try {
    mspId = verifier.verify(parsed.signatureHeader.creator, parsed.envelope.signature, parsed.envelope.payload).mspId;
  } catch (err) {
    throw new OrdererError("FORBIDDEN", `implicit policy evaluation failed on channel ${channel}: the signature or creator identity is not valid: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  if (!orgs.has(mspId)) {
    throw new OrdererError("FORBIDDEN", `identity of ${mspId} is not a member of channel ${channel} (members: ${[...orgs].sort().join(", ")})`);
  }
  return mspId;
}
