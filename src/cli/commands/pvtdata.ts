import type { Command } from "commander";
import type { PvtCollectionView, PvtDataSummary, PvtDataView } from "../../service/index.js";
import { type AdminTlsFlags, addAdminTlsOptions, adminEndpointOf, adminGetJson } from "../network/index.js";

const TIMEOUT_MS = 10_000;

interface GetOptions extends AdminTlsFlags {
  admin: string;
  channel: string;
  tx?: string;
  block?: string;
  values?: boolean;
  json?: boolean;
}

/**
 * `fabric-gossip pvtdata get --admin HOST:PORT --channel C --tx ID [--values] [--json]` (or `--block N`): what a
 * running peer holds of a transaction's private data (its `GET /v1/channels/{channel}/private-data`), one line
 * per collection; `pvtdata summary` the counts per collection.
 */
export function registerPvtdata(program: Command): void {
  const pvt = program.command("pvtdata").description("what a running peer holds of private data (its admin endpoint)");
  const get = pvt
    .command("get")
    .description("per collection a transaction (or every transaction of a block) wrote: held, transient, missing or purged on this peer")
    .requiredOption("--admin <host:port>", "the peer's admin endpoint (https://HOST:PORT with operations TLS, see --admin-tls-*)")
    .requiredOption("--channel <name>", "the channel")
    .option("--tx <id>", "the transaction ID")
    .option("--block <n>", "every transaction of this block that wrote private data (instead of --tx)")
    .option("--values", "also show the written keys and values (base64); without it no value leaves the peer")
    .option("--json", "print the JSON as it came");
  addAdminTlsOptions(get).action(async (opts: GetOptions) => {
    if ((opts.tx === undefined) === (opts.block === undefined)) throw new Error("give exactly one of --tx <id> or --block <n>");
    if (opts.block !== undefined && !/^\d{1,20}$/.test(opts.block)) throw new Error(`--block must be a block number, got "${opts.block}"`);
    const q = new URLSearchParams(opts.tx !== undefined ? { tx: opts.tx } : { block: opts.block ?? "" });
    if (opts.values === true) q.set("values", "true");
    const view = (await getJson(opts, `/v1/channels/${encodeURIComponent(opts.channel)}/private-data?${q.toString()}`)) as PvtDataView;
    process.stdout.write(opts.json === true ? `${JSON.stringify(view, null, 2)}\n` : formatPvtDataView(view));
  });
  const summary = pvt
    .command("summary")
    .description("per collection: write sets held, missing (eligible, ineligible), purged, and transient entries")
    .requiredOption("--admin <host:port>", "the peer's admin endpoint (https://HOST:PORT with operations TLS, see --admin-tls-*)")
    .requiredOption("--channel <name>", "the channel")
    .option("--json", "print the JSON as it came");
  addAdminTlsOptions(summary).action(async (opts: { admin: string; channel: string; json?: boolean } & AdminTlsFlags) => {
    const answer = (await getJson(opts, `/v1/channels/${encodeURIComponent(opts.channel)}/private-data/summary`)) as PvtDataSummary;
    process.stdout.write(opts.json === true ? `${JSON.stringify(answer, null, 2)}\n` : formatPvtDataSummary(answer));
  });
}

/** GET of the admin endpoint `--admin` (and `--admin-tls-*`) name; throws naming the URL and the peer's error answer. */
async function getJson(opts: { admin: string } & AdminTlsFlags, path: string): Promise<unknown> {
  return adminGetJson(await adminEndpointOf(opts.admin, opts), path, TIMEOUT_MS);
}

/** One line per (transaction, collection); with values, the writes indented below it. */
export function formatPvtDataView(view: PvtDataView): string {
  const lines: string[] = [`channel ${view.channel}: height ${view.height}, private data store at ${view.pvtHeight}`];
  if (view.txs.length === 0) lines.push("no transaction of it wrote private data");
  for (const tx of view.txs) {
    const where = tx.block === null ? "not in a block" : `block ${tx.block} tx ${tx.txIndex}${tx.valid === false ? " (invalid)" : ""}`;
    for (const c of tx.collections) {
      lines.push(`${tx.txId}  ${where}  ${c.namespace}/${c.collection}  ${statusText(c)}`);
      for (const w of c.writes ?? []) lines.push(`    ${w.isDelete ? "delete " : ""}${w.key}${w.isDelete ? "" : ` = ${w.value}`}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

function statusText(c: PvtCollectionView): string {
  const eligible = c.eligible === null ? "collection unknown" : c.eligible ? "eligible" : "not eligible";
  const parts = [c.status, eligible];
  if (c.deprioritized === true) parts.push("reconciliation deprioritized");
  if (c.blockToLive !== null) parts.push(c.blockToLive === "0" ? "kept forever" : `blockToLive ${c.blockToLive}${c.expiresAtBlock !== null ? `, purged at block ${c.expiresAtBlock}` : ""}`);
  if (c.hash !== undefined) parts.push(`hash ${c.hash.slice(0, 16)}…${c.expectedHash !== null && c.hash !== c.expectedHash ? ` (the block wants ${c.expectedHash.slice(0, 16)}…)` : ""}`);
  return parts.join(", ");
}

/** A table: one row per collection. */
export function formatPvtDataSummary(s: PvtDataSummary): string {
  const rows: string[][] = [["COLLECTION", "ELIGIBLE", "COMMITTED", "MISSING", "INELIGIBLE", "PURGED", "TRANSIENT", "BTL"]];
  for (const c of s.collections) {
    rows.push([
      `${c.namespace}/${c.collection}`,
      c.eligible === null ? "?" : c.eligible ? "yes" : "no",
      String(c.committed),
      String(c.missingEligible),
      String(c.missingIneligible),
      String(c.purged),
      String(c.transient),
      c.blockToLive ?? "?",
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const head = `channel ${s.channel} on a peer of ${s.mspId ?? "no MSP"}: height ${s.height}, private data store at ${s.pvtHeight}`;
  return `${head}\n${rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n")}\n`;
}
