/**
 * Comm keeps no identity map of its own: a connected peer's identity is on its connection, a
 * former peer's is the identity mapper's (`identityOf`). So what comm knows of a peer that left
 * lives exactly as long as the mapper keeps it: a restarted peer with a new certificate of the same
 * org is a rotation while the mapper remembers the old identity, and is refused once it purged it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PKIidType, PeerIdentityType } from "../../../src/api/index.js";
import { type Comm, CommError, createComm } from "../../../src/comm/index.js";
import { MemoryNetwork, MemoryTransport } from "../../../src/comm/memory/index.js";
import { DevMessageCryptoService } from "../../../src/crypto/index.js";
import { silentLogger } from "../../../src/logging/index.js";
import { memoryMetricsProvider } from "../../../src/metrics/index.js";
import { GossipMessage_Tag } from "../../../src/protos/gen/gossip/message.pb.js";
import { SignedGossipMessage } from "../../../src/protoext/index.js";
import { bytesEqual, ManualClock, SeededRandom, toHex, utf8 } from "../../../src/util/index.js";

const B_ENDPOINT = "b.org1.example.com:7051";

function ping(seq: number): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: utf8("ch"),
    tag: GossipMessage_Tag.EMPTY,
    content: { $case: "dataMsg", value: { payload: { seqNum: BigInt(seq), data: new Uint8Array(4), privateData: [] } } },
  });
}

/** A stand-in identity mapper: what comm's handshakes put, until `purge`. */
class Mapper {
  readonly #ids = new Map<string, PeerIdentityType>();
  put(pkiId: PKIidType, identity: PeerIdentityType): void {
    this.#ids.set(toHex(pkiId), identity);
  }
  get(pkiId: PKIidType): PeerIdentityType | undefined {
    return this.#ids.get(toHex(pkiId));
  }
  purge(pkiId: PKIidType): void {
    this.#ids.delete(toHex(pkiId));
  }
}

async function setup(t: import("node:test").TestContext) {
  const clock = new ManualClock();
  const network = new MemoryNetwork(clock);
  const mcs = new DevMessageCryptoService();
  const mapper = new Mapper();
  const comms: Comm[] = [];
  const peer = async (endpoint: string, identity: string, withMapper = false): Promise<Comm> => {
    const comm = createComm({
      transport: new MemoryTransport(network, { endpoint }),
      clock,
      random: new SeededRandom(comms.length + 1),
      logger: silentLogger,
      metrics: memoryMetricsProvider(),
      mcs,
      securityAdvisor: mcs,
      selfIdentity: utf8(identity),
      ...(withMapper ? { onIdentity: (p: PKIidType, id: PeerIdentityType) => mapper.put(p, id), identityOf: (p: PKIidType) => mapper.get(p) } : {}),
    });
    await comm.start();
    comms.push(comm);
    return comm;
  };
  t.after(async () => {
    for (const c of comms) await c.stop();
  });
  const settle = async (what: string, cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !cond(); i++) await clock.advance(10);
    assert.ok(cond(), what);
  };
  /** Runs virtual time until `p` settles. */
  const drive = async <T>(p: Promise<T>): Promise<T> => {
    let settled = false;
    p.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (let i = 0; i < 1000 && !settled; i++) await clock.advance(10);
    return p;
  };
  return { clock, mapper, peer, settle, drive };
}

test("a former peer's identity lives in the identity mapper: a same-org rotation is recognized until the mapper purges it", async (t) => {
  const { mapper, peer, settle, drive } = await setup(t);
  const a = await peer("a.org1.example.com:7051", "a-identity", true);
  const oldB = await peer(B_ENDPOINT, "b-identity-1");
  const oldPki = oldB.getPKIid();
  const switched: PKIidType[] = [];
  a.onIdentitySwitch((id) => switched.push(id));

  await drive(a.sendAndWait(ping(1), { endpoint: B_ENDPOINT, pkiId: oldPki }));
  assert.deepEqual(mapper.get(oldPki), utf8("b-identity-1"), "the handshake put B's identity into the mapper");
  await oldB.stop();
  await settle("a sees B's connection close", () => a.connectedPeers().length === 0);

  // B comes back with a new certificate of the same org; A still dials it by the old PKI-ID.
  const newB = await peer(B_ENDPOINT, "b-identity-2");
  await drive(a.sendAndWait(ping(2), { endpoint: B_ENDPOINT, pkiId: oldPki }));
  assert.ok(switched.some((id) => bytesEqual(id, oldPki)), "a rotation: the listeners heard the old PKI-ID");
  assert.ok(a.connectedPeers().some((id) => bytesEqual(id, newB.getPKIid())));

  // Once the mapper purged the old identity, comm has nothing left of it: the same dial is refused.
  await newB.stop();
  await settle("a sees the new B's connection close", () => a.connectedPeers().length === 0);
  mapper.purge(oldPki);
  await peer(B_ENDPOINT, "b-identity-3");
  await assert.rejects(drive(a.sendAndWait(ping(3), { endpoint: B_ENDPOINT, pkiId: oldPki })), (e: unknown) => e instanceof CommError && e.code === "UNEXPECTED_PEER");
});

test("without an identity mapper, comm remembers no identity of a peer whose connection closed", async (t) => {
  const { peer, settle, drive } = await setup(t);
  const a = await peer("a.org1.example.com:7051", "a-identity");
  const oldB = await peer(B_ENDPOINT, "b-identity-1");
  const oldPki = oldB.getPKIid();
  await drive(a.sendAndWait(ping(1), { endpoint: B_ENDPOINT, pkiId: oldPki }));
  await oldB.stop();
  await settle("a sees B's connection close", () => a.connectedPeers().length === 0);
  await peer(B_ENDPOINT, "b-identity-2");
  await assert.rejects(drive(a.sendAndWait(ping(2), { endpoint: B_ENDPOINT, pkiId: oldPki })), (e: unknown) => e instanceof CommError && e.code === "UNEXPECTED_PEER");
});
