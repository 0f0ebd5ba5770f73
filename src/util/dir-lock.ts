import { createHash } from "node:crypto";
import { readFile, unlink, writeFile } from "node:fs/promises";
import { createConnection, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GossipError } from "./errors.js";

/** Why a directory could not be locked: LOCKED (a live process, or this one, holds it), LOCK_FAILED (the system refused). */
export type DirectoryLockErrorCode = "LOCKED" | "LOCK_FAILED";

export class DirectoryLockError extends GossipError {
  declare readonly code: DirectoryLockErrorCode;

  constructor(code: DirectoryLockErrorCode, message: string, options?: { cause?: unknown; holderPid?: number }) {
    super(code, message, options);
    this.holderPid = options?.holderPid;
  }

  /** The pid the holder wrote beside the lock, when it could be read (a hint for the operator). */
  readonly holderPid: number | undefined;
}

/** A held lock on a directory; `release` frees it (also freed by the system when the process dies). */
export interface DirectoryLock {
  readonly dir: string;
  release(): Promise<void>;
}

/** Written beside the lock for operators: the holder's pid. Informational only, never trusted. */
const PID_FILE = "LOCK";

const heldInProcess = new Set<string>();

/**
 * Locks `dir` (an absolute path) for this process. The lock is a listening Unix-domain socket named after the
 * directory, so the kernel releases it the moment its holder dies (kill -9 included, before the process is even
 * reaped): a restart never waits on a dead holder, and a reused pid cannot keep a directory locked, which a pid
 * file judged by "is that pid alive" cannot promise. On Linux the socket is in the abstract namespace (no file;
 * scoped to the network namespace); elsewhere it is a socket file in the temporary folder, checked by
 * connecting to it. The holder's pid is written to `<dir>/LOCK` for the error message.
 * @throws DirectoryLockError LOCKED naming the holder's pid, or LOCK_FAILED
 */
export async function lockDirectory(dir: string): Promise<DirectoryLock> {
  if (heldInProcess.has(dir)) throw new DirectoryLockError("LOCKED", `${dir} is already open in this process; close it first`, { holderPid: process.pid });
  heldInProcess.add(dir);
  try {
    const server = await listenOnce(socketPath(dir), dir);
    await writeFile(join(dir, PID_FILE), String(process.pid)).catch(() => undefined);
    let released = false;
    return {
      dir,
      release: async () => {
        if (released) return;
        released = true;
        await unlink(join(dir, PID_FILE)).catch(() => undefined);
        await new Promise<void>((resolve) => server.close(() => resolve()));
        heldInProcess.delete(dir);
      },
    };
  } catch (err) {
    heldInProcess.delete(dir);
    throw err;
  }
}

function socketPath(dir: string): string {
  const id = createHash("sha256").update(dir).digest("hex").slice(0, 40);
  return process.platform === "linux" ? `\0fabric-gossip-lock-${id}` : join(tmpdir(), `fabric-gossip-lock-${id}.sock`);
}

async function listenOnce(path: string, dir: string): Promise<Server> {
  for (let attempt = 0; ; attempt++) {
    const server = createServer((socket) => socket.destroy());
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once("error", (e: NodeJS.ErrnoException) => resolve(e));
      server.listen({ path, exclusive: true }, () => resolve(undefined));
    });
    if (err === undefined) {
      // The lock must not keep a process alive that has nothing else to do.
      server.unref();
      return server;
    }
    if (err.code !== "EADDRINUSE") throw new DirectoryLockError("LOCK_FAILED", `cannot lock ${dir}: ${err.message}`, { cause: err });
    // A socket file (not Linux) survives its dead holder: connecting tells a live holder from a stale file.
    if (!path.startsWith("\0") && attempt === 0 && !(await answers(path))) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    const pid = Number((await readFile(join(dir, PID_FILE), "utf8").catch(() => "")).trim());
    const holderPid = Number.isInteger(pid) && pid > 0 ? pid : undefined;
    // A killed holder's socket closes when its last thread has exited, which can come a little after the
    // process shows as a zombie (a multi-threaded process's leader exits first): wait for it, briefly.
    if (holderPid !== undefined && holderPid !== process.pid && attempt < DYING_HOLDER_RETRIES && (await holderDying(holderPid))) {
      await new Promise((resolve) => setTimeout(resolve, DYING_HOLDER_RETRY_MS));
      continue;
    }
    throw new DirectoryLockError("LOCKED", `${dir} is locked by ${holderPid !== undefined ? `live process ${holderPid}` : "another live process"}; stop it or use another directory`, {
      holderPid,
    });
  }
}

/** How long a lock held by a dying (zombie or gone) holder is waited for: 100 x 20 ms. */
const DYING_HOLDER_RETRIES = 100;
const DYING_HOLDER_RETRY_MS = 20;

/** Whether the process is gone or a zombie (Linux: /proc/<pid>/stat; elsewhere: signal 0). */
async function holderDying(pid: number): Promise<boolean> {
  if (process.platform === "linux") {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
    if (stat === undefined) return true;
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "Z" || state === "X";
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ path });
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}
