/**
 * The simulator's peers are GossipServices, so simulated scenarios run the service layer: breaking
 * the service's leader-to-deliver hand-off must fail a scenario. This test builds mutants of
 * src/service/gossip-service.ts in a copy of src/ and runs the same small scenario on each, in a
 * child process; the unbroken code passes it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runSim, smallOptions } from "./sim-kit.js";

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SERVICE = join("src", "service", "gossip-service.ts");

/** The scenario every variant runs: 12 peers in 2 orgs elect leaders, which deliver 10 blocks. */
const SCENARIO = { seed: 3, peers: 12, orgs: 2, blocks: 10 } as const;

interface Figures {
  missingCommits: number;
  commits: number;
}

const RUNNER = `
import { defaultGossipConfig } from "./src/config/index.js";
import { Simulator, simOptions } from "./src/sim/index.js";
const o = simOptions({ gossip: defaultGossipConfig(), ...${JSON.stringify(SCENARIO)}, blockBytes: 4096, blockIntervalMs: 500, warmupMs: 20000, crypto: "fast" });
const r = await new Simulator(o).run();
process.stdout.write(JSON.stringify({ missingCommits: r.report.missingCommits, commits: r.report.commits }));
`;

/** Runs the scenario on a copy of src/ whose gossip service had `from` replaced by `to`. */
async function runMutant(name: string, from: string, to: string): Promise<Figures> {
  const dir = join(ROOT, ".tmp", `wiring-${process.pid}-${name}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  try {
    await cp(join(ROOT, "src"), join(dir, "src"), { recursive: true });
    const path = join(dir, SERVICE);
    const text = await readFile(path, "utf8");
    // The mutation must apply: a refactor that moved the code would otherwise make this test vacuous.
    assert.equal(text.split(from).length - 1, 1, `mutant ${name}: ${JSON.stringify(from)} occurs once in ${SERVICE}`);
    await writeFile(path, text.replace(from, to));
    await writeFile(join(dir, "run.ts"), RUNNER);
    const { stdout } = await run(process.execPath, ["--import", "tsx", "run.ts"], { cwd: dir, maxBuffer: 1 << 20, timeout: 120_000 });
    return JSON.parse(stdout) as Figures;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("the service's leader-to-deliver wiring is what simulated scenarios run: breaking it fails the scenario", async (t) => {
  const { result } = await runSim(smallOptions({ ...SCENARIO }));
  assert.equal(result.report.missingCommits, 0, "the real service: every peer commits every block");
  assert.ok(result.report.commits >= SCENARIO.peers * SCENARIO.blocks);

  // A leader that never starts its deliver client: no block enters the network.
  const noDeliver = await runMutant("no-deliver-start", "await res.deliver.start();", "/* mutant: no delivery */");
  t.diagnostic(`leader never delivers: ${JSON.stringify(noDeliver)}`);
  assert.equal(noDeliver.missingCommits, SCENARIO.peers * SCENARIO.blocks, "with the hand-off broken no peer commits any block");

  // A leadership event that never reaches the hand-off (the election's callback is dropped).
  const noHandOff = await runMutant(
    "no-leadership-callback",
    "const onLeadershipChange = (isLeader: boolean): void => this.#onLeadershipChange(res, isLeader, log);",
    "const onLeadershipChange = (_isLeader: boolean): void => {};",
  );
  t.diagnostic(`leadership not handed to delivery: ${JSON.stringify(noHandOff)}`);
  assert.ok(noHandOff.missingCommits > 0, "a scenario fails when leadership does not start delivery");
});
