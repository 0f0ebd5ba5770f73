import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { type Cluster, type ClusterOptions, startCluster, untilOneLeaderPerOrg, untilViewsMatch } from "./peer-cluster.js";

/** What {@link useCluster} gives its tests, once its `before` hook ran. */
export interface ClusterFixture {
  readonly cluster: Cluster;
  /** The temporary folder holding the cluster's crypto material and ledgers. */
  readonly root: string;
}

/**
 * Registers, in the calling `describe`, a cluster started before its tests in a fresh temporary folder named
 * after `prefix`, with every view converged (and one leader per org when asked), then stopped and removed after
 * them. A separate file from peer-cluster.ts, which the benches use outside the test runner.
 */
export function useCluster(prefix: string, options: Omit<ClusterOptions, "root">, wait: { oneLeaderPerOrg?: boolean } = {}): ClusterFixture {
  let root: string | undefined;
  let cluster: Cluster | undefined;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), prefix));
    cluster = await startCluster({ root, ...options });
    await untilViewsMatch(cluster, "the cluster converges", 20_000);
    if (wait.oneLeaderPerOrg === true) await untilOneLeaderPerOrg(cluster, 10_000);
  });
  after(async () => {
    await cluster?.stop();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });
  return {
    get cluster(): Cluster {
      if (cluster === undefined) throw new Error("the cluster has not started (used outside a test of its describe?)");
      return cluster;
    },
    get root(): string {
      if (root === undefined) throw new Error("the cluster has not started (used outside a test of its describe?)");
      return root;
    },
  };
}
