import type { RemotePeer } from "../../api/index.js";
import { type NetworkMember, preferredEndpoint } from "../../discovery/index.js";
import type { Random } from "../../util/index.js";

/**
 * What peer selection needs to know of a member: the part of discovery's `NetworkMember` it reads.
 * The helpers are generic over it, so they work on `NetworkMember` and on any richer member type.
 */
export type RoutableMember = Pick<NetworkMember, "endpoint" | "internalEndpoint" | "pkiId">;

/** A predicate on a member: whether it may be given a message (Fabric's `filter.RoutingFilter`). */
export type RoutingFilter<M extends RoutableMember = NetworkMember> = (member: M) => boolean;

/** Selects every member (Fabric's `SelectAllPolicy`). */
export const selectAll: RoutingFilter<RoutableMember> = () => true;

/** Selects no member (Fabric's `SelectNonePolicy`). */
export const selectNone: RoutingFilter<RoutableMember> = () => false;

/** The logical AND of `filters`, evaluated left to right and stopping at the first refusal; no filters selects all (Fabric's `CombineRoutingFilters`). */
export function combine<M extends RoutableMember>(...filters: readonly RoutingFilter<M>[]): RoutingFilter<M> {
  return (member) => {
    for (const filter of filters) if (!filter(member)) return false;
    return true;
  };
}

/** Addressed by its preferred endpoint: the internal one when set, else the external one. */
export function toRemotePeer(member: RoutableMember): RemotePeer {
  return { endpoint: preferredEndpoint(member), pkiId: member.pkiId };
}

/**
 * The swapped positions of a partial Fisher-Yates: position `i` holds `slots[i]` when `stamps[i]` is the
 * current epoch, else itself. Starting a selection bumps the epoch instead of clearing anything, and the
 * arrays only grow: a selection runs for every message routed, and a Map cleared per selection
 * reallocated its table each time (a few percent of what survived a simulation's young-generation GCs).
 */
class Swaps {
  #slots = new Int32Array(64);
  #stamps = new Uint32Array(64);
  #epoch = 0;

  /** Forgets every swap and makes room for positions below `n`. */
  reset(n: number): void {
    if (n > this.#slots.length) {
      const size = Math.max(n, 2 * this.#slots.length);
      this.#slots = new Int32Array(size);
      this.#stamps = new Uint32Array(size);
      this.#epoch = 0;
    }
    this.#epoch++;
    if (this.#epoch === 0xffffffff) {
      this.#stamps.fill(0);
      this.#epoch = 1;
    }
  }

  at(i: number): number {
    return this.#stamps[i] === this.#epoch ? this.#slots[i]! : i;
  }

  set(i: number, v: number): void {
    this.#stamps[i] = this.#epoch;
    this.#slots[i] = v;
  }
}

/** The swaps every selection uses; a selection started inside another's filter gets its own. */
const sharedSwaps = new Swaps();
let sharedSwapsInUse = false;

function takeSwaps(n: number): Swaps {
  const swaps = sharedSwapsInUse ? new Swaps() : sharedSwaps;
  sharedSwapsInUse = true;
  swaps.reset(n);
  return swaps;
}

function releaseSwaps(swaps: Swaps): void {
  if (swaps === sharedSwaps) sharedSwapsInUse = false;
}

/**
 * Up to `k` members of `pool` that pass `filter`, chosen uniformly: walks a random permutation of the
 * pool and takes the first `k` matches (Fabric's `filter.SelectPeers`). The permutation is drawn lazily,
 * so the cost grows with the members visited, not with the pool. `k <= 0` selects nobody.
 */
export function selectPeers<M extends RoutableMember>(
  k: number,
  pool: readonly M[],
  filter: RoutingFilter<M>,
  random: Random,
): RemotePeer[] {
  return select(k, pool, filter, random, undefined, toRemotePeer);
}

/**
 * Like `selectPeers`, but members for which `preferred` is false (ours: members known only second-hand,
 * which a liar can invent by the thousand) take at most `floor(k / 2)` of the `k` places while
 * preferred members are left to fill the others; places no preferred member can take still go to
 * them. When every candidate is preferred it selects exactly as `selectPeers` does with the same
 * random draws. Walks the whole pool when second-hand members are set aside (O(pool)).
 */
export function selectPeersPreferring<M extends RoutableMember>(
  k: number,
  pool: readonly M[],
  filter: RoutingFilter<M>,
  random: Random,
  preferred: (member: M) => boolean,
): RemotePeer[] {
  return select(k, pool, filter, random, preferred, toRemotePeer);
}

/**
 * The members `selectPeers` (or, given `preferred`, `selectPeersPreferring`) would address, with the same
 * random draws: for a caller that reads more of them than their address.
 */
export function selectMembers<M extends RoutableMember>(
  k: number,
  pool: readonly M[],
  filter: RoutingFilter<M>,
  random: Random,
  preferred?: (member: M) => boolean,
): M[] {
  return select(k, pool, filter, random, preferred, asMember);
}

function asMember<M>(member: M): M {
  return member;
}

/**
 * Every selection: a partial Fisher-Yates over a sparse map of swapped positions; `preferred` undefined
 * prefers all. Each chosen member is given as `as` makes it.
 */
function select<M extends RoutableMember, R>(
  k: number,
  pool: readonly M[],
  filter: RoutingFilter<M>,
  random: Random,
  preferred: ((member: M) => boolean) | undefined,
  as: (member: M) => R,
): R[] {
  const out: R[] = [];
  const n = pool.length;
  if (k <= 0 || n === 0) return out;
  const secondHandPlaces = Math.floor(k / 2);
  let secondHand = 0;
  let setAside: M[] | undefined;
  const swapped = takeSwaps(n);
  try {
    for (let i = 0; i < n && out.length < k; i++) {
      const j = i + random.int(n - i);
      const atJ = swapped.at(j);
      swapped.set(j, swapped.at(i));
      const member = pool[atJ]!;
      if (!filter(member)) continue;
      if (preferred === undefined || preferred(member)) out.push(as(member));
      else if (secondHand < secondHandPlaces) {
        secondHand++;
        out.push(as(member));
      } else {
        setAside ??= [];
        if (setAside.length < k) setAside.push(member);
      }
    }
  } finally {
    releaseSwaps(swapped);
  }
  if (setAside !== undefined) {
    for (const member of setAside) {
      if (out.length >= k) break;
      out.push(as(member));
    }
  }
  return out;
}

/** The first member of `pool`, in order, that passes `filter`, or undefined (Fabric's `filter.First`). */
export function first<M extends RoutableMember>(pool: readonly M[], filter: RoutingFilter<M>): RemotePeer | undefined {
  for (const member of pool) if (filter(member)) return toRemotePeer(member);
  return undefined;
}

/** The members of `pool`, in order, that pass at least one of `filters` (Fabric's `filter.AnyMatch`). */
export function anyMatch<M extends RoutableMember>(pool: readonly M[], ...filters: readonly RoutingFilter<M>[]): M[] {
  return pool.filter((member) => filters.some((f) => f(member)));
}
