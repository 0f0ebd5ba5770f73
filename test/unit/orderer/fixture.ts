import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { generateCryptoMaterial, loadPeerMaterial, loadVerifierOrgs } from "../../../src/crypto/generate.js";
import { createMspMessageCryptoService } from "../../../src/crypto/mcs.js";
import { MspVerifier, type SigningIdentity } from "../../../src/crypto/msp.js";
import type { MspMessageCryptoService } from "../../../src/crypto/mcs.js";
import type { Clock } from "../../../src/util/clock.js";

/** PEM TLS files of a node. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

/** Orderer test material: 2 peer orgs (1 peer each) and the orderer org. Org1MSP is the channel member. */
export interface OrdererFixture {
  root: string;
  orderer: SigningIdentity;
  member: SigningIdentity;
  outsider: SigningIdentity;
  verifier: MspVerifier;
  /** An MCS of the member peer that checks orderer signatures against OrdererMSP. */
  mcs: MspMessageCryptoService;
  tls: { orderer: TlsFiles; member: TlsFiles; outsider: TlsFiles };
  tmp(): Promise<string>;
}

export async function ordererFixture(t: TestContext, clock: Clock): Promise<OrdererFixture> {
  const root = await mkdtemp(join(tmpdir(), "fabric-gossip-orderer-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const summary = await generateCryptoMaterial({ orgs: 2, peersPerOrg: 1, out: join(root, "crypto"), orderer: true });
  const dirOf = (name: string): string => {
    for (const o of summary.orgs) for (const n of o.nodes) if (n.name === name) return n.dir;
    throw new Error(`no node ${name}`);
  };
  const orderer = await loadPeerMaterial(dirOf("orderer.example.com"));
  const member = await loadPeerMaterial(dirOf("peer0.org1.example.com"));
  const outsider = await loadPeerMaterial(dirOf("peer0.org2.example.com"));
  const verifier = new MspVerifier(await loadVerifierOrgs(summary.root), { clock });
  const mcs = createMspMessageCryptoService(
    { signer: member.signingIdentity, verifier },
    { channelOrgs: () => new Set(["Org1MSP"]), ordererOrgs: () => new Set(["OrdererMSP"]) },
  );
  let n = 0;
  return {
    root,
    orderer: orderer.signingIdentity,
    member: member.signingIdentity,
    outsider: outsider.signingIdentity,
    verifier,
    mcs,
    tls: { orderer: orderer.tls, member: member.tls, outsider: outsider.tls },
    tmp: async () => join(root, `data-${n++}`),
  };
}
