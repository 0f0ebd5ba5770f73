import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readlink } from "node:fs/promises";
import { promisify } from "node:util";
import { DelayRelay, type LinkDelay } from "./delay-relay.js";

/**
 * Network namespaces for partitions between real processes (RELIABILITY.md S3), on Linux as root.
 *
 * Everything lives inside a hub namespace of its own (the process that builds the lab was started through
 * `unshare --net`, see {@link runInHub}), so the machine's own network is never touched and nothing is left
 * behind when the process ends. Each host is a namespace of its own, held by a `sh` that exits when the hub
 * process's end of its stdin closes, with two links to the hub:
 * - a gossip link (veth) on one of the hub's bridges, address 10.77.0.(10 + i)/24. Hosts on one bridge reach
 *   each other; a partition moves hosts' links to other bridges, so that their packets are silently lost, as in
 *   a real network partition (nothing answers, no error comes back), and healing moves them back;
 * - a management link (veth) to the hub alone, 10.78.i.2/30 (the hub is 10.78.i.1): the host's admin endpoint
 *   listens there, and the hub's {@link ORDERER_ADDRESS} is routed through it, so the test reaches every peer and
 *   every peer reaches the ordering service whatever the partition. The hub forwards nothing, so hosts never
 *   reach each other over it.
 * These addresses exist only inside namespaces that have no route out of the machine.
 *
 * This kernel has no netem (no delay or random loss in `tc`) and no packet filter classifiers, so:
 * - random loss ({@link NetLab.loss}) is an nftables rule on the gossip bridges that drops each frame with a
 *   probability (`numgen random`): real packet loss, which TCP repairs by retransmission;
 * - delay ({@link NetLab.delay}) is a {@link DelayRelay} per ordered pair of hosts, in the hub: each host's
 *   connections to another's gossip port are sent to it by DNAT (nftables, in the host's namespace), and it
 *   relays their bytes after the link's delay. The TCP handshake is not delayed; TLS and everything above it is.
 * Both need `nft` (Debian's nftables package): {@link netLabFiltersUnavailable}.
 */

const run = promisify(execFile);

/** Set in the environment of a process that {@link runInHub} started inside a fresh network namespace. */
export const NETLAB_HUB_ENV = "FABRIC_GOSSIP_NETLAB_HUB";
/** The hub's address on its loopback, reachable from every host over its management link. */
export const ORDERER_ADDRESS = "10.79.0.1";

/** Why a lab cannot be built on this machine (not root, no `unshare`/`nsenter`/`ip`), or undefined when it can. */
export async function netLabUnavailable(): Promise<string | undefined> {
  try {
    await run("unshare", ["--net", "sh", "-c", "ip link set lo up && ip link add fgbr type bridge && ip link add fgh type veth peer name fge"]);
  } catch (err) {
    return `cannot create network namespaces, bridges and veth links here (needs root, unshare and ip): ${(err as Error).message.split("\n")[0]}`;
  }
  try {
    await run("nsenter", ["--version"]);
  } catch {
    return "nsenter (util-linux) is not installed";
  }
  return undefined;
}

/** Why loss and delay cannot be had here (no `nft`), or undefined when they can (a lab can be built too). */
export async function netLabFiltersUnavailable(): Promise<string | undefined> {
  try {
    await run("unshare", ["--net", "nft", "add", "table", "bridge", "fgcheck"]);
  } catch (err) {
    return `loss and delay need nftables (Debian package nftables) and a kernel with nf_tables: ${(err as Error).message.split("\n")[0]}`;
  }
  return undefined;
}

/** The gossip bridges' subnet (/24): host i is .(10 + i). */
const GOSSIP_NET = "10.77.0";
/** The hub's address on the first gossip bridge while hosts' links are delayed (its relays connect from it). */
const HUB_BRIDGE_ADDRESS = `${GOSSIP_NET}.1`;
/** The relay for the link from host i to host j listens on HUB_BRIDGE_ADDRESS, port RELAY_PORT_BASE + 64 i + j. */
const RELAY_PORT_BASE = 30_000;
const MAX_DELAYED_HOSTS = 64;

/** Whether this process runs in a hub namespace that {@link runInHub} made. */
export function inHub(): boolean {
  return process.env[NETLAB_HUB_ENV] === "1";
}

/**
 * Starts `node <nodeArgs>` (Node's flags, a script and its arguments) inside a fresh network namespace
 * (`unshare --net`), where it may build a {@link NetLab}; its stdout and stderr are inherited unless `stdio` says otherwise.
 */
export function runInHub(nodeArgs: readonly string[], stdio: "inherit" | "pipe" = "inherit"): ChildProcess {
  return spawn("unshare", ["--net", "--", process.execPath, ...nodeArgs], {
    stdio: ["ignore", stdio, stdio],
    env: { ...process.env, [NETLAB_HUB_ENV]: "1" },
  });
}

/** One host of the lab: a network namespace and how to start a process in it. */
export interface LabHost {
  readonly name: string;
  readonly index: number;
  /** Its address on the gossip bridges. */
  readonly address: string;
  /** Its address on its management link (reachable from the hub only). */
  readonly mgmtAddress: string;
  /** The command prefix that runs a program in its namespace (nsenter, which execs the program). */
  readonly launcher: readonly string[];
}

interface HostState extends LabHost {
  readonly holder: ChildProcess;
  /** The hub's end of its gossip link. */
  readonly hubLink: string;
}

/** Runs a command and returns its stdout; a failure names `what` and the command's stderr. */
async function runOrSay(what: string, file: string, args: readonly string[]): Promise<string> {
  try {
    return (await run(file, [...args])).stdout;
  } catch (err) {
    throw new Error(`${what}: ${(err as { stderr?: string }).stderr?.trim() ?? (err as Error).message}`);
  }
}

async function ip(args: readonly string[]): Promise<void> {
  await runOrSay(`ip ${args.join(" ")}`, "ip", args);
}

/** The key of the link from `a` to `b` among a lab's relays. */
const linkKey = (a: LabHost, b: LabHost): string => `${a.index}>${b.index}`;

/** Runs `nft` in the hub, or in the namespace of the process `pid`. */
async function nft(args: readonly string[], pid?: string): Promise<void> {
  const what = `nft ${args.join(" ")}`;
  if (pid === undefined) await runOrSay(what, "nft", args);
  else await runOrSay(what, "nsenter", ["-t", pid, "-n", "nft", ...args]);
}

/** Hosts in namespaces of their own, joined by bridges that partitions rearrange. See the module comment. */
export class NetLab {
  readonly #hosts: HostState[] = [];
  readonly #bridges = new Set<string>();
  /** The delaying relays by link ("i>j"), while {@link delay} is on. */
  readonly #relays = new Map<string, DelayRelay>();
  #lossTable = false;
  #started = false;

  /** Sets up the hub: loopback up, {@link ORDERER_ADDRESS} on it, the first bridge. Only inside a hub. */
  async start(): Promise<void> {
    if (!inHub()) throw new Error("a NetLab is built only inside its own network namespace (start the process through runInHub)");
    await ip(["link", "set", "lo", "up"]);
    await ip(["addr", "add", `${ORDERER_ADDRESS}/32`, "dev", "lo"]);
    await this.#bridge(0);
    this.#started = true;
  }

  async #bridge(k: number): Promise<string> {
    const name = `gb${k}`;
    if (!this.#bridges.has(name)) {
      await ip(["link", "add", name, "type", "bridge"]);
      await ip(["link", "set", name, "up"]);
      this.#bridges.add(name);
    }
    return name;
  }

  /** A new host, linked to the first bridge. */
  async addHost(name: string): Promise<LabHost> {
    if (!this.#started) throw new Error("NetLab.start() first");
    const i = this.#hosts.length;
    if (i > 200) throw new Error("a NetLab holds at most 200 hosts");
    // The holder: its namespace lives as long as it does, and it exits when our end of its stdin closes.
    const holder = spawn("unshare", ["--net", "sh", "-c", "read _"], { stdio: ["pipe", "ignore", "ignore"] });
    const pid = holder.pid;
    if (pid === undefined) throw new Error(`cannot start the namespace of ${name} (unshare)`);
    const address = `${GOSSIP_NET}.${10 + i}`;
    const mgmtAddress = `10.78.${i}.2`;
    const hubLink = `gh${i}`;
    const launcher = ["nsenter", "-t", String(pid), "-n", "--"];
    // unshare(2) happens just after spawn; until then the new links would land in the hub's namespace.
    const own = await readlink("/proc/self/ns/net");
    for (let tries = 0; ; tries++) {
      const its = await readlink(`/proc/${pid}/ns/net`).catch(() => "");
      if (its !== "" && its !== own) break;
      if (tries > 100) throw new Error(`the namespace of ${name} did not appear`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await ip(["link", "add", hubLink, "type", "veth", "peer", "name", "eth0", "netns", String(pid)]);
    await ip(["link", "add", `gm${i}`, "type", "veth", "peer", "name", "mgmt0", "netns", String(pid)]);
    await ip(["link", "set", hubLink, "master", await this.#bridge(0), "up"]);
    await ip(["addr", "add", `10.78.${i}.1/30`, "dev", `gm${i}`]);
    await ip(["link", "set", `gm${i}`, "up"]);
    const inside = [
      "ip link set lo up",
      `ip addr add ${address}/24 dev eth0`,
      "ip link set eth0 up",
      `ip addr add ${mgmtAddress}/30 dev mgmt0`,
      "ip link set mgmt0 up",
      `ip route add ${ORDERER_ADDRESS}/32 via 10.78.${i}.1`,
    ].join(" && ");
    await runOrSay(`configuring the namespace of ${name}`, "nsenter", ["-t", String(pid), "-n", "sh", "-c", inside]);
    const host: HostState = { name, index: i, address, mgmtAddress, launcher, holder, hubLink };
    this.#hosts.push(host);
    return host;
  }

  /**
   * Partitions the hosts: each group on a bridge of its own (hosts not named join the first group). Packets
   * between groups are lost from now on, those within a group still flow.
   */
  async split(groups: readonly (readonly LabHost[])[]): Promise<void> {
    if (this.#relays.size > 0) throw new Error("split: links are delayed through the hub, which reaches every host (undelay first)");
    const named = new Set(groups.flat().map((h) => h.index));
    const all = [[...groups[0]!, ...this.#hosts.filter((h) => !named.has(h.index))], ...groups.slice(1)];
    for (const [k, group] of all.entries()) {
      const bridge = await this.#bridge(k);
      for (const h of group) await ip(["link", "set", this.#hosts[h.index]!.hubLink, "master", bridge]);
    }
  }

  /**
   * Resets every TCP connection between `a` and `b` (`ss -K` in a's namespace: both ends get a reset, as when a
   * middlebox or a peer's restart drops a stream); returns how many sockets of a's it closed.
   */
  async resetConnections(a: LabHost, b: LabHost): Promise<number> {
    const pid = String(this.#hosts[a.index]!.holder.pid);
    const stdout = await runOrSay(`resetting ${a.name} <-> ${b.name}`, "nsenter", ["-t", pid, "-n", "ss", "-K", "-t", "-n", "dst", b.address]);
    // ss prints a header, then each socket it closed.
    return Math.max(0, stdout.trim().split("\n").length - 1);
  }

  /**
   * Drops each frame between hosts (each direction, TCP segments and ARP alike) with probability `percent` / 100,
   * from now on; 0 stops dropping. Needs `nft`.
   */
  async loss(percent: number): Promise<void> {
    if (!(percent >= 0 && percent <= 100)) throw new Error(`loss: a percentage from 0 to 100, not ${percent}`);
    if (!this.#lossTable) {
      await nft(["add", "table", "bridge", "fglab"]);
      await nft(["add", "chain", "bridge", "fglab", "forward", "{", "type", "filter", "hook", "forward", "priority", "0", ";", "}"]);
      this.#lossTable = true;
    }
    await nft(["flush", "chain", "bridge", "fglab", "forward"]);
    if (percent > 0) await nft(["add", "rule", "bridge", "fglab", "forward", "numgen", "random", "mod", "10000", "lt", String(Math.round(percent * 100)), "drop"]);
  }

  /**
   * Delays every link: the bytes from host `a` to host `b`'s gossip port (`gossipPorts[b.index]`) arrive
   * `delayOf(a, b)` later. The first call sends the hosts' connections through relays in the hub (and resets the
   * connections open until then, so that they are dialled again through them); later calls change the delays of
   * the relays in place. Not with a partition: the hub reaches every host. Needs `nft`.
   */
  async delay(gossipPorts: readonly number[], delayOf: (a: LabHost, b: LabHost) => LinkDelay): Promise<void> {
    if (this.#hosts.length > MAX_DELAYED_HOSTS) throw new Error(`delay: at most ${MAX_DELAYED_HOSTS} hosts`);
    if (this.#relays.size > 0) {
      for (const a of this.#hosts) for (const b of this.#hosts) this.#relays.get(linkKey(a, b))?.setDelay(delayOf(a, b));
      return;
    }
    await this.heal();
    await ip(["addr", "add", `${HUB_BRIDGE_ADDRESS}/24`, "dev", await this.#bridge(0)]);
    for (const a of this.#hosts) {
      const pid = String(a.holder.pid);
      await nft(["add", "table", "ip", "fglab"], pid);
      await nft(["add", "chain", "ip", "fglab", "out", "{", "type", "nat", "hook", "output", "priority", "-100", ";", "}"], pid);
      for (const b of this.#hosts) {
        if (a === b) continue;
        const port = gossipPorts[b.index];
        if (port === undefined) throw new Error(`delay: no gossip port for ${b.name}`);
        const listen = RELAY_PORT_BASE + MAX_DELAYED_HOSTS * a.index + b.index;
        const relay = new DelayRelay({ host: HUB_BRIDGE_ADDRESS, port: listen }, { host: b.address, port }, delayOf(a, b));
        await relay.start();
        this.#relays.set(linkKey(a, b), relay);
        await nft(["add", "rule", "ip", "fglab", "out", "ip", "daddr", b.address, "tcp", "dport", String(port), "dnat", "to", `${HUB_BRIDGE_ADDRESS}:${listen}`], pid);
      }
    }
    await this.#resetGossip();
  }

  /** Connections relayed from `a` to `b` since {@link delay} was first called (dials over that link). */
  relayed(a: LabHost, b: LabHost): number {
    return this.#relays.get(linkKey(a, b))?.accepted ?? 0;
  }

  /** Links undelayed: the relays closed (their connections with them), hosts dial each other directly again. */
  async undelay(): Promise<void> {
    if (this.#relays.size === 0) return;
    for (const a of this.#hosts) await nft(["delete", "table", "ip", "fglab"], String(a.holder.pid));
    await Promise.all([...this.#relays.values()].map((r) => r.stop()));
    this.#relays.clear();
    await ip(["addr", "del", `${HUB_BRIDGE_ADDRESS}/24`, "dev", await this.#bridge(0)]);
    await this.#resetGossip();
  }

  /** Resets every host's connections on the gossip bridges. */
  async #resetGossip(): Promise<void> {
    for (const h of this.#hosts) await runOrSay(`resetting ${h.name}'s gossip connections`, "nsenter", ["-t", String(h.holder.pid), "-n", "ss", "-K", "-t", "-n", "dst", `${GOSSIP_NET}.0/24`]);
  }

  /** Every host back on the first bridge. */
  async heal(): Promise<void> {
    const first = await this.#bridge(0);
    for (const h of this.#hosts) await ip(["link", "set", h.hubLink, "master", first]);
  }

  /** Ends every holder (their namespaces go with them once the processes started in them have exited). */
  stop(): void {
    for (const r of this.#relays.values()) void r.stop();
    this.#relays.clear();
    for (const h of this.#hosts) h.holder.stdin?.end();
    this.#hosts.length = 0;
  }
}
