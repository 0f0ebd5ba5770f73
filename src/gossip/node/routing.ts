import type { OrgIdentityType, PKIidType, RemotePeer } from "../../api/index.js";
import type { NetworkMember } from "../../discovery/index.js";
import type { Logger } from "../../logging/index.js";
import { isAliveMsg, isDataMsg, isLeadershipMsg, isOrgRestricted, isStateInfoMsg, type SignedGossipMessage } from "../../protoext/index.js";
import { bytesEqual, fromUtf8, type Random } from "../../util/index.js";
import type { GossipChannel } from "../channel/index.js";
import { combine, type RoutingFilter, selectAll, selectMembers, selectNone, selectPeers, selectPeersPreferring, toRemotePeer } from "../filter/index.js";
import type { EmittedMessage } from "./emitted.js";

/** What routing needs from the node. */
export interface RoutingContext {
  selfOrg: OrgIdentityType;
  propagatePeerNum: number;
  random: Random;
  logger: Logger;
  /** The alive members; the same view for the whole batch. */
  membership(): readonly NetworkMember[];
  orgOf(pkiId: PKIidType): OrgIdentityType;
  hasExternalEndpoint(pkiId: PKIidType): boolean;
  channel(id: string): GossipChannel | undefined;
  /** The channel a StateInfo message belongs to (found by its MAC). */
  channelOfStateInfo(msg: SignedGossipMessage): GossipChannel | undefined;
  send(msg: SignedGossipMessage, peers: RemotePeer[]): void;
  /**
   * Ours: members heard from directly, preferred over those known only second-hand (at most half the
   * places go to the latter when enough of the former qualify). Absent: Fabric's uniform choice.
   */
  heardDirectly?: (member: NetworkMember) => boolean;
}

/** `k` members of `pool` passing `filter`: uniformly, or preferring members heard from directly. */
function pick(k: number, pool: readonly NetworkMember[], filter: RoutingFilter<NetworkMember>, ctx: RoutingContext): RemotePeer[] {
  return ctx.heardDirectly === undefined ? selectPeers(k, pool, filter, ctx.random) : selectPeersPreferring(k, pool, filter, ctx.random, ctx.heardDirectly);
}

/**
 * Fabric's gossipBatch: sends one emitted batch by message class. Blocks and leadership go to
 * same-org members of their channel; StateInfo by channel and origin; org-restricted messages to a
 * sample of our org; the remaining alive messages by origin org, with secrets stripped for other
 * orgs. Nothing goes back to the peer it came from.
 */
export function routeBatch(batch: EmittedMessage[], ctx: RoutingContext): void {
  const inMyOrg = (m: Pick<NetworkMember, "pkiId">): boolean => {
    const org = ctx.orgOf(m.pkiId);
    return org.byteLength > 0 && bytesEqual(org, ctx.selfOrg);
  };
  const [blocks, afterBlocks] = partition(batch, (e) => isDataMsg(e.msg.message));
  gossipInChannels(blocks, ctx, false, (gc) => combine(gc.eligibleForChannel.bind(gc), gc.isMemberInChan.bind(gc), inMyOrg));
  const [leadership, afterLeadership] = partition(afterBlocks, (e) => isLeadershipMsg(e.msg.message));
  gossipInChannels(leadership, ctx, true, (gc) => combine(gc.eligibleForChannel.bind(gc), gc.isMemberInChan.bind(gc), inMyOrg));

  const [stateInfos, afterStateInfos] = partition(afterLeadership, (e) => isStateInfoMsg(e.msg.message));
  for (const e of stateInfos) {
    const content = e.msg.message.content;
    const origin = content?.$case === "stateInfo" ? content.value.pkiId : new Uint8Array(0);
    const gc = ctx.channelOfStateInfo(e.msg);
    let selector: RoutingFilter<NetworkMember> = inMyOrg;
    if (gc !== undefined && ctx.hasExternalEndpoint(origin)) selector = gc.isMemberInChan.bind(gc);
    const peers = pick(ctx.propagatePeerNum, ctx.membership(), combine(selector, (m) => e.filter(m.pkiId)), ctx);
    ctx.send(e.msg, peers);
  }

  const aliveWithoutEndpointFromMyOrg = (e: EmittedMessage): boolean => {
    const c = e.msg.message.content;
    if (c?.$case !== "aliveMsg") return false;
    const member = c.value.membership;
    return member !== undefined && member.endpoint === "" && inMyOrg({ pkiId: member.pkiId });
  };
  const [orgMsgs, rest] = partition(afterStateInfos, (e) => aliveWithoutEndpointFromMyOrg(e) || isOrgRestricted(e.msg.message));
  if (orgMsgs.length > 0) {
    const peers = pick(ctx.propagatePeerNum, ctx.membership(), inMyOrg, ctx);
    for (const e of orgMsgs) ctx.send(e.msg, peers.filter((p) => e.filter(p.pkiId)));
  }

  for (const e of rest) {
    const c = e.msg.message.content;
    if (c?.$case !== "aliveMsg" || c.value.membership === undefined) {
      ctx.logger.error("cannot route a message of this type", { type: c?.$case ?? "empty" });
      continue;
    }
    const byOrigin = peersByOriginOrg(c.value.membership.pkiId, ctx);
    const members = selectMembers(ctx.propagatePeerNum, ctx.membership(), combine(byOrigin, (m) => e.filter(m.pkiId)), ctx.random, ctx.heardDirectly);
    sendAndFilterSecrets(e.msg, members, ctx, inMyOrg);
  }
}

/** Per channel: one peer sample for all its messages (all eligible peers for leadership). */
function gossipInChannels(
  msgs: EmittedMessage[],
  ctx: RoutingContext,
  everyone: boolean,
  routing: (gc: GossipChannel) => RoutingFilter<NetworkMember>,
): void {
  if (msgs.length === 0) return;
  const byChannel = new Map<string, EmittedMessage[]>();
  for (const e of msgs) {
    const ch = fromUtf8(e.msg.message.channel);
    const list = byChannel.get(ch);
    if (list) list.push(e);
    else byChannel.set(ch, [e]);
  }
  for (const [ch, list] of byChannel) {
    const gc = ctx.channel(ch);
    if (gc === undefined) {
      ctx.logger.warn("not gossiping messages of a channel we are not in", { channel: ch });
      continue;
    }
    const membership = ctx.membership();
    const peers = everyone ? selectPeers(membership.length, membership, routing(gc), ctx.random) : pick(ctx.propagatePeerNum, membership, routing(gc), ctx);
    for (const e of list) ctx.send(e.msg, peers.filter((p) => e.filter(p.pkiId)));
  }
}

/** Fabric's peersByOriginOrgPolicy. */
function peersByOriginOrg(origin: PKIidType, ctx: RoutingContext): RoutingFilter<NetworkMember> {
  const originOrg = ctx.orgOf(origin);
  if (originOrg.byteLength === 0) return selectNone;
  if (bytesEqual(originOrg, ctx.selfOrg)) return selectAll;
  return (m) => {
    const org = ctx.orgOf(m.pkiId);
    return org.byteLength > 0 && (bytesEqual(org, ctx.selfOrg) || bytesEqual(org, originOrg));
  };
}

/**
 * Fabric's sendAndFilterSecrets: an alive message of another org goes only to peers with an
 * external endpoint, and the secret envelope never leaves our org. The members are those just
 * selected from the alive view, whose endpoint is the one discovery holds for them (Fabric looks it up).
 */
function sendAndFilterSecrets(msg: SignedGossipMessage, members: NetworkMember[], ctx: RoutingContext, inMyOrg: (m: Pick<NetworkMember, "pkiId">) => boolean): void {
  const c = msg.message.content;
  const fromOtherOrg = isAliveMsg(msg.message) && c?.$case === "aliveMsg" && !inMyOrg({ pkiId: c.value.membership?.pkiId ?? new Uint8Array(0) });
  let stripped: SignedGossipMessage | undefined;
  for (const m of members) {
    if (fromOtherOrg && m.endpoint === "") continue;
    const p = toRemotePeer(m);
    if (inMyOrg(m)) ctx.send(msg, [p]);
    else {
      stripped ??= msg.withoutSecret();
      ctx.send(stripped, [p]);
    }
  }
}

function partition<T>(items: T[], pred: (t: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const i of items) (pred(i) ? yes : no).push(i);
  return [yes, no];
}
