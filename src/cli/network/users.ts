import { copyFile, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type CryptoMaterialSummary, issueCertificate, loadCa, type NodeSummary, type OrgSummary } from "../../crypto/index.js";

/**
 * Writes a client user of `org` in cryptogen's layout, `<org>/users/<name>@<domain>/{msp,tls}`: an enrollment
 * certificate with OU=client from the org's CA (so NodeOUs make it a client, which the channel's Writers
 * policy admits as configtxgen's sample policies do, unlike a peer) and a TLS pair (client.crt, client.key)
 * from the org's TLS CA. Returns it as a node of the layout (`loadPeerMaterial(dir, { mspId })` loads it).
 * Our crypto generation, like cryptogen without `Users`, writes no users: network up and tests add the ones
 * that submit transactions.
 */
export async function writeClientUser(org: OrgSummary, name = "User1"): Promise<NodeSummary> {
  const userName = `${name}@${org.name}`;
  const dir = join(org.dir, "users", userName);
  const mspDir = join(dir, "msp");
  const tlsDir = join(dir, "tls");
  const ca = await loadCa(org.caDir);
  const tlsCa = await loadCa(org.tlsCaDir);
  const enrollment = await issueCertificate({ ca, commonName: userName, organizationalUnits: ["client"] });
  const tls = await issueCertificate({ ca: tlsCa, commonName: userName, kind: "tls", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  // The org MSP's public part (cacerts, tlscacerts, config.yaml with NodeOUs) is the user's too.
  await copyTree(org.mspDir, mspDir);
  await mkdir(join(mspDir, "signcerts"), { recursive: true });
  await mkdir(join(mspDir, "keystore"), { recursive: true });
  await mkdir(tlsDir, { recursive: true });
  await writeFile(join(mspDir, "signcerts", `${userName}-cert.pem`), enrollment.certPem);
  await writeFile(join(mspDir, "keystore", "priv_sk"), enrollment.keyPem, { mode: 0o600 });
  await writeFile(join(tlsDir, "ca.crt"), tlsCa.certPem);
  await writeFile(join(tlsDir, "client.crt"), tls.certPem);
  await writeFile(join(tlsDir, "client.key"), tls.keyPem, { mode: 0o600 });
  return { name: userName, dir, mspDir, tlsDir };
}

/** The client user of each peer org of `summary` (User1 of each), in the summary's order. */
export async function writeClientUsers(summary: CryptoMaterialSummary): Promise<Map<string, NodeSummary>> {
  const out = new Map<string, NodeSummary>();
  for (const org of summary.orgs) if (org.kind === "peer") out.set(org.mspId, await writeClientUser(org));
  return out;
}

async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const e of await readdir(from, { withFileTypes: true })) {
    if (e.isDirectory()) await copyTree(join(from, e.name), join(to, e.name));
    else if (e.isFile()) await copyFile(join(from, e.name), join(to, e.name));
  }
}
