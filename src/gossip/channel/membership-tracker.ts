import { type PkiHex, pkiHex } from "../../api/index.js";
import type { NetworkMember } from "../../discovery/index.js";
import { type Clock, errorMessage, type TimerHandle } from "../../util/index.js";

/**
 * A member's endpoints as Fabric's tracker prints them: `[external internal]`, or `[external]` when
 * both are the same (Fabric's `endpoints`).
 */
export function endpointsOf(members: readonly Pick<NetworkMember, "endpoint" | "internalEndpoint">[]): string[][] {
  return members.map((m) => (m.endpoint !== m.internalEndpoint ? [m.endpoint, m.internalEndpoint] : [m.endpoint]));
}

/** Go's `fmt.Sprint` of a `[][]string`: `[[a b] [c]]`. */
function goSlice(view: readonly (readonly string[])[]): string {
  return `[${view.map((eps) => `[${eps.join(" ")}]`).join(" ")}]`;
}

function sameView(a: readonly (readonly string[])[], b: readonly (readonly string[])[]): boolean {
  return a.length === b.length && a.every((eps, i) => eps.length === b[i]!.length && eps.every((ep, j) => ep === b[i]![j]));
}

/**
 * Fabric's `checkIfPeersChanged`: the report line for a change from `prev` to `curr`, or undefined
 * when there is none. As in Fabric, a change is reported only when the endpoints of the peers that
 * went offline differ from those of the peers that came online (so nothing is reported when none did).
 */
export function describeMembershipChange(prev: readonly NetworkMember[], curr: readonly NetworkMember[]): string | undefined {
  const currIds = new Set<PkiHex>(curr.map((m) => pkiHex(m.pkiId)));
  const prevIds = new Set<PkiHex>(prev.map((m) => pkiHex(m.pkiId)));
  const wentOffline = endpointsOf(prev.filter((m) => !currIds.has(pkiHex(m.pkiId))));
  const wentOnline = endpointsOf(curr.filter((m) => !prevIds.has(pkiHex(m.pkiId))));
  if (sameView(wentOffline, wentOnline)) return undefined;
  const view = goSlice(endpointsOf(curr));
  if (wentOffline.length === 0) return `Membership view has changed. peers went online: ${goSlice(wentOnline)}, current view: ${view}`;
  if (wentOnline.length === 0) return `Membership view has changed. peers went offline: ${goSlice(wentOffline)}, current view: ${view}`;
  return `Membership view has changed. peers went offline: ${goSlice(wentOffline)}, peers went online: ${goSlice(wentOnline)}, current view: ${view}`;
}

/** What the tracker is built with. */
export interface MembershipTrackerOptions {
  /** The channel's peers (the channel's `getPeers`). */
  getPeersToTrack: () => NetworkMember[];
  /** Receives each change line. */
  report: (line: string) => void;
  /** Receives the number of peers at every tick (the gauge). */
  setTotal: (total: number) => void;
  /** Receives a failure of a tick (the chain goes on). */
  onError: (message: string) => void;
  clock: Clock;
  intervalMs: number;
}

/**
 * Fabric's `membershipTracker`: every `intervalMs`, sets the total and reports which peers of the
 * channel went online or offline since the previous tick. A chain of clock timeouts from `start()`.
 */
export class MembershipTracker {
  readonly #options: MembershipTrackerOptions;
  #prev: NetworkMember[] = [];
  #timer: TimerHandle | undefined;
  #running = false;

  constructor(options: MembershipTrackerOptions) {
    this.#options = options;
  }

  /** Takes the first view and starts ticking (idempotent). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#prev = this.#options.getPeersToTrack();
    this.#schedule();
  }

  /** Stops ticking (idempotent). */
  stop(): void {
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** One tick: the gauge, then the change report. */
  tick(): void {
    const curr = this.#options.getPeersToTrack();
    this.#options.setTotal(curr.length);
    const line = describeMembershipChange(this.#prev, curr);
    if (line !== undefined) this.#options.report(line);
    this.#prev = curr;
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = this.#options.clock.setTimeout(() => {
      this.#timer = undefined;
      try {
        this.tick();
      } catch (err) {
        this.#options.onError(errorMessage(err));
      }
      this.#schedule();
    }, this.#options.intervalMs);
  }
}
