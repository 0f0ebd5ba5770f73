import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { tlsCaFiles } from "../../src/cli/commands/network.js";
import { PeerProcess } from "../../src/cli/peer-process.js";
import { type CryptoMaterialSummary, generateCryptoMaterial } from "../../src/crypto/index.js";
import type { MembershipView } from "../../src/service/membership-view.js";
import { BIN, CODE_UNDER_TEST_ENV, runCli } from "../utils/cli.js";
import { genesisBlockOf } from "../utils/channel-setup.js";
import { FAST_GOSSIP_ENV } from "../utils/fast-timers.js";
import { freePorts } from "../utils/net.js";

/**
 * `fabric-gossip peer start` as real processes: three peers of one org on 127.0.0.1 with mutual TLS
 * and MSP identities find each other through a bootstrap peer, meet in a channel joined from its
 * genesis block (no ordering service runs: the ledgers stay at height 1), answer on their
 * admin endpoints, and stop with exit code 0 on SIGTERM; two development-crypto peers print only
 * their ready line on stdout and stop on SIGINT; bad flags and settings exit 1 naming them.
 */

const CHANNEL = "mychannel";
const CONVERGE_MS = 30_000;

async function membership(admin: string): Promise<MembershipView> {
  const res = await fetch(`http://${admin}/v1/membership`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(res.status, 200);
  return (await res.json()) as MembershipView;
}

/** Polls every peer's /v1/membership until each sees all the others alive and in the channel. */
async function untilConverged(peers: { name: string; admin: string; pkiId: string }[], minHeight: number): Promise<Map<string, MembershipView>> {
  const deadline = Date.now() + CONVERGE_MS;
  const views = new Map<string, MembershipView>();
  for (;;) {
    let done = true;
    for (const p of peers) {
      const view = await membership(p.admin);
      views.set(p.name, view);
      const others = peers.filter((o) => o !== p).map((o) => o.pkiId);
      const alive = new Set(view.alive.map((m) => m.pkiId));
      const inChannel = new Set((view.channels[CHANNEL] ?? []).filter((m) => m.ledgerHeight >= minHeight && !m.leftChannel).map((m) => m.pkiId));
      if (!others.every((id) => alive.has(id) && inChannel.has(id))) done = false;
    }
    if (done) return views;
    if (Date.now() > deadline) {
      assert.fail(`peers did not converge within ${CONVERGE_MS} ms: ${JSON.stringify(Object.fromEntries(views), null, 1)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** SIGTERM (or SIGINT), then the exit code; killed after `graceMs` if it hangs. */
async function signalAndWait(child: ChildProcess, signal: NodeJS.Signals, graceMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

describe("peer start: three peers of one org with mutual TLS", { timeout: 180_000 }, () => {
  let root: string;
  let net: CryptoMaterialSummary;
  const peers: { name: string; proc: PeerProcess; endpoint: string; admin: string; pkiId: string }[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-peer-start-"));
    net = await generateCryptoMaterial({ orgs: 1, peersPerOrg: 3, out: root, orderer: true });
    const org = net.orgs.find((o) => o.kind === "peer")!;
    const [g0, g1, g2, a0, a1, a2, o0] = await freePorts(7);
    // The channel's genesis block; its orderer endpoint has nobody listening (the leader's Deliver retries).
    const blockFile = join(root, `${CHANNEL}.block`);
    await writeFile(blockFile, await genesisBlockOf(CHANNEL, [{ org }], net.orgs.find((o) => o.kind === "orderer")!, [`127.0.0.1:${o0}`]));
    const grpc = [g0!, g1!, g2!];
    const admin = [a0!, a1!, a2!];
    const start = async (i: number): Promise<void> => {
      const node = org.nodes[i]!;
      const endpoint = `127.0.0.1:${grpc[i]}`;
      const args = ["peer", "start", "--listen", endpoint, "--msp", node.mspDir, "--msp-id", org.mspId];
      args.push("--tls-cert", join(node.tlsDir, "server.crt"), "--tls-key", join(node.tlsDir, "server.key"), "--tls-ca", ...tlsCaFiles(net));
      args.push("--channel-block", blockFile, "--ledger-dir", join(root, `ledgers-${i}`), "--admin", `127.0.0.1:${admin[i]}`);
      if (i > 0) args.push("--bootstrap", `127.0.0.1:${grpc[0]}`);
      const proc = new PeerProcess(node.name, args, FAST_GOSSIP_ENV);
      const ready = await proc.event("ready", 60_000);
      assert.equal(ready["endpoint"], endpoint);
      assert.equal(ready["admin"], `127.0.0.1:${admin[i]}`);
      assert.match(String(ready["pkiId"]), /^[0-9a-f]{64}$/);
      peers[i] = { name: node.name, proc, endpoint, admin: String(ready["admin"]), pkiId: String(ready["pkiId"]) };
    };
    await start(0);
    await Promise.all([start(1), start(2)]);
  });

  after(async () => {
    await Promise.all(peers.filter(Boolean).map((p) => p.proc.stop(2_000)));
    await rm(root, { recursive: true, force: true });
  });

  it("each peer sees the other two alive and in the channel at height 1", async () => {
    const views = await untilConverged(peers, 1);
    for (const p of peers) {
      const view = views.get(p.name)!;
      assert.equal(view.self.pkiId, p.pkiId);
      assert.equal(view.self.internalEndpoint, p.endpoint);
      assert.equal(view.self.org, "Org1MSP");
      for (const other of peers.filter((o) => o !== p)) {
        const m = view.alive.find((x) => x.pkiId === other.pkiId)!;
        assert.equal(m.internalEndpoint, other.endpoint, `${p.name} knows ${other.name}'s internal endpoint`);
        assert.equal(m.org, "Org1MSP");
        const c = view.channels[CHANNEL]!.find((x) => x.pkiId === other.pkiId)!;
        assert.equal(c.ledgerHeight, 1);
        assert.equal(c.leftChannel, false);
      }
      assert.deepEqual(view.dead, []);
    }
  });

  it("`fabric-gossip peers --admin` lists the other two as alive members of the channel", async () => {
    await untilConverged(peers, 1);
    const r = await runCli(["peers", "--admin", peers[0]!.admin]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^STATE\s+ENDPOINT\s+INTERNAL\s+ORG\s+PKI-ID\s+CHANNELS$/);
    assert.match(lines.find((l) => l.startsWith("self"))!, new RegExp(`${peers[0]!.endpoint.replace(/\./g, "\\.")}\\s+Org1MSP`));
    for (const other of peers.slice(1)) {
      const row = lines.find((l) => l.includes(other.endpoint));
      assert.ok(row, `a row for ${other.endpoint} in:\n${r.stdout}`);
      assert.match(row, /^alive\s/);
      assert.match(row, /Org1MSP/);
      assert.match(row, /mychannel@1/);
      assert.ok(row.includes(other.pkiId.slice(0, 16)));
    }
    const json = await runCli(["peers", "--admin", peers[1]!.admin, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as MembershipView).self.pkiId, peers[1]!.pkiId);
  });

  it("/healthz is OK and /metrics counts received gossip messages", async () => {
    for (const p of peers) {
      const health = await fetch(`http://${p.admin}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, "OK");
      const metrics = await (await fetch(`http://${p.admin}/metrics`)).text();
      const m = /^gossip_comm_messages_received (\d+)/m.exec(metrics);
      assert.ok(m, `gossip_comm_messages_received in /metrics of ${p.name}`);
      assert.ok(Number(m[1]) > 0, `${p.name} received messages`);
    }
  });

  it("SIGTERM stops each peer with exit code 0; the others then count it dead", async () => {
    // The last ones first: peer 0 stays up until the others are gone.
    for (const p of [...peers].reverse()) {
      const code = await signalAndWait(p.proc.child, "SIGTERM");
      assert.equal(code, 0, `${p.name} exit code; stderr: ${p.proc.stderr.slice(-5).join(" | ")}`);
      assert.ok(!p.proc.stderr.some((l) => /"level":"error"/.test(l)), `${p.name} logged no error: ${p.proc.stderr.filter((l) => /"level":"error"/.test(l)).join("\n")}`);
      if (p === peers[2]) {
        // aliveExpirationTimeout is 5 x aliveTimeInterval = 5 s here.
        const deadline = Date.now() + CONVERGE_MS;
        let view = await membership(peers[0]!.admin);
        while (!view.dead.some((m) => m.pkiId === p.pkiId)) {
          if (Date.now() > deadline) assert.fail(`${peers[0]!.name} did not count ${p.name} dead: ${JSON.stringify(view)}`);
          await new Promise((r) => setTimeout(r, 250));
          view = await membership(peers[0]!.admin);
        }
        assert.ok(!view.alive.some((m) => m.pkiId === p.pkiId));
      }
    }
  });
});

describe("peer start: development crypto, plaintext", { timeout: 120_000 }, () => {
  it("two peers find each other, report the --org name, print only the ready line, and stop on SIGINT", async () => {
    const [g0, g1, a0, a1] = await freePorts(4);
    const children: { child: ChildProcess; stdout: () => string; stderr: () => string }[] = [];
    const spawnPeer = (args: string[]) => {
      const child = spawn(process.execPath, [BIN, "peer", "start", ...args], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...CODE_UNDER_TEST_ENV, FABRIC_LOGGING_SPEC: "warn", ...FAST_GOSSIP_ENV },
      });
      let out = "";
      let err = "";
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
      });
      child.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
      });
      const entry = { child, stdout: () => out, stderr: () => err };
      children.push(entry);
      return entry;
    };
    try {
      const common = ["--insecure-dev-crypto", "--org", "DevOrg", "--channel", CHANNEL];
      const p0 = spawnPeer(["--listen", `127.0.0.1:${g0}`, "--admin", `127.0.0.1:${a0}`, ...common]);
      const p1 = spawnPeer(["--listen", `127.0.0.1:${g1}`, "--admin", `127.0.0.1:${a1}`, "--bootstrap", `127.0.0.1:${g0}`, ...common]);
      const readyOf = async (p: typeof p0): Promise<{ endpoint: string; admin: string; pkiId: string }> => {
        const deadline = Date.now() + 60_000;
        while (!p.stdout().includes("\n")) {
          if (p.child.exitCode !== null) assert.fail(`exited early: ${p.stderr()}`);
          if (Date.now() > deadline) assert.fail(`no ready line: ${p.stderr()}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        const ready = JSON.parse(p.stdout().split("\n")[0]!) as { event: string; endpoint: string; admin: string; pkiId: string };
        assert.equal(ready.event, "ready");
        return ready;
      };
      const [r0, r1] = await Promise.all([readyOf(p0), readyOf(p1)]);
      // Development crypto: the identity (and PKI-ID) is the endpoint.
      assert.equal(Buffer.from(r0.pkiId, "hex").toString(), `127.0.0.1:${g0}`);
      const views = await untilConverged(
        [
          { name: "p0", admin: r0.admin, pkiId: r0.pkiId },
          { name: "p1", admin: r1.admin, pkiId: r1.pkiId },
        ],
        1,
      );
      assert.equal(views.get("p0")!.self.org, "DevOrg");
      assert.equal(views.get("p0")!.alive[0]!.org, "DevOrg");
      for (const p of [p1, p0]) {
        assert.equal(await signalAndWait(p.child, "SIGINT"), 0, p.stderr());
        assert.equal(p.stdout().trimEnd().split("\n").length, 1, `stdout holds only the ready line: ${p.stdout()}`);
      }
    } finally {
      for (const c of children) await signalAndWait(c.child, "SIGKILL", 1_000);
    }
  });
});

describe("peer start --config core.yaml", { timeout: 120_000 }, () => {
  let root: string;
  let summary: CryptoMaterialSummary;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-coreyaml-"));
    summary = await generateCryptoMaterial({ orgs: 1, peersPerOrg: 1, out: join(root, "crypto") });
  });
  after(() => rm(root, { recursive: true, force: true }));

  /** A core.yaml in its own folder with paths relative to it, as Fabric's sampleconfig has them. */
  async function coreYaml(listen: number, tlsEnabled: boolean, certFile: string): Promise<string> {
    const org = summary.orgs[0]!;
    const node = org.nodes[0]!;
    const confDir = join(root, `conf-${listen}`);
    await rm(confDir, { recursive: true, force: true });
    await mkdir(confDir, { recursive: true });
    const rel = (p: string): string => relative(confDir, p);
    const text = [
      "peer:",
      "  id: peer0.org1.example.com",
      `  listenAddress: 127.0.0.1:${listen}`,
      `  address: 127.0.0.1:${listen}`,
      `  fileSystemPath: ${rel(join(root, "data"))}`,
      `  mspConfigPath: ${rel(node.mspDir)}`,
      `  localMspId: ${org.mspId}`,
      "  tls:",
      `    enabled: ${tlsEnabled}`,
      "    cert:",
      `      file: ${certFile === "" ? '""' : rel(join(node.tlsDir, certFile))}`,
      "    key:",
      `      file: ${rel(join(node.tlsDir, "server.key"))}`,
      "    rootcert:",
      `      file: ${rel(join(node.tlsDir, "ca.crt"))}`,
      "  gossip:",
      `    externalEndpoint: 127.0.0.1:${listen}`,
      "  keepalive:",
      "    interval: 7200s",
      "  deliveryclient:",
      "    reconnectTotalTimeThreshold: 3600s",
      "",
    ].join("\n");
    const file = join(confDir, "core.yaml");
    await writeFile(file, text);
    return file;
  }

  it("a peer configured by the file alone (listen address, MSP, TLS, external endpoint) starts, serves and stops", async () => {
    const [g0, a0] = await freePorts(2);
    const file = await coreYaml(g0!, true, "server.crt");
    const proc = new PeerProcess("p0", ["peer", "start", "--config", file, "--admin", `127.0.0.1:${a0}`], FAST_GOSSIP_ENV);
    try {
      const ready = await proc.event("ready", 60_000);
      assert.equal(ready["endpoint"], `127.0.0.1:${g0}`, "peer.address is the internal endpoint");
      const view = await membership(String(ready["admin"]));
      assert.equal(view.self.endpoint, `127.0.0.1:${g0}`, "peer.gossip.externalEndpoint from the file");
      assert.equal(view.self.org, summary.orgs[0]!.mspId, "peer.localMspId from the file");
      const admin = String(ready["admin"]);
      const metrics = await (await fetch(`http://${admin}/metrics`)).text();
      assert.match(metrics, /^process_cpu_seconds_total \S+$/m, "process metrics beside the gossip ones");
      assert.match(metrics, /^nodejs_eventloop_lag_seconds \S+$/m);
      assert.match(metrics, /^gossip_comm_messages_sent /m);
      const spec = ((await (await fetch(`http://${admin}/logspec`)).json()) as { spec: string }).spec;
      assert.equal(spec, process.env["FABRIC_LOGGING_SPEC"] ?? "warn", "/logspec answers the level the peer runs at");
    } finally {
      assert.equal(await proc.stop(10_000), 0, proc.stderr.join("\n"));
    }
  });

  it("a CORE_PEER_* variable wins over the file, and a bad setting in the file exits 1 naming the key", async () => {
    const [g0] = await freePorts(1);
    const noCert = await coreYaml(g0!, true, "");
    const r = await runCli(["peer", "start", "--config", noCert]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /peer\.tls\.cert\.file/);
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
    const fine = await coreYaml(g0!, true, "server.crt");
    const r2 = await runCli(["peer", "start", "--config", fine], { CORE_PEER_TLS_CERT_FILE: join(root, "missing.crt") });
    assert.equal(r2.code, 1, r2.stderr);
    assert.match(r2.stderr, /missing\.crt/, "the environment's file is the one read");
  });
});

describe("peer start: bad flags and settings", { timeout: 60_000 }, () => {
  const cases: { title: string; args: string[]; env?: NodeJS.ProcessEnv; names: RegExp }[] = [
    { title: "a --listen that is not host:port", args: ["--listen", "nonsense", "--insecure-dev-crypto"], names: /--listen "nonsense"/ },
    { title: "a --listen on port 0", args: ["--listen", "127.0.0.1:0", "--insecure-dev-crypto"], names: /--listen "127\.0\.0\.1:0".*port 0/ },
    { title: "no crypto", args: ["--listen", "127.0.0.1:7051"], names: /--msp.*--insecure-dev-crypto/ },
    { title: "a bad --bootstrap entry", args: ["--listen", "127.0.0.1:7051", "--insecure-dev-crypto", "--bootstrap", "peer1"], names: /--bootstrap \(peer\.gossip\.bootstrap\)/ },
    {
      title: "a pullInterval too short for its waits, from the environment",
      args: ["--listen", "127.0.0.1:7051", "--insecure-dev-crypto"],
      env: { CORE_PEER_GOSSIP_PULLINTERVAL: "100ms" },
      names: /peer\.gossip\.pullInterval \(from env CORE_PEER_GOSSIP_PULLINTERVAL\)/,
    },
    { title: "a missing --tls-key", args: ["--listen", "127.0.0.1:7051", "--insecure-dev-crypto", "--tls-cert", "x.crt", "--tls-ca", "ca.crt"], names: /--tls-cert needs --tls-key/ },
    {
      title: "the removed --channel-def",
      args: ["--listen", "127.0.0.1:7051", "--msp", "msp", "--msp-id", "Org1MSP", "--channel-def", "ch.yaml"],
      names: /--channel-def: removed; .*channel genesis --channel-def FILE --out BLOCK.*--channel-block BLOCK/,
    },
    { title: "the removed --orgs-dir", args: ["--listen", "127.0.0.1:7051", "--msp", "msp", "--msp-id", "Org1MSP", "--orgs-dir", "crypto"], names: /--orgs-dir: removed; the MSPs of the channels joined/ },
    {
      title: "--channel with an MSP identity (a channel without configuration)",
      args: ["--listen", "127.0.0.1:7051", "--msp", "msp", "--msp-id", "Org1MSP", "--channel", CHANNEL],
      names: /--channel mychannel: only with --insecure-dev-crypto; .*--channel-block FILE/,
    },
    { title: "--channel-block with the development crypto", args: ["--listen", "127.0.0.1:7051", "--insecure-dev-crypto", "--channel-block", "x.block"], names: /--channel-block/ },
  ];
  for (const c of cases) {
    it(`${c.title} exits 1 with a message naming it and no stack trace`, async () => {
      const r = await runCli(["peer", "start", ...c.args], c.env);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, c.names);
      assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
      assert.equal(r.stdout, "", "nothing on stdout");
    });
  }
});
