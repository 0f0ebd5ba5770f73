import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger, formatHuman, levelFor, LogLevels, logFormatFromEnv, LogSpecError, parseLogSpec } from "../../../src/logging/index.js";

/** A destination that keeps each line written. */
function sink(): { lines: string[]; write(s: string): void } {
  const lines: string[] = [];
  return { lines, write: (s: string) => void lines.push(s) };
}

test("Fabric's spec syntax: a default level, logger lists, the longest prefix wins, case and aliases as flogging", () => {
  const spec = parseLogSpec("warn:gossip.comm,gossip.discovery=DEBUG:gossip=error:info:gossip.comm.grpc=WARNING");
  assert.equal(spec.defaultLevel, "info", "the last bare level is the default");
  assert.equal(levelFor(spec.text, "peer"), "info");
  assert.equal(levelFor(spec.text, "gossip.state"), "error");
  assert.equal(levelFor(spec.text, "gossip.comm"), "debug");
  assert.equal(levelFor(spec.text, "gossip.comm.grpc"), "warn");
  assert.equal(levelFor(spec.text, "gossip.commx"), "error", "a prefix matches whole name segments only");
  assert.equal(parseLogSpec("").defaultLevel, "info");
  assert.equal(parseLogSpec("fatal").defaultLevel, "error");
});

test("invalid specs are refused naming the term: unknown level, bad logger name, empty term", () => {
  for (const [spec, names] of [
    ["verbose", /unknown level "verbose"/],
    ["gossip=loud", /unknown level "loud"/],
    ["gossip comm=debug", /bad logger name "gossip comm"/],
    ["info::debug", /empty term/],
    ["=debug", /bad logger name ""/],
  ] as const) {
    assert.throws(() => parseLogSpec(spec), (err: unknown) => err instanceof LogSpecError && err.code === "INVALID_LOG_SPEC" && names.test(err.message), spec);
  }
});

test("JSON lines name the level, carry an ISO time, and write each key once (the call's fields win over the logger's)", () => {
  const out = sink();
  const root = createLogger({ name: "peer", spec: "info", format: "json", destination: out });
  const log = root.child("gossip.comm", { endpoint: "a:1", channel: "c" });
  log.info("hello", { endpoint: "b:2", n: 3 });
  log.debug("not written");
  assert.equal(out.lines.length, 1);
  const line = out.lines[0]!;
  assert.equal((line.match(/"endpoint"/g) ?? []).length, 1, line);
  const rec = JSON.parse(line) as Record<string, unknown>;
  assert.equal(rec["level"], "info");
  assert.match(String(rec["time"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(rec["logger"], "gossip.comm");
  assert.equal(rec["endpoint"], "b:2");
  assert.equal(rec["channel"], "c");
  assert.equal(rec["msg"], "hello");
});

test("human lines read as Fabric's: time UTC, level, [logger], message, key=value", () => {
  const out = sink();
  createLogger({ name: "peer", spec: "debug", format: "human", destination: out }).child("gossip.state").warn("behind", { height: 7, peer: "p 1" });
  assert.match(out.lines[0]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC WARN {2}\[gossip\.state\] behind height=7 peer="p 1"\n$/);
  assert.equal(formatHuman({ level: "error", logger: "x", msg: "m" }), "ERROR [x] m");
});

test("levels change for loggers already made (PUT /logspec), and a bad spec leaves them as they were", () => {
  const out = sink();
  const levels = new LogLevels("warn");
  const log = createLogger({ spec: levels, format: "json", destination: out }).child("gossip.discovery");
  log.info("dropped");
  levels.set("gossip.discovery=debug");
  log.debug("kept");
  assert.throws(() => levels.set("nonsense-level"), LogSpecError);
  assert.equal(levels.spec.text, "gossip.discovery=debug");
  log.debug("still kept");
  assert.deepEqual(
    out.lines.map((l) => (JSON.parse(l) as { msg: string }).msg),
    ["kept", "still kept"],
  );
});

test("format: FABRIC_LOGGING_FORMAT=json asks for JSON, any other value for text; unset, text on a terminal only", () => {
  assert.equal(logFormatFromEnv({ FABRIC_LOGGING_FORMAT: "json" }, true), "json");
  assert.equal(logFormatFromEnv({ FABRIC_LOGGING_FORMAT: "%{time} %{message}" }, false), "human");
  assert.equal(logFormatFromEnv({}, true), "human");
  assert.equal(logFormatFromEnv({}, false), "json");
});
