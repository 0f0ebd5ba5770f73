import type { Command } from "commander";
import type { MembershipView, PeerView } from "../../service/index.js";
import { type AdminTlsFlags, addAdminTlsOptions, adminEndpointOf, adminGetJson } from "../network/index.js";

/** `fabric-gossip peers --admin HOST:PORT [--json]`: what a running peer knows of the network. */
export function registerPeers(program: Command): void {
  addAdminTlsOptions(
    program
      .command("peers")
      .description("show the membership view of a running peer (its /v1/membership)")
      .requiredOption("--admin <host:port>", "the peer's admin endpoint (https://HOST:PORT with operations TLS, see --admin-tls-*)")
      .option("--json", "print the JSON as it came"),
  ).action(async (opts: { admin: string; json?: boolean } & AdminTlsFlags) => {
    const view = (await adminGetJson(await adminEndpointOf(opts.admin, opts), "/v1/membership", 5_000)) as MembershipView;
    process.stdout.write(opts.json ? `${JSON.stringify(view, null, 2)}\n` : formatMembership(view));
  });
}

/** The membership view as a table. */
export function formatMembership(view: MembershipView): string {
  const rows: string[][] = [["STATE", "ENDPOINT", "INTERNAL", "ORG", "PKI-ID", "CHANNELS"]];
  const channelsOf = (p: PeerView): string =>
    Object.entries(view.channels)
      .filter(([, members]) => members.some((m) => m.pkiId === p.pkiId))
      .map(([ch, members]) => `${ch}@${members.find((m) => m.pkiId === p.pkiId)!.ledgerHeight}`)
      .join(",");
  const row = (state: string, p: PeerView): string[] => [state, p.endpoint || "-", p.internalEndpoint || "-", p.org, `${p.pkiId.slice(0, 16)}…`, channelsOf(p) || "-"];
  rows.push(row("self", view.self));
  for (const p of view.alive) rows.push(row("alive", p));
  for (const p of view.dead) rows.push(row("dead", p));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n")}\n`;
}
