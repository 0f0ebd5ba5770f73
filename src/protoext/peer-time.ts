import type { PeerTime } from "../protos/gen/gossip/message.pb.js";

/** The zero PeerTime, standing in for a missing timestamp (Go reads a nil PeerTime's fields as zero). */
export const ZERO_PEER_TIME: Readonly<PeerTime> = Object.freeze({ incNum: 0n, seqNum: 0n });

/**
 * Orders two PeerTimes lexicographically: `inc_num` (the sender's start time) first, then `seq_num`
 * (Fabric's `msgcomparator.go:compareTimestamps`, `discovery_impl.go:before/same`). Returns a negative
 * number when `a` is older, 0 when equal, positive when newer.
 */
export function comparePeerTime(a: PeerTime | undefined, b: PeerTime | undefined): number {
  const x = a ?? ZERO_PEER_TIME;
  const y = b ?? ZERO_PEER_TIME;
  if (x.incNum !== y.incNum) return x.incNum < y.incNum ? -1 : 1;
  if (x.seqNum !== y.seqNum) return x.seqNum < y.seqNum ? -1 : 1;
  return 0;
}

/** Whether `a` is strictly older than `b` (discovery's `before`). */
export function peerTimeBefore(a: PeerTime | undefined, b: PeerTime | undefined): boolean {
  return comparePeerTime(a, b) < 0;
}

/** Whether `a` and `b` are the same instant (discovery's `same`). */
export function peerTimeEqual(a: PeerTime | undefined, b: PeerTime | undefined): boolean {
  return comparePeerTime(a, b) === 0;
}
