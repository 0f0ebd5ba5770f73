import assert from "node:assert/strict";
import { test } from "node:test";
import { PeerStartError, planPeerStart } from "../../../src/cli/commands/peer.js";
import { silentLogger } from "../../../src/logging/index.js";

const base = { listen: "127.0.0.1:7051", insecureDevCrypto: true };

test("--grpc-transport: http2 or grpc-js reach the peer's options; absent leaves the library's default; anything else is refused naming the flag", async () => {
  assert.equal((await planPeerStart({ ...base, grpcTransport: "grpc-js" }, {}, silentLogger)).options.grpcTransport, "grpc-js");
  assert.equal((await planPeerStart({ ...base, grpcTransport: "http2" }, {}, silentLogger)).options.grpcTransport, "http2");
  assert.equal((await planPeerStart(base, {}, silentLogger)).options.grpcTransport, undefined);
  await assert.rejects(
    planPeerStart({ ...base, grpcTransport: "grpc-go" }, {}, silentLogger),
    (e: unknown) => e instanceof PeerStartError && /--grpc-transport grpc-go: .*grpc-js or http2/.test(e.message),
  );
});
