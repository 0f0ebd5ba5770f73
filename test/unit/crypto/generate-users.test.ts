import "reflect-metadata";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { channelConfigFromBlock, createChannelBundle, decodeBlock } from "../../../src/channelconfig/index.js";
import { type CryptoMaterialSummary, generateCryptoMaterial, loadPeerMaterial, type OrgSummary, orgUser, type PeerMaterial } from "../../../src/crypto/index.js";
import { SystemClock } from "../../../src/util/index.js";
import { genesisBlockOf } from "../../utils/channel-setup.js";

/**
 * Crypto generation writes users as cryptogen does: users/Admin@<org> (NodeOU admin) in every org and
 * users/User1@<org> ... (NodeOU client) in peer orgs, each an MSP folder and a TLS client pair. Under a channel
 * made from those MSP folders (configtxgen's sample policies), the users may write and the peers may not.
 */

async function generate(t: TestContext, users?: number): Promise<CryptoMaterialSummary> {
  const out = await mkdtemp(join(tmpdir(), "fabric-gossip-users-"));
  t.after(() => rm(out, { recursive: true, force: true }));
  return generateCryptoMaterial({ orgs: 2, peersPerOrg: 1, out, orderer: true, ...(users === undefined ? {} : { users }) });
}

const org = (s: CryptoMaterialSummary, mspId: string): OrgSummary => s.orgs.find((o) => o.mspId === mspId)!;

test("users in cryptogen's layout: Admin@ and User1@ in each peer org, Admin@ in the orderer org", async (t) => {
  const s = await generate(t);
  for (const o of s.orgs) {
    const names = (o.users ?? []).map((u) => u.name);
    assert.deepEqual(names, o.kind === "peer" ? [`Admin@${o.name}`, `User1@${o.name}`] : [`Admin@${o.name}`]);
    assert.deepEqual((await readdir(join(o.dir, "users"))).sort(), [...names].sort());
  }
  const user = orgUser(org(s, "Org1MSP"));
  assert.equal(user.mspDir, join(s.root, "peerOrganizations", "org1.example.com", "users", "User1@org1.example.com", "msp"));
  assert.deepEqual((await readdir(user.mspDir)).sort(), ["cacerts", "config.yaml", "keystore", "signcerts", "tlscacerts"]);
  assert.deepEqual(await readdir(join(user.mspDir, "signcerts")), ["User1@org1.example.com-cert.pem"]);
  assert.deepEqual((await readdir(user.tlsDir)).sort(), ["ca.crt", "client.crt", "client.key"]);
  // The org's NodeOUs (config.yaml) are the user's: its role comes from the OU of its certificate.
  assert.equal(await readFile(join(user.mspDir, "config.yaml"), "utf8"), await readFile(join(org(s, "Org1MSP").mspDir, "config.yaml"), "utf8"));
  const material = await loadPeerMaterial(user.dir, { mspId: "Org1MSP" });
  assert.match(material.signingIdentity.certificate.subject, /OU=client/);
  assert.match(material.signingIdentity.certificate.subject, /CN=User1@org1\.example\.com/);
  const admin = await loadPeerMaterial(orgUser(org(s, "Org1MSP"), "Admin").dir, { mspId: "Org1MSP" });
  assert.match(admin.signingIdentity.certificate.subject, /OU=admin/);
  assert.throws(() => orgUser(org(s, "OrdererMSP")), { name: "CryptoError", code: "MSP_FOLDER", message: /OrdererMSP has no user User1@example\.com/ });
});

test("users: N writes User1..N; 0 only the admins; a negative count is refused", async (t) => {
  const two = await generate(t, 2);
  assert.deepEqual(org(two, "Org2MSP").users?.map((u) => u.name), ["Admin@org2.example.com", "User1@org2.example.com", "User2@org2.example.com"]);
  const none = await generate(t, 0);
  assert.deepEqual(org(none, "Org1MSP").users?.map((u) => u.name), ["Admin@org1.example.com"]);
  await assert.rejects(generateCryptoMaterial({ orgs: 1, peersPerOrg: 1, out: join(none.root, "x"), users: -1 }), /users must be an integer >= 0, got -1/);
});

test("under a channel of those MSP folders, User1 and Admin satisfy /Channel/Writers and the org's Admins as their NodeOUs say; a peer does not", async (t) => {
  const s = await generate(t);
  const org1 = org(s, "Org1MSP");
  const block = await genesisBlockOf("ch1", [{ org: org1 }, { org: org(s, "Org2MSP") }], org(s, "OrdererMSP"), ["127.0.0.1:7050"]);
  const bundle = createChannelBundle(channelConfigFromBlock(decodeBlock(block)), { clock: new SystemClock() });
  const signed = (m: PeerMaterial) => {
    const data = new TextEncoder().encode("a transaction");
    return [{ data, identity: m.signingIdentity.serialized, signature: m.signingIdentity.sign(data) }];
  };
  const code = (path: string, m: PeerMaterial): string | undefined => {
    try {
      bundle.evaluatePolicy(path, signed(m));
      return undefined;
    } catch (err) {
      return (err as { code?: string }).code;
    }
  };
  const user1 = await loadPeerMaterial(orgUser(org1).dir, { mspId: "Org1MSP" });
  const admin = await loadPeerMaterial(orgUser(org1, "Admin").dir, { mspId: "Org1MSP" });
  const peer = await loadPeerMaterial(org1.nodes[0]!.dir);
  assert.equal(code("/Channel/Writers", user1), undefined);
  assert.equal(code("/Channel/Writers", admin), undefined);
  assert.equal(code("/Channel/Writers", peer), "POLICY_NOT_SATISFIED");
  assert.equal(code("/Channel/Application/Org1MSP/Admins", admin), undefined);
  assert.equal(code("/Channel/Application/Org1MSP/Admins", user1), "POLICY_NOT_SATISFIED");
});
