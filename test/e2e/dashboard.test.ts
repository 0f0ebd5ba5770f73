import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BIN, CODE_UNDER_TEST_ENV } from "../utils/cli.js";
import { FAST_GOSSIP_ENV, fastElectionEnv } from "../utils/fast-timers.js";

/**
 * The live dashboard in a real browser: `network up` (2 orgs x 2 peers, fast timers) serves it on its
 * --dashboard port; headless Chromium, driven over the DevTools protocol on a pipe, opens it and must show
 * every process (as a table row and a node of the org graph), the org leaders and ledger heights that move
 * while blocks flow. A screenshot goes to test-artifacts/dashboard.png. Then the bounded run ends on its
 * own, exit 0, with the dashboard's address in its JSON and the port closed.
 *
 * Chromium is the Debian package (`apt-get install chromium`, done by .ci/run). Without it the test skips,
 * except in CI (CI=true), where it fails.
 */

const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));
const CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome-stable", "google-chrome"];

const FAST_ENV: Record<string, string> = {
  ...fastElectionEnv({ leaderAliveThreshold: "3s", leaderElectionDuration: "1s" }),
  ...FAST_GOSSIP_ENV,
  CORE_PEER_GOSSIP_STATE_CHECKINTERVAL: "2s",
};

/** The Chromium executable: $CHROMIUM_PATH, or the first of CHROMIUM_NAMES on PATH. */
function findChromium(): string | undefined {
  const given = process.env["CHROMIUM_PATH"];
  if (given !== undefined && given !== "") return given;
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    for (const name of CHROMIUM_NAMES) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

type Json = Record<string, unknown>;

/**
 * A minimal Chrome DevTools Protocol client over `--remote-debugging-pipe`: Chromium reads commands
 * on fd 3 and writes answers and events on fd 4, each a JSON text ended by a NUL byte.
 */
class Cdp {
  readonly #out: Writable;
  readonly #pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
  #next = 1;
  #buffer = Buffer.alloc(0);
  #closed = false;

  constructor(out: Writable, input: Readable) {
    this.#out = out;
    input.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      for (let end = this.#buffer.indexOf(0); end >= 0; end = this.#buffer.indexOf(0)) {
        const msg = JSON.parse(this.#buffer.subarray(0, end).toString("utf8")) as { id?: number; result?: Json; error?: { message: string } };
        this.#buffer = this.#buffer.subarray(end + 1);
        const waiter = msg.id === undefined ? undefined : this.#pending.get(msg.id);
        if (waiter === undefined) continue;
        this.#pending.delete(msg.id as number);
        if (msg.error !== undefined) waiter.reject(new Error(`CDP: ${msg.error.message}`));
        else waiter.resolve(msg.result ?? {});
      }
    });
    input.on("close", () => {
      this.#closed = true;
      for (const w of this.#pending.values()) w.reject(new Error("CDP: the browser closed the pipe"));
      this.#pending.clear();
    });
  }

  send(method: string, params: Json = {}, sessionId?: string): Promise<Json> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error("CDP: the browser closed the pipe"));
        return;
      }
      this.#pending.set(id, { resolve, reject });
      this.#out.write(`${JSON.stringify({ id, method, params, ...(sessionId !== undefined ? { sessionId } : {}) })}\0`);
    });
  }
}

/** A headless browser with one page. */
interface Browser {
  evaluate<T>(expression: string): Promise<T>;
  navigate(url: string): Promise<void>;
  screenshot(): Promise<Buffer>;
  close(): Promise<void>;
}

async function openBrowser(chromium: string, url: string): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), "fabric-gossip-chromium-"));
  const args = [
    "--headless=new",
    "--remote-debugging-pipe",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--mute-audio",
    `--user-data-dir=${profile}`,
    // The CI runs as root, where Chromium refuses its sandbox.
    ...(process.getuid?.() === 0 ? ["--no-sandbox"] : []),
    "about:blank",
  ];
  const child: ChildProcess = spawn(chromium, args, { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
  const stderr: string[] = [];
  createInterface({ input: child.stderr as Readable }).on("line", (l) => stderr.push(l));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const cdp = new Cdp(child.stdio[3] as Writable, child.stdio[4] as Readable);
  let closing: Promise<void> | undefined;
  // Once: a second Browser.close would go down a closed pipe and never be answered.
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) await cdp.send("Browser.close").catch(() => undefined);
      const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(kill);
      await rm(profile, { recursive: true, force: true });
    })());
  try {
    const { targetId } = (await cdp.send("Target.createTarget", { url: "about:blank" })) as { targetId: string };
    const { sessionId } = (await cdp.send("Target.attachToTarget", { targetId, flatten: true })) as { sessionId: string };
    await cdp.send("Emulation.setDeviceMetricsOverride", { width: 1400, height: 1500, deviceScaleFactor: 1, mobile: false }, sessionId);
    await cdp.send("Page.enable", {}, sessionId);
    await cdp.send("Page.navigate", { url }, sessionId);
    return {
      async evaluate<T>(expression: string): Promise<T> {
        const r = (await cdp.send("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true }, sessionId)) as {
          result: { value?: unknown };
          exceptionDetails?: { text: string; exception?: { description?: string } };
        };
        if (r.exceptionDetails !== undefined) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
        return r.result.value as T;
      },
      async navigate(to: string): Promise<void> {
        await cdp.send("Page.navigate", { url: to }, sessionId);
      },
      async screenshot(): Promise<Buffer> {
        const { data } = (await cdp.send("Page.captureScreenshot", { format: "png", captureBeyondViewport: true }, sessionId)) as { data: string };
        return Buffer.from(data, "base64");
      },
      close,
    };
  } catch (err) {
    await close();
    throw new Error(`chromium did not open the page: ${err instanceof Error ? err.message : String(err)}; its stderr:\n${stderr.slice(-10).join("\n")}`);
  }
}

/** What the page shows, read from its DOM. */
interface PageState {
  status: string;
  frames: number;
  /** Table rows: name, org, state, leader of, highest height (0 when none), the link to its own dashboard. */
  rows: { name: string; org: string; state: string; leaderOf: string; height: number; link: string | null }[];
  /** Nodes of the org graph. */
  graph: string[];
  /** Lines of the heights chart. */
  heightLines: number;
}

// Before the page has loaded (about:blank, or mid-navigation) it reads as empty.
const READ_PAGE = `(() => ({
  status: document.getElementById("status")?.textContent ?? "",
  frames: Number(document.body?.dataset.frames || "0"),
  rows: [...document.querySelectorAll("#nodes tr[data-node]")].map((r) => ({
    name: r.dataset.node, org: r.children[1].textContent, state: r.children[2].textContent, leaderOf: r.children[3].textContent,
    height: Number(r.dataset.height || "0"), link: r.querySelector("a")?.getAttribute("href") ?? null,
  })),
  graph: [...document.querySelectorAll("#graph g[data-node]")].map((g) => g.getAttribute("data-node")),
  heightLines: document.querySelectorAll("#heights polyline").length,
}))()`;

async function waitFor(browser: Browser, what: string, check: (s: PageState) => boolean, timeoutMs: number): Promise<PageState> {
  const deadline = Date.now() + timeoutMs;
  let s = await browser.evaluate<PageState>(READ_PAGE);
  while (!check(s)) {
    if (Date.now() > deadline) throw new Error(`the page never showed ${what} within ${timeoutMs} ms; it shows ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 250));
    s = await browser.evaluate<PageState>(READ_PAGE);
  }
  return s;
}

test("network up's dashboard in headless Chromium: every peer by org, the leaders, heights that move; a screenshot is kept", { timeout: 120_000 }, async (t) => {
  const chromium = findChromium();
  if (chromium === undefined) {
    const why = `no Chromium binary (${CHROMIUM_NAMES.join(", ")} on PATH, or $CHROMIUM_PATH): install the Debian package (apt-get install --no-install-recommends chromium) to run the browser test`;
    if (process.env["CI"] === "true") assert.fail(`${why}; in CI .ci/run installs it`);
    t.skip(why);
    return;
  }
  const child = spawn(process.execPath, [BIN, "network", "up", "--orgs", "2", "--peers-per-org", "2", "--tx-rate", "10", "--batch-size", "2", "--seconds", "20", "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...CODE_UNDER_TEST_ENV, ...FAST_ENV },
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on("line", (l) => stdout.push(l));
  createInterface({ input: child.stderr }).on("line", (l) => stderr.push(l));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGINT");
      const kill = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(kill);
    }
  });
  const lineOf = async (re: RegExp, timeoutMs: number): Promise<RegExpExecArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const l of stderr) {
        const m = re.exec(l);
        if (m !== null) return m;
      }
      if (child.exitCode !== null || Date.now() > deadline) assert.fail(`no stderr line ${re} (exit ${child.exitCode}); stderr:\n${stderr.slice(-15).join("\n")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const url = (await lineOf(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/, 20_000))[1] ?? "";
  const names = (JSON.parse((await lineOf(/^\{"event":"processes".*$/, 60_000))[0]) as { processes: { name: string }[] }).processes.map((p) => p.name);
  assert.equal(names.length, 5, "the orderer and four peers");
  const peers = names.filter((n) => n.startsWith("peer"));

  const browser = await openBrowser(chromium, url);
  t.after(() => browser.close());
  // Every process is drawn once it runs and the peers have committed past genesis (leaders elected, blocks flowing).
  const first = await waitFor(
    browser,
    "every peer running above height 1 with a leader per org",
    (s) =>
      s.status === "live" &&
      names.every((n) => s.rows.some((r) => r.name === n && r.state === "running")) &&
      peers.every((n) => (s.rows.find((r) => r.name === n)?.height ?? 0) > 1) &&
      ["Org1MSP", "Org2MSP"].every((org) => s.rows.some((r) => r.org === org && r.leaderOf === "mychannel")),
    40_000,
  );
  assert.deepEqual([...first.graph].sort(), [...names].sort(), "every process is a node of the org graph");
  assert.deepEqual(
    first.rows.map((r) => [r.name, r.org]),
    [
      ["orderer.example.com", "OrdererMSP"],
      ["peer0.org1.example.com", "Org1MSP"],
      ["peer1.org1.example.com", "Org1MSP"],
      ["peer0.org2.example.com", "Org2MSP"],
      ["peer1.org2.example.com", "Org2MSP"],
    ],
  );
  // Heights move: every peer's, frame after frame, as pushed by the stream (no reload).
  const later = await waitFor(
    browser,
    "every peer's height rising",
    (s) => peers.every((n) => (s.rows.find((r) => r.name === n)?.height ?? 0) > (first.rows.find((r) => r.name === n)?.height ?? 0)),
    15_000,
  );
  assert.ok(later.frames > first.frames, "more frames arrived");
  assert.ok(later.heightLines >= names.length, `a heights line per process, got ${later.heightLines}`);
  await mkdir(ARTIFACTS, { recursive: true });
  const png = await browser.screenshot();
  assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from("PNG")], "a PNG");
  await writeFile(join(ARTIFACTS, "dashboard.png"), png);

  // A peer's own dashboard, linked from its row, on its admin endpoint: itself and the three others it
  // knows alive, their heights from its view, rising.
  const link = later.rows.find((r) => r.name === "peer0.org1.example.com")?.link ?? "";
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/dashboard$/, "a running peer links to its admin endpoint's dashboard");
  await browser.navigate(link);
  const own = await waitFor(
    browser,
    "the peer, the three peers it knows alive, and their heights",
    (s) =>
      s.status === "live" &&
      s.rows.filter((r) => r.state === "self").length === 1 &&
      s.rows.filter((r) => r.state === "alive").length === 3 &&
      s.rows.every((r) => r.height > 1) &&
      s.graph.length === 4,
    15_000,
  );
  assert.deepEqual(own.rows.map((r) => r.org).sort(), ["Org1MSP", "Org1MSP", "Org2MSP", "Org2MSP"]);
  await waitFor(browser, "the peer's own height rising", (s) => (s.rows.find((r) => r.state === "self")?.height ?? 0) > (own.rows.find((r) => r.state === "self")?.height ?? 0), 10_000);
  await writeFile(join(ARTIFACTS, "peer-dashboard.png"), await browser.screenshot());
  await browser.close();

  // The bounded run ends on its own: exit 0, the dashboard's address in the JSON, its port closed.
  const code = await exited;
  assert.equal(code, 0, `exit code; stderr:\n${stderr.slice(-15).join("\n")}`);
  assert.equal(stdout.length, 1, "one JSON line");
  const result = JSON.parse(stdout[0] ?? "") as { dashboard?: string; sameChain: boolean };
  assert.equal(`http://${result.dashboard}/`, url);
  assert.equal(result.sameChain, true);
  await assert.rejects(fetch(url, { signal: AbortSignal.timeout(2_000) }), "the dashboard stopped with the network");
});
