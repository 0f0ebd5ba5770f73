import { type PKIidType, pkiKey } from "../api/index.js";
import { type NetworkMember, preferredEndpoint } from "../discovery/index.js";
import type { RoutingFilter } from "../gossip/filter/index.js";
import { type Logger, RateLimitedLog } from "../logging/index.js";
import type { ReceivedMessage } from "../protoext/index.js";
import { type GossipMessage, GossipMessage_Tag, type PvtDataDigest, type PvtDataElement } from "../protos/gen/gossip/message.pb.js";
import { bytesEqual, errorMessage, type TimerHandle, toHex, utf8 } from "../util/index.js";
import type { CollectionStore } from "./collection-store.js";
import type { CollectionDefinition } from "./collections.js";
import type { FetchedElement, FetchedPvtData, PvtDataFetcher, PvtDataWanted } from "./fetcher.js";
import { CollectionAccessCache, collectionPeerFilter, describeDigest, type PvtTransferComponents, pvtDataDigestKey } from "./transfer-common.js";

/** Fabric's `responseWaitTime` (pull.go): how long a round waits for responses. */
export const DEFAULT_PULL_RESPONSE_WAIT_MS = 5_000;
/** Fabric's `peer.gossip.pvtData.btlPullMargin` default: 10 blocks. */
export const DEFAULT_BTL_PULL_MARGIN = 10n;
/** Fabric's `membershipPollingBackoff` and `maxMembershipPollIterations` (pull.go). */
export const MEMBERSHIP_POLL_INTERVAL_MS = 1_000;
export const MEMBERSHIP_POLL_ITERATIONS = 5;

export interface PvtDataPullerOptions {
  /** Wait per round for the asked peers' responses. Default DEFAULT_PULL_RESPONSE_WAIT_MS. */
  responseWaitMs?: number;
  /** `peer.gossip.pvtData.btlPullMargin`. Default DEFAULT_BTL_PULL_MARGIN. */
  btlPullMargin?: bigint;
  /** Membership polling while the channel has no known peer. Defaults: 1 s, 5 tries. */
  membershipPollIntervalMs?: number;
  membershipPollIterations?: number;
}

export interface PvtDataPullerComponents extends PvtTransferComponents {
  /** The channel's collections: the latest configs (who may hold the data, blockToLive) and their history. */
  collections: Pick<CollectionStore, "collection" | "collectionBelow">;
}

/** Fabric's `puller` as a PvtDataFetcher, with the subscription to responses. */
export interface PvtDataPuller extends PvtDataFetcher {
  /** Subscribes to RemotePvtDataResponses of the channel. Fetches before start get no response. */
  start(): void;
  /** Unsubscribes; fetches in progress resolve at once with what they have. */
  stop(): Promise<void>;
  /** Responses ignored because they answered no request of ours (unknown nonce, or from another peer). */
  unsolicitedResponses(): number;
}

interface Wanted {
  digest: PvtDataDigest;
  definition: CollectionDefinition;
  anyPeer: RoutingFilter<NetworkMember>;
  preferredPeer: RoutingFilter<NetworkMember>;
}

interface OutstandingRequest {
  peer: PKIidType;
  /** Digest key -> the digest asked for. */
  digests: Map<string, PvtDataDigest>;
  onResponse(elements: readonly PvtDataElement[]): void;
}

/** Remembers a filter's verdict per member (each evaluation may verify a StateInfo signature). */
function memoized(filter: RoutingFilter<NetworkMember>): RoutingFilter<NetworkMember> {
  const verdicts = new Map<string, boolean>();
  return (member) => {
    const key = toHex(member.pkiId);
    let v = verdicts.get(key);
    if (v === undefined) {
      v = filter(member);
      verdicts.set(key, v);
    }
    return v;
  };
}

const selectNone: RoutingFilter<NetworkMember> = () => false;

/**
 * Creates the private data puller of one channel (Fabric's `NewPuller` fetch side). A fetch asks the channel's
 * peers that may hold each collection (its latest access filter on their signed StateInfo), preferring the
 * transaction's endorsers at commit and the peers eligible under the config in force at the data's block for
 * reconciliation; digests presumably purged by every candidate's height are reported as purged, not asked.
 * Each round sends one RemotePvtDataRequest per chosen peer and waits up to `responseWaitMs` (a peer's
 * response settles its request at once); a peer is asked for each digest at most once per fetch; rounds go
 * on until nothing is missing or no candidate is left for any digest. Responses are matched to requests by nonce and sender, elements to
 * digests by Fabric's digest hash; the caller checks the data against the block's hashes.
 */
export function createPvtDataPuller(components: PvtDataPullerComponents, options: PvtDataPullerOptions = {}): PvtDataPuller {
  const { channelId, gossip, clock, random, metrics, collections } = components;
  const log: Logger = components.logger.child("privdata.puller", { channel: channelId });
  const rl = new RateLimitedLog(log, clock);
  const responseWaitMs = options.responseWaitMs ?? DEFAULT_PULL_RESPONSE_WAIT_MS;
  const margin = options.btlPullMargin ?? DEFAULT_BTL_PULL_MARGIN;
  const pollIntervalMs = options.membershipPollIntervalMs ?? MEMBERSHIP_POLL_INTERVAL_MS;
  const pollIterations = Math.max(1, options.membershipPollIterations ?? MEMBERSHIP_POLL_ITERATIONS);
  const accessCache = new CollectionAccessCache(components.deserializer);
  const channelBytes = utf8(channelId);
  const outstanding = new Map<bigint, OutstandingRequest>();
  /** Ends of the rounds in progress, called by stop(). */
  const activeRounds = new Set<() => void>();
  const abort = new AbortController();
  let unsubscribe: (() => void) | undefined;
  let stopped = false;
  let unsolicited = 0;

  const onResponse = (msg: ReceivedMessage): void => {
    const gm = msg.message.message;
    if (gm.content?.$case !== "privateRes") return;
    const req = outstanding.get(gm.nonce);
    if (req === undefined || !bytesEqual(req.peer, msg.connectionInfo.id)) {
      unsolicited++;
      rl.warn(`unsolicited:${msg.connectionInfo.endpoint}`, "ignoring a private data response that answers no request of ours", {
        endpoint: msg.connectionInfo.endpoint,
        nonce: gm.nonce.toString(),
      });
      return;
    }
    req.onResponse(gm.content.value.elements);
  };

  const waitForMembership = async (): Promise<NetworkMember[]> => {
    for (let i = 1; ; i++) {
      const members = gossip.peersOfChannel(channelId);
      if (members.length > 0 || i >= pollIterations || stopped) return members;
      try {
        await clock.sleep(pollIntervalMs, abort.signal);
      } catch {
        return [];
      }
    }
  };

  /** The filters of one wanted digest, or undefined (logged) when its collection is unknown or unusable. */
  const filtersOf = (w: PvtDataWanted, mode: "commit" | "reconcile", anyByCollection: Map<CollectionDefinition, RoutingFilter<NetworkMember>>): Wanted | undefined => {
    const d = w.digest;
    const definition = collections.collection(d.namespace, d.collection);
    if (definition === undefined) {
      rl.warn(`unknown:${d.namespace}/${d.collection}`, "cannot pull private data of a collection the channel does not define", { digest: describeDigest(d) });
      return undefined;
    }
    const filterOf = (def: CollectionDefinition): RoutingFilter<NetworkMember> => {
      let f = anyByCollection.get(def);
      if (f === undefined) {
        f = memoized(collectionPeerFilter(gossip, channelId, accessCache.of(def)));
        anyByCollection.set(def, f);
      }
      return f;
    };
    try {
      const anyPeer = filterOf(definition);
      let preferredPeer: RoutingFilter<NetworkMember>;
      if (mode === "commit") {
        const endorsers = w.endorsers;
        preferredPeer = memoized(gossip.peerFilter(channelId, (sig) => endorsers.some((e) => bytesEqual(e, sig.peerIdentity))));
      } else {
        const original = collections.collectionBelow(d.namespace, d.collection, d.blockSeq);
        const fromCreation = original === undefined ? selectNone : filterOf(original);
        preferredPeer = (m) => fromCreation(m) && anyPeer(m);
      }
      return { digest: d, definition, anyPeer, preferredPeer };
    } catch (err) {
      rl.warn(`policy:${d.namespace}/${d.collection}`, "cannot pull private data: the collection's policy is unusable", {
        digest: describeDigest(d),
        error: errorMessage(err),
      });
      return undefined;
    }
  };

  /** Fabric's purgedFilter: some candidate is already within btlPullMargin of the data's expiry. */
  const presumablyPurged = (w: Wanted, members: readonly NetworkMember[]): boolean => {
    const btl = w.definition.blockToLive;
    if (btl === 0n) return false;
    const expiry = w.digest.blockSeq + btl;
    return members.some((m) => m.properties !== undefined && m.properties.ledgerHeight + margin >= expiry);
  };

  /** One round: a request per peer, then responses until each request is answered or the wait ends. */
  const round = (assignment: Map<string, { member: NetworkMember; digests: Map<string, PvtDataDigest> }>): Promise<FetchedElement[]> =>
    new Promise((resolve) => {
      const collected: FetchedElement[] = [];
      const seen = new Set<string>();
      const nonces = new Set<bigint>();
      const start = clock.monotonic();
      let timer: TimerHandle | undefined;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        timer?.cancel();
        for (const n of nonces) outstanding.delete(n);
        activeRounds.delete(finish);
        resolve(collected);
      };
      activeRounds.add(finish);
      timer = clock.setTimeout(finish, responseWaitMs);
      for (const { member, digests } of assignment.values()) {
        let nonce = random.uint64();
        while (outstanding.has(nonce)) nonce = random.uint64();
        nonces.add(nonce);
        outstanding.set(nonce, {
          peer: member.pkiId,
          digests,
          onResponse(elements) {
            for (const el of elements) {
              if (el.digest === undefined) continue;
              const key = pvtDataDigestKey(el.digest);
              const asked = digests.get(key);
              if (asked === undefined || seen.has(key)) continue;
              seen.add(key);
              collected.push({ digest: asked, payload: el.payload });
              metrics.pullDuration.observe({ channel: channelId }, (clock.monotonic() - start) / 1000);
            }
            // A peer answers a request once, with everything it will give: the request is settled.
            outstanding.delete(nonce);
            nonces.delete(nonce);
            if (nonces.size === 0) finish();
          },
        });
        const msg: GossipMessage = {
          channel: channelBytes,
          nonce,
          tag: GossipMessage_Tag.CHAN_ONLY,
          content: { $case: "privateReq", value: { digests: [...digests.values()] } },
        };
        try {
          gossip.send(msg, { endpoint: preferredEndpoint(member), pkiId: member.pkiId });
        } catch (err) {
          rl.warn(`send:${toHex(member.pkiId)}`, "could not send a private data request", { endpoint: preferredEndpoint(member), error: errorMessage(err) });
        }
      }
      if (nonces.size === 0) finish();
    });

  const fetch = async (wanted: readonly PvtDataWanted[], mode: "commit" | "reconcile"): Promise<FetchedPvtData> => {
    const result: FetchedPvtData = { available: [], purged: [] };
    if (stopped || wanted.length === 0) return result;
    const anyByCollection = new Map<CollectionDefinition, RoutingFilter<NetworkMember>>();
    const left = new Map<string, Wanted>();
    for (const w of wanted) {
      const key = pvtDataDigestKey(w.digest);
      if (left.has(key)) continue;
      const f = filtersOf(w, mode, anyByCollection);
      if (f !== undefined) left.set(key, f);
    }
    if (left.size === 0) return result;

    let members = (await waitForMembership()).filter((m) => [...left.values()].some((w) => w.preferredPeer(m) || w.anyPeer(m)));
    if (members.length === 0) {
      rl.warn("no-candidates", "no peer of the channel may hold the private data wanted; nothing pulled", { digests: left.size });
      return result;
    }
    members = random.shuffle(members);
    // Peers asked for each digest in this fetch. Ours: Fabric asks a peer in one round only, so a holder
    // asked for other digests first was never asked for this one, which went to the deprioritized list
    // (60 min) though its holder ran. A peer is asked again, for digests it was not asked for yet.
    const askedFor = new Map<string, Set<string>>();

    while (left.size > 0 && members.length > 0 && !stopped) {
      for (const [key, w] of left) {
        if (presumablyPurged(w, members)) {
          result.purged.push(w.digest);
          left.delete(key);
        }
      }
      if (left.size === 0) break;

      // Each digest goes to its first preferred candidate, else its first candidate of any kind.
      const assignment = new Map<string, { member: NetworkMember; digests: Map<string, PvtDataDigest> }>();
      for (const [key, w] of left) {
        const asked = askedFor.get(key);
        const fresh = (m: NetworkMember): boolean => asked === undefined || !asked.has(pkiKey(m.pkiId));
        const peer = members.find((m) => fresh(m) && w.preferredPeer(m)) ?? members.find((m) => fresh(m) && w.anyPeer(m));
        if (peer === undefined) continue;
        const id = pkiKey(peer.pkiId);
        const a = assignment.get(id) ?? { member: peer, digests: new Map<string, PvtDataDigest>() };
        a.digests.set(key, w.digest);
        assignment.set(id, a);
        if (asked === undefined) askedFor.set(key, new Set([id]));
        else asked.add(id);
      }
      if (assignment.size === 0) {
        log.debug("no candidate left for the missing private data", { digests: [...left.values()].map((w) => describeDigest(w.digest)) });
        break;
      }
      log.debug("pulling private data", { digests: left.size, peers: assignment.size });

      for (const el of await round(assignment)) {
        if (el.payload.length === 0) continue; // an empty answer: another peer may be asked next round
        const key = pvtDataDigestKey(el.digest);
        if (!left.delete(key)) continue;
        result.available.push(el);
      }
    }
    return result;
  };

  return {
    fetch,
    start() {
      if (unsubscribe !== undefined || stopped) return;
      unsubscribe = gossip.acceptPassThrough(
        (msg) => msg.message.message.content?.$case === "privateRes" && bytesEqual(msg.message.message.channel, channelBytes),
        (msg) => {
          try {
            onResponse(msg);
          } catch (err) {
            log.error("unexpected failure handling a private data response", { error: errorMessage(err) });
          }
        },
      );
    },
    async stop() {
      stopped = true;
      unsubscribe?.();
      unsubscribe = undefined;
      abort.abort();
      for (const finish of [...activeRounds]) finish();
    },
    unsolicitedResponses: () => unsolicited,
  };
}
