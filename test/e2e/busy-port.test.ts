import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../utils/cli.js";
import { generateTestOrgs, genesisBlockOf, type TestOrgs } from "../utils/channel-setup.js";
import { freePort } from "../utils/net.js";

/**
 * `peer start` and `orderer start` on an address another process holds (gRPC --listen, HTTP --admin): one line
 * naming the flag, the address and "already in use", exit code 1, and no raw gRPC log line ("E No address
 * added ...") before it.
 */
describe("a busy port", { timeout: 60_000 }, () => {
  let root: string;
  let orgs: TestOrgs;
  let block: string;
  let blocker: Server;
  let busy: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-busy-port-"));
    orgs = await generateTestOrgs(root, 1, 1);
    block = join(root, "mychannel.block");
    await writeFile(block, await genesisBlockOf("mychannel", [{ org: orgs.peerOrgs[0]! }], orgs.ordererOrg, ["127.0.0.1:7050"]));
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const addr = blocker.address();
    assert.ok(typeof addr === "object" && addr !== null);
    busy = `127.0.0.1:${addr.port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await rm(root, { recursive: true, force: true });
  });

  /** The run failed with exactly one error line, the last one, naming `flag` and the busy address. */
  const assertRefused = (r: { code: number | null; stderr: string }, flag: string): void => {
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.at(-1), `fabric-gossip: ${flag} ${busy}: address already in use (another process listens there: stop it or choose another port)`);
    assert.equal(lines.filter((l) => l.startsWith("fabric-gossip:")).length, 1, r.stderr);
    assert.ok(!lines.some((l) => /^[EID] /.test(l) || l.includes("No address added")), `a raw gRPC log line:\n${r.stderr}`);
  };

  const env = { FABRIC_LOGGING_SPEC: "warn" };

  it("orderer start --listen on it", async () => {
    const node = orgs.ordererOrg.nodes[0]!;
    const args = ["orderer", "start", "--msp", node.mspDir, "--msp-id", orgs.ordererOrg.mspId, "--channel-block", block];
    assertRefused(await runCli([...args, "--listen", busy, "--dir", join(root, "o1")], env), "--listen");
    assertRefused(await runCli([...args, "--listen", "127.0.0.1:0", "--admin", busy, "--dir", join(root, "o2")], env), "--admin");
  });

  it("peer start --listen on it", async () => {
    const org = orgs.peerOrgs[0]!;
    const node = org.nodes[0]!;
    const args = ["peer", "start", "--msp", node.mspDir, "--msp-id", org.mspId, "--channel-block", block];
    assertRefused(await runCli([...args, "--listen", busy, "--ledger-dir", join(root, "p1")], env), "--listen");
    const free = await freePort();
    assertRefused(await runCli([...args, "--listen", `127.0.0.1:${free}`, "--admin", busy, "--ledger-dir", join(root, "p2")], env), "--admin");
  });
});
