import { type PkiHex, type PKIidType, pkiHex } from "../api/index.js";
import type { Logger } from "../logging/index.js";
import { bytesCompare, bytesEqual, type Clock, type TimerHandle, errorMessage } from "../util/index.js";
import { ElectionError } from "./errors.js";
import {
  DEFAULT_LEADER_ELECTION_OPTIONS,
  type LeaderElectionAdapter,
  type LeaderElectionComponents,
  type LeaderElectionOptions,
  type LeaderElectionService,
  type LeadershipCallback,
  leaderHeartbeatIntervalMs,
  type Msg,
  yieldDurationMs,
} from "./interface.js";

/** Fabric's logger name for the election. */
export const ELECTION_LOGGER_NAME = "gossip.election";

type Phase = "new" | "stabilizing" | "running" | "stopped";

/**
 * Fabric's `leaderElectionSvcImpl` (`gossip/election/election.go`), with its goroutines turned into
 * one chain of clock timeouts:
 *
 * - start: subscribe to messages, then sample the view every membershipSampleInterval until two
 *   samples agree in size, the startup grace period has passed, or a declaration was seen;
 * - loop: when no leader is known, run an election (unless yielding: propose, wait
 *   leaderElectionDuration or a declaration, become leader unless a leader appeared or a smaller
 *   PKI-ID proposed); then as leader gossip a declaration and wait leaderAliveThreshold/2 (or a
 *   declaration), or as follower forget proposals and the leader and wait until leaderAliveThreshold
 *   has passed since the last declaration (Fabric waits a fixed leaderAliveThreshold window from
 *   when it became follower: the same rule, "no declaration for leaderAliveThreshold", checked the
 *   moment it can become true instead of at the next window's end, so a dead leader is replaced
 *   within leaderAliveThreshold + leaderElectionDuration rather than up to twice the threshold);
 * - a declaration marks a leader as known, wakes an interruptible wait, and makes us step down
 *   when it comes from a smaller PKI-ID (a healed partition).
 *
 * Exactly one timer of the loop is pending at any time (plus the yield timer while yielding).
 */
export class LeaderElectionServiceImpl<M extends Msg = Msg> implements LeaderElectionService {
  readonly #id: PKIidType;
  readonly #adapter: LeaderElectionAdapter<M>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #callback: LeadershipCallback;
  readonly #o: LeaderElectionOptions;

  #phase: Phase = "new";
  #isLeader = false;
  #leaderExists = false;
  /** Monotonic time of the last declaration heard (ours excluded), undefined before the first. */
  #lastDeclarationAt: number | undefined;
  #yielding = false;
  /** Proposals collected since the last follower round, by sender. */
  readonly #proposals = new Map<PkiHex, PKIidType>();

  /** The loop's pending wait, what runs after it, and whether a declaration may cut it short. */
  #timer: TimerHandle | undefined;
  #next: (() => void) | undefined;
  #sleeping = false;
  #yieldTimer: TimerHandle | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(c: LeaderElectionComponents<M>, options: Partial<LeaderElectionOptions> = {}) {
    if (c.pkiId.length === 0) throw new ElectionError("EMPTY_ID", "the leader election needs our PKI-ID, got an empty one");
    this.#o = { ...DEFAULT_LEADER_ELECTION_OPTIONS, ...options };
    // Config validates peer.gossip.election.* (durations above 0). Checked again because tests
    // build elections by hand, and the loop's waits of 0 would spin at one instant forever.
    for (const [k, v] of Object.entries(this.#o)) {
      if (!(v > 0)) {
        throw new ElectionError("INVALID_OPTIONS", `leader election option ${k} must be a positive number of milliseconds, got ${String(v)}`);
      }
    }
    this.#id = c.pkiId;
    this.#adapter = c.adapter;
    this.#clock = c.clock;
    this.#log = c.logger.child(ELECTION_LOGGER_NAME, { pkiId: pkiHex(c.pkiId) });
    this.#callback = c.onLeadershipChange ?? (() => {});
  }

  /** The options in effect. */
  get options(): Readonly<LeaderElectionOptions> {
    return this.#o;
  }

  isLeader(): boolean {
    return this.#isLeader;
  }

  /** Whether we are yielding (not proposing) after `yield()`. */
  isYielding(): boolean {
    return this.#yielding;
  }

  async start(): Promise<void> {
    if (this.#phase !== "new") return;
    this.#phase = "stabilizing";
    this.#unsubscribe = this.#adapter.accept((msg) => this.#handleMessage(msg));
    this.#waitForMembershipStabilization();
  }

  async stop(): Promise<void> {
    if (this.#phase === "stopped") return;
    this.#phase = "stopped";
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#next = undefined;
    this.#sleeping = false;
    this.#yieldTimer?.cancel();
    this.#yieldTimer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#log.debug("leader election stopped");
  }

  yield(): void {
    if (!this.#isLeader || this.#yielding || this.#phase === "stopped") return;
    this.#yielding = true;
    this.#stopBeingLeader();
    // We were the leader we knew of: forget it so the loop elects another.
    this.#leaderExists = false;
    this.#yieldTimer?.cancel();
    this.#yieldTimer = this.#clock.setTimeout(() => {
      this.#yieldTimer = undefined;
      this.#yielding = false;
    }, yieldDurationMs(this.#o));
  }

  // ------------------------------------------------------------------ messages

  #handleMessage(msg: M): void {
    if (this.#phase === "stopped") return;
    if (!this.#isAlive(msg.senderId)) {
      this.#log.debug("leadership message from a peer not in the view", { sender: pkiHex(msg.senderId) });
      return;
    }
    if (msg.isProposal()) {
      this.#proposals.set(pkiHex(msg.senderId), msg.senderId);
    } else if (msg.isDeclaration()) {
      this.#leaderExists = true;
      this.#lastDeclarationAt = this.#clock.monotonic();
      this.#interrupt();
      if (this.#isLeader && bytesCompare(msg.senderId, this.#id) < 0) {
        this.#log.info("a peer with a smaller PKI-ID declared leadership", { leader: pkiHex(msg.senderId) });
        this.#stopBeingLeader();
      }
    } else {
      this.#log.error("leadership message that is neither a proposal nor a declaration", { sender: pkiHex(msg.senderId) });
    }
  }

  #isAlive(id: PKIidType): boolean {
    return this.#adapter.isAlive?.(id) ?? this.#adapter.peers().some((p) => bytesEqual(p.id, id));
  }

  // ------------------------------------------------------------------ waits

  /** Runs `next` after `ms`; a declaration cuts the wait short when `interruptible`. */
  #wait(ms: number, interruptible: boolean, next: () => void): void {
    if (this.#phase === "stopped") return;
    this.#next = next;
    this.#sleeping = interruptible;
    this.#timer = this.#clock.setTimeout(() => this.#resume(), ms);
  }

  /** Ends an interruptible wait now (at the next turn of the clock, after the message is handled). */
  #interrupt(): void {
    if (!this.#sleeping || this.#timer === undefined) return;
    this.#sleeping = false;
    this.#timer.cancel();
    this.#timer = this.#clock.setTimeout(() => this.#resume(), 0);
  }

  #resume(): void {
    this.#timer = undefined;
    this.#sleeping = false;
    const next = this.#next;
    this.#next = undefined;
    if (this.#phase === "stopped" || next === undefined) return;
    next();
  }

  // ------------------------------------------------------------------ start-up

  #waitForMembershipStabilization(): void {
    const endTime = this.#clock.monotonic() + this.#o.startupGracePeriodMs;
    let viewSize = this.#adapter.peers().length;
    const sample = (): void => {
      const newSize = this.#adapter.peers().length;
      if (newSize === viewSize || this.#clock.monotonic() > endTime || this.#leaderExists) {
        this.#log.debug("membership view settled", { peers: newSize });
        this.#phase = "running";
        this.#loop();
        return;
      }
      viewSize = newSize;
      this.#wait(this.#o.membershipSampleIntervalMs, false, sample);
    };
    this.#wait(this.#o.membershipSampleIntervalMs, false, sample);
  }

  // ------------------------------------------------------------------ main loop

  #loop(): void {
    if (!this.#leaderExists) {
      this.#leaderElection(() => this.#afterElection());
      return;
    }
    this.#afterElection();
  }

  #afterElection(): void {
    if (this.#phase === "stopped") return;
    // A leader was elected while we were yielding: stop yielding.
    if (this.#leaderExists && this.#yielding) this.#stopYielding();
    if (this.#isLeader) this.#leader();
    else this.#follower();
  }

  #leaderElection(done: () => void): void {
    // While yielding we do not take part.
    if (this.#yielding) {
      done();
      return;
    }
    this.#adapter.gossip(this.#adapter.createMessage(false));
    this.#wait(this.#o.leaderElectionDurationMs, true, () => {
      if (this.#leaderExists) {
        this.#log.debug("some peer is already the leader");
        done();
        return;
      }
      if (this.#yielding) {
        this.#log.debug("aborting the leader election because we are yielding");
        done();
        return;
      }
      for (const id of this.#proposals.values()) {
        if (bytesCompare(id, this.#id) < 0) {
          done();
          return;
        }
      }
      this.#beLeader();
      this.#leaderExists = true;
      done();
    });
  }

  #leader(): void {
    this.#adapter.gossip(this.#adapter.createMessage(true));
    this.#adapter.reportMetrics(true);
    this.#wait(leaderHeartbeatIntervalMs(this.#o), true, () => this.#loop());
  }

  #follower(): void {
    this.#proposals.clear();
    this.#leaderExists = false;
    this.#adapter.reportMetrics(false);
    // A declaration during the wait sets #leaderExists again; none for leaderAliveThreshold since
    // the last one means the leader is gone, and the loop elects.
    const now = this.#clock.monotonic();
    const deadline = (this.#lastDeclarationAt ?? now) + this.#o.leaderAliveThresholdMs;
    this.#wait(Math.max(1, deadline - now), false, () => this.#loop());
  }

  // ------------------------------------------------------------------ status

  #beLeader(): void {
    this.#log.info("becoming the leader");
    this.#isLeader = true;
    this.#notify(true);
  }

  #stopBeingLeader(): void {
    this.#log.info("stopped being the leader");
    this.#isLeader = false;
    this.#notify(false);
  }

  #stopYielding(): void {
    this.#log.debug("stopped yielding");
    this.#yielding = false;
    this.#yieldTimer?.cancel();
    this.#yieldTimer = undefined;
  }

  #notify(isLeader: boolean): void {
    try {
      this.#callback(isLeader);
    } catch (err) {
      this.#log.error("the leadership callback failed", { isLeader, err: errorMessage(err) });
    }
  }
}

/** Fabric's `NewLeaderElectionService`; call `start()` to run it. */
export function createLeaderElectionService<M extends Msg>(
  components: LeaderElectionComponents<M>,
  options: Partial<LeaderElectionOptions> = {},
): LeaderElectionService {
  return new LeaderElectionServiceImpl(components, options);
}
