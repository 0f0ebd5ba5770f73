import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { PeerProcess } from "../../src/cli/peer-process.js";
import { generateCryptoMaterial, type OrgSummary } from "../../src/crypto/index.js";
import type { ChannelStatusView } from "../../src/service/index.js";
import { genesisBlockOf } from "../utils/channel-setup.js";
import { freePorts } from "../utils/net.js";

/**
 * A peer started from a core.yaml laid out like Fabric v2.5's sampleconfig (the config fixture), with only
 * the paths, the addresses and the MSP ID changed, and a channel joined with --channel-block: it starts,
 * reaches ready with the channel's ledger at height 1 or more, and stops with exit code 0. The file keeps
 * Fabric's other keys as they are: a peer.tls.clientRootCAs.files entry that does not exist
 * (clientAuthRequired is false, so Fabric never reads it), Fabric-only sections (vm, chaincode, ledger, ...).
 */

const FIXTURE = new URL("../unit/config/fixtures/core.yaml", import.meta.url);
const CHANNEL = "mychannel";

/** Replaces `from` (which must occur exactly once) with `to`: the test fails when the fixture's layout changes. */
function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  assert.ok(at >= 0 && text.indexOf(from, at + 1) < 0, `the fixture has exactly one ${JSON.stringify(from)}`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

describe("peer start --config <sampleconfig-shaped core.yaml> --channel-block", { timeout: 120_000 }, () => {
  let root: string;
  let org: OrgSummary;
  let blockFile: string;
  let configFile: string;
  let listen: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-sampleconfig-"));
    const summary = await generateCryptoMaterial({ orgs: 1, peersPerOrg: 1, out: join(root, "crypto"), orderer: true });
    org = summary.orgs.find((o) => o.kind === "peer")!;
    const ordererOrg = summary.orgs.find((o) => o.kind === "orderer")!;
    const node = org.nodes[0]!;
    const [gossipPort, ordererPort] = await freePorts(2);
    listen = `127.0.0.1:${gossipPort}`;
    // Nobody listens at the orderer endpoint: the channel stays at its genesis block (the leader's Deliver retries).
    blockFile = join(root, `${CHANNEL}.block`);
    await writeFile(blockFile, await genesisBlockOf(CHANNEL, [{ org }], ordererOrg, [`127.0.0.1:${ordererPort}`]));

    let text = await readFile(FIXTURE, "utf8");
    // Addresses.
    text = replaceOnce(text, "listenAddress: 0.0.0.0:7051", `listenAddress: ${listen}`);
    text = replaceOnce(text, "address: peer0.org1.example.com:7051", `address: ${listen}`);
    text = replaceOnce(text, "bootstrap: peer1.org1.example.com:7051 peer2.org1.example.com:7051", `bootstrap: ${listen}`);
    text = replaceOnce(text, "externalEndpoint: peer0.org1.example.com:7051", `externalEndpoint: ${listen}`);
    // Paths.
    text = replaceOnce(text, "file: tls/server.crt", `file: ${join(node.tlsDir, "server.crt")}`);
    text = replaceOnce(text, "file: tls/server.key", `file: ${join(node.tlsDir, "server.key")}`);
    text = replaceOnce(text, "file: tls/ca.crt", `file: ${join(node.tlsDir, "ca.crt")}`);
    text = replaceOnce(text, "fileSystemPath: /var/hyperledger/production", `fileSystemPath: ${join(root, "production")}`);
    text = replaceOnce(text, "mspConfigPath: msp", `mspConfigPath: ${node.mspDir}`);
    // The MSP ID.
    text = replaceOnce(text, "localMspId: Org1MSP", `localMspId: ${org.mspId}`);
    const confDir = join(root, "config");
    await mkdir(confDir, { recursive: true });
    configFile = join(confDir, "core.yaml");
    await writeFile(configFile, text);
  });

  after(() => rm(root, { recursive: true, force: true }));

  it("starts, reports ready with the channel at height >= 1, serves its admin endpoint, and stops with exit code 0", async () => {
    const proc = new PeerProcess("sampleconfig", ["peer", "start", "--config", configFile, "--channel-block", blockFile, "--admin", "127.0.0.1:0"], {
      FABRIC_LOGGING_SPEC: "warn",
    });
    let code: number | null;
    try {
      const ready = await proc.event("ready", 60_000);
      assert.equal(ready["endpoint"], listen, "peer.address is the internal endpoint");
      const channels = ready["channels"] as { channel: string; height: number }[];
      assert.equal(channels.length, 1, JSON.stringify(ready));
      assert.equal(channels[0]!.channel, CHANNEL);
      assert.ok(channels[0]!.height >= 1, `the ledger holds the genesis block (height ${channels[0]!.height})`);
      const res = (await (await fetch(`http://${String(ready["admin"])}/v1/channels`)).json()) as { channels: ChannelStatusView[] };
      const status = res.channels.find((c) => c.channel === CHANNEL);
      assert.ok(status !== undefined && status.height >= 1);
      assert.deepEqual(status.orgs, [org.mspId], "the members come from the block");
    } finally {
      code = await proc.stop(10_000);
    }
    assert.equal(code, 0, proc.stderr.join("\n"));
    assert.ok(!proc.stderr.some((l) => /"level":"error"/.test(l)), `no error logged: ${proc.stderr.filter((l) => /"level":"error"/.test(l)).join("\n")}`);
  });
});
