import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { access, readFile, rm } from "node:fs/promises";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { LocalNetwork } from "../../src/cli/network/index.js";
import { channelConfigFromBlock, decodeBlock } from "../../src/channelconfig/index.js";
import { BIN, CODE_UNDER_TEST_ENV } from "../utils/cli.js";
import { FAST_GOSSIP_ENV, fastElectionEnv } from "../utils/fast-timers.js";

/**
 * `fabric-gossip network up` as a user runs it: a bounded run whose JSON shows every peer holding
 * the orderer's chain; a run until Ctrl-C that leaves no process behind; a killed `network up`
 * whose children stop on their own; and bad flags that exit 1 naming the flag. Then the library
 * under it (LocalNetwork) with mutual TLS: the orderer and every peer start from the channel's
 * genesis block (no YAML channel definition); a leader crashes, its org elects another, and the
 * restarted peer catches up from its own ledger.
 */

/** Fabric's election and gossip timers, compressed (same shape) so a small network settles in seconds. */
const FAST_ENV: Record<string, string> = {
  ...fastElectionEnv({ leaderAliveThreshold: "3s", leaderElectionDuration: "1s" }),
  ...FAST_GOSSIP_ENV,
  CORE_PEER_GOSSIP_STATE_CHECKINTERVAL: "2s",
};

interface Run {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stderr line `match` selects (seen already or coming). */
  stderrLine(match: (line: string) => boolean, timeoutMs: number): Promise<string>;
}

function runCli(args: string[]): Run {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...CODE_UNDER_TEST_ENV, ...FAST_ENV } });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: { match: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  createInterface({ input: child.stdout! }).on("line", (l) => stdout.push(l));
  createInterface({ input: child.stderr! }).on("line", (l) => {
    stderr.push(l);
    for (const w of waiters.filter((x) => x.match(l))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(l);
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return {
    child,
    stdout,
    stderr,
    exited,
    stderrLine(match, timeoutMs) {
      const seen = stderr.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no such stderr line within ${timeoutMs} ms; stderr:\n${stderr.slice(-15).join("\n")}`)), timeoutMs);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`network up exited first; stderr:\n${stderr.slice(-15).join("\n")}`));
        });
      });
    },
  };
}

/** Ends a run that a failed assertion left running. */
function cleanup(run: Run): () => Promise<void> {
  return async () => {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill("SIGINT");
      const t = setTimeout(() => run.child.kill("SIGKILL"), 20_000);
      await run.exited;
      clearTimeout(t);
    }
  };
}

interface ProcessesLine {
  event: "processes";
  dir: string;
  processes: { name: string; pid: number }[];
}

async function processesOf(run: Run, timeoutMs = 90_000): Promise<ProcessesLine> {
  const line = await run.stderrLine((l) => l.startsWith('{"event":"processes"'), timeoutMs);
  return JSON.parse(line) as ProcessesLine;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pids still alive after waiting up to `timeoutMs` for them to go. */
async function survivors(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

test("network up --orgs 2 --peers-per-org 2 --blocks 10 --json: one JSON object, every peer on the orderer's chain, exit 0", async (t) => {
  const run = runCli(["network", "up", "--orgs", "2", "--peers-per-org", "2", "--blocks", "10", "--json"]);
  t.after(cleanup(run));
  const { code } = await run.exited;
  assert.equal(code, 0, `exit code; stderr:\n${run.stderr.slice(-20).join("\n")}`);
  assert.equal(run.stdout.length, 1, `exactly one line on stdout, got:\n${run.stdout.join("\n").slice(0, 2000)}`);
  const r = JSON.parse(run.stdout[0]!) as {
    peers: { id: string; org: string; height: number; lastBlockHash: string; leader: boolean }[];
    blocks: number;
    seconds: number;
    commitLatencyMs: { p50: number; p99: number; max: number; count: number };
    orderer: { height: number; lastBlockHash: string };
    sameChain: boolean;
  };
  for (const key of ["peers", "blocks", "seconds", "commitLatencyMs"]) assert.ok(key in r, `key ${key}`);
  assert.deepEqual(
    r.peers.map((p) => [p.id, p.org]),
    [
      ["peer0.org1.example.com", "Org1MSP"],
      ["peer1.org1.example.com", "Org1MSP"],
      ["peer0.org2.example.com", "Org2MSP"],
      ["peer1.org2.example.com", "Org2MSP"],
    ],
  );
  assert.ok(r.blocks >= 10, `blocks ${r.blocks}`);
  for (const p of r.peers) {
    assert.deepEqual(Object.keys(p).slice(0, 5), ["id", "org", "height", "lastBlockHash", "leader"]);
    assert.equal(p.height, r.blocks + 1, `${p.id} height`);
    assert.match(p.lastBlockHash, /^[0-9a-f]{64}$/);
    assert.equal(p.lastBlockHash, r.orderer.lastBlockHash, `${p.id} last block hash`);
    assert.equal(typeof p.leader, "boolean");
  }
  assert.equal(r.orderer.height, r.blocks + 1);
  assert.equal(r.sameChain, true);
  // One leader per org at the end (dynamic election settled).
  for (const org of ["Org1MSP", "Org2MSP"]) assert.equal(r.peers.filter((p) => p.org === org && p.leader).length, 1, `leaders of ${org}`);
  // Latency: one sample per peer and block; ordered percentiles; well under the run's length.
  const l = r.commitLatencyMs;
  assert.equal(l.count, r.peers.length * r.blocks);
  assert.ok(l.p50 >= 0 && l.p50 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
  assert.ok(l.max < r.seconds * 1000, `max latency ${l.max} ms within ${r.seconds} s`);
  assert.ok(r.seconds > 0);
  // Everything it started is gone, its temporary folder too.
  const procs = await processesOf(run, 0);
  assert.equal(procs.processes.length, 5);
  assert.deepEqual(await survivors(procs.processes.map((p) => p.pid), 3_000), []);
  assert.equal(await exists(procs.dir), false, "the temporary network folder is removed");
});

test("network up until Ctrl-C: SIGINT after the peers are up stops every process and exits 130", async (t) => {
  const run = runCli(["network", "up", "--orgs", "2", "--peers-per-org", "2"]);
  t.after(cleanup(run));
  const procs = await processesOf(run);
  assert.deepEqual(
    procs.processes.map((p) => p.name),
    ["orderer.example.com", "peer0.org1.example.com", "peer1.org1.example.com", "peer0.org2.example.com", "peer1.org2.example.com"],
  );
  const pids = procs.processes.map((p) => p.pid);
  assert.deepEqual(pids.filter((p) => !isAlive(p)), [], "all running before the signal");
  // Blocks flow: the live view (plain frames, stdout is a pipe) shows the orderer's height rising.
  const deadline = Date.now() + 60_000;
  while (!run.stdout.some((l) => /^orderer \S+ {2}height ([2-9]|\d\d+) /.test(l)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.ok(
    run.stdout.some((l) => /^orderer \S+ {2}height ([2-9]|\d\d+) /.test(l)),
    `no block in the view:\n${run.stdout.slice(-12).join("\n")}\n${run.stderr.slice(-5).join("\n")}`,
  );
  assert.ok(run.stdout.some((l) => /^peer0\.org1\.example\.com {2}Org1MSP /.test(l)), "a peer row");
  run.child.kill("SIGINT");
  const { code } = await run.exited;
  assert.equal(code, 130);
  assert.deepEqual(await survivors(pids, 2_000), [], "no child outlives network up");
  assert.equal(await exists(procs.dir), false, "the temporary network folder is removed");
  assert.ok(run.stderr.some((l) => /interrupted by SIGINT/.test(l)));
});

test("network up killed outright (SIGKILL): its children see their stdin close and stop on their own", async (t) => {
  const run = runCli(["network", "up", "--orgs", "1", "--peers-per-org", "2"]);
  t.after(cleanup(run));
  const procs = await processesOf(run);
  t.after(() => rm(procs.dir, { recursive: true, force: true }));
  const pids = procs.processes.map((p) => p.pid);
  assert.equal(pids.length, 3);
  run.child.kill("SIGKILL");
  await run.exited;
  assert.deepEqual(await survivors(pids, 20_000), [], "orphans left running");
});

test("network up: bad flags exit 1 naming the flag", async () => {
  const cases: [string[], RegExp][] = [
    [["--json"], /--json prints the result of a bounded run: add --blocks N/],
    [["--orgs", "0", "--blocks", "1"], /--orgs must be a positive integer, got "0"/],
    [["--blocks", "3", "--seconds", "3"], /--blocks and --seconds exclude each other/],
    [["--batch-timeout", "2 seconds", "--blocks", "1"], /--batch-timeout "2 seconds"/],
    [["--channel", "MyChannel", "--blocks", "1"], /--channel "MyChannel"/],
  ];
  await Promise.all(
    cases.map(async ([args, message]) => {
      const run = runCli(["network", "up", ...args]);
      const { code } = await run.exited;
      assert.equal(code, 1, args.join(" "));
      assert.match(run.stderr.join("\n"), message);
      assert.deepEqual(run.stdout, []);
    }),
  );
});

test("LocalNetwork with mutual TLS: a crashed leader is replaced, restarts on its ledger and catches up; stop() leaves nothing", async (t) => {
  const net = new LocalNetwork({ orgs: 2, peersPerOrg: 2, tls: true, batchTimeout: "500ms", env: FAST_ENV, handleSignals: false });
  t.after(() => net.stop());
  await net.start();
  // One genesis block for everyone: the orderer and every peer start from it, with no channel definition.
  const plan = net.plan;
  for (const args of [plan.orderer.args, ...plan.peers.map((p) => p.args)]) {
    assert.equal(args[args.indexOf("--channel-block") + 1], plan.channelBlockFile);
    assert.equal(args.includes("--channel-def"), false);
  }
  const config = channelConfigFromBlock(decodeBlock(await readFile(plan.channelBlockFile)));
  assert.equal(config.channelId, "mychannel");
  assert.deepEqual(
    config.applicationOrgs.map((o) => [o.mspId, o.anchorPeers.map((a) => `${a.host}:${a.port}`)]),
    plan.peers.filter((p) => p.anchor).map((p) => [p.org, [p.endpoint]]),
  );
  assert.deepEqual(config.ordererEndpoints, [plan.orderer.endpoint]);
  assert.equal(config.batchTimeout, "500ms");
  const leaders = await net.waitForLeaders(30_000);
  const org1Leader = leaders.get("Org1MSP")?.[0];
  assert.ok(org1Leader !== undefined);
  assert.equal(leaders.get("Org2MSP")?.length, 1);
  const other = net.peers.find((p) => p.org === "Org1MSP" && p.name !== org1Leader)!.name;

  await net.startFeeding({ rate: 40, size: 200 });
  await net.waitForHeight(6, undefined, 30_000);
  const crashed = net.peers.find((p) => p.name === org1Leader)!;
  const heightAtCrash = crashed.height;
  await net.killPeer(org1Leader, "SIGKILL");
  assert.equal(crashed.state, "stopped");
  // The follower takes over after leaderAliveThreshold and blocks keep reaching Org1.
  const after = await net.waitForLeaders(30_000);
  assert.deepEqual(after.get("Org1MSP"), [other]);
  const running = net.peers.filter((p) => p.name !== org1Leader).map((p) => p.name);
  await net.waitForHeight(net.orderer.height + 3, running, 30_000);

  await net.restartPeer(org1Leader);
  assert.equal(crashed.state, "running");
  assert.ok(crashed.height >= heightAtCrash, `ledger kept: ready at ${crashed.height}, had ${heightAtCrash}`);
  // Every process's stdout and stderr are in its log file, appended across the restart.
  assert.equal(net.logFile(org1Leader), `${net.dir}/logs/${org1Leader.replace(/\.example\.com$/, "")}.log`);
  // The file is written through a stream: the ready event we parsed from stdout may still be on its way there.
  let leaderLog: string[] = [];
  for (let waited = 0; waited < 5_000; waited += 100) {
    leaderLog = (await readFile(net.logFile(org1Leader), "utf8")).split("\n");
    if (leaderLog.filter((l) => l.startsWith('{"event":"ready"')).length >= 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(leaderLog.filter((l) => l.startsWith('{"event":"ready"')).length, 2, `two ready lines in ${net.logFile(org1Leader)}`);
  assert.ok(leaderLog.some((l) => l.startsWith('{"event":"commit"')), "its commit events");
  assert.match(await readFile(net.logFile(net.orderer.name), "utf8"), /^\{"event":"block"/m);
  const fed = await net.stopFeeding();
  assert.ok(fed !== undefined && fed.succeeded === fed.sent && fed.sent > 0, JSON.stringify(fed));
  while (net.orderer.txs < fed.succeeded) await new Promise((r) => setTimeout(r, 100));
  const final = net.orderer.height;
  await net.waitForHeight(final, undefined, 60_000);
  const statuses = await net.channelStatus();
  for (const s of statuses) {
    assert.equal(s.status?.height, final, `${s.peer}: ${s.error ?? ""}`);
    assert.equal(s.status?.lastBlockHash, net.orderer.lastBlockHash, s.peer);
  }
  assert.equal(statuses.filter((s) => s.status?.leader).length, 2, "one leader per org");
  const latency = net.commitLatency();
  // One sample per commit: the three that stayed up committed every block; the restarted one most.
  assert.ok(latency.count >= 3 * (final - 1) && latency.count <= 4 * (final - 1), `latency samples ${latency.count} for ${final - 1} blocks`);

  const pids = net.pids().map((p) => p.pid);
  assert.equal(pids.length, 5);
  const dir = net.dir;
  await net.stop();
  assert.deepEqual(await survivors(pids, 2_000), []);
  assert.deepEqual(net.pids(), []);
  assert.equal(await exists(dir), false);
});
