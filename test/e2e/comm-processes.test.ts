import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { tlsCaFiles } from "../../src/cli/commands/network.js";
import { PeerProcess } from "../../src/cli/peer-process.js";
import { type CryptoMaterialSummary, generateCryptoMaterial } from "../../src/crypto/index.js";

/**
 * Real processes on 127.0.0.1 with mutual TLS and MSP identities: they authenticate each other and
 * exchange 100,000 messages each way with none lost; a third process that forges its signature,
 * claims another TLS certificate, or holds an identity from an unknown CA is refused with the
 * matching error code.
 */

interface Started {
  proc: PeerProcess;
  endpoint: string;
  pkiId: string;
}

interface Stats {
  received: Record<string, { count: number }>;
  rejected: Record<string, number>;
}

const MESSAGES = 100_000;

describe("comm between processes with mutual TLS", { timeout: 300_000 }, () => {
  let root: string;
  let dir: string;
  let net: CryptoMaterialSummary;
  let rogue: CryptoMaterialSummary;
  const procs: PeerProcess[] = [];
  let a: Started;
  let b: Started;

  const node = (summary: CryptoMaterialSummary, org: number, peer: number) => {
    const o = summary.orgs.filter((x) => x.kind === "peer")[org]!;
    return { org: o, node: o.nodes[peer]! };
  };

  async function start(name: string, msp: { mspDir: string; mspId: string }, tlsDir: string, extra: string[] = []): Promise<Started> {
    const proc = new PeerProcess(name, [
      "comm",
      "peer",
      "--listen",
      "127.0.0.1:0",
      "--msp",
      msp.mspDir,
      "--msp-id",
      msp.mspId,
      "--orgs-dir",
      dir,
      "--tls-cert",
      join(tlsDir, "server.crt"),
      "--tls-key",
      join(tlsDir, "server.key"),
      "--tls-ca",
      ...tlsCaFiles(net),
      ...extra,
    ]);
    procs.push(proc);
    const ready = await proc.event("ready", 60_000);
    return { proc, endpoint: String(ready["endpoint"]), pkiId: String(ready["pkiId"]) };
  }

  const stats = async (p: Started): Promise<Stats> => (await p.proc.request({ cmd: "stats" }, "stats")) as unknown as Stats;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "fabric-gossip-e2e-"));
    dir = join(root, "net");
    net = await generateCryptoMaterial({ orgs: 2, peersPerOrg: 2, out: dir });
    // Another CA, of an MSP ID the network knows: its identities chain to nothing the peers trust.
    rogue = await generateCryptoMaterial({ orgs: 1, peersPerOrg: 1, out: join(root, "rogue") });
    const n1 = node(net, 0, 0);
    const n2 = node(net, 1, 0);
    [a, b] = await Promise.all([
      start("peer0.org1", { mspDir: n1.node.mspDir, mspId: n1.org.mspId }, n1.node.tlsDir),
      start("peer0.org2", { mspDir: n2.node.mspDir, mspId: n2.org.mspId }, n2.node.tlsDir),
    ]);
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await rm(root, { recursive: true, force: true });
  });

  it("two processes of different orgs authenticate and exchange 100,000 messages each way, none lost", async () => {
    await Promise.all([
      a.proc.request({ cmd: "blast", endpoint: b.endpoint, pkiId: b.pkiId, count: MESSAGES, size: 1024 }, "blasted", 240_000),
      b.proc.request({ cmd: "blast", endpoint: a.endpoint, pkiId: a.pkiId, count: MESSAGES, size: 1024 }, "blasted", 240_000),
    ]);
    const deadline = Date.now() + 60_000;
    let sa: Stats;
    let sb: Stats;
    for (;;) {
      [sa, sb] = await Promise.all([stats(a), stats(b)]);
      const done = sa.received[b.pkiId]?.count === MESSAGES && sb.received[a.pkiId]?.count === MESSAGES;
      if (done || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(sb.received[a.pkiId]?.count, MESSAGES, "b received every message a sent");
    assert.equal(sa.received[b.pkiId]?.count, MESSAGES, "a received every message b sent");
    assert.deepEqual(Object.keys(sa.received), [b.pkiId], "a heard only from b");
    assert.deepEqual(sa.rejected, {}, "nothing was refused");
    assert.deepEqual(sb.rejected, {}, "nothing was refused");
  });

  const refusals: { title: string; code: string; make: () => Promise<Started> }[] = [
    {
      title: "a forged signature",
      code: "BAD_SIGNATURE",
      make: () => {
        const n = node(net, 0, 1);
        return start("forger", { mspDir: n.node.mspDir, mspId: n.org.mspId }, n.node.tlsDir, ["--fault", "forge-signature"]);
      },
    },
    {
      title: "a TLS certificate hash other than the certificate it presents",
      code: "TLS_HASH_MISMATCH",
      make: () => {
        const n = node(net, 1, 1);
        return start("tls-liar", { mspDir: n.node.mspDir, mspId: n.org.mspId }, n.node.tlsDir, ["--fault", "wrong-tls-hash"]);
      },
    },
    {
      title: "an identity from a CA no org trusts",
      code: "UNKNOWN_CA",
      make: () => {
        const r = node(rogue, 0, 0);
        const tls = node(net, 0, 1).node.tlsDir;
        return start("stranger", { mspDir: r.node.mspDir, mspId: r.org.mspId }, tls);
      },
    },
  ];

  for (const r of refusals) {
    it(`a third process with ${r.title} is refused with ${r.code}`, async () => {
      const bad = await r.make();
      const before = (await stats(b)).rejected[r.code] ?? 0;
      // The bad peer may believe the dial worked (it checks b, and b is honest); b must refuse it.
      await bad.proc.request({ cmd: "blast", endpoint: b.endpoint, pkiId: b.pkiId, count: 10, size: 64 }, "blasted", 30_000).catch(() => undefined);
      const deadline = Date.now() + 15_000;
      let sb = await stats(b);
      while ((sb.rejected[r.code] ?? 0) <= before && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 100));
        sb = await stats(b);
      }
      assert.ok((sb.rejected[r.code] ?? 0) > before, `b counted a ${r.code} refusal (rejected: ${JSON.stringify(sb.rejected)})`);
      assert.equal(sb.received[bad.pkiId], undefined, "b delivered nothing from the refused peer");
      await bad.proc.stop();
    });
  }
});
