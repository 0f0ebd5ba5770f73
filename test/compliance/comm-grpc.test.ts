/**
 * The Comm compliance suite over the real gRPC transport on 127.0.0.1, in real time: in plaintext
 * with the development MCS, and with mutual TLS and real MSP crypto (material generated once for
 * this file). Then what only gRPC can show: a TLS client without a certificate is refused during
 * the TLS handshake, and an identity from a CA its MSP does not trust is refused as UNKNOWN_CA.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { clientCredentials } from "../../src/comm/grpc/index.js";
import { GossipMessage_Tag } from "../../src/protos/gen/gossip/message.pb.js";
import { SignedGossipMessage } from "../../src/protoext/signed-message.js";
import { metricValue } from "../utils/comm-harness.js";
import { createGrpcCommHarness, type GrpcHarnessCrypto, prepareGrpcHarnessCrypto } from "../utils/grpc-comm-harness.js";
import { commSuite } from "./comm.suite.js";

let material: Promise<GrpcHarnessCrypto> | undefined;
/** The TLS material, generated on first use and removed when the file is done. */
function tlsMaterial(): Promise<GrpcHarnessCrypto> {
  material ??= prepareGrpcHarnessCrypto({ orgs: 2, peersPerOrg: 4 });
  return material;
}
after(async () => {
  if (material !== undefined) await (await material).cleanup();
});

// Tests wait mostly on real timeouts, not on the CPU, and each builds its own harness (own ports,
// clock, registries): the two variants run side by side, and node:test passes the concurrency
// down to their suites (about 7 s instead of 30 s here).
describe("Comm over gRPC", { concurrency: 2 }, () => {
  commSuite("gRPC transport, plaintext, development MCS", () => createGrpcCommHarness());
  commSuite("gRPC transport, mutual TLS, MSP crypto", async () => createGrpcCommHarness({ crypto: await tlsMaterial() }));
});

describe("Comm over gRPC on Node's http2", { concurrency: 2 }, () => {
  commSuite("http2 transport, plaintext, development MCS", () => createGrpcCommHarness({ transport: "http2" }));
  commSuite("http2 transport, mutual TLS, MSP crypto", async () => createGrpcCommHarness({ crypto: await tlsMaterial(), transport: "http2" }));
});

const FAST = { dialTimeoutMs: 1_000, connTimeoutMs: 1_000, handshakeTimeoutMs: 2_000 };
const REJECTED = "fabric_gossip_comm_rejected_total";

describe("gRPC transport specifics", () => {
  it("refuses a TLS client that presents no certificate during the TLS handshake, before Comm sees a stream", async (t) => {
    const h = await createGrpcCommHarness({ crypto: await tlsMaterial() });
    t.after(() => h.teardown());
    const [b] = await h.createPeers(1, { options: FAST });
    const roots = Buffer.from(h.nextTls().rootCAs);
    // The server's certificate is trusted: only the missing client certificate can fail the handshake.
    const options: grpc.ChannelOptions = {};
    const client = new grpc.Client(b!.endpoint, clientCredentials(b!.endpoint, { rootCAs: roots }, options), options);
    try {
      const ping = await new Promise<grpc.ServiceError | null>((resolve) => {
        client.makeUnaryRequest<Buffer, Buffer>(
          "/gossip.Gossip/Ping",
          (x) => x,
          (x) => x,
          Buffer.alloc(0),
          { deadline: Date.now() + 1_000 },
          (err) => resolve(err),
        );
      });
      assert.ok(ping !== null, "a certless client cannot even ping");
      assert.ok(
        ping.code === grpc.status.UNAVAILABLE || ping.code === grpc.status.DEADLINE_EXCEEDED,
        `the call fails at the connection level (got ${grpc.status[ping.code]}: ${ping.message})`,
      );
    } finally {
      client.close();
    }
    assert.equal(b!.comm.stats().connections, 0);
    assert.equal(await metricValue(b!.metrics, REJECTED), 0, "Comm never saw the stream, so it refused nothing");
    assert.equal(h.openStreams(), 0);
  });

  it("refuses a dialer whose certificate claims a known MSP but was issued by a CA that MSP does not trust (UNKNOWN_CA)", async (t) => {
    const crypto = await tlsMaterial();
    const h = await createGrpcCommHarness({ crypto });
    t.after(() => h.teardown());
    const [b] = await h.createPeers(1, { options: FAST });
    const raw = await h.rawPeerWith(crypto.unknownCa);
    const conn = await h.within("raw dial", raw.dial(b!.endpoint), 3_000);
    const hello = SignedGossipMessage.sign(
      {
        nonce: 0n,
        channel: new Uint8Array(0),
        tag: GossipMessage_Tag.EMPTY,
        content: { $case: "conn", value: { pkiId: raw.pkiId, identity: raw.identity, tlsCertHash: raw.clientCertHash ?? new Uint8Array(0), probe: false } },
      },
      (bytes) => raw.sign(bytes),
    );
    await conn.write(hello.bytes);
    await h.waitFor("b to close the stream", () => conn.closed, 3_000);
    assert.equal(await metricValue(b!.metrics, REJECTED, { code: "UNKNOWN_CA" }), 1);
    assert.equal(b!.comm.stats().connections, 0);
  });
});
