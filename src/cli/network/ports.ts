import { createServer, type Server } from "node:net";
import { errorMessage } from "../../util/index.js";
import { NetworkError } from "./errors.js";

/** Highest TCP port. */
const MAX_PORT = 65_535;

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once("error", onError);
    server.listen({ port, host, exclusive: true }, () => {
      server.off("error", onError);
      const a = server.address();
      resolve(typeof a === "object" && a !== null ? a.port : port);
    });
  });
}

async function closeAll(servers: readonly Server[]): Promise<void> {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
}

/**
 * Ports on `host` that were free a moment ago: all are bound at once (so they differ), then
 * released for the processes to take. Another program may take one in between; the process that
 * then fails to listen says so.
 */
export async function freePorts(n: number, host = "127.0.0.1"): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      ports.push(await listen(s, 0, host));
    }
    return ports;
  } catch (err) {
    throw new NetworkError("START_FAILED", `cannot find ${n} free ports on ${host}: ${errorMessage(err)}`, { cause: err });
  } finally {
    await closeAll(servers);
  }
}

/**
 * `n` consecutive ports from `base`, each checked free on `host`.
 * @throws NetworkError INVALID_OPTIONS naming `flag` when the range leaves 1..65535 or a port is taken.
 */
export async function consecutivePorts(base: number, n: number, host = "127.0.0.1", flag = "--base-port"): Promise<number[]> {
  if (!Number.isInteger(base) || base < 1 || base + n - 1 > MAX_PORT) {
    throw new NetworkError("INVALID_OPTIONS", `${flag} ${base}: needs ${n} consecutive ports within 1..${MAX_PORT}`);
  }
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let p = base; p < base + n; p++) {
      const s = createServer();
      servers.push(s);
      try {
        await listen(s, p, host);
      } catch (err) {
        throw new NetworkError("INVALID_OPTIONS", `${flag} ${base}: port ${p} on ${host} is not free (${errorMessage(err)}); the network needs ${base}..${base + n - 1}`, {
          cause: err,
        });
      }
      ports.push(p);
    }
    return ports;
  } finally {
    await closeAll(servers);
  }
}
