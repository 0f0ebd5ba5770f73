import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runToEnd } from "../utils/cli.js";
import { freePorts } from "../utils/net.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSC = join(ROOT, "node_modules", ".bin", "tsc");
/** The installed package runs its compiled code, as a user's would (no TypeScript sources). */
const APP_ENV = { ...process.env, FABRIC_LOGGING_SPEC: "warn", FABRIC_GOSSIP_SOURCES: "" };

/** A plain-node ES module: two peers with the insecure development crypto find each other and stop. */
const APP = `
import { startPeer } from "fabric-gossip";

const [a, b] = process.argv.slice(2);
// Faster alive messages than Fabric's 5 s so that the test is short; the rest is Fabric's defaults.
const overrides = { "peer.gossip.aliveTimeInterval": "500ms" };
const crypto = { insecureDevCrypto: true };
const p1 = await startPeer({ listen: a, bootstrap: [b], crypto, overrides });
const p2 = await startPeer({ listen: b, bootstrap: [a], crypto, overrides });
const sees = (p, endpoint) => p.membership().alive.some((m) => m.endpoint === endpoint || m.internalEndpoint === endpoint);
const deadline = Date.now() + 30_000;
while (!(sees(p1, b) && sees(p2, a))) {
  if (Date.now() > deadline) throw new Error("the peers did not see each other within 30 s");
  await new Promise((r) => setTimeout(r, 100));
}
console.log(JSON.stringify({ p1: p1.membership().alive.map((m) => m.internalEndpoint), p2: p2.membership().alive.map((m) => m.internalEndpoint) }));
await p1.stop();
await p2.stop();
console.log("stopped");
`;

/** Type-checked against the installed declarations: the API a TypeScript user writes against. */
const TYPED = `
import { type MembershipView, type Peer, type PeerEvent, startPeer, loadPeerConfig, simulate, type SimResult, DevMessageCryptoService } from "fabric-gossip";

export async function main(): Promise<void> {
  const peer: Peer = await startPeer({ listen: "127.0.0.1:7051", crypto: { insecureDevCrypto: true } });
  peer.events.on("block-committed", (e) => console.log(e.channel, e.number.toString()));
  peer.events.onAny((e: PeerEvent) => console.log(e.kind));
  const view: MembershipView = peer.membership();
  console.log(view.alive.length, loadPeerConfig({}).config.gossip.pullIntervalMs);
  for await (const b of peer.blocks("mychannel", { from: 0n })) console.log(b.number + 1n, b.block.header?.number);
  await peer.stop();
  const result: SimResult = await simulate({ peers: 4, seed: 1 });
  console.log(result.report, typeof DevMessageCryptoService);
}
`;

test("npm pack, npm install of the tarball, then a plain node program runs two peers and tsc checks a TypeScript one", { timeout: 170_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-package-"));
  t.after(() => rm(dir, { recursive: true, force: true }));

  // The tarball: `prepare` builds dist/ first.
  const packed = await run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as { filename: string }[];
  assert.ok(info !== undefined, "npm pack printed no file");
  const tarball = join(dir, info.filename.replace(/^@[^/]+\//, "").replace("/", "-"));

  const listing = (await run("tar", ["tzf", tarball], { maxBuffer: 64 * 1024 * 1024 })).stdout.split("\n").filter((l) => l !== "");
  assert.ok(listing.includes("package/dist/index.js") && listing.includes("package/dist/index.d.ts"), "the tarball holds the compiled API");
  assert.ok(listing.includes("package/bin/fabric-gossip.js"));
  const forbidden = listing.filter(
    (f) => /^package\/(test|bench|\.ci|src|crypto)\//.test(f) || /(_sk|\.key|priv_sk)$/.test(f) || /\/keystore\//.test(f),
  );
  assert.deepEqual(forbidden, [], "no tests, benchmarks, CI scripts or private keys in the tarball");

  // An empty project that installs the tarball.
  const app = join(dir, "app");
  await mkdir(app);
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: app, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });

  // The command, installed: it runs the compiled code (no tsx in an installed package).
  const version = await runToEnd(join(app, "node_modules", ".bin", "fabric-gossip"), ["--version"], { cwd: app, env: APP_ENV, timeoutMs: 30_000 });
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  assert.ok(!listing.some((f) => f.startsWith("package/node_modules/")));

  // The plain-node program: exit 0 on its own (no process.exit; a handle left open would hang it).
  await writeFile(join(app, "two-peers.mjs"), APP);
  const [a, b] = await freePorts(2);
  const out = await runToEnd(process.execPath, [join(app, "two-peers.mjs"), `127.0.0.1:${a}`, `127.0.0.1:${b}`], { cwd: app, env: APP_ENV, timeoutMs: 60_000 });
  assert.equal(out.code, 0, `two-peers.mjs exited ${out.code}: ${out.stderr.slice(-2000)}`);
  const lines = out.stdout.trim().split("\n");
  assert.equal(lines.at(-1), "stopped");
  const seen = JSON.parse(lines.at(-2) ?? "{}") as { p1: string[]; p2: string[] };
  assert.ok(seen.p1.includes(`127.0.0.1:${b}`) && seen.p2.includes(`127.0.0.1:${a}`), JSON.stringify(seen));

  // The installed declarations, with the repo's own compiler.
  await writeFile(join(app, "typed.ts"), TYPED);
  await writeFile(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "es2023",
        module: "nodenext",
        moduleResolution: "nodenext",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        typeRoots: [join(ROOT, "node_modules", "@types")],
        types: ["node"],
      },
      files: ["typed.ts"],
    }),
  );
  const tsc = await runToEnd(TSC, ["-p", join(app, "tsconfig.json")], { cwd: app, env: APP_ENV, timeoutMs: 60_000 });
  assert.equal(tsc.code, 0, `tsc: ${tsc.stdout}${tsc.stderr}`);
});

