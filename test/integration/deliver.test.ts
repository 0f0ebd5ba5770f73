/**
 * The deliver client over real gRPC on 127.0.0.1 against two fake AtomicBroadcast Deliver servers
 * (raw bytes, `/orderer.AtomicBroadcast/Deliver`): in-order delivery, rejection of a forged block
 * and of a broken hash chain with failover and resumption, one server down, all servers down past
 * reconnectTotalTimeThreshold, and a clean stop.
 */
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import {
  createDeliverClient,
  DELIVER_BLOCKS_REJECTED_METRIC,
  DELIVER_METHOD,
  DeliverClientImpl,
  type DeliverClientOptions,
} from "../../src/deliver/index.js";
import { createCa, issueCertificate } from "../../src/crypto/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { type Counter, createRegistry, promMetricsProvider, type Registry } from "../../src/metrics/index.js";
import { Block, ChannelHeader, Envelope, Payload } from "../../src/protos/gen/common/common.pb.js";
import { passBytes, takeBytes } from "../../src/comm/grpc/index.js";
import { SystemClock } from "../../src/util/index.js";
import {
  blockResponse,
  CHANNEL,
  FakeLedger,
  FakeMcs,
  fakeSigner,
  firstPickRandom,
  makeChain,
  seekStart,
  withBadSignature,
  withBrokenChain,
} from "../unit/deliver/helpers.js";


const DELIVER_SERVICE: grpc.ServiceDefinition = {
  Deliver: {
    path: DELIVER_METHOD,
    requestStream: true,
    responseStream: true,
    requestSerialize: passBytes,
    requestDeserialize: takeBytes,
    responseSerialize: passBytes,
    responseDeserialize: takeBytes,
  },
};

/** A fake orderer: serves `chain` from the SeekInfo start (some blocks replaced), then blocks until cancelled. */
class FakeDeliverServer {
  readonly server = new grpc.Server();
  readonly seeks: bigint[] = [];
  /** Per request: the channel header's tls_cert_hash and SHA-256 of the TLS client certificate the server saw. */
  readonly bindings: { claimed: Uint8Array; seen: Uint8Array | undefined }[] = [];
  readonly open = new Set<grpc.ServerDuplexStream<Uint8Array, Uint8Array>>();
  address = "";

  constructor(
    private readonly chain: readonly Block[],
    private readonly replace: ReadonlyMap<number, Block> = new Map(),
  ) {
    this.server.addService(DELIVER_SERVICE, {
      Deliver: (call: grpc.ServerDuplexStream<Uint8Array, Uint8Array>) => {
        this.open.add(call);
        const done = (): void => {
          this.open.delete(call);
        };
        call.on("cancelled", done);
        call.on("close", done);
        call.on("error", done);
        call.once("data", (env: Uint8Array) => {
          const start = seekStart(env);
          const header = ChannelHeader.decode(Payload.decode(Envelope.decode(env).payload).header!.channelHeader);
          const peerCert = call.getAuthContext()?.sslPeerCertificate?.raw;
          this.bindings.push({
            claimed: header.tlsCertHash,
            seen: peerCert === undefined ? undefined : new Uint8Array(createHash("sha256").update(peerCert).digest()),
          });
          this.seeks.push(start);
          for (let i = Number(start); i < this.chain.length; i++) call.write(blockResponse(this.replace.get(i) ?? this.chain[i]!));
        });
      },
    });
  }

  async listen(creds = grpc.ServerCredentials.createInsecure()): Promise<string> {
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.address = `127.0.0.1:${port}`;
    return this.address;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

/** A port nothing listens on (bound, then released). */
async function deadAddress(): Promise<string> {
  const s = new FakeDeliverServer([]);
  const addr = await s.listen();
  s.stop();
  return addr;
}

async function eventually(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function rejected(registry: Registry, reason: string): Promise<number> {
  const m = registry.getSingleMetric(DELIVER_BLOCKS_REJECTED_METRIC) as Counter<string> | undefined;
  return (await m?.get())?.values.find((v) => v.labels["reason"] === reason)?.value ?? 0;
}

function makeClient(
  endpoints: string[],
  ledger: FakeLedger,
  options: Partial<DeliverClientOptions> = {},
  onGiveUp?: () => void,
): { client: DeliverClientImpl; registry: Registry; clock: SystemClock } {
  const registry = createRegistry();
  const clock = new SystemClock();
  const client = new DeliverClientImpl(
    {
      channel: CHANNEL,
      endpoints,
      signer: fakeSigner,
      mcs: new FakeMcs(),
      ledgerHeight: ledger.height,
      onBlock: ledger.onBlock,
      blockHashAt: ledger.blockHashAt,
      ...(onGiveUp !== undefined ? { onGiveUp } : {}),
      clock,
      random: firstPickRandom(),
      logger: silentLogger,
      metrics: promMetricsProvider(registry),
    },
    { initialBackoffMs: 20, connTimeoutMs: 500, ...options },
  );
  return { client, registry, clock };
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe("deliver client over gRPC", () => {
  test("blocks flow in order into onBlock", async (t) => {
    const chain = makeChain(30);
    const a = new FakeDeliverServer(chain);
    t.after(() => a.stop());
    const ledger = new FakeLedger(chain[0]!);
    const { client, clock } = makeClient([await a.listen()], ledger);
    t.after(() => client.stop());
    await client.start();
    await eventually(() => ledger.blocks.length === chain.length);
    assert.deepEqual(ledger.numbers(), range(30));
    for (let i = 1; i < chain.length; i++) assert.deepEqual(ledger.bytes[i], Block.encode(chain[i]!).finish());
    assert.deepEqual(a.seeks, [1n]);
    await client.stop();
    await eventually(() => a.open.size === 0);
    assert.equal(clock.pendingTimers(), 0);
  });

  test("a forged block and a broken hash chain are rejected, counted, never delivered; failover resumes at the right height", async (t) => {
    const chain = makeChain(25);
    const a = new FakeDeliverServer(chain, new Map([[5, withBadSignature(chain[5]!)]]));
    const b = new FakeDeliverServer(chain, new Map([[12, withBrokenChain(chain[12]!)]]));
    t.after(() => a.stop());
    t.after(() => b.stop());
    const ledger = new FakeLedger(chain[0]!);
    // firstPickRandom: the first connection goes to a, every failover to the other server.
    const { client, registry } = makeClient([await a.listen(), await b.listen()], ledger);
    t.after(() => client.stop());
    await client.start();
    await eventually(() => ledger.blocks.length === chain.length);
    assert.deepEqual(ledger.numbers(), range(25));
    for (let i = 1; i < chain.length; i++) assert.deepEqual(ledger.bytes[i], Block.encode(chain[i]!).finish(), `block ${i} is the genuine one`);
    assert.deepEqual(a.seeks, [1n, 12n]);
    assert.deepEqual(b.seeks, [5n]);
    assert.equal(await rejected(registry, "verify_failed"), 1);
    assert.equal(await rejected(registry, "hash_chain"), 1);
    await client.stop();
    await eventually(() => a.open.size === 0 && b.open.size === 0);
  });

  test("one server down: the other is used; a server dying mid-stream fails over and resumes", async (t) => {
    const chain = makeChain(15);
    const dead = await deadAddress();
    const b = new FakeDeliverServer(chain.slice(0, 8));
    t.after(() => b.stop());
    const ledger = new FakeLedger(chain[0]!);
    const { client } = makeClient([dead, await b.listen()], ledger);
    t.after(() => client.stop());
    await client.start();
    await eventually(() => ledger.blocks.length === 8);
    assert.equal(client.currentEndpoint(), b.address);
    const c = new FakeDeliverServer(chain);
    t.after(() => c.stop());
    const cAddr = await c.listen();
    client.updateEndpoints([b.address, cAddr]);
    b.stop();
    await eventually(() => ledger.blocks.length === chain.length);
    assert.deepEqual(ledger.numbers(), range(15));
    assert.deepEqual(c.seeks, [8n]);
  });

  test("all servers down for longer than reconnectTotalTimeThreshold: onGiveUp is called", async (t) => {
    const ledger = new FakeLedger(makeChain(1)[0]!);
    let gaveUp = 0;
    const { client, clock } = makeClient([await deadAddress(), await deadAddress()], ledger, { reconnectTotalTimeThresholdMs: 600, connTimeoutMs: 100 }, () => {
      gaveUp++;
    });
    t.after(() => client.stop());
    const started = Date.now();
    await client.start();
    await eventually(() => gaveUp === 1);
    assert.ok(Date.now() - started >= 400, "it kept trying for about the threshold");
    assert.ok(client.gaveUp());
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(gaveUp, 1);
    await client.stop();
    assert.equal(clock.pendingTimers(), 0);
  });

  test("mutual TLS: blocks flow, and the SeekInfo carries the hash of the client certificate the orderer saw", async (t) => {
    const ca = await createCa({ commonName: "tlsca.example.com", organization: "example.com" });
    const server = await issueCertificate({ ca, commonName: "orderer0.example.com", kind: "tls", dnsNames: ["localhost", "orderer0.example.com"], ipAddresses: ["127.0.0.1"] });
    const clientCert = await issueCertificate({ ca, commonName: "peer0.org1.example.com", kind: "tls" });
    const chain = makeChain(10);
    const a = new FakeDeliverServer(chain);
    t.after(() => a.stop());
    const creds = grpc.ServerCredentials.createSsl(Buffer.from(ca.certPem), [{ private_key: Buffer.from(server.keyPem), cert_chain: Buffer.from(server.certPem) }], true);
    const addr = await a.listen(creds);
    const ledger = new FakeLedger(chain[0]!);
    const registry = createRegistry();
    const client = createDeliverClient(
      {
        channel: CHANNEL,
        endpoints: [addr],
        tls: { rootCAs: ca.certPem, cert: clientCert.certPem, key: clientCert.keyPem, serverNameOverride: "orderer0.example.com" },
        signer: fakeSigner,
        mcs: new FakeMcs(),
        ledgerHeight: ledger.height,
        onBlock: ledger.onBlock,
        clock: new SystemClock(),
        random: firstPickRandom(),
        logger: silentLogger,
        metrics: promMetricsProvider(registry),
      },
      { initialBackoffMs: 20, connTimeoutMs: 2_000 },
    );
    t.after(() => client.stop());
    await client.start();
    await eventually(() => ledger.blocks.length === chain.length);
    const expected = new Uint8Array(createHash("sha256").update(new X509Certificate(clientCert.certPem).raw).digest());
    assert.equal(a.bindings.length, 1);
    assert.deepEqual(a.bindings[0]!.claimed, expected);
    assert.deepEqual(a.bindings[0]!.seen, expected);
    await client.stop();
    await eventually(() => a.open.size === 0);
  });

  test("stop() while dialing returns at once and leaves nothing running", async (t) => {
    const ledger = new FakeLedger(makeChain(1)[0]!);
    const { client, clock } = makeClient([await deadAddress()], ledger, { connTimeoutMs: 2_000 });
    t.after(() => client.stop());
    await client.start();
    await new Promise((r) => setTimeout(r, 150));
    const before = Date.now();
    await client.stop();
    assert.ok(Date.now() - before < 1_000, "stop() did not wait for the dial deadline");
    assert.equal(clock.pendingTimers(), 0);
    assert.equal(client.currentEndpoint(), undefined);
  });
});
