import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { silentLogger } from "../../../src/logging/index.js";
import { AdminServer } from "../../../src/service/index.js";
import { GossipError } from "../../../src/util/index.js";

class FakeError extends GossipError {}

test("POST /v1/channels/{channel}/private-data hands the write set to distributePrivateData and maps its failures", async (t) => {
  const calls: { channel: string; txId: string; data: string; height: bigint }[] = [];
  let failWith: Error | undefined;
  const server = new AdminServer({
    listen: "127.0.0.1:0",
    registry: new Registry(),
    membership: () => ({ self: { endpoint: "", internalEndpoint: "", org: "", pkiId: "" }, alive: [], dead: [], channels: {} }),
    logger: silentLogger,
    now: () => new Date(0),
    distributePrivateData: async (channel, txId, data, height) => {
      if (failWith !== undefined) throw failWith;
      calls.push({ channel, txId, data: Buffer.from(data).toString("hex"), height });
    },
  });
  await server.start();
  t.after(() => server.stop());
  const post = (channel: string, body: unknown): Promise<Response> =>
    fetch(`http://${server.address}/v1/channels/${encodeURIComponent(channel)}/private-data`, {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  const ok = await post("my channel", { txId: "abc", blockHeight: "18446744073709551615", privateData: Buffer.from([1, 2, 3]).toString("base64") });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { channel: "my channel", txId: "abc", blockHeight: "18446744073709551615" });
  assert.deepEqual(calls, [{ channel: "my channel", txId: "abc", data: "010203", height: 2n ** 64n - 1n }]);
  assert.equal((await post("c", { txId: "t", blockHeight: 7, privateData: "AQ==" })).status, 200, "a safe integer height is accepted");
  assert.equal(calls[1]?.height, 7n);

  for (const bad of [
    "not json",
    [],
    { blockHeight: "1", privateData: "AQ==" },
    { txId: "t", blockHeight: "-1", privateData: "AQ==" },
    { txId: "t", blockHeight: "18446744073709551616", privateData: "AQ==" },
    { txId: "t", blockHeight: 1.5, privateData: "AQ==" },
    { txId: "t", blockHeight: "1", privateData: "not base64!" },
    { txId: "t", blockHeight: "1", privateData: "" },
  ]) {
    const res = await post("c", bad);
    assert.equal(res.status, 400, JSON.stringify(bad));
    assert.equal(((await res.json()) as { code: string }).code, "BAD_REQUEST");
  }
  const badPath = await fetch(`http://${server.address}/v1/channels/%E0%A4%A/private-data`, { method: "POST", body: JSON.stringify({ txId: "t", blockHeight: "1", privateData: "AQ==" }) });
  assert.equal(badPath.status, 400, "a channel name that is not URL-encoded text");
  assert.equal(calls.length, 2, "nothing bad reached the service");

  const statusFor = async (err: Error): Promise<[number, string]> => {
    failWith = err;
    const res = await post("c", { txId: "t", blockHeight: "1", privateData: "AQ==" });
    return [res.status, ((await res.json()) as { code: string }).code];
  };
  assert.deepEqual(await statusFor(new FakeError("UNKNOWN_CHANNEL", "no channel c")), [404, "UNKNOWN_CHANNEL"]);
  assert.deepEqual(await statusFor(new FakeError("BAD_PRIVATE_DATA", "does not decode")), [400, "BAD_PRIVATE_DATA"]);
  assert.deepEqual(await statusFor(new FakeError("DISSEMINATION_FAILED", "Failed disseminating 1 out of 2 private dissemination plans")), [502, "DISSEMINATION_FAILED"]);
  assert.deepEqual(await statusFor(new Error("boom")), [500, "INTERNAL"]);
  failWith = undefined;

  // A GET of the path, or a peer without the service, is not this endpoint.
  assert.equal((await fetch(`http://${server.address}/v1/channels/c/private-data`)).status, 404);
  const bare = new AdminServer({
    listen: "127.0.0.1:0",
    registry: new Registry(),
    membership: () => ({ self: { endpoint: "", internalEndpoint: "", org: "", pkiId: "" }, alive: [], dead: [], channels: {} }),
    logger: silentLogger,
    now: () => new Date(0),
  });
  await bare.start();
  t.after(() => bare.stop());
  const res = await fetch(`http://${bare.address}/v1/channels/c/private-data`, { method: "POST", body: "{}" });
  assert.equal(res.status, 405);
});
