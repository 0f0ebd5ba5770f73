import { createInterface } from "node:readline";

/** A JSON object read from or written to a control channel. */
export type ControlMessage = Record<string, unknown> & { cmd?: string; event?: string };

/**
 * Line-delimited JSON over stdin/stdout: how `network up`, the end-to-end tests and the
 * benchmarks drive peer processes.
 */
export function readControl(input: NodeJS.ReadableStream, onMessage: (msg: ControlMessage) => void, onEnd: () => void): () => void {
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  rl.on("line", (line) => {
    const text = line.trim();
    if (text === "") return;
    try {
      onMessage(JSON.parse(text) as ControlMessage);
    } catch {
      writeControl({ event: "error", error: `not a JSON control line: ${text.slice(0, 80)}` });
    }
  });
  rl.on("close", onEnd);
  return () => rl.close();
}

export function writeControl(msg: ControlMessage): void {
  process.stdout.write(`${JSON.stringify(msg, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}\n`);
}
