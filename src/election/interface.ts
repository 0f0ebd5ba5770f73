import type { PKIidType } from "../api/index.js";
import type { Logger } from "../logging/index.js";
import type { Clock } from "../util/index.js";

/** A peer in the election view: Fabric's `election.Peer`. */
export interface Peer {
  /** The peer's PKI-ID. */
  readonly id: PKIidType;
}

/** A leadership message from a remote peer: Fabric's `election.Msg`. */
export interface Msg {
  /** The PKI-ID of the peer that created the message. */
  readonly senderId: PKIidType;
  /** A proposal: "I would like to be the leader". */
  isProposal(): boolean;
  /** A declaration (heartbeat): "I am the leader". */
  isDeclaration(): boolean;
}

/**
 * What the election needs from the network: Fabric's `election.LeaderElectionAdapter`
 * (`gossip/election/election.go`), implemented over the gossip node by `createLeaderElectionAdapter`.
 */
export interface LeaderElectionAdapter<M extends Msg = Msg> {
  /** Sends a message to the other peers of the view. */
  gossip(msg: M): void;
  /** Subscribes to incoming proposals and declarations; returns the unsubscribe function. */
  accept(handler: (msg: M) => void): () => void;
  /** A new proposal (`false`) or declaration (`true`) from us. */
  createMessage(isDeclaration: boolean): M;
  /** The peers considered alive (for the gossip adapter: same-org channel members, not us). */
  peers(): Peer[];
  /** Optional: whether `id` is one of `peers()`, answered without building them (else the election asks `peers()`). */
  isAlive?(id: PKIidType): boolean;
  /** Reports our leadership status (Fabric's gossip_leader_election_leader gauge). */
  reportMetrics(isLeader: boolean): void;
  /** Releases the adapter's subscriptions; idempotent. */
  stop(): void;
}

/** Fabric's `election.LeaderElectionService`, with our start/stop lifecycle. */
export interface LeaderElectionService {
  /** Whether this peer is currently the leader. */
  isLeader(): boolean;
  /**
   * Relinquishes leadership until another leader is elected or `leaderAliveThreshold x 6` passes
   * (Fabric's `Yield`; the deliver client calls it when the ordering service stays unreachable).
   * Does nothing when we are not the leader or already yielding.
   */
  yield(): void;
  /** Starts the election (startup stabilisation, then the main loop); idempotent. */
  start(): Promise<void>;
  /** Stops every timer and the subscription; idempotent. The callback is not invoked. */
  stop(): Promise<void>;
}

/** Called on every leadership change (Fabric's `leadershipCallback`). */
export type LeadershipCallback = (isLeader: boolean) => void;

/** What the election service is built from. */
export interface LeaderElectionComponents<M extends Msg = Msg> {
  adapter: LeaderElectionAdapter<M>;
  clock: Clock;
  logger: Logger;
  /** Our PKI-ID; must not be empty. */
  pkiId: PKIidType;
  /** Invoked with `true` when we become leader and `false` when we stop being leader. */
  onLeadershipChange?: LeadershipCallback;
}

/** `peer.gossip.election.*`, Fabric's `election.ElectionConfig`. */
export interface LeaderElectionOptions {
  /** Longest wait for a stable membership view before the first election (startupGracePeriod). */
  startupGracePeriodMs: number;
  /** Membership view sampling period during start-up (membershipSampleInterval). */
  membershipSampleIntervalMs: number;
  /**
   * Follower timeout without a declaration (leaderAliveThreshold). Derived: the leader's
   * heartbeat is half of it, the yield duration six times it.
   */
  leaderAliveThresholdMs: number;
  /** Time between a proposal and self-declaration (leaderElectionDuration). */
  leaderElectionDurationMs: number;
}

/** election.DefStartupGracePeriod */
export const DEF_STARTUP_GRACE_PERIOD_MS = 15_000;
/** election.DefMembershipSampleInterval */
export const DEF_MEMBERSHIP_SAMPLE_INTERVAL_MS = 1_000;
/** election.DefLeaderAliveThreshold */
export const DEF_LEADER_ALIVE_THRESHOLD_MS = 10_000;
/** election.DefLeaderElectionDuration */
export const DEF_LEADER_ELECTION_DURATION_MS = 5_000;

/** Fabric's defaults (`gossip/election/election.go` `Def*`). */
export const DEFAULT_LEADER_ELECTION_OPTIONS: Readonly<LeaderElectionOptions> = Object.freeze({
  startupGracePeriodMs: DEF_STARTUP_GRACE_PERIOD_MS,
  membershipSampleIntervalMs: DEF_MEMBERSHIP_SAMPLE_INTERVAL_MS,
  leaderAliveThresholdMs: DEF_LEADER_ALIVE_THRESHOLD_MS,
  leaderElectionDurationMs: DEF_LEADER_ELECTION_DURATION_MS,
});

/** The leader's declaration (heartbeat) period: leaderAliveThreshold / 2 (election.go `leader()`). */
export function leaderHeartbeatIntervalMs(o: Pick<LeaderElectionOptions, "leaderAliveThresholdMs">): number {
  return o.leaderAliveThresholdMs / 2;
}

/** How long a yield lasts at most: leaderAliveThreshold x 6 (election.go `Yield()`). */
export function yieldDurationMs(o: Pick<LeaderElectionOptions, "leaderAliveThresholdMs">): number {
  return o.leaderAliveThresholdMs * 6;
}
