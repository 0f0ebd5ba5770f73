import { bytesEqual, prefixedHex } from "../util/index.js";
import { comparePeerTime } from "./peer-time.js";
import type { SignedGossipMessage } from "./signed-message.js";

const EMPTY = new Uint8Array(0);

/** How a new message relates to a stored one (Fabric's `common.InvalidationResult`). */
export enum InvalidationResult {
  /** Neither replaces the other: keep both. */
  NoAction = 0,
  /** The new message replaces the stored one. */
  Invalidates = 1,
  /** The stored message makes the new one redundant: drop the new one. */
  Invalidated = 2,
}

/**
 * Decides how `thisMsg` (the new one) relates to `thatMsg` (a stored one) (Fabric's `common.MessageReplacingPolicy`).
 * A policy may also name a `partition` key: messages with different keys never invalidate each other, so a
 * store compares a new message only with those of its key instead of with every stored one.
 */
export type MessageReplacingPolicy<T> = ((thisMsg: T, thatMsg: T) => InvalidationResult) & {
  readonly partition?: (msg: T) => string;
};

/** Fabric's `compareTimestamps`: a newer message invalidates; an older or identical one is invalidated. */
function byTimestamp(order: number): InvalidationResult {
  return order > 0 ? InvalidationResult.Invalidates : InvalidationResult.Invalidated;
}

/**
 * Fabric's `protoext.NewGossipMessageComparator(maxBlocks)`: the replacement policy of every message store.
 * - alive, state info and leadership messages of the same PKI-ID: the newer PeerTime wins, a tie is a duplicate;
 * - peer identities of the same PKI-ID: the stored one is kept;
 * - blocks: the same seq is a duplicate; seqs more than `maxBlocks` apart: the newer evicts the older;
 *   otherwise both stay (a sliding window of about `maxBlocks` blocks);
 * - anything else, or messages of different kinds: no action.
 * Where Go would dereference a nil field, a missing one reads as zero/empty here instead of crashing.
 */
export function createGossipMessageComparator(maxBlocks: number): MessageReplacingPolicy<SignedGossipMessage> {
  const window = BigInt(maxBlocks);
  return Object.assign(compare, { partition: gossipMessagePartition });
  function compare(thisMsg: SignedGossipMessage, thatMsg: SignedGossipMessage): InvalidationResult {
    const a = thisMsg.message.content;
    const b = thatMsg.message.content;
    if (a === undefined || b === undefined || a.$case !== b.$case) return InvalidationResult.NoAction;
    switch (a.$case) {
      case "aliveMsg": {
        const other = (b as typeof a).value;
        if (!bytesEqual(a.value.membership?.pkiId ?? EMPTY, other.membership?.pkiId ?? EMPTY)) return InvalidationResult.NoAction;
        return byTimestamp(comparePeerTime(a.value.timestamp, other.timestamp));
      }
      case "stateInfo": {
        const other = (b as typeof a).value;
        if (!bytesEqual(a.value.pkiId, other.pkiId)) return InvalidationResult.NoAction;
        return byTimestamp(comparePeerTime(a.value.timestamp, other.timestamp));
      }
      case "leadershipMsg": {
        const other = (b as typeof a).value;
        if (!bytesEqual(a.value.pkiId, other.pkiId)) return InvalidationResult.NoAction;
        return byTimestamp(comparePeerTime(a.value.timestamp, other.timestamp));
      }
      case "peerIdentity": {
        const other = (b as typeof a).value;
        return bytesEqual(a.value.pkiId, other.pkiId) ? InvalidationResult.Invalidated : InvalidationResult.NoAction;
      }
      case "dataMsg": {
        const x = a.value.payload?.seqNum ?? 0n;
        const y = (b as typeof a).value.payload?.seqNum ?? 0n;
        if (x === y) return InvalidationResult.Invalidated;
        const diff = x > y ? x - y : y - x;
        if (diff <= window) return InvalidationResult.NoAction;
        return x > y ? InvalidationResult.Invalidates : InvalidationResult.Invalidated;
      }
      default:
        return InvalidationResult.NoAction;
    }
  }
}

/**
 * The comparator's partition: only messages of one kind and one PKI-ID (or any two blocks) can invalidate
 * each other. Keys are flat strings (hashed at once by the store's Map), computed once per message.
 */
export function gossipMessagePartition(msg: SignedGossipMessage): string {
  return msg.partition(partitionKey);
}

/** The partition of the alive messages of `pkiId`: for a store lookup before the message is decoded. */
export function alivePartition(pkiId: Uint8Array): string {
  return prefixedHex("a", pkiId);
}

function partitionKey(msg: SignedGossipMessage): string {
  const c = msg.message.content;
  switch (c?.$case) {
    case "aliveMsg":
      return alivePartition(c.value.membership?.pkiId ?? EMPTY);
    case "stateInfo":
      return prefixedHex("s", c.value.pkiId);
    case "leadershipMsg":
      return prefixedHex("l", c.value.pkiId);
    case "peerIdentity":
      return prefixedHex("i", c.value.pkiId);
    case "dataMsg":
      return "d";
    default:
      return "o";
  }
}
