import { ElectionError } from "./errors.js";
import type { LeaderElectionService, LeadershipCallback } from "./interface.js";

/** How a peer decides whether it pulls blocks from the ordering service for a channel. */
export type LeaderMode = "election" | "static-leader" | "standby";

/** The two `peer.gossip.*` flags that select the mode. */
export interface LeaderModeFlags {
  /** peer.gossip.useLeaderElection */
  useLeaderElection: boolean;
  /** peer.gossip.orgLeader */
  orgLeader: boolean;
}

/**
 * Fabric's `InitializeChannel` leader modes (`gossip/service/gossip_service.go`): dynamic election,
 * a static leader (always delivers), or standby (never delivers). Both flags set is a configuration
 * error (Fabric panics).
 */
export function resolveLeaderMode(flags: LeaderModeFlags): LeaderMode {
  if (flags.useLeaderElection && flags.orgLeader) {
    throw new ElectionError(
      "CONFLICTING_LEADER_MODE",
      "peer.gossip.useLeaderElection and peer.gossip.orgLeader are both true; they are mutually exclusive: " +
        "set peer.gossip.useLeaderElection to true for dynamic leader election, or peer.gossip.orgLeader to true for a static leader, not both",
    );
  }
  if (flags.useLeaderElection) return "election";
  return flags.orgLeader ? "static-leader" : "standby";
}

/**
 * A fixed leadership status with the election service's face, for the static modes: `orgLeader`
 * true means always leader (the callback gets `true` on start), false means standby (the callback
 * is never invoked). `yield()` does nothing (Fabric passes a no-op yield to a static leader's
 * deliver client).
 */
export class StaticLeaderService implements LeaderElectionService {
  readonly #leader: boolean;
  readonly #callback: LeadershipCallback;
  #started = false;
  #stopped = false;

  constructor(isLeader: boolean, onLeadershipChange?: LeadershipCallback) {
    this.#leader = isLeader;
    this.#callback = onLeadershipChange ?? (() => {});
  }

  isLeader(): boolean {
    return this.#leader;
  }

  yield(): void {}

  async start(): Promise<void> {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    if (this.#leader) this.#callback(true);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
  }
}

/** A static-mode service for `orgLeader` (after `resolveLeaderMode` said it is not "election"). */
export function createStaticLeaderService(orgLeader: boolean, onLeadershipChange?: LeadershipCallback): LeaderElectionService {
  return new StaticLeaderService(orgLeader, onLeadershipChange);
}
