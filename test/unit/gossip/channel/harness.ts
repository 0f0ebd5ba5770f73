/**
 * A fake channel adapter and message builders for the GossipChannel tests, modelled on Fabric's
 * channel_test.go (gossipAdapterMock, receivedMsg, createStateInfoMsg, createDataMsg, ...). Crypto has
 * the development MCS's semantics: a peer's identity is its PKI-ID, a signature equals the signed bytes.
 */
import { type OrgIdentityType, type PeerIdentityType, type PKIidType, pkiHex, type RemotePeer } from "../../../../src/api/index.js";
import { DevMessageCryptoService } from "../../../../src/crypto/index.js";
import type { NetworkMember } from "../../../../src/discovery/index.js";
import {
  type ChannelAdapter,
  type ChannelConfig,
  type ChannelCryptoService,
  createGossipChannel,
  type GossipChannel,
  type JoinChannelMessage,
} from "../../../../src/gossip/channel/index.js";
import { generateMAC } from "../../../../src/gossip/channel/index.js";
import { type Logger, MemoryLogger } from "../../../../src/logging/index.js";
import { createRegistry, promMetricsProvider, type Registry } from "../../../../src/metrics/index.js";
import { type ReceivedMessage, SignedGossipMessage } from "../../../../src/protoext/index.js";
import { Block } from "../../../../src/protos/gen/common/common.pb.js";
import { type Chaincode, type Envelope, type GossipMessage, GossipMessage_Tag, PullMsgType } from "../../../../src/protos/gen/gossip/message.pb.js";
import { ManualClock, SeededRandom, utf8 } from "../../../../src/util/index.js";

export const CHANNEL = "A";
export const ORG1 = utf8("ORG1");
export const ORG2 = utf8("ORG2");
export const ORG3 = utf8("ORG3");
const EMPTY = new Uint8Array(0);

/** Fabric's channel_test.go conf, with the membership tracker at its 5 s. */
export const TEST_CONFIG: Partial<ChannelConfig> = Object.freeze({
  publishStateInfoIntervalMs: 100,
  maxBlockCountToStore: 100,
  pullPeerNum: 3,
  pullIntervalMs: 1_000,
  requestStateInfoIntervalMs: 100,
  blockExpirationIntervalMs: 6_000,
  stateInfoCacheSweepIntervalMs: 1_000,
  timeForMembershipTrackerMs: 5_000,
  digestWaitTimeMs: 150,
  requestWaitTimeMs: 300,
  responseWaitTimeMs: 300,
});

/** A PKI-ID (and, with the dev crypto, the identity) from a name. */
export function pki(name: string): PKIidType {
  return utf8(name);
}

export function member(pkiId: PKIidType, endpoint = "", internalEndpoint = endpoint): NetworkMember {
  return { pkiId, endpoint, internalEndpoint, metadata: EMPTY };
}

/** Fabric's test joinChanMsg: a sequence number and a list of orgs, no anchor peers. */
export class TestJoinMsg implements JoinChannelMessage {
  constructor(
    readonly sequenceNumber: number,
    readonly orgs: OrgIdentityType[],
  ) {}

  members(): OrgIdentityType[] {
    return this.orgs;
  }

  anchorPeersOf(): { host: string; port: number }[] {
    return [];
  }
}

/** The dev MCS, counting block verifications; blocks and channel readers can be made to fail. */
export class TestMcs implements ChannelCryptoService {
  readonly #dev = new DevMessageCryptoService();
  readonly verifiedBlocks: { channel: string; seq: bigint; block: Block }[] = [];
  /** Returns an error to reject a block. */
  blockVerdict: (seq: bigint) => Error | undefined = () => undefined;
  /** Identities (hex) the channel's Readers policy refuses. */
  readonly notReaders = new Set<string>();

  verifyBlock(channelId: string, seqNum: bigint, block: Block): void {
    this.verifiedBlocks.push({ channel: channelId, seq: seqNum, block });
    const err = this.blockVerdict(seqNum);
    if (err !== undefined) throw err;
  }

  verifyByChannel(channelId: string, peerIdentity: PeerIdentityType, signature: Uint8Array, message: Uint8Array): void {
    if (this.notReaders.has(pkiHex(peerIdentity))) throw new Error(`${channelId}: not a channel reader`);
    this.#dev.verifyByChannel(channelId, peerIdentity, signature, message);
  }
}

/** Fabric's gossipAdapterMock: records what the channel does, answers from configurable tables. */
export class FakeAdapter implements ChannelAdapter {
  readonly #dev = new DevMessageCryptoService();
  /** What getMembership returns (copies are handed out). */
  members: NetworkMember[] = [];
  /** Org of each peer (hex PKI-ID); unknown peers have an empty org. */
  readonly orgs = new Map<string, OrgIdentityType>();
  /** Peers (hex) whose identity the mapper does not have. */
  readonly noIdentity = new Set<string>();
  /** Members discovery knows besides the alive ones (dead peers), for lookup. */
  readonly known = new Map<string, NetworkMember>();
  /** When set, replaces the lookup by membership and `known`. */
  lookupOverride: ((pkiId: PKIidType) => NetworkMember | undefined) | undefined;
  readonly gossiped: SignedGossipMessage[] = [];
  readonly forwarded: ReceivedMessage[] = [];
  readonly demuxed: SignedGossipMessage[] = [];
  readonly sent: { msg: SignedGossipMessage; peers: RemotePeer[] }[] = [];
  signCount = 0;
  signFails = false;
  onSend: ((msg: SignedGossipMessage, peers: RemotePeer[]) => void) | undefined;
  onGossip: ((msg: SignedGossipMessage) => void) | undefined;
  onForward: ((msg: ReceivedMessage) => void) | undefined;

  setOrg(pkiId: PKIidType, org: OrgIdentityType): this {
    this.orgs.set(pkiHex(pkiId), org);
    return this;
  }

  /** Adds an alive member of `org`. */
  addMember(pkiId: PKIidType, org: OrgIdentityType, endpoint = `${pkiHex(pkiId)}:7051`, internalEndpoint = endpoint): NetworkMember {
    const m = member(pkiId, endpoint, internalEndpoint);
    this.members.push(m);
    this.setOrg(pkiId, org);
    return m;
  }

  sign(msg: GossipMessage): SignedGossipMessage {
    this.signCount++;
    if (this.signFails) throw new Error("signing failed");
    return SignedGossipMessage.sign(msg, (payload) => this.#dev.sign(payload));
  }

  gossip(msg: SignedGossipMessage): void {
    this.gossiped.push(msg);
    this.onGossip?.(msg);
  }

  forward(msg: ReceivedMessage): void {
    this.forwarded.push(msg);
    this.onForward?.(msg);
  }

  deMultiplex(msg: SignedGossipMessage): void {
    this.demuxed.push(msg);
  }

  getMembership(): NetworkMember[] {
    return this.members.map((m) => ({ ...m }));
  }

  isAlive(pkiId: PKIidType): boolean {
    const hex = pkiHex(pkiId);
    return this.members.some((m) => pkiHex(m.pkiId) === hex);
  }

  lookup(pkiId: PKIidType): NetworkMember | undefined {
    if (this.lookupOverride !== undefined) return this.lookupOverride(pkiId);
    const hex = pkiHex(pkiId);
    return this.members.find((m) => pkiHex(m.pkiId) === hex) ?? this.known.get(hex);
  }

  send(msg: SignedGossipMessage, ...peers: RemotePeer[]): void {
    this.sent.push({ msg, peers });
    this.onSend?.(msg, peers);
  }

  validateStateInfoMessage(msg: SignedGossipMessage): boolean {
    const content = msg.message.content;
    if (content?.$case !== "stateInfo") return false;
    try {
      msg.verify(content.value.pkiId, (identity, signature, message) => this.#dev.verify(identity, signature, message));
      return true;
    } catch {
      return false;
    }
  }

  getOrgOfPeer(pkiId: PKIidType): OrgIdentityType {
    return this.orgs.get(pkiHex(pkiId)) ?? EMPTY;
  }

  getIdentityByPKIID(pkiId: PKIidType): PeerIdentityType | undefined {
    return this.noIdentity.has(pkiHex(pkiId)) ? undefined : pkiId;
  }

  /** Sent messages of one content case. */
  sentOf(kind: NonNullable<GossipMessage["content"]>["$case"]): { msg: SignedGossipMessage; peers: RemotePeer[] }[] {
    return this.sent.filter((s) => s.msg.message.content?.$case === kind);
  }
}

/** A ReceivedMessage from `from`, recording what is responded. */
export interface TestReceived extends ReceivedMessage {
  readonly responses: GossipMessage[];
}

export function received(msg: SignedGossipMessage, from: PKIidType, onRespond?: (reply: GossipMessage) => void): TestReceived {
  const responses: GossipMessage[] = [];
  return {
    message: msg,
    connectionInfo: { id: from, identity: from, endpoint: `${pkiHex(from)}:7051`, auth: undefined },
    responses,
    respond(reply) {
      responses.push(reply);
      onRespond?.(reply);
    },
    ack() {},
  };
}

const devMcs = new DevMessageCryptoService();
let stateInfoSeq = 0n;

export interface StateInfoOptions {
  channel?: string;
  incNum?: bigint;
  /** Default: a global counter, so every message is newer than the previous one. */
  seqNum?: bigint;
  leftChannel?: boolean;
  chaincodes?: Chaincode[];
  /** Override the MAC. */
  mac?: Uint8Array;
  /** Sign with the dev crypto (default) or NoopSign. */
  signed?: boolean;
}

/** Fabric's createStateInfoMsg, signed the dev way (signature = payload). */
export function stateInfoMsg(pkiId: PKIidType, ledgerHeight: bigint, options: StateInfoOptions = {}): SignedGossipMessage {
  stateInfoSeq++;
  const msg: GossipMessage = {
    nonce: 0n,
    channel: EMPTY,
    tag: GossipMessage_Tag.CHAN_OR_ORG,
    content: {
      $case: "stateInfo",
      value: {
        channelMAC: options.mac ?? generateMAC(pkiId, options.channel ?? CHANNEL),
        pkiId,
        timestamp: { incNum: options.incNum ?? 1n, seqNum: options.seqNum ?? stateInfoSeq },
        properties: { ledgerHeight, leftChannel: options.leftChannel ?? false, chaincodes: options.chaincodes ?? [] },
      },
    },
  };
  return options.signed === false ? SignedGossipMessage.noopSign(msg) : SignedGossipMessage.sign(msg, (p) => devMcs.sign(p));
}

/** A marshaled common.Block with header number `seq`. */
export function blockBytes(seq: bigint): Uint8Array {
  return Block.encode({
    header: { number: seq, previousHash: EMPTY, dataHash: EMPTY },
    data: { data: [utf8(`tx of block ${seq}`)] },
    metadata: { metadata: [] },
  }).finish();
}

/** Fabric's createDataMsg: a NoopSigned block message of `channel` carrying a marshaled block. */
export function blockMsg(seq: bigint, channel = CHANNEL, data: Uint8Array = blockBytes(seq)): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: utf8(channel),
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "dataMsg", value: { payload: { seqNum: seq, data, privateData: [] } } },
  });
}

/** A block message without payload. */
export function emptyBlockMsg(channel = CHANNEL): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: utf8(channel),
    tag: GossipMessage_Tag.CHAN_AND_ORG,
    content: { $case: "dataMsg", value: { payload: undefined } },
  });
}

function pullMsg(content: NonNullable<GossipMessage["content"]>, channel = CHANNEL): SignedGossipMessage {
  return SignedGossipMessage.noopSign({ nonce: 0n, channel: utf8(channel), tag: GossipMessage_Tag.CHAN_AND_ORG, content });
}

/** Fabric's createHelloMsg (nonce 500). */
export function helloMsg(nonce = 500n): SignedGossipMessage {
  return pullMsg({ $case: "hello", value: { nonce, metadata: EMPTY, msgType: PullMsgType.BLOCK_MSG } });
}

export function digestMsg(nonce: bigint, seqs: readonly string[]): SignedGossipMessage {
  return pullMsg({ $case: "dataDig", value: { nonce, digests: seqs.map((s) => utf8(s)), msgType: PullMsgType.BLOCK_MSG } });
}

export function dataUpdateMsg(nonce: bigint, data: Envelope[]): SignedGossipMessage {
  return pullMsg({ $case: "dataUpdate", value: { nonce, data, msgType: PullMsgType.BLOCK_MSG } });
}

/** A StateInfoPullRequest carrying MAC(macPki, channel). */
export function stateInfoPullRequest(macPki: PKIidType, channel = CHANNEL, mac = generateMAC(macPki, channel)): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: EMPTY,
    tag: GossipMessage_Tag.CHAN_OR_ORG,
    content: { $case: "stateInfoPullReq", value: { channelMAC: mac } },
  });
}

/** Fabric's stateInfoSnapshotForChannel. */
export function snapshotMsg(channel: string, ...elements: Envelope[]): SignedGossipMessage {
  return SignedGossipMessage.noopSign({
    nonce: 0n,
    channel: utf8(channel),
    tag: GossipMessage_Tag.CHAN_OR_ORG,
    content: { $case: "stateSnapshot", value: { elements } },
  });
}

/** A leadership message created by `creator`, signed the dev way. */
export function leadershipMsg(creator: PKIidType, seqNum: bigint, channel = CHANNEL): SignedGossipMessage {
  return SignedGossipMessage.sign(
    {
      nonce: 0n,
      channel: utf8(channel),
      tag: GossipMessage_Tag.CHAN_AND_ORG,
      content: { $case: "leadershipMsg", value: { pkiId: creator, timestamp: { incNum: 1n, seqNum }, isDeclaration: true } },
    },
    (p) => devMcs.sign(p),
  );
}

/** The StateInfo content of a message (throws when it is not one). */
export function stateInfoContent(msg: SignedGossipMessage | GossipMessage) {
  const m = msg instanceof SignedGossipMessage ? msg.message : msg;
  if (m.content?.$case !== "stateInfo") throw new Error(`not a StateInfo message: ${m.content?.$case}`);
  return m.content.value;
}

/** The StateInfo envelopes of a snapshot reply, decoded. */
export function snapshotElements(reply: GossipMessage): SignedGossipMessage[] {
  if (reply.content?.$case !== "stateSnapshot") throw new Error(`not a snapshot: ${reply.content?.$case}`);
  return reply.content.value.elements.map((e) => SignedGossipMessage.fromEnvelope(e));
}

/** The digests of a DataDigest reply, as strings. */
export function digestsOf(reply: GossipMessage): string[] {
  if (reply.content?.$case !== "dataDig") throw new Error(`not a digest: ${reply.content?.$case}`);
  return reply.content.value.digests.map((d) => new TextDecoder().decode(d)).sort((a, b) => Number(a) - Number(b));
}

export interface ChannelFixture {
  gc: GossipChannel;
  adapter: FakeAdapter;
  mcs: TestMcs;
  clock: ManualClock;
  registry: Registry;
  logger: MemoryLogger;
  selfPki: PKIidType;
}

export interface FixtureOptions {
  selfPki?: PKIidType;
  org?: OrgIdentityType;
  joinMsg?: JoinChannelMessage;
  config?: Partial<ChannelConfig>;
  adapter?: FakeAdapter;
  mcs?: TestMcs;
  clock?: ManualClock;
  logger?: Logger;
  /** Default CHANNEL. */
  channelId?: string;
  /** Start the channel (default true). */
  start?: boolean;
  seed?: number;
}

/** One channel on a fake adapter; `selfPki` is in ORG1 unless told otherwise. Register `stop` with t.after. */
export async function newChannel(options: FixtureOptions = {}): Promise<ChannelFixture> {
  const selfPki = options.selfPki ?? pki("self");
  const org = options.org ?? ORG1;
  const adapter = options.adapter ?? new FakeAdapter();
  if (adapter.getOrgOfPeer(selfPki).byteLength === 0) adapter.setOrg(selfPki, org);
  // Discovery's Lookup knows ourselves.
  if (!adapter.known.has(pkiHex(selfPki))) adapter.known.set(pkiHex(selfPki), member(selfPki, "self:7051"));
  const mcs = options.mcs ?? new TestMcs();
  const clock = options.clock ?? new ManualClock();
  const registry = createRegistry();
  const logger = new MemoryLogger();
  const gc = createGossipChannel(
    {
      pkiId: selfPki,
      org,
      channelId: options.channelId ?? CHANNEL,
      adapter,
      joinMsg: options.joinMsg ?? new TestJoinMsg(1, [ORG1]),
      clock,
      random: new SeededRandom(options.seed ?? 1),
      logger: options.logger ?? logger,
      metrics: promMetricsProvider(registry),
      mcs,
    },
    { ...TEST_CONFIG, ...options.config },
  );
  if (options.start !== false) await gc.start();
  return { gc, adapter, mcs, clock, registry, logger, selfPki };
}
