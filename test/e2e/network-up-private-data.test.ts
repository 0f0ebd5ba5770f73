import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { channelConfigFromBlock, createChannelBundle, decodeBlock } from "../../src/channelconfig/index.js";
import { openBlockStore } from "../../src/ledger/index.js";
import { silentLogger } from "../../src/logging/index.js";
import { createCollectionStore, openPvtDataStore, privateDataNeeds, pvtRwsetHashMatches, validateBlockTransactions } from "../../src/privdata/index.js";
import type { Block } from "../../src/protos/gen/common/common.pb.js";
import { SystemClock } from "../../src/util/index.js";
import { BIN, CODE_UNDER_TEST_ENV } from "../utils/cli.js";
import { FAST_GOSSIP_ENV, fastElectionEnv } from "../utils/fast-timers.js";

/**
 * `network up --private-data` as a user runs it: the feeder's first transaction defines pvtcc with collOrg1
 * (Org1) and collBoth (both orgs, blockToLive 3), every next one writes private data distributed through
 * Org1's peer0 before it is sent. Afterwards, from the network folder: every block of the orderer's chain
 * validates as a Fabric peer would flag it (all VALID, the definition learned from block 1), and each peer's
 * private data store holds exactly what its org may hold: Org1's peers every collOrg1 write set, no Org2
 * peer any, every peer the collBoth write sets not yet expired, and none of those expired; each matching its
 * block's hash. The run's own account (`privateData`, from every peer's admin endpoint before the processes
 * stopped) says the same: each eligible peer committed every write set written, none missing, none leaked,
 * and collBoth's early ones purged on every peer.
 */

const FAST_ENV: Record<string, string> = {
  ...fastElectionEnv({ leaderAliveThreshold: "3s", leaderElectionDuration: "1s" }),
  ...FAST_GOSSIP_ENV,
  CORE_PEER_GOSSIP_STATE_CHECKINTERVAL: "2s",
};

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...CODE_UNDER_TEST_ENV, ...FAST_ENV } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

async function blocksOf(dir: string): Promise<Block[]> {
  const store = await openBlockStore(dir, {}, { logger: silentLogger });
  try {
    const out: Block[] = [];
    for await (const b of store.iterate(0n, store.height())) out.push(b);
    return out;
  } finally {
    await store.close();
  }
}

test("network up --private-data: valid transactions, and private data only where its collection admits it", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fg-pvt-net-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const netDir = join(dir, "net");
  const r = await run(["network", "up", "--orgs", "2", "--peers-per-org", "2", "--blocks", "8", "--json", "--private-data", "--dir", netDir]);
  assert.equal(r.code, 0, `exit code; stderr:\n${r.stderr.split("\n").slice(-20).join("\n")}`);
  const result = JSON.parse(r.stdout.trim()) as {
    sameChain: boolean;
    txs: { sent: number; succeeded: number; failed: number };
    privateDataFed: { chaincode: string; collections: string[]; written: Record<string, number>; unsent: Record<string, number>; distributionFailed: number };
    privateData: {
      collections: string[];
      written: Record<string, number>;
      committed: Record<string, Record<string, number>>;
      missing: Record<string, Record<string, number>>;
      leaked: number;
      purged: Record<string, number>;
      errors?: string[];
    };
  };
  assert.equal(result.sameChain, true);
  assert.equal(result.txs.failed, 0);
  assert.equal(result.privateDataFed.distributionFailed, 0);
  assert.deepEqual(result.privateDataFed.collections, ["collOrg1", "collBoth"]);
  const written = result.privateDataFed.written;
  assert.ok((written.collOrg1 ?? 0) > 0 && (written.collBoth ?? 0) > 0, JSON.stringify(written));
  // A transaction whose write set was handed over as feeding stopped is never sent (an endorsement never submitted).
  assert.ok((written.collOrg1 ?? 0) + (written.collBoth ?? 0) + 1 >= result.txs.succeeded, "one definition, then one private write each");

  // The chain, as the orderer cut it, validated as a Fabric peer validates it.
  const blocks = await blocksOf(join(netDir, "orderer", "mychannel"));
  const genesis = decodeBlock(new Uint8Array(await readFile(join(netDir, "channel-mychannel.block"))));
  const bundle = createChannelBundle(channelConfigFromBlock(genesis), { clock: new SystemClock() });
  const store = createCollectionStore({ channelId: "mychannel", applicationMspIds: () => ["Org1MSP", "Org2MSP"] });
  const wanted: { block: bigint; txIndex: number; collection: string; hash: Uint8Array }[] = [];
  for (const b of blocks.slice(1)) {
    const v = validateBlockTransactions(b, { bundle, definitions: store });
    assert.deepEqual(
      v.txs.filter((x) => x.code !== 0).map((x) => x.reason),
      [],
      `block ${b.header?.number}`,
    );
    store.learnFromBlock(b, v.flags);
    for (const tx of privateDataNeeds(b, v.flags).txs) {
      for (const c of tx.collections) wanted.push({ block: b.header!.number, txIndex: tx.txIndex, collection: c.collection, hash: c.expectedHash });
    }
  }
  assert.equal(store.definition("pvtcc")?.blockNumber, 1n);
  assert.equal(wanted.length, result.txs.succeeded - 1, "every transaction after the definition wrote one private write set");
  assert.ok(wanted.filter((w) => w.collection === "collOrg1").length <= (written.collOrg1 ?? 0));
  assert.ok(wanted.filter((w) => w.collection === "collBoth").length <= (written.collBoth ?? 0));

  // The run's account, from the peers' admin endpoints.
  const last = BigInt(blocks.length - 1);
  const pd = result.privateData;
  assert.equal(pd.errors, undefined, `every peer's summary was read: ${pd.errors?.join("; ")}`);
  assert.deepEqual(pd.collections, ["collOrg1", "collBoth"]);
  const unsent = result.privateDataFed.unsent;
  const sent: Record<string, number> = pd.written;
  assert.deepEqual({ ...sent }, { collOrg1: (written.collOrg1 ?? 0) - (unsent.collOrg1 ?? 0), collBoth: (written.collBoth ?? 0) - (unsent.collBoth ?? 0) }, "handed out and sent");
  const inChain = (coll: string): number => wanted.filter((w) => w.collection === coll).length;
  assert.equal(inChain("collOrg1"), sent.collOrg1, "every write set handed out and sent went into a block");
  assert.equal(inChain("collBoth"), sent.collBoth);
  const org1Peers = ["peer0.org1.example.com", "peer1.org1.example.com"];
  const allPeers = [...org1Peers, "peer0.org2.example.com", "peer1.org2.example.com"];
  assert.deepEqual(Object.keys(pd.committed).sort(), [...allPeers].sort(), "collBoth admits every peer");
  for (const peer of allPeers) {
    const eligibleColls = org1Peers.includes(peer) ? ["collOrg1", "collBoth"] : ["collBoth"];
    assert.deepEqual(Object.keys(pd.committed[peer] ?? {}).sort(), [...eligibleColls].sort(), `${peer}: counted for the collections its org may hold`);
    for (const c of eligibleColls) {
      assert.equal(pd.committed[peer]?.[c], sent[c], `${peer} committed every ${c} write set`);
      assert.equal(pd.missing[peer]?.[c], 0, `${peer} misses no ${c} write set`);
    }
  }
  assert.equal(pd.leaked, 0);
  const expiredBoth = wanted.filter((w) => w.collection === "collBoth" && w.block + 3n + 1n <= last).length;
  assert.ok(expiredBoth > 0, `more than blockToLive blocks after some collBoth write (last block ${last})`);
  assert.equal(pd.purged.collBoth, expiredBoth, "collBoth's write sets past blockToLive are purged on every peer");
  assert.equal(pd.purged.collOrg1, 0, "collOrg1 is kept forever");

  // What each peer holds.
  const btl = (ns: string, coll: string): bigint | undefined => (ns !== "pvtcc" ? undefined : coll === "collBoth" ? 3n : coll === "collOrg1" ? 0n : undefined);
  const peers = (await readdir(join(netDir, "peers"))).sort();
  assert.equal(peers.length, 4);
  for (const peer of peers) {
    const org1 = peer.endsWith("org1.example.com");
    const pvt = await openPvtDataStore(join(netDir, "peers", peer, "mychannel", "pvtdata"), { btlPolicy: { blockToLive: btl }, logger: silentLogger });
    try {
      assert.equal(pvt.lastCommittedBlockHeight(), last + 1n, `${peer}'s private data store is at the chain's height`);
      const held = new Map<string, Uint8Array>();
      for (let n = 1n; n <= last; n++) {
        for (const tx of await pvt.getPvtDataByBlockNum(n)) {
          for (const ns of tx.writeSet.nsPvtRwset) for (const c of ns.collectionPvtRwset) held.set(`${n}/${tx.seqInBlock}/${c.collectionName}`, c.rwset);
        }
      }
      for (const w of wanted) {
        const key = `${w.block}/${w.txIndex}/${w.collection}`;
        const data = held.get(key);
        const expired = w.collection === "collBoth" && w.block + 3n + 1n <= last;
        const eligible = w.collection === "collBoth" || org1;
        if (!eligible) assert.equal(data, undefined, `${peer} holds ${key}: leaked`);
        else if (expired) assert.equal(data, undefined, `${peer} still holds ${key}, expired at block ${w.block + 4n}`);
        else {
          assert.ok(data !== undefined, `${peer} lacks ${key}`);
          assert.ok(pvtRwsetHashMatches(data, w.hash), `${peer}'s ${key} matches its block's hash`);
        }
      }
      assert.ok(
        [...held.keys()].every((k) => wanted.some((w) => `${w.block}/${w.txIndex}/${w.collection}` === k)),
        `${peer} holds only what transactions wrote`,
      );
    } finally {
      await pvt.close();
    }
  }
});
