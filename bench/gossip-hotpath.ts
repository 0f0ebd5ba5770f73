/**
 * The receive hot path of a gossip node with real ECDSA (MSP crypto, 1 org x 2 peers): two
 * GossipNode on a MemoryNetwork in virtual time (no latency), connected through their comms.
 * Distinct signed alive messages of the sender, made as its discovery makes them (signed payload
 * plus the separately signed internal-endpoint secret, as sent within an org), are put on the
 * sender's stream to the receiver and go through the receiver's real path: frame, envelope decode,
 * node routing, discovery store check, signature verification, membership update, forwarding.
 *
 * (a) fresh messages: verified and dispatched per CPU second, and CPU us per message; the same
 *     without the secret envelope (as a peer of another org gets them: one signature check);
 * (b) the same messages again: dropped per CPU second; each must be dropped before any signature
 *     check (counted with an MCS wrapper): a single verification fails the benchmark.
 *
 * Only the delivery is timed (frames are encoded and queued beforehand). Rates are per CPU second
 * of this process (one core), the median over several rounds.
 *
 * Run: node --import tsx bench/gossip-hotpath.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryNetwork, MemoryTransport } from "../src/comm/memory/index.js";
import { createMspMessageCryptoService, generateCryptoMaterial, loadPeerMaterial, loadVerifierOrgs, MspVerifier } from "../src/crypto/index.js";
import { createDiscoverySecurityAdapter } from "../src/discovery/index.js";
import { createGossipNode, type GossipNode } from "../src/gossip/node/index.js";
import { silentLogger } from "../src/logging/index.js";
import { promMetricsProvider, Registry } from "../src/metrics/index.js";
import type { SignedGossipMessage } from "../src/protoext/index.js";
import { type GossipMessage, GossipMessage_Tag } from "../src/protos/gen/gossip/message.pb.js";
import { bytesEqual, ManualClock, SeededRandom } from "../src/util/index.js";
import { CountingMcs, cpuMicros } from "./gossip-kit.js";
import { isMain, median, printFigures } from "./stats.js";

const EMPTY = new Uint8Array(0);

async function counterValue(registry: Registry, name: string, reason: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const data = await metric.get();
  return data.values.filter((v) => v.labels["reason"] === reason).reduce((s, v) => s + v.value, 0);
}

export async function benchGossipHotPath(options: { perRound?: number; rounds?: number; dupRounds?: number } = {}): Promise<Record<string, number>> {
  const perRound = options.perRound ?? 2_000;
  const rounds = options.rounds ?? 5;
  const dupRounds = options.dupRounds ?? 5;
  const root = await mkdtemp(join(tmpdir(), "fabric-gossip-bench-hotpath-"));
  const nodes: GossipNode[] = [];
  try {
    const summary = await generateCryptoMaterial({ orgs: 1, peersPerOrg: 2, out: root });
    const orgs = await loadVerifierOrgs(summary.root);
    const material = await Promise.all(summary.orgs[0]!.nodes.map((n) => loadPeerMaterial(n.dir)));
    const clock = new ManualClock(Date.now());
    const network = new MemoryNetwork(clock, () => 0, { refusedDial: "immediate" });
    const endpoints = ["peer0:7051", "peer1:7051"];
    const registries = [new Registry(), new Registry()];
    const mcss = material.map((m) => createMspMessageCryptoService({ signer: m.signingIdentity, verifier: new MspVerifier(orgs, { clock }) }));
    const counting = new CountingMcs(mcss[1]!);
    for (let i = 0; i < 2; i++) {
      const mcs = i === 1 ? counting : mcss[i]!;
      nodes.push(
        createGossipNode(
          {
            transport: new MemoryTransport(network, { endpoint: endpoints[i]! }),
            mcs,
            securityAdvisor: mcs,
            selfIdentity: material[i]!.signingIdentity.serialized,
            clock,
            random: new SeededRandom(i + 1),
            logger: silentLogger,
            metrics: promMetricsProvider(registries[i]!),
          },
          { internalEndpoint: endpoints[i]!, externalEndpoint: endpoints[i]!, bootstrapPeers: i === 1 ? [endpoints[0]!] : [] },
        ),
      );
    }
    const [sender, receiver] = nodes as [GossipNode, GossipNode];
    for (const n of nodes) await n.start();
    for (let t = 0; !(receiver.peers().some((p) => bytesEqual(p.pkiId, sender.pkiId())) && sender.peers().length === 1); t += 100) {
      if (t > 60_000) throw new Error("hotpath: the two peers did not find each other within 60 s of virtual time");
      await clock.advance(100);
    }
    await clock.advance(0);

    // The sender's alive messages, signed as its discovery signs them (after the publish-cert period:
    // no identity inside; the internal endpoint in a signed secret). A later incarnation than the
    // running one, so every message is newer than anything the receiver has seen.
    const signer = createDiscoverySecurityAdapter(
      { mcs: mcss[0]!, identities: { put: () => undefined, get: () => undefined }, selfIdentity: material[0]!.signingIdentity.serialized, clock, logger: silentLogger },
      { publishCertPeriodMs: 0 },
    );
    const incNum = BigInt(Date.now() + 3_600_000) * 1_000_000n;
    const alive = (seq: number, secret = true): Uint8Array => {
      const msg: GossipMessage = {
        nonce: 0n,
        channel: EMPTY,
        tag: GossipMessage_Tag.EMPTY,
        content: {
          $case: "aliveMsg",
          value: { membership: { endpoint: endpoints[0]!, metadata: EMPTY, pkiId: sender.pkiId() }, timestamp: { incNum, seqNum: BigInt(seq) }, identity: EMPTY },
        },
      };
      const signed: SignedGossipMessage | undefined = signer.signMessage(msg, endpoints[0]!);
      if (signed === undefined) throw new Error("hotpath: signing an alive message failed");
      return secret ? signed.bytes : signed.withoutSecret().bytes;
    };
    // Warm-up round plus timed rounds, each its own run of increasing sequence numbers.
    const frames: Uint8Array[][] = [];
    let seq = 1;
    for (let r = 0; r <= rounds; r++) frames.push(Array.from({ length: perRound }, () => alive(seq++)));

    const inject = (batch: readonly Uint8Array[]): void => {
      for (const bytes of batch) {
        const streams = network.inject(endpoints[0]!, endpoints[1]!, bytes);
        if (streams !== 1) throw new Error(`hotpath: expected one stream from sender to receiver, found ${streams}`);
      }
    };
    const deliver = async (batch: readonly Uint8Array[]): Promise<{ cpuUs: number; wallMs: number; verifies: number }> => {
      inject(batch);
      const v0 = counting.verifyCalls;
      const c0 = cpuMicros();
      const t0 = performance.now();
      await clock.advance(0);
      return { cpuUs: cpuMicros() - c0, wallMs: performance.now() - t0, verifies: counting.verifyCalls - v0 };
    };

    const REJECTED = "fabric_gossip_discovery_rejected_total";
    // (a) fresh messages
    const fresh: { cpuUs: number; wallMs: number; verifies: number }[] = [];
    const stale0 = await counterValue(registries[1]!, REJECTED, "STALE");
    const invalid0 = await counterValue(registries[1]!, REJECTED, "INVALID_SIGNATURE");
    for (let r = 0; r <= rounds; r++) {
      const res = await deliver(frames[r]!);
      if (r > 0) fresh.push(res);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const verifiesPerMsg = fresh.reduce((s, f) => s + f.verifies, 0) / (rounds * perRound);
    if (verifiesPerMsg < 1) throw new Error(`hotpath: only ${verifiesPerMsg} signature checks per fresh message`);

    // (a') the same without the secret envelope (as a peer of another org receives alive messages):
    // one signature check per message.
    const noSecret: { cpuUs: number; wallMs: number; verifies: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      const batch = Array.from({ length: perRound }, () => alive(seq++, false));
      noSecret.push(await deliver(batch));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (noSecret.some((x) => x.verifies !== perRound)) throw new Error("hotpath: expected one signature check per alive message without secret");
    const staleFresh = (await counterValue(registries[1]!, REJECTED, "STALE")) - stale0;
    const invalidFresh = (await counterValue(registries[1]!, REJECTED, "INVALID_SIGNATURE")) - invalid0;
    if (staleFresh !== 0 || invalidFresh !== 0) {
      throw new Error(`hotpath: fresh alive messages were rejected (${staleFresh} stale, ${invalidFresh} bad signature): the measurement is not of the verify path`);
    }

    // (b) every message with a secret again: all already seen (older than the newest)
    const all = frames.flat();
    const dups: { cpuUs: number; wallMs: number; verifies: number }[] = [];
    const stale1 = await counterValue(registries[1]!, REJECTED, "STALE");
    for (let r = 0; r < dupRounds; r++) {
      dups.push(await deliver(all));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const dupVerifies = dups.reduce((s, d) => s + d.verifies, 0);
    if (dupVerifies !== 0) {
      throw new Error(`hotpath: ${dupVerifies} signature verifications for ${dupRounds * all.length} duplicate messages: duplicates must be dropped before verification`);
    }
    const staleDup = (await counterValue(registries[1]!, REJECTED, "STALE")) - stale1;
    if (staleDup !== dupRounds * all.length) throw new Error(`hotpath: ${staleDup} of ${dupRounds * all.length} duplicates were counted as stale`);

    const perCpuSecond = (xs: { cpuUs: number }[], n: number) => Math.round(median(xs.map((x) => n / (x.cpuUs / 1e6))));
    const perWallSecond = (xs: { wallMs: number }[], n: number) => Math.round(median(xs.map((x) => n / (x.wallMs / 1e3))));
    return {
      hotpath_alive_verified_per_cpu_s: perCpuSecond(fresh, perRound),
      hotpath_alive_verified_per_wall_s: perWallSecond(fresh, perRound),
      hotpath_alive_verified_cpu_us_per_msg: Number(median(fresh.map((f) => f.cpuUs / perRound)).toFixed(1)),
      hotpath_alive_signature_checks_per_msg: Number(verifiesPerMsg.toFixed(2)),
      hotpath_alive_envelope_bytes: frames[0]![0]!.byteLength,
      hotpath_alive_no_secret_verified_per_cpu_s: perCpuSecond(noSecret, perRound),
      hotpath_alive_no_secret_cpu_us_per_msg: Number(median(noSecret.map((f) => f.cpuUs / perRound)).toFixed(1)),
      hotpath_duplicates_dropped_per_cpu_s: perCpuSecond(dups, all.length),
      hotpath_duplicates_dropped_per_wall_s: perWallSecond(dups, all.length),
      hotpath_duplicates_cpu_us_per_msg: Number(median(dups.map((d) => d.cpuUs / all.length)).toFixed(2)),
      hotpath_duplicates_signature_checks: dupVerifies,
    };
  } finally {
    for (const n of nodes) await n.stop();
    await rm(root, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) printFigures(await benchGossipHotPath());
