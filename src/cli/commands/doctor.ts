import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { join } from "node:path";
import type { Command } from "commander";
import {
  type ClientTlsMaterial,
  diagnoseTlsDial,
  endpointHost,
  formatTlsDiagnosis,
  loadTlsMaterial,
  type TlsDiagnosis,
  type TlsMaterial,
} from "../../comm/grpc/index.js";
import { type PeerConfig, tlsClientKeyPairOf } from "../../config/index.js";
import { certificationChain, decodeAllPem, type LocalMsp, loadMspFolder, type MspOrgMaterial } from "../../crypto/index.js";
import { createGrpcDeliverConnector, createSeekInfoEnvelope, DEFAULT_DELIVER_CLIENT_OPTIONS, decodeDeliverResponse } from "../../deliver/index.js";
import type { LogFields, Logger } from "../../logging/index.js";
import { Envelope, Status } from "../../protos/gen/common/common.pb.js";
import { type ChannelDefinition, type ChannelJoinBlock, type ChannelStatusView, channelJoinBlockOf, isLoopback, type MembershipView, storedChannelBlocks } from "../../service/index.js";
import { errorMessage, SystemClock, toHex } from "../../util/index.js";
import { type AdminEndpoint, type AdminTlsFlags, addAdminTlsOptions, adminEndpointOf, adminGetJson, repeatableFlag } from "../network/index.js";
import { type PeerStartFlags, type PeerStartPlan, planPeerStart } from "./peer.js";

/** How a check came out: `fail` makes `doctor` exit 1. */
export type DoctorStatus = "ok" | "warning" | "fail";

/** One check of `fabric-gossip doctor`: a stable name (a code, with the endpoint or channel it is about), what was found, what to do. */
export interface DoctorCheck {
  name: string;
  status: DoctorStatus;
  detail: string;
  /** What to do ("" when ok). */
  fix: string;
}

/** The JSON of `doctor --json`. */
export interface DoctorReport {
  checks: DoctorCheck[];
  /** True when no check failed (warnings allowed). */
  ok: boolean;
}

/** The flags of `fabric-gossip doctor`: those of `peer start` that describe the peer, and where its admin endpoint answers. */
export interface DoctorFlags extends Omit<PeerStartFlags, "admin" | "reportCommits">, AdminTlsFlags {
  /** Admin endpoints (host:port, or https://host:port) of the running peer, and of other peers of its org to count leaders. */
  admin?: string[];
  json?: boolean;
  /** Skip the checks that dial. */
  offline?: boolean;
  /** Per dial. */
  timeout?: string;
}

/** A certificate expiring within this is a warning. */
export const EXPIRY_WARNING_MS = 30 * 24 * 60 * 60 * 1000;
/** Clock skew above this is a warning... */
export const CLOCK_SKEW_WARNING_MS = 5_000;
/** ...and above this a failure: an orderer refuses a Deliver request whose timestamp is 15 minutes off (Fabric's default). */
export const CLOCK_SKEW_FAIL_MS = 15 * 60 * 1000;
/** A duplicate-identity event this recent is a failure; older ones a warning. */
const DUPLICATE_RECENT_MS = 10 * 60 * 1000;
const DEFAULT_DIAL_TIMEOUT_MS = 3_000;

/** `fabric-gossip doctor`: checks a peer's configuration and, when it runs, its connections. */
export function registerDoctor(program: Command): void {
  const doctor = program
    .command("doctor")
    .description(
      "check a peer's configuration (core.yaml or the flags of `peer start`) offline, then live: MSP and TLS material, endpoints, bootstrap and anchor peers, orderers (TLS and Deliver permission), channel membership and, with --admin, the running peer's leaders, duplicate identities and clock; one line per check, exit code 1 when any fails",
    )
    .option("--config <core.yaml>", "the peer's core.yaml (as `peer start --config`)")
    .option("--listen <host:port>", "as `peer start --listen`")
    .option("--external <host:port>", "as `peer start --external`")
    .option("--bootstrap <host:port,...>", "as `peer start --bootstrap`", (v: string, prev: string[] | undefined) => [...(prev ?? []), ...v.split(",").map((s) => s.trim())])
    .option("--msp <dir>", "as `peer start --msp`")
    .option("--msp-id <id>", "as `peer start --msp-id`")
    .option("--insecure-dev-crypto", "as `peer start --insecure-dev-crypto`")
    .option("--tls-cert <file>", "as `peer start --tls-cert`")
    .option("--tls-key <file>", "as `peer start --tls-key`")
    .option("--tls-ca <files...>", "as `peer start --tls-ca`")
    .option("--channel-block <file>", "as `peer start --channel-block` (repeatable)", repeatableFlag)
    .option("--ledger-dir <dir>", "as `peer start --ledger-dir`: channels whose ledgers are there are checked too")
    .option(
      "--admin <host:port>",
      "admin endpoint of the running peer, https://HOST:PORT with operations TLS (repeatable: other peers of its org, to count leaders)",
      repeatableFlag,
    )
    .option("--offline", "only the checks that need no connection")
    .option("--timeout <ms>", `per dial (default ${DEFAULT_DIAL_TIMEOUT_MS})`)
    .option("--json", 'print {"checks":[{"name","status","detail","fix"}],"ok"} instead of lines');
  addAdminTlsOptions(doctor).action(async (flags: DoctorFlags) => {
    const report = await runDoctor(flags, process.env);
    process.stdout.write(flags.json === true ? `${JSON.stringify(report)}\n` : formatDoctorReport(report));
    process.exitCode = report.ok ? 0 : 1;
  });
}

/** One line per check, then a summary line. */
export function formatDoctorReport(report: DoctorReport): string {
  const label: Record<DoctorStatus, string> = { ok: "ok     ", warning: "warning", fail: "FAIL   " };
  const lines = report.checks.map((c) => `${label[c.status]} ${c.name}: ${c.detail}${c.fix === "" ? "" : ` -> ${c.fix}`}`);
  const count = (s: DoctorStatus): number => report.checks.filter((c) => c.status === s).length;
  lines.push(`${report.checks.length} checks: ${count("ok")} ok, ${count("warning")} warning(s), ${count("fail")} failed`);
  return `${lines.join("\n")}\n`;
}

/** A logger that keeps what `planPeerStart` says (configuration notes, warnings) to report it as checks. */
class NoteLogger implements Logger {
  readonly notes: string[] = [];
  readonly warnings: string[] = [];
  debug(): void {}
  info(msg: string, fields?: LogFields): void {
    if (msg === "configuration note") this.notes.push(`${String(fields?.["key"])}: ${String(fields?.["note"])}`);
  }
  warn(msg: string, fields?: LogFields): void {
    this.warnings.push(withFields(msg, fields));
  }
  error(msg: string, fields?: LogFields): void {
    this.warnings.push(withFields(msg, fields));
  }
  child(): Logger {
    return this;
  }
}

function withFields(msg: string, fields: LogFields | undefined): string {
  const parts = Object.entries(fields ?? {}).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  return parts.length === 0 ? msg : `${msg} (${parts.join("; ")})`;
}

/** What the checks work from, once the configuration is loaded. */
interface Subject {
  plan: PeerStartPlan;
  peer: PeerConfig;
  mspId: string | undefined;
  msp: LocalMsp | undefined;
  tls: TlsMaterial | undefined;
  channels: ChannelJoinBlock[];
  internal: string;
  external: string;
  /** Every TLS CA the peer trusts as a client: configured plus the channels' orgs' (as the peer's trust store holds them). */
  peerRoots: string;
  /** TLS CAs by MSP ID (channels' orgs and orderer orgs, and the local MSP's own), to tell whose a certificate is. */
  tlsCasByOrg: Map<string, { roots: X509Certificate[]; intermediates: X509Certificate[] }>;
  dialTimeoutMs: number;
  now: number;
}

/**
 * Runs every check that applies and returns them in order. Never throws for a bad configuration:
 * that is a failed check.
 */
export async function runDoctor(flags: DoctorFlags, env: Readonly<Record<string, string | undefined>>): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const add = (name: string, status: DoctorStatus, detail: string, fix = ""): void => {
    checks.push({ name, status, detail, fix: status === "ok" ? "" : fix });
  };
  const done = (): DoctorReport => ({ checks, ok: checks.every((c) => c.status !== "fail") });

  const dialTimeoutMs = flags.timeout === undefined ? DEFAULT_DIAL_TIMEOUT_MS : Number(flags.timeout);
  if (!Number.isInteger(dialTimeoutMs) || dialTimeoutMs <= 0) {
    add("flags", "fail", `--timeout ${JSON.stringify(flags.timeout)}: not a positive whole number of milliseconds`, "give e.g. --timeout 3000");
    return done();
  }
  const admins: AdminEndpoint[] = [];
  for (const a of flags.admin ?? []) {
    try {
      admins.push(await adminEndpointOf(a, flags));
    } catch (err) {
      add("flags", "fail", errorMessage(err), "give e.g. --admin 127.0.0.1:9443, or --admin https://127.0.0.1:9443 --admin-tls-ca ca.pem");
      return done();
    }
  }

  // Configuration, as `peer start` reads it.
  const logger = new NoteLogger();
  const { admin: _admin, json: _json, offline: _offline, timeout: _timeout, adminTlsCa: _ca, adminTlsCert: _cert, adminTlsKey: _key, ...startFlags } = flags;
  let plan: PeerStartPlan;
  try {
    plan = await planPeerStart(startFlags, env, logger);
  } catch (err) {
    add("config", "fail", errorMessage(err), "correct the flag, file or setting named; `peer start` refuses it the same way");
    return done();
  }
  const peer = plan.peer;
  add("config", "ok", flags.config !== undefined ? `${flags.config} loaded (with CORE_PEER_* and flags)` : "flags and CORE_PEER_* loaded");
  for (const note of logger.notes) {
    const unread = /fabric-gossip reads/.test(note);
    add("config-note", "warning", note, unread ? "the setting is ignored: correct its spelling (see the hint) or remove it" : "review the setting (core.yaml, CORE_PEER_* or flag)");
  }
  const reportWarnings = (from: number): void => {
    for (const w of logger.warnings.slice(from)) {
      const locked = /LOCKED|locked/.test(w);
      add(
        "config-warning",
        "warning",
        w,
        locked ? "the running peer holds its ledgers: give its channels' blocks with --channel-block to check them" : "see the message",
      );
    }
  };
  reportWarnings(0);

  const now = Date.now();
  const crypto = plan.options.crypto;
  const insecure = crypto?.insecureDevCrypto === true;

  // Local MSP.
  let msp: LocalMsp | undefined;
  let mspId: string | undefined;
  if (insecure || crypto === undefined) {
    add("msp", "warning", "INSECURE development crypto: identity = endpoint, no signatures", "give the peer an MSP (--msp, --msp-id or peer.mspConfigPath, peer.localMspId) for anything but local tests");
  } else {
    mspId = crypto.mspId;
    try {
      msp = await loadMspFolder(crypto.msp, crypto.mspId);
      const cert = msp.signingIdentity.certificate;
      const validity = validityCheck(cert, now, "signing certificate");
      add(
        "msp",
        validity.status,
        `${crypto.mspId} from ${crypto.msp}: signing certificate ${cnOf(cert.subject)}, key matches, issued by ${cnOf(cert.issuer)}; ${validity.detail}`,
        validity.status === "ok" ? "" : `renew the peer's enrollment certificate (${join(crypto.msp, "signcerts")}) with its CA`,
      );
    } catch (err) {
      add("msp", "fail", `${crypto.msp} (${crypto.mspId}): ${errorMessage(err)}`, "point --msp / peer.mspConfigPath at the peer's msp folder (signcerts, keystore, cacerts) and check --msp-id / peer.localMspId");
    }
  }

  // Channels: given blocks and ledgers kept from earlier joins.
  const channels: ChannelJoinBlock[] = plan.options.channelBlocks?.map((b) => channelJoinBlockOf(b)) ?? [];
  if (!insecure) {
    const ledgerDir = flags.ledgerDir ?? join(peer.fileSystemPath, "ledgers");
    const before = logger.warnings.length;
    try {
      channels.push(...(await storedChannelBlocks(ledgerDir, new Set(channels.map((c) => c.def.name)), logger)));
      reportWarnings(before);
    } catch (err) {
      add("ledgers", "warning", `cannot read the channels kept in ${ledgerDir}: ${errorMessage(err)}`, "check the ledger folder (--ledger-dir, peer.fileSystemPath)");
    }
  }

  // TLS material.
  let tls: TlsMaterial | undefined = plan.options.tls === false ? undefined : plan.options.tls;
  let tlsLoaded = true;
  if (tls === undefined && peer.tls.enabled) {
    const client = tlsClientKeyPairOf(peer.tls);
    try {
      tls = await loadTlsMaterial({
        cert: { what: "peer.tls.cert.file", file: peer.tls.certFile },
        key: { what: "peer.tls.key.file", file: peer.tls.keyFile },
        cas: [
          ...(peer.tls.rootCertFile !== "" ? [{ what: "peer.tls.rootcert.file", file: peer.tls.rootCertFile }] : []),
          ...peer.tls.clientRootCAFiles.filter((f) => f !== "").map((file) => ({ what: "peer.tls.clientRootCAs.files", file })),
        ],
      });
      if (client.certFile !== peer.tls.certFile) {
        await loadTlsMaterial({ cert: { what: "peer.tls.clientCert.file", file: client.certFile }, key: { what: "peer.tls.clientKey.file", file: client.keyFile }, cas: [] });
      }
    } catch (err) {
      tlsLoaded = false;
      add("tls", "fail", errorMessage(err), "correct the TLS file named (certificate, its own key, CA certificates)");
    }
  }

  const internal = flags.listen !== undefined ? peer.gossip.endpoint || flags.listen : peer.gossip.endpoint || peer.address;
  const external = peer.gossip.externalEndpoint;
  const tlsCasByOrg = new Map<string, { roots: X509Certificate[]; intermediates: X509Certificate[] }>();
  const addOrgCas = (org: MspOrgMaterial | undefined): void => {
    if (org === undefined) return;
    const entry = tlsCasByOrg.get(org.mspId) ?? { roots: [], intermediates: [] };
    entry.roots.push(...parseCerts(org.tlsRootCerts));
    entry.intermediates.push(...parseCerts(org.tlsIntermediateCerts));
    tlsCasByOrg.set(org.mspId, entry);
  };
  addOrgCas(msp?.org);
  for (const c of channels) {
    for (const o of c.def.orgs) addOrgCas(o.msp);
    addOrgCas(c.def.orderer.msp);
    for (const o of c.def.orderer.otherOrgs ?? []) addOrgCas(o.msp);
  }
  const channelRoots = channels.flatMap((c) => [
    ...c.def.orgs.flatMap((o) => o.msp?.tlsRootCerts ?? []),
    ...(c.def.orderer.msp?.tlsRootCerts ?? []),
    ...(c.def.orderer.otherOrgs ?? []).flatMap((o) => o.msp.tlsRootCerts),
  ]);
  const peerRoots = [tls?.rootCAs?.toString("utf8") ?? "", ...channelRoots].filter((s) => s !== "").join("\n");
  const s: Subject = { plan, peer, mspId, msp, tls, channels, internal, external, peerRoots, tlsCasByOrg, dialTimeoutMs, now };

  if (tls !== undefined) tlsChecks(s, add);
  else if (tlsLoaded) {
    add("tls", "warning", "TLS is off: peers and orderers with TLS (every production Fabric network) cannot talk to this peer", "enable peer.tls (cert, key, rootcert) or give --tls-cert, --tls-key and --tls-ca");
  }
  endpointChecks(s, add);
  channelChecks(s, add);

  if (flags.offline !== true) {
    await bootstrapChecks(s, add);
    await anchorChecks(s, add, (flags.admin ?? []).length > 0);
    if ((flags.admin ?? []).length > 0) await selfChecks(s, add);
    await ordererChecks(s, add);
    if (admins.length > 0) await adminChecks(s, admins, add);
  }
  return done();
}

type Add = (name: string, status: DoctorStatus, detail: string, fix?: string) => void;

function parseCerts(pems: readonly string[]): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const pem of pems) {
    for (const b of decodeAllPem(pem)) {
      if (b.type !== "CERTIFICATE") continue;
      try {
        out.push(new X509Certificate(b.der));
      } catch {
        // a CA certificate that does not parse trusts nothing: skipped
      }
    }
  }
  return out;
}

function cnOf(dn: string): string {
  return /(?:^|\n|, )CN=([^\n,]*)/.exec(dn)?.[1] ?? dn.replace(/\n/g, ", ");
}

/** Expired or not yet valid: fail; expiring within 30 days: warning. */
function validityCheck(cert: X509Certificate, now: number, what: string): { status: DoctorStatus; detail: string } {
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  const iso = (t: number): string => new Date(t).toISOString();
  if (to < now) return { status: "fail", detail: `the ${what} EXPIRED on ${iso(to)}` };
  if (from > now) return { status: "fail", detail: `the ${what} is not valid until ${iso(from)} (check this host's clock)` };
  if (to - now < EXPIRY_WARNING_MS) return { status: "warning", detail: `the ${what} expires on ${iso(to)}, within 30 days` };
  return { status: "ok", detail: `valid until ${iso(to)}` };
}

/** The MSP ID whose TLS CAs issued `cert`, if any. */
function tlsOrgOf(s: Subject, cert: X509Certificate): string | undefined {
  for (const [mspId, cas] of s.tlsCasByOrg) {
    if (certificationChain(cert, cas.roots, cas.intermediates, s.now) !== undefined) return mspId;
  }
  return undefined;
}

function certCarries(cert: X509Certificate, host: string): boolean {
  return isIP(host) !== 0 ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
}

function tlsChecks(s: Subject, add: Add): void {
  const tls = s.tls;
  if (tls === undefined) return;
  const cert = new X509Certificate(tls.cert);
  const validity = validityCheck(cert, s.now, "TLS certificate");
  add("tls", validity.status, `TLS certificate ${cnOf(cert.subject)} (issued by ${cnOf(cert.issuer)}), key matches; ${validity.detail}`, "renew the peer's TLS certificate (server.crt) with its org's TLS CA, then restart the peer");
  // Other peers and the orderers trust this org's TLS CAs as the channel configuration (or the local MSP) lists them.
  if (s.mspId !== undefined) {
    const org = tlsOrgOf(s, cert);
    if (org !== s.mspId) {
      add(
        "tls-ca",
        "fail",
        `the TLS certificate is issued by ${cnOf(cert.issuer)}, ${org === undefined ? "which is no TLS CA of" : `a TLS CA of ${org}, not of`} ${s.mspId} (its msp/tlscacerts and the channels' configuration)`,
        `use a TLS certificate issued by ${s.mspId}'s TLS CA, or add that CA to the org's tlscacerts (local MSP and channel configuration): other peers and the orderers refuse this one`,
      );
    } else {
      add("tls-ca", "ok", `the TLS certificate is issued by a TLS CA of ${s.mspId}`);
    }
  }
  const own = new Set([s.internal, s.external].filter((e) => e !== ""));
  for (const ep of own) {
    const host = endpointHost(ep);
    if (host === "0.0.0.0" || host === "::") continue;
    if (!certCarries(cert, host)) {
      add(
        "tls-name",
        "fail",
        `the TLS certificate does not carry ${host} (from ${ep}), so peers dialing ${ep} refuse it (name mismatch)`,
        `reissue the TLS certificate with ${host} in its subjectAltName, or advertise an endpoint whose host it carries`,
      );
    } else {
      add("tls-name", "ok", `the TLS certificate carries ${host} (${ep})`);
    }
  }
}

function endpointChecks(s: Subject, add: Add): void {
  const host = endpointHost(s.internal);
  if (s.internal === "" || host === "0.0.0.0" || host === "::") {
    add("endpoint", "fail", `the internal endpoint ${JSON.stringify(s.internal)} cannot be dialed by other peers`, "set peer.address or peer.gossip.endpoint (CORE_PEER_GOSSIP_ENDPOINT) to a host:port others reach");
  } else {
    add("endpoint", "ok", `internal endpoint ${s.internal}`);
  }
  const multiOrg = s.channels.filter((c) => c.def.orgs.length > 1).map((c) => c.def.name);
  if (s.external === "") {
    if (multiOrg.length > 0) {
      add(
        "external-endpoint",
        "fail",
        `no external endpoint, yet channel(s) ${multiOrg.join(", ")} have several orgs: peers of other orgs never learn this peer (no cross-org membership, no private data from them)`,
        "set peer.gossip.externalEndpoint (--external) to the host:port other orgs dial",
      );
    } else {
      add("external-endpoint", "ok", "none: this peer is visible to its own org only (no channel with other orgs)");
    }
  } else if (multiOrg.length > 0 && isLoopback(endpointHost(s.external))) {
    add(
      "external-endpoint",
      "warning",
      `external endpoint ${s.external} is a loopback address, yet channel(s) ${multiOrg.join(", ")} have several orgs: only peers on this host can dial it`,
      "set peer.gossip.externalEndpoint to a name or address other orgs' hosts reach",
    );
  } else {
    add("external-endpoint", "ok", `external endpoint ${s.external}`);
  }
  const g = s.peer.gossip;
  if (g.useLeaderElection && g.orgLeader) {
    add("leader-election", "fail", "peer.gossip.useLeaderElection and peer.gossip.orgLeader are both true (Fabric refuses to start)", "choose one: useLeaderElection true and orgLeader false (the usual), or a static leader");
  } else {
    add("leader-election", "ok", g.useLeaderElection ? "dynamic leader election" : g.orgLeader ? "static leader: this peer pulls blocks from the orderer" : "static follower: another peer of the org must be the static leader");
  }
  const self = new Set([s.internal, s.external]);
  for (const b of g.bootstrap) {
    if (self.has(b)) add(`bootstrap:${b}`, "warning", `${b} is this peer's own endpoint (ignored)`, "list other peers of the org in peer.gossip.bootstrap");
  }
  if (g.bootstrap.length === 0) add("bootstrap", "ok", "no bootstrap peers: this peer learns its org's peers from others dialing it and from anchor peers");
}

function channelChecks(s: Subject, add: Add): void {
  if (s.channels.length === 0) {
    if (s.mspId !== undefined) add("channels", "ok", "no channels joined (no --channel-block, no ledgers)");
    return;
  }
  for (const c of s.channels) {
    const def = c.def;
    const mine = def.orgs.find((o) => o.mspId === s.mspId);
    if (s.mspId !== undefined && mine === undefined) {
      add(
        `channel-member:${def.name}`,
        "fail",
        `${s.mspId} is not a member of channel ${def.name} (its orgs: ${def.orgs.map((o) => o.mspId).join(", ")}): the orderer and the channel's peers refuse this peer`,
        `add ${s.mspId} to the channel's configuration (a config update), or join with a block of a channel the org belongs to`,
      );
      continue;
    }
    if (s.msp !== undefined && mine?.msp !== undefined) {
      const cert = s.msp.signingIdentity.certificate;
      const chain = certificationChain(cert, parseCerts(mine.msp.rootCerts), parseCerts(mine.msp.intermediateCerts), s.now);
      if (chain === undefined) {
        add(
          `channel-member:${def.name}`,
          "fail",
          `channel ${def.name} lists ${s.mspId}, but not the CA that issued this peer's certificate (${cnOf(cert.issuer)}): its identity is refused there`,
          `use the MSP of ${s.mspId} the channel knows, or update the channel's MSP of ${s.mspId} with this CA`,
        );
        continue;
      }
    }
    add(`channel-member:${def.name}`, "ok", `${s.mspId ?? "this peer's org"} is a member of ${def.name} (orgs: ${def.orgs.map((o) => o.mspId).join(", ")})`);
    if (def.orgs.length > 1) {
      const without = def.orgs.filter((o) => o.anchorPeers.length === 0).map((o) => o.mspId);
      if (without.length > 0) {
        add(
          `anchor-peers:${def.name}`,
          "warning",
          `org(s) ${without.join(", ")} of ${def.name} have no anchor peer: other orgs learn their peers only if those dial out first`,
          "set anchor peers for each org in the channel's configuration (configtx.yaml AnchorPeers, then a config update)",
        );
      } else {
        add(`anchor-peers:${def.name}`, "ok", "every org has an anchor peer");
      }
    }
  }
}

/** The client side as the peer dials: its client pair, trusting `roots`. */
function clientTls(s: Subject, roots: string): ClientTlsMaterial | undefined {
  if (s.tls === undefined) return undefined;
  return { rootCAs: roots, cert: s.tls.cert, key: s.tls.key };
}

/** The org whose TLS CA issued the certificate a diagnosis saw. */
function orgOfDiagnosis(s: Subject, d: TlsDiagnosis): string | undefined {
  const pem = d.serverCertificate?.pem;
  if (pem === undefined) return undefined;
  try {
    return tlsOrgOf(s, new X509Certificate(pem));
  } catch {
    return undefined;
  }
}

async function bootstrapChecks(s: Subject, add: Add): Promise<void> {
  const self = new Set([s.internal, s.external]);
  for (const b of s.peer.gossip.bootstrap) {
    if (self.has(b)) continue;
    const d = await diagnoseTlsDial(b, { tls: clientTls(s, s.peerRoots), timeoutMs: s.dialTimeoutMs, what: "bootstrap peer" });
    if (d.code !== "OK") {
      add(`bootstrap:${b}`, "fail", `cannot connect: ${d.cause} [${d.code}${d.detail !== undefined ? `: ${d.detail}` : ""}]`, d.fix);
      continue;
    }
    const org = orgOfDiagnosis(s, d);
    if (s.tls !== undefined && s.mspId !== undefined && org !== undefined && org !== s.mspId) {
      add(
        `bootstrap:${b}`,
        "fail",
        `${b} is a peer of ${org} (its TLS certificate is issued by ${org}'s TLS CA), not of ${s.mspId}: Fabric's bootstrap peers must be of the peer's own org, and a peer of another org never answers as one`,
        "list only peers of this org in peer.gossip.bootstrap (--bootstrap); other orgs are reached through the channels' anchor peers",
      );
    } else {
      add(`bootstrap:${b}`, "ok", `reachable over ${s.tls !== undefined ? "TLS" : "plaintext"}${org !== undefined ? `, a peer of ${org}` : ""}`);
    }
  }
}

async function anchorChecks(s: Subject, add: Add, peerRuns: boolean): Promise<void> {
  const self = new Set([s.internal, s.external]);
  for (const c of s.channels) {
    for (const o of c.def.orgs) {
      for (const a of o.anchorPeers) {
        // Before the peer runs, its own endpoint answers no one.
        if (self.has(a) && !peerRuns) continue;
        const d = await diagnoseTlsDial(a, { tls: clientTls(s, s.peerRoots), timeoutMs: s.dialTimeoutMs, what: "anchor peer" });
        const name = `anchor:${c.def.name}:${a}`;
        if (d.code !== "OK") {
          add(name, "fail", `anchor peer of ${o.mspId} unreachable: ${formatTlsDiagnosis(d)}`, d.fix !== "" ? d.fix : "start the anchor peer or correct the channel's anchor peers");
          continue;
        }
        const org = orgOfDiagnosis(s, d);
        if (s.tls !== undefined && org !== undefined && org !== o.mspId) {
          add(name, "fail", `listed as an anchor peer of ${o.mspId} but its TLS certificate is of ${org}`, "correct the channel's anchor peers (a config update)");
        } else {
          add(name, "ok", `anchor peer of ${o.mspId} reachable`);
        }
      }
    }
  }
}

/** The running peer's own endpoints, dialed as other peers dial them (its own trust stands in for theirs). */
async function selfChecks(s: Subject, add: Add): Promise<void> {
  for (const ep of new Set([s.internal, s.external].filter((e) => e !== ""))) {
    const host = endpointHost(ep);
    if (host === "0.0.0.0" || host === "::") continue;
    const d = await diagnoseTlsDial(ep, { tls: clientTls(s, s.peerRoots), timeoutMs: s.dialTimeoutMs, what: "peer" });
    if (d.code === "OK") add(`reachable:${ep}`, "ok", `the peer answers at ${ep}`);
    else add(`reachable:${ep}`, "fail", `the peer does not answer at its endpoint ${ep}: ${d.cause} [${d.code}]`, d.fix);
  }
}

async function ordererChecks(s: Subject, add: Add): Promise<void> {
  const clock = new SystemClock();
  for (const c of s.channels) {
    const def: ChannelDefinition = c.def;
    const roots = [
      s.tls?.rootCAs?.toString("utf8") ?? "",
      ...(def.orderer.msp?.tlsRootCerts ?? []),
      ...(def.orderer.otherOrgs ?? []).flatMap((o) => o.msp.tlsRootCerts),
    ]
      .filter((p) => p !== "")
      .join("\n");
    for (const ep of def.orderer.endpoints) {
      const name = `orderer:${def.name}:${ep}`;
      const tls = clientTls(s, roots);
      const d = await diagnoseTlsDial(ep, { tls, timeoutMs: s.dialTimeoutMs, what: "orderer" });
      if (d.code !== "OK") {
        add(name, "fail", `cannot connect: ${d.cause} [${d.code}${d.detail !== undefined ? `: ${d.detail}` : ""}]`, d.fix);
        continue;
      }
      if (s.msp === undefined) {
        add(name, "ok", "reachable (Deliver permission not checked without an MSP identity)");
        continue;
      }
      const verdict = await deliverNewest(ep, def.name, s, tls, clock);
      add(name, verdict.status, verdict.detail, verdict.fix);
    }
  }
}

/** A Deliver seek of the newest block signed by the peer's identity, as its Deliver client asks. */
async function deliverNewest(endpoint: string, channel: string, s: Subject, tls: ClientTlsMaterial | undefined, clock: SystemClock): Promise<{ status: DoctorStatus; detail: string; fix: string }> {
  const signer = s.msp?.signingIdentity;
  if (signer === undefined) return { status: "ok", detail: "reachable", fix: "" };
  const connector = createGrpcDeliverConnector({
    tls: tls === undefined ? undefined : { rootCAs: Buffer.from(tls.rootCAs), ...(tls.cert !== undefined ? { cert: Buffer.from(tls.cert) } : {}), ...(tls.key !== undefined ? { key: Buffer.from(tls.key) } : {}) },
    clock,
    maxMessageSize: DEFAULT_DELIVER_CLIENT_OPTIONS.maxMessageSize,
  });
  const seek = createSeekInfoEnvelope(signer, channel, { start: "newest", stop: "newest", behavior: "block" }, { clock, tlsCertHash: connector.tlsCertHash });
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), s.dialTimeoutMs * 2);
  let stream: Awaited<ReturnType<typeof connector.open>> | undefined;
  try {
    stream = await connector.open(endpoint, Envelope.encode(seek).finish(), s.dialTimeoutMs, abort.signal);
    const opened = stream;
    abort.signal.addEventListener("abort", () => opened.close(), { once: true });
    for await (const bytes of stream) {
      const msg = decodeDeliverResponse(bytes);
      if (msg.kind === "block") return { status: "ok", detail: `reachable over TLS; Deliver permitted (newest block ${String(msg.block.header?.number)})`, fix: "" };
      if (msg.kind === "status") {
        const st = Status[msg.status] ?? String(msg.status);
        if (msg.status === Status.FORBIDDEN) {
          return {
            status: "fail",
            detail: `the orderer refuses Deliver of ${channel} to this peer's identity (${s.mspId}) [FORBIDDEN]`,
            fix: `check that ${s.mspId} is in the channel's Readers policy and that the orderer knows its CA (and TLS CA: the request is bound to the TLS certificate)`,
          };
        }
        if (msg.status === Status.NOT_FOUND) return { status: "fail", detail: `the orderer does not serve channel ${channel} [NOT_FOUND]`, fix: "check the channel name and that the orderer joined the channel" };
        return { status: "fail", detail: `the orderer answered Deliver with status ${st}`, fix: "see the orderer's log" };
      }
      return { status: "fail", detail: `the orderer sent something unreadable: ${msg.error}`, fix: "check that the endpoint is an orderer" };
    }
    return { status: "fail", detail: abort.signal.aborted ? `no answer to Deliver within ${s.dialTimeoutMs * 2} ms` : "the Deliver stream ended without an answer", fix: "see the orderer's log" };
  } catch (err) {
    return { status: "fail", detail: `Deliver failed: ${errorMessage(err)}`, fix: "see the orderer's log" };
  } finally {
    clearTimeout(timer);
    stream?.close();
  }
}

async function getJson(admin: AdminEndpoint, path: string, timeoutMs: number): Promise<{ body: unknown; date: number }> {
  return { body: await adminGetJson(admin, path, timeoutMs), date: Date.now() };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

async function adminChecks(s: Subject, endpoints: readonly AdminEndpoint[], add: Add): Promise<void> {
  const leaders = new Map<string, { org: string; leaders: string[]; peers: number }>();
  for (const endpoint of endpoints) {
    const admin = endpoint.label;
    let membership: MembershipView;
    let channels: ChannelStatusView[];
    let events: Record<string, unknown>;
    try {
      const sentAt = Date.now();
      const health = await getJson(endpoint, "/healthz", s.dialTimeoutMs);
      const time = isRecord(health.body) && typeof health.body["time"] === "string" ? Date.parse(health.body["time"]) : Number.NaN;
      add(`admin:${admin}`, "ok", "answers /healthz");
      if (!Number.isNaN(time)) {
        // The peer's clock against this host's, within the round trip.
        const skew = time - (sentAt + health.date) / 2;
        const abs = Math.abs(skew);
        const detail = `the peer's clock is ${Math.round(abs)} ms ${skew >= 0 ? "ahead of" : "behind"} this host's`;
        if (abs > CLOCK_SKEW_FAIL_MS) add(`clock-skew:${admin}`, "fail", `${detail}: orderers refuse its Deliver requests (15 min window), certificates look expired or not yet valid`, "synchronise the clocks (NTP)");
        else if (abs > CLOCK_SKEW_WARNING_MS + (health.date - sentAt)) add(`clock-skew:${admin}`, "warning", detail, "synchronise the clocks (NTP)");
        else add(`clock-skew:${admin}`, "ok", detail);
      }
      membership = (await getJson(endpoint, "/v1/membership", s.dialTimeoutMs)).body as MembershipView;
      const ch = (await getJson(endpoint, "/v1/channels", s.dialTimeoutMs)).body;
      channels = isRecord(ch) && Array.isArray(ch["channels"]) ? (ch["channels"] as ChannelStatusView[]) : [];
      const ev = (await getJson(endpoint, "/v1/events", s.dialTimeoutMs)).body;
      events = isRecord(ev) ? ev : {};
    } catch (err) {
      add(`admin:${admin}`, "fail", `the admin endpoint does not answer: ${errorMessage(err)}`, "check that the peer runs with --admin (or operations listen address) at this host:port");
      continue;
    }
    if (!isRecord(membership) || !isRecord(membership.self)) {
      add(`admin:${admin}`, "fail", "/v1/membership is not a membership view", "check that this is a fabric-gossip peer's admin endpoint");
      continue;
    }
    const self = membership.self;
    if (endpoint === endpoints[0] && s.msp !== undefined && self.pkiId !== toHex(s.msp.signingIdentity.pkiId)) {
      add(`admin:${admin}`, "warning", `the peer behind ${admin} is not the one configured (PKI-ID ${self.pkiId.slice(0, 16)}..., org ${self.org})`, "give the admin endpoint of the peer these settings describe first");
    }
    duplicateChecks(admin, membership, events, add);
    for (const c of channels) {
      const orgs = c.orgs ?? [];
      if (orgs.length > 0 && !orgs.includes(self.org)) {
        add(`channel-member:${c.channel}@${admin}`, "fail", `${self.org} is not among the orgs of ${c.channel} in force (${orgs.join(", ")})`, `add ${self.org} to the channel (a config update)`);
      }
      const key = `${c.channel}\u0000${self.org}`;
      const entry = leaders.get(key) ?? { org: self.org, leaders: [], peers: 0 };
      entry.peers++;
      if (c.leader) entry.leaders.push(admin);
      leaders.set(key, entry);
    }
    // Bootstrap peers the running peer knows: their org, as membership shows it.
    for (const b of s.peer.gossip.bootstrap) {
      const m = [...membership.alive, ...membership.dead].find((p) => p.endpoint === b || p.internalEndpoint === b);
      if (m !== undefined && m.org !== self.org) {
        add(`bootstrap:${b}@${admin}`, "fail", `the running peer knows ${b} as a peer of ${m.org}, not of ${self.org}`, "list only peers of this org in peer.gossip.bootstrap");
      }
    }
  }
  for (const [key, e] of leaders) {
    const channel = key.split("\u0000")[0] ?? "";
    if (e.leaders.length > 1) {
      add(`leader:${channel}:${e.org}`, "fail", `${e.leaders.length} peers of ${e.org} are leaders of ${channel} (${e.leaders.join(", ")}): blocks are pulled twice and elections fight`, "use leader election (useLeaderElection true, orgLeader false) on every peer of the org, or one static leader");
    } else if (e.leaders.length === 1) {
      add(`leader:${channel}:${e.org}`, "ok", `${e.leaders[0]} is the leader of ${e.org} in ${channel}${e.peers > 1 ? ` among the ${e.peers} peers asked` : ""}`);
    } else if (e.peers > 1) {
      add(`leader:${channel}:${e.org}`, "warning", `none of the ${e.peers} peers of ${e.org} asked leads ${channel}`, "if these are all the org's peers, none pulls blocks from the orderer: check leader election settings (a static follower needs a static leader)");
    } else {
      add(`leader:${channel}:${e.org}`, "ok", `this peer is not the leader of ${channel} (give --admin of every peer of ${e.org} to count leaders)`);
    }
  }
}

function duplicateChecks(admin: string, view: MembershipView, events: Record<string, unknown>, add: Add): void {
  const byId = new Map<string, Set<string>>();
  for (const p of [...(view.alive ?? []), ...(view.dead ?? [])]) {
    const set = byId.get(p.pkiId) ?? new Set<string>();
    set.add(p.endpoint || p.internalEndpoint);
    byId.set(p.pkiId, set);
  }
  const problems: string[] = [];
  const selfSeen = byId.get(view.self.pkiId);
  if (selfSeen !== undefined) problems.push(`this peer's own PKI-ID is announced from ${[...selfSeen].join(", ")}`);
  for (const [id, eps] of byId) if (eps.size > 1 && id !== view.self.pkiId) problems.push(`PKI-ID ${id.slice(0, 16)}... at ${[...eps].join(", ")}`);
  const list = Array.isArray(events["events"]) ? (events["events"] as unknown[]) : [];
  const recent = list.filter((e): e is Record<string, unknown> => isRecord(e) && e["kind"] === "duplicate-identity");
  const fresh = recent.filter((e) => typeof e["time"] === "string" && Date.now() - Date.parse(e["time"]) < DUPLICATE_RECENT_MS);
  if (fresh.length > 0) problems.push(`${fresh.length} duplicate-identity event(s) in the last 10 minutes (from ${[...new Set(fresh.map((e) => String(e["endpoint"])))].join(", ")})`);
  const fix = "stop the second process that runs with this peer's MSP identity; every peer needs its own enrollment certificate";
  if (problems.length > 0) add(`duplicate-pki-id@${admin}`, "fail", problems.join("; "), fix);
  else if (recent.length > 0) add(`duplicate-pki-id@${admin}`, "warning", `${recent.length} duplicate-identity event(s) earlier than 10 minutes ago`, fix);
  else add(`duplicate-pki-id@${admin}`, "ok", "no peer announces this peer's PKI-ID, no PKI-ID at two endpoints");
}
