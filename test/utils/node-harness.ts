import assert from "node:assert/strict";
import type { MessageCryptoService, SecurityAdvisor } from "../../src/api/index.js";
import { MemoryNetwork, MemoryTransport } from "../../src/comm/memory/index.js";
import { CryptoError } from "../../src/crypto/index.js";
import type { JoinChannelMessage } from "../../src/gossip/channel/index.js";
import { createGossipNode, type GossipNode, type GossipNodeOptions } from "../../src/gossip/node/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { memoryMetricsProvider } from "../../src/metrics/index.js";
import type { Block } from "../../src/protos/gen/common/common.pb.js";
import { bytesEqual, fromUtf8, ManualClock, SeededRandom, utf8 } from "../../src/util/index.js";

/**
 * Test crypto with orgs: an identity is "<org>|<endpoint>" and is its own PKI-ID; a signature
 * equals the signed bytes (as Fabric's gossip test crypto); identities listed in `revoked` fail.
 */
export class OrgTestCrypto implements MessageCryptoService, SecurityAdvisor {
  readonly revoked = new Set<string>();
  verifyBlockCalls = 0;

  getPKIidOfCert(identity: Uint8Array): Uint8Array {
    return identity;
  }
  verifyBlock(_channel: string, _seq: bigint, _block: Block): void {
    this.verifyBlockCalls++;
  }
  sign(msg: Uint8Array): Uint8Array {
    return msg;
  }
  verify(identity: Uint8Array, signature: Uint8Array, message: Uint8Array): void {
    this.validateIdentity(identity);
    if (!bytesEqual(signature, message)) throw new CryptoError("BAD_SIGNATURE", "signature is not the signed bytes");
  }
  verifyByChannel(_channel: string, identity: Uint8Array, signature: Uint8Array, message: Uint8Array): void {
    this.verify(identity, signature, message);
  }
  validateIdentity(identity: Uint8Array): void {
    const s = fromUtf8(identity);
    if (!s.includes("|")) throw new CryptoError("MALFORMED_IDENTITY", `not an org|endpoint identity: ${s}`);
    if (this.revoked.has(s)) throw new CryptoError("REVOKED_IDENTITY", `${s} is revoked`);
  }
  expiration(): Date | undefined {
    return undefined;
  }
  orgByPeerIdentity(identity: Uint8Array): Uint8Array {
    const s = fromUtf8(identity);
    const i = s.indexOf("|");
    return i < 0 ? new Uint8Array(0) : utf8(s.slice(0, i));
  }
}

export interface HarnessPeer {
  name: string;
  org: string;
  endpoint: string;
  node: GossipNode;
}

/** Fast but Fabric-proportioned timers for tests that run many virtual seconds. */
export const TEST_NODE_OPTIONS: Partial<GossipNodeOptions> = {};

/** N gossip nodes over an in-memory network in virtual time. */
export class NodeHarness {
  readonly clock = new ManualClock(1_700_000_000_000);
  readonly network: MemoryNetwork;
  readonly crypto = new OrgTestCrypto();
  readonly peers: HarnessPeer[] = [];
  #seed = 1;

  constructor(latencyMs = 1) {
    this.network = new MemoryNetwork(this.clock, () => latencyMs, { refusedDial: "immediate" });
  }

  async add(name: string, org: string, options: Partial<GossipNodeOptions> = {}, start = true): Promise<HarnessPeer> {
    const endpoint = `${name}:7051`;
    const identity = utf8(`${org}|${endpoint}`);
    const node = createGossipNode(
      {
        transport: new MemoryTransport(this.network, { endpoint }),
        mcs: this.crypto,
        securityAdvisor: this.crypto,
        selfIdentity: identity,
        clock: this.clock,
        random: new SeededRandom(this.#seed++),
        logger: silentLogger,
        metrics: memoryMetricsProvider(),
      },
      { internalEndpoint: endpoint, ...TEST_NODE_OPTIONS, ...options },
    );
    const peer = { name, org, endpoint, node };
    this.peers.push(peer);
    if (start) await node.start();
    return peer;
  }

  /** Advances virtual time. */
  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  /** Advances in steps until `pred` holds; returns the virtual ms it took, or fails after `limitMs`. */
  async until(what: string, pred: () => boolean, limitMs: number, stepMs = 100): Promise<number> {
    const start = this.clock.now();
    while (!pred()) {
      if (this.clock.now() - start > limitMs) assert.fail(`${what}: not within ${limitMs} ms of virtual time`);
      await this.clock.advance(stepMs);
    }
    return this.clock.now() - start;
  }

  async stopAll(): Promise<void> {
    for (const p of this.peers) await p.node.stop();
    assert.equal(this.clock.pendingTimers(), 0, "no timer left after every node stopped");
    assert.equal(this.network.openStreamCount(), 0, "no stream left open");
  }
}

/** A channel definition: the orgs and their anchor peers. */
export function joinMessage(orgs: string[], anchors: Record<string, string[]> = {}, sequenceNumber = 1): JoinChannelMessage {
  return {
    sequenceNumber,
    members: () => orgs.map((o) => utf8(o)),
    anchorPeersOf: (org) =>
      (anchors[fromUtf8(org)] ?? []).map((e) => {
        const [host, port] = e.split(":");
        return { host: host!, port: Number(port) };
      }),
  };
}
