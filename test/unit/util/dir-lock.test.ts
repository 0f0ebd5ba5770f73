import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { DirectoryLockError, lockDirectory } from "../../../src/util/index.js";

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "fabric-gossip-lock-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function lockError(dir: string): Promise<DirectoryLockError> {
  try {
    const l = await lockDirectory(dir);
    await l.release();
  } catch (err) {
    assert.ok(err instanceof DirectoryLockError, String(err));
    return err;
  }
  assert.fail(`${dir} could be locked`);
}

/** The state letter of /proc/<pid>/stat ("Z" for a zombie), or undefined once the process is gone. */
async function procState(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

/**
 * Starts a process that locks `dir` and prints its pid, as the child of a shell that never reaps it (`exec sleep`),
 * so that once killed it stays a zombie, as a peer killed with -9 does until its parent waits for it.
 */
async function holder(t: TestContext, dir: string): Promise<number> {
  const script = `import("${new URL("../../../src/util/index.ts", import.meta.url).pathname}").then(async (u) => { await u.lockDirectory(${JSON.stringify(dir)}); process.stdout.write(process.pid + "\\n"); setInterval(() => {}, 1000); })`;
  const sh = spawn("sh", ["-c", `"${process.execPath}" --import tsx -e '${script}' & exec sleep 60`], { stdio: ["ignore", "pipe", "inherit"] });
  t.after(() => sh.kill("SIGKILL"));
  return new Promise<number>((resolve, reject) => {
    let out = "";
    sh.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(Number(out.trim()));
    });
    sh.once("exit", () => reject(new Error(`the holder exited before locking: ${out}`)));
  });
}

describe("lockDirectory", () => {
  it("one holder per directory in a process; released, it can be taken again", async (t) => {
    const dir = await tempDir(t);
    const l = await lockDirectory(dir);
    const err = await lockError(dir);
    assert.equal(err.code, "LOCKED");
    assert.match(err.message, /already open in this process/);
    await l.release();
    await l.release(); // idempotent
    const again = await lockDirectory(dir);
    await again.release();
  });

  it("a stale LOCK file (any pid, even a live one) does not lock the directory: only a live holder does", async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, "LOCK"), String(process.ppid));
    const l = await lockDirectory(dir);
    assert.equal((await readFile(join(dir, "LOCK"), "utf8")).trim(), String(process.pid), "the holder's pid, for operators");
    await l.release();
  });

  it("a live holder in another process locks it (named by pid); killed with -9, its lock is taken as soon as it is gone, while still an unreaped zombie", { skip: process.platform !== "linux" && "needs /proc" }, async (t) => {
    const dir = await tempDir(t);
    const pid = await holder(t, dir);
    const err = await lockError(dir);
    assert.equal(err.code, "LOCKED");
    assert.equal(err.holderPid, pid);
    assert.match(err.message, new RegExp(`live process ${pid}`));
    process.kill(pid, "SIGKILL");
    while ((await procState(pid)) !== "Z") await new Promise((r) => setTimeout(r, 5));
    const l = await lockDirectory(dir);
    await l.release();
  });
});
