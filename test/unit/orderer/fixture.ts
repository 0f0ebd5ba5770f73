import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { type CryptoMaterialSummary, generateCryptoMaterial, loadPeerMaterial, loadVerifierOrgs, type OrgSummary, orgUser } from "../../../src/crypto/index.js";
import { createMspMessageCryptoService } from "../../../src/crypto/mcs.js";
import { MspVerifier, type SigningIdentity } from "../../../src/crypto/msp.js";
import type { MspMessageCryptoService } from "../../../src/crypto/mcs.js";
import type { Clock } from "../../../src/util/clock.js";
import { genesisBlockOf } from "../../utils/channel-setup.js";

/** PEM TLS files of a node. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

/** The orderer endpoint the fixture's genesis blocks name (no test dials it: it only goes into the config). */
export const FIXTURE_ORDERER_ENDPOINT = "127.0.0.1:7050";

/**
 * Orderer test material: 2 peer orgs (1 peer each) and the orderer org. Channel ch1 (its genesis block
 * `genesis`) has Org1MSP as its one application org.
 */
export interface OrdererFixture {
  root: string;
  summary: CryptoMaterialSummary;
  orderer: SigningIdentity;
  /** User1@org1.example.com, a client (OU=client) of Org1MSP: satisfies ch1's Writers and Readers. */
  member: SigningIdentity;
  /** peer0.org1.example.com: satisfies ch1's Readers but not its Writers (org Writers are admins and clients). */
  memberPeer: SigningIdentity;
  /** peer0.org2.example.com: Org2MSP is not in ch1. */
  outsider: SigningIdentity;
  verifier: MspVerifier;
  /** An MCS of the member peer that checks orderer signatures against OrdererMSP. */
  mcs: MspMessageCryptoService;
  tls: { orderer: TlsFiles; member: TlsFiles; outsider: TlsFiles };
  /** The genesis block of ch1 (Org1MSP, orderer OrdererMSP at FIXTURE_ORDERER_ENDPOINT). */
  genesis: Uint8Array;
  /** The genesis block of another channel with these application orgs (by MSP ID). */
  genesisOf(channel: string, mspIds: readonly string[], more?: Parameters<typeof genesisBlockOf>[4]): Promise<Uint8Array>;
  org(mspId: string): OrgSummary;
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
  const org = (mspId: string): OrgSummary => {
    const o = summary.orgs.find((x) => x.mspId === mspId);
    if (o === undefined) throw new Error(`no org ${mspId}`);
    return o;
  };
  const orderer = await loadPeerMaterial(dirOf("orderer.example.com"));
  const memberPeer = await loadPeerMaterial(dirOf("peer0.org1.example.com"));
  const user = orgUser(org("Org1MSP"));
  const member = await loadPeerMaterial(user.dir, { mspId: "Org1MSP" });
  const outsider = await loadPeerMaterial(dirOf("peer0.org2.example.com"));
  const verifier = new MspVerifier(await loadVerifierOrgs(summary.root), { clock });
  const mcs = createMspMessageCryptoService(
    { signer: memberPeer.signingIdentity, verifier },
    { channelOrgs: () => new Set(["Org1MSP"]), ordererOrgs: () => new Set(["OrdererMSP"]) },
  );
  const genesisOf = (channel: string, mspIds: readonly string[], more?: Parameters<typeof genesisBlockOf>[4]): Promise<Uint8Array> =>
    genesisBlockOf(
      channel,
      mspIds.map((id) => ({ org: org(id) })),
      org("OrdererMSP"),
      [FIXTURE_ORDERER_ENDPOINT],
      more,
    );
  let n = 0;
  return {
    root,
    summary,
    orderer: orderer.signingIdentity,
    member: member.signingIdentity,
    memberPeer: memberPeer.signingIdentity,
    outsider: outsider.signingIdentity,
    verifier,
    mcs,
    tls: { orderer: orderer.tls, member: memberPeer.tls, outsider: outsider.tls },
    genesis: await genesisOf("ch1", ["Org1MSP"]),
    genesisOf,
    org,
    tmp: async () => join(root, `data-${n++}`),
  };
}
