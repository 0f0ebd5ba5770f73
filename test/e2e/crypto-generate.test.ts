import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../utils/cli.js";

/**
 * `crypto generate` into a folder that already holds generated material is refused with one line
 * (new CAs would orphan every earlier certificate); --force replaces the layout, leaving other files.
 */
describe("fabric-gossip crypto generate --out <folder with material>", { timeout: 60_000 }, () => {
  let root: string;
  const out = (): string => join(root, "crypto");
  const caCert = (): Promise<string> => readFile(join(out(), "peerOrganizations", "org1.example.com", "ca", "ca.org1.example.com-cert.pem"), "utf8");

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-crypto-generate-"));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("generates into a new folder, refuses the same folder again, and replaces it with --force", async () => {
    const first = await runCli(["crypto", "generate", "--orgs", "2", "--peers-per-org", "1", "--out", out()]);
    assert.equal(first.code, 0, first.stderr);
    const ca = await caCert();
    await writeFile(join(out(), "notes.txt"), "mine");

    const again = await runCli(["crypto", "generate", "--orgs", "1", "--peers-per-org", "1", "--out", out()]);
    assert.equal(again.code, 1);
    const lines = again.stderr.trim().split("\n");
    assert.equal(lines.length, 1, again.stderr);
    assert.match(lines[0]!, /--out .*crypto: already holds generated crypto material \(peerOrganizations\/org1\.example\.com, peerOrganizations\/org2\.example\.com\)/);
    assert.match(lines[0]!, /new CAs.*another folder, or add --force/);
    assert.equal(await caCert(), ca, "the refused run changed nothing");

    const forced = await runCli(["crypto", "generate", "--orgs", "1", "--peers-per-org", "1", "--out", out(), "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(await caCert(), ca, "a new CA");
    assert.deepEqual(await readdir(join(out(), "peerOrganizations")), ["org1.example.com"], "no org of the old run is left");
    assert.equal(await readFile(join(out(), "notes.txt"), "utf8"), "mine", "files beside the layout are kept");
  });
});
