import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { type CryptoMaterialSummary, generateCryptoMaterial } from "../../../src/crypto/generate.js";

/** Crypto material for one test file: 2 orgs x 1 peer + the orderer org, removed after the test. */
export async function generatedMaterial(t: TestContext, opts: { orgs?: number; peersPerOrg?: number } = {}): Promise<CryptoMaterialSummary> {
  const out = await mkdtemp(join(tmpdir(), "fabric-gossip-crypto-"));
  t.after(() => rm(out, { recursive: true, force: true }));
  return generateCryptoMaterial({ orgs: opts.orgs ?? 2, peersPerOrg: opts.peersPerOrg ?? 1, out, orderer: true });
}

/** The node folder of `name` (e.g. peer0.org1.example.com) in a summary. */
export function nodeDir(summary: CryptoMaterialSummary, name: string): string {
  for (const o of summary.orgs) for (const n of o.nodes) if (n.name === name) return n.dir;
  throw new Error(`no node ${name} in the generated material`);
}

/** The org summary of an MSP ID. */
export function orgOf(summary: CryptoMaterialSummary, mspId: string): CryptoMaterialSummary["orgs"][number] {
  const o = summary.orgs.find((x) => x.mspId === mspId);
  if (o === undefined) throw new Error(`no org ${mspId}`);
  return o;
}
