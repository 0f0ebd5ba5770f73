/**
 * ECDSA P-256 speed: signing (with low-S normalisation), verification of a cached identity through
 * the MSP verifier (what every received gossip message costs), the bare ECDSA verify underneath it,
 * and the first-time validation of an identity (protobuf, PEM, X.509 parse, chain). Figures are
 * operations per second, the median of several rounds.
 *
 * Run: node --import tsx bench/crypto.ts
 */
import { createCa, issueCertificate } from "../src/crypto/generate.js";
import { ecdsaVerify } from "../src/crypto/ecdsa.js";
import { createSigningIdentity, MspVerifier } from "../src/crypto/msp.js";
import { SystemClock } from "../src/util/system-clock.js";
import { isMain, opsPerSecond as measure, printFigures } from "./stats.js";

const ROUNDS = 7;

/** Operations per second of `op`, median over ROUNDS rounds of `n` calls each (after a warm-up). */
async function opsPerSecond(n: number, op: (i: number) => void): Promise<number> {
  return (await measure((i) => { op(i); return 0; }, { runs: ROUNDS, opsPerRun: n, warmupOps: Math.min(n, 200) })).median;
}

export async function benchCrypto(): Promise<Record<string, number>> {
  const clock = new SystemClock();
  const ca = await createCa({ commonName: "ca.org1.example.com", organization: "org1.example.com", clock });
  const leaf = await issueCertificate({ ca, commonName: "peer0.org1.example.com", organizationalUnits: ["peer"], clock });
  const id = createSigningIdentity({ mspId: "Org1MSP", certPem: leaf.certPem, keyPem: leaf.keyPem });
  const org = { mspId: "Org1MSP", rootCerts: [ca.certPem], intermediateCerts: [], crls: [], tlsRootCerts: [], tlsIntermediateCerts: [] };
  const verifier = new MspVerifier([org], { clock });

  const msgs = Array.from({ length: 64 }, (_, i) => new TextEncoder().encode(`gossip alive message ${i} `.repeat(8)));
  const sigs = msgs.map((m) => id.sign(m));

  const sign = await opsPerSecond(2000, (i) => {
    id.sign(msgs[i % msgs.length]!);
  });
  const verifyCached = await opsPerSecond(2000, (i) => {
    verifier.verify(id.serialized, sigs[i % sigs.length]!, msgs[i % msgs.length]!);
  });
  const verifyRaw = await opsPerSecond(2000, (i) => {
    ecdsaVerify(id.publicKey, sigs[i % sigs.length]!, msgs[i % msgs.length]!);
  });
  const pkiIdCached = await opsPerSecond(20_000, () => {
    verifier.pkiIdOf(id.serialized);
  });
  // A cache of one entry and two identities taking turns: every validation is a miss (protobuf,
  // PEM, X.509 parse, chain check).
  const leaf2 = await issueCertificate({ ca, commonName: "peer1.org1.example.com", organizationalUnits: ["peer"], clock });
  const id2 = createSigningIdentity({ mspId: "Org1MSP", certPem: leaf2.certPem, keyPem: leaf2.keyPem });
  const missing = new MspVerifier([org], { clock, cacheSize: 1 });
  const both = [id.serialized, id2.serialized];
  const validateUncached = await opsPerSecond(500, (i) => {
    missing.validate(both[i % 2]!);
  });
  return {
    crypto_ecdsa_sign_per_s: sign,
    crypto_mcs_verify_cached_per_s: verifyCached,
    crypto_ecdsa_verify_per_s: verifyRaw,
    crypto_pkiid_cached_per_s: pkiIdCached,
    crypto_identity_validate_uncached_per_s: validateUncached,
  };
}

if (isMain(import.meta.url)) printFigures(await benchCrypto());
