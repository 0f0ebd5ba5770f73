/**
 * A failed dial toward an orderer names its cause: gRPC says only "Failed to connect before the
 * deadline", and the connector's diagnosis (comm/grpc diagnoseTlsDial) adds why, with its code.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DeliverError, type DeliverTlsOptions, fetchBlock } from "../../src/deliver/index.js";
import { tlsOrdererSetup } from "../utils/tls-orderer.js";

test("fetchBlock against a mutual-TLS orderer names the TLS mistake: unknown CA, plaintext, no client certificate", async (t) => {
  const { clock, fx, make, memberTls } = await tlsOrdererSetup(t, { batchSize: 10, batchTimeoutMs: 200 });
  const orderer = make("127.0.0.1:0");
  await orderer.start();
  t.after(() => orderer.stop());
  const endpoint = orderer.address;
  const fails = async (tls: DeliverTlsOptions | undefined, code: RegExp): Promise<void> => {
    await assert.rejects(
      fetchBlock({ channel: "ch1", number: 0n, endpoints: [endpoint], signer: fx.member, ...(tls !== undefined ? { tls } : {}), clock, connTimeoutMs: 1_000 }),
      (e: unknown) => {
        assert.ok(e instanceof DeliverError && e.code === "FETCH_FAILED", String(e));
        assert.match(e.message, /Failed to connect before the deadline/);
        assert.match(e.message, code);
        return true;
      },
    );
  };
  // The orderer's TLS CA not given: the member's own TLS CA only.
  await fails({ ...memberTls, rootCAs: fx.tls.member.ca }, /\[UNKNOWN_AUTHORITY: [A-Z_]+\]; add the TLS CA of the orderer's org/);
  // Plaintext against TLS.
  await fails(undefined, /orderer at .* speaks TLS, and this side dialed it in plaintext \[TLS_SERVER\]/);
  // TLS without a client pair, toward an orderer that requires one.
  await fails({ rootCAs: memberTls.rootCAs }, /\[CLIENT_CERT_REQUIRED: /);
  // Nothing listens.
  await assert.rejects(
    fetchBlock({ channel: "ch1", number: 0n, endpoints: ["127.0.0.1:1"], signer: fx.member, tls: memberTls, clock, connTimeoutMs: 500 }),
    /nothing listens on 127\.0\.0\.1:1 \(connection refused\) \[CONNECTION_REFUSED: ECONNREFUSED\]/,
  );
});
