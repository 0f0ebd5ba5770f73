import assert from "node:assert/strict";
import { test } from "node:test";
import { pkiHex } from "../../../../src/api/index.js";
import { createComm } from "../../../../src/comm/index.js";
import { MemoryNetwork, MemoryTransport } from "../../../../src/comm/memory/index.js";
import { DevMessageCryptoService } from "../../../../src/crypto/index.js";
import { CertStore, type CertStoreOptions } from "../../../../src/gossip/certstore/index.js";
import { createIdentityMapper } from "../../../../src/identity/index.js";
import { silentLogger } from "../../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../../src/metrics/index.js";
import { GossipMessage_Tag, PullMsgType } from "../../../../src/protos/gen/gossip/message.pb.js";
import { isPullMsg, type ReceivedMessage, SignedGossipMessage } from "../../../../src/protoext/index.js";
import { ManualClock, SeededRandom, utf8 } from "../../../../src/util/index.js";

const OPTIONS = { pullIntervalMs: 4000, pullPeerNum: 3, digestWaitTimeMs: 1000, requestWaitTimeMs: 1500, responseWaitTimeMs: 2000 };

async function setup(n: number, t: { after: (fn: () => Promise<void>) => void }, options: CertStoreOptions = OPTIONS, latencyMs: () => number = () => 1) {
  const clock = new ManualClock(0);
  const net = new MemoryNetwork(clock, latencyMs);
  const mcs = new DevMessageCryptoService();
  const peers = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const endpoint = `p${i}:7051`;
      const identity = utf8(endpoint);
      const comm = createComm({
        transport: new MemoryTransport(net, { endpoint }),
        clock,
        random: new SeededRandom(i),
        logger: silentLogger,
        metrics: memoryMetricsProvider(),
        mcs,
        securityAdvisor: mcs,
        selfIdentity: identity,
      });
      const idMapper = createIdentityMapper({ mcs, securityAdvisor: mcs, selfIdentity: identity, clock, logger: silentLogger });
      return { endpoint, identity, comm, idMapper, store: undefined as CertStore | undefined };
    }),
  );
  for (const [i, p] of peers.entries()) {
    p.store = new CertStore(
      {
        idMapper: p.idMapper,
        mcs,
        selfIdentity: p.identity,
        clock,
        random: new SeededRandom(100 + i),
        logger: silentLogger,
        send: (msg, ...to) => p.comm.send(msg, ...to),
        membership: () => peers.filter((q) => q !== p).map((q) => ({ endpoint: q.endpoint, pkiId: q.identity })),
        egressFilter: () => () => true,
      },
      options,
    );
    p.comm.accept(
      (m) => isPullMsg(m.message.message) && m.message.message.tag === GossipMessage_Tag.EMPTY,
      (m) => p.store!.handleMessage(m),
    );
    await p.comm.start();
    await p.idMapper.start();
    await p.store.start();
  }
  t.after(async () => {
    for (const p of peers) {
      await p.store!.stop();
      await p.idMapper.stop();
      await p.comm.stop();
    }
    assert.equal(clock.pendingTimers(), 0, "nothing left running");
  });
  return { clock, peers, mcs };
}

test("every peer learns every identity by pull within a few pull rounds", async (t) => {
  const { clock, peers } = await setup(5, t);
  for (const p of peers) assert.equal(p.idMapper.identityInfo().length, 1, "only itself at first");
  await clock.advance(3 * (OPTIONS.pullIntervalMs + OPTIONS.responseWaitTimeMs));
  for (const p of peers) {
    const known = p.idMapper.identityInfo().map((i) => pkiHex(i.pkiId)).sort();
    assert.deepEqual(known, peers.map((q) => pkiHex(q.identity)).sort(), `${p.endpoint} knows everyone`);
  }
});

test("over links slower than the tuned digest wait, identities are pulled only when the waits follow the round trip", async (t) => {
  // The tuned set's waits (made for 1 ms links) and 20-40 ms each way: a digest comes back after the fixed wait ended.
  const tuned = { ...OPTIONS, digestWaitTimeMs: 10, requestWaitTimeMs: 20, responseWaitTimeMs: 50 };
  const learned = async (followRtt: boolean): Promise<number[]> => {
    const random = new SeededRandom(7);
    const { clock, peers } = await setup(4, t, { ...tuned, followRtt }, () => 20 + random.int(21));
    await clock.advance(5 * tuned.pullIntervalMs);
    return peers.map((p) => p.idMapper.identityInfo().length);
  };
  assert.deepEqual(await learned(false), [1, 1, 1, 1], "fixed waits: every round ends before a digest arrives");
  assert.deepEqual(await learned(true), [4, 4, 4, 4], "waits that follow the round trip: everyone learns everyone");
});

test("an identity update reaches the pull mediator only when every element is valid", async () => {
  const clock = new ManualClock(0);
  const mcs = new DevMessageCryptoService();
  const self = utf8("p0:7051");
  const idMapper = createIdentityMapper({ mcs, securityAdvisor: mcs, selfIdentity: self, clock, logger: silentLogger });
  const handled: string[] = [];
  const fakeMediator = {
    start: async () => {},
    stop: async () => {},
    registerMsgHook: () => {},
    add: () => {},
    remove: () => {},
    handleMessage: (m: ReceivedMessage) => handled.push(m.message.message.content?.$case ?? ""),
    itemIds: () => [],
    get: () => undefined,
  };
  const store = new CertStore(
    { idMapper, mcs, selfIdentity: self, clock, random: new SeededRandom(1), logger: silentLogger, send: () => {}, membership: () => [], egressFilter: () => () => true, createMediator: () => fakeMediator },
    OPTIONS,
  );
  const identityMsg = (pki: string, cert: string, sign: (m: Uint8Array) => Uint8Array = (m) => m) =>
    SignedGossipMessage.sign(
      { nonce: 0n, channel: new Uint8Array(), tag: GossipMessage_Tag.EMPTY, content: { $case: "peerIdentity", value: { pkiId: utf8(pki), cert: utf8(cert), metadata: new Uint8Array() } } },
      sign,
    ).envelope;
  const received = (...data: ReturnType<typeof identityMsg>[]): ReceivedMessage => ({
    message: SignedGossipMessage.noopSign({ nonce: 0n, channel: new Uint8Array(), tag: GossipMessage_Tag.EMPTY, content: { $case: "dataUpdate", value: { nonce: 1n, data, msgType: PullMsgType.IDENTITY_MSG } } }),
    connectionInfo: { id: utf8("p1:7051"), identity: utf8("p1:7051"), endpoint: "p1:7051", auth: undefined },
    respond: () => {},
    ack: () => {},
  });
  store.handleMessage(received(identityMsg("x:1", "x:1"), identityMsg("y:1", "y:1")));
  assert.deepEqual(handled, ["dataUpdate"], "a valid update goes on");
  store.handleMessage(received(identityMsg("x:1", "x:1"), identityMsg("y:1", "z:1")));
  store.handleMessage(received(identityMsg("x:1", "x:1"), identityMsg("y:1", "y:1", () => utf8("forged"))));
  assert.deepEqual(handled, ["dataUpdate"], "a PKI-ID mismatch or a bad signature drops the whole update");
  await idMapper.stop();
  await store.stop();
});
