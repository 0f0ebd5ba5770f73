import { type CryptoMaterialSummary, type NodeSummary, orgUser } from "../../crypto/index.js";

/**
 * The client user (User1@<org>, NodeOU client) of each peer org of `summary`, by MSP ID, in the summary's order:
 * crypto generation writes it (cryptogen's `users/` layout), and the channel's Writers policy admits it, as
 * configtxgen's sample policies do, unlike a peer.
 * @throws CryptoError MSP_FOLDER when a peer org has no User1.
 */
export function clientUsers(summary: CryptoMaterialSummary): Map<string, NodeSummary> {
  const out = new Map<string, NodeSummary>();
  for (const org of summary.orgs) if (org.kind === "peer") out.set(org.mspId, orgUser(org));
  return out;
}
