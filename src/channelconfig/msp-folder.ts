import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { decodeAllPem, encodePem, loadOrgMspFolder } from "../crypto/index.js";
import { errorMessage } from "../util/index.js";
import { ChannelConfigError } from "./errors.js";
import type { GenesisMsp } from "./genesis.js";

/**
 * An org's MSP, for a genesis block, from its MSP folder as cryptogen writes it: cacerts, intermediatecerts,
 * tlscacerts, crls (read by `loadOrgMspFolder`), admincerts if any, and config.yaml's NodeOUs (off when there is
 * no config.yaml or it does not enable them; the certifier is the file it names).
 * @throws ChannelConfigError MALFORMED_MSP naming the folder and the cause
 */
export async function genesisMspOfFolder(dir: string, mspId: string): Promise<GenesisMsp> {
  try {
    const org = await loadOrgMspFolder(dir, mspId);
    const admins: string[] = [];
    const adminDir = join(dir, "admincerts");
    const names = await readdir(adminDir).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const text = await readFile(join(adminDir, name), "latin1").catch(() => "");
      for (const b of decodeAllPem(text)) if (b.type === "CERTIFICATE") admins.push(encodePem("CERTIFICATE", b.der));
    }
    const configText = await readFile(join(dir, "config.yaml"), "utf8").catch(() => undefined);
    let nodeOUs: GenesisMsp["nodeOUs"] = false;
    if (configText !== undefined) {
      const doc = parseYaml(configText) as { NodeOUs?: { Enable?: boolean; ClientOUIdentifier?: { Certificate?: string } } } | null;
      const node = doc?.NodeOUs;
      if (node?.Enable === true) {
        const certFile = node.ClientOUIdentifier?.Certificate;
        nodeOUs = certFile === undefined ? {} : { certificate: await readFile(resolve(dir, certFile), "latin1") };
      }
    }
    return { ...org, admins, nodeOUs };
  } catch (err) {
    throw new ChannelConfigError("MALFORMED_MSP", `MSP folder ${dir} of ${mspId}: ${errorMessage(err)}`, { cause: err });
  }
}
