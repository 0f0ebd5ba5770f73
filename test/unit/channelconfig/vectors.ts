import "reflect-metadata";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeBlock } from "../../../src/channelconfig/index.js";
import { createSigningIdentity, type SigningIdentity } from "../../../src/crypto/index.js";
import type { Block } from "../../../src/protos/gen/common/common.pb.js";
import { ManualClock } from "../../../src/util/index.js";

/** The real Fabric v2.5.6 channel of ../shared/vectors (see its README): blocks, crypto, CRL, expected.json. */
export const VECTORS = fileURLToPath(new URL("../../../../shared/vectors/fabric-v2.5.6-channel/", import.meta.url));
export const CRYPTO = join(VECTORS, "crypto");

/** A clock a day after the fixture network ran: every certificate is valid. */
export function fixtureClock(): ManualClock {
  return new ManualClock(Date.parse("2026-12-05T00:00:00Z"));
}

export const blockFile = (n: number): string => join(VECTORS, "blocks", `${String(n).padStart(3, "0")}.block`);
export const blockBytes = (n: number): Uint8Array => new Uint8Array(readFileSync(blockFile(n)));
export const block = (n: number): Block => decodeBlock(blockBytes(n));

/** The one file of a folder (signcerts/, cacerts/, ...), as text. */
export function onlyFile(dir: string): string {
  const [name] = readdirSync(dir);
  if (name === undefined) throw new Error(`${dir} is empty`);
  return readFileSync(join(dir, name), "latin1");
}

/** An org's folder of the fixture crypto: "orderer" or "org1".."org3". */
export function orgDir(org: string): string {
  return org === "orderer" ? join(CRYPTO, "ordererOrganizations/example.com") : join(CRYPTO, `peerOrganizations/${org}.example.com`);
}

/** A fixture identity with its key: `org` is "orderer" or "org1".."org3", `node` a peer, orderer or user ("Admin@org1.example.com") name. */
export function fixtureSigner(org: string, mspId: string, node: string): SigningIdentity {
  const kind = node.includes("@") ? "users" : org === "orderer" ? "orderers" : "peers";
  const msp = join(orgDir(org), kind, node, "msp");
  return createSigningIdentity({ mspId, certPem: onlyFile(join(msp, "signcerts")), keyPem: readFileSync(join(msp, "keystore/priv_sk"), "latin1") });
}
