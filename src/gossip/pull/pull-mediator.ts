import { preferredEndpoint } from "../../discovery/index.js";
import { pkiHex, type RemotePeer } from "../../api/index.js";
import { type Logger, RateLimitedLog, silentLogger } from "../../logging/index.js";
import { getPullMsgType, isPullMsg, type ReceivedMessage, SignedGossipMessage } from "../../protoext/index.js";
import { type DataDigest, type DataUpdate, type Envelope, type GossipMessage, PullMsgType } from "../../protos/gen/gossip/message.pb.js";
import { errorMessage, type Random } from "../../util/index.js";
import { createPullEngine, type PullAdapter, type PullEngine } from "../algo/index.js";
import type {
  PullHookMsgType,
  PullMediator,
  PullMediatorAdapter,
  PullMediatorComponents,
  PullMediatorConfig,
  PullMember,
  PullMessageHook,
} from "./interface.js";
import { DEFAULT_MAX_PULL_MESSAGE_BYTES } from "./interface.js";
import { digestOfItemId, itemIdOfDigest } from "./item-ids.js";

type GossipContent = NonNullable<GossipMessage["content"]>;

/** Room for what wraps a response's items: the Envelope, GossipMessage (channel up to 249 bytes, tag, nonce) and DataUpdate fields. */
const RESPONSE_OVERHEAD_BYTES = 1024;
/** An item's field tag and length prefix in DataUpdate.data. */
const ITEM_FRAMING_BYTES = 6;
/** Item IDs whose digest bytes a mediator remembers before it starts over (a few rounds of digests). */
const DIGEST_MEMO_SIZE = 10_000;

/** The encoded size of an Envelope (payload, signature, secret envelope), without encoding it. */
function envelopeSize(e: Envelope): number {
  const s = e.secretEnvelope;
  const secret = s === undefined ? 0 : lengthDelimited(lengthDelimited(s.payload.byteLength) + lengthDelimited(s.signature.byteLength), true);
  return lengthDelimited(e.payload.byteLength) + lengthDelimited(e.signature.byteLength) + secret;
}

/** A bytes or message field of `n` bytes: tag, length, content; empty bytes are not written, a present message is. */
function lengthDelimited(n: number, present = false): number {
  return n === 0 && !present ? 0 : 1 + varintLength(n) + n;
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

/**
 * Fabric's `pull.SelectEndpoints`: up to `k` distinct random members of `pool`, addressed by their
 * preferred endpoint.
 */
export function selectEndpoints(k: number, pool: readonly PullMember[], random: Random): RemotePeer[] {
  return random.indices(Math.min(k, pool.length), pool.length).map((i) => {
    const member = pool[i]!;
    return { endpoint: preferredEndpoint(member), pkiId: member.pkiId };
  });
}

/** Fabric's `pullMediatorImpl` (gossip/gossip/pull/pullstore.go). */
export class PullMediatorImpl implements PullMediator {
  readonly #config: PullMediatorConfig;
  readonly #adapter: PullMediatorAdapter;
  readonly #random: Random;
  readonly #logger: Logger;
  readonly #badInput: RateLimitedLog;
  readonly #engine: PullEngine<ReceivedMessage>;
  readonly #items = new Map<string, SignedGossipMessage>();
  /**
   * The digest bytes of item IDs already sent: a digest names every item held, each pull round, and
   * an identity digest at 400 peers names 400 PKI-IDs. Only read once made (the encoder copies them).
   */
  readonly #digestOf = new Map<string, Uint8Array>();
  readonly #hooks = new Map<PullHookMsgType, PullMessageHook[]>();

  constructor(config: PullMediatorConfig, adapter: PullMediatorAdapter, components: PullMediatorComponents) {
    this.#config = config;
    this.#adapter = adapter;
    this.#random = components.random;
    this.#logger = (components.logger ?? silentLogger).child("gossip.pull", { id: config.id, msgType: PullMsgType[config.msgType] });
    this.#badInput = new RateLimitedLog(this.#logger, components.clock);
    const egress = adapter.egressDigestFilter;
    this.#engine = createPullEngine<ReceivedMessage>(
      this.#engineAdapter(),
      { ...config.pullEngine, pullIntervalMs: config.pullIntervalMs },
      { clock: components.clock, random: components.random, logger: this.#logger },
      egress === undefined ? undefined : (context) => egress(context),
    );
  }

  start(): Promise<void> {
    return this.#engine.start();
  }

  stop(): Promise<void> {
    return this.#engine.stop();
  }

  triggerPull(): void {
    this.#engine.triggerPull();
  }

  registerMsgHook(type: PullHookMsgType, hook: PullMessageHook): void {
    const hooks = this.#hooks.get(type);
    if (hooks === undefined) this.#hooks.set(type, [hook]);
    else hooks.push(hook);
  }

  add(msg: SignedGossipMessage): void {
    const itemId = this.#adapter.idExtractor(msg);
    this.#items.set(itemId, msg);
    this.#engine.add(itemId);
    this.#logger.debug("added pull item", { itemId, total: this.#items.size });
  }

  remove(digest: string): void {
    this.#items.delete(digest);
    this.#engine.remove(digest);
    this.#logger.debug("removed pull item", { itemId: digest, total: this.#items.size });
  }

  itemIds(): string[] {
    return [...this.#items.keys()];
  }

  get(itemId: string): SignedGossipMessage | undefined {
    return this.#items.get(itemId);
  }

  handleMessage(m: ReceivedMessage): void {
    const msg = m.message.message;
    if (!isPullMsg(msg) || getPullMsgType(msg) !== this.#config.msgType) return;
    const content = msg.content;
    let hookType: PullHookMsgType;
    let itemIds: string[] = [];
    let items: SignedGossipMessage[] = [];
    switch (content.$case) {
      case "hello":
        hookType = "hello";
        this.#engine.onHello(content.value.nonce, m);
        break;
      case "dataDig": {
        const digest = this.#ingress(content.value, m);
        if (digest === undefined) return;
        hookType = "digest";
        itemIds = this.#itemIds(digest.digests);
        this.#engine.onDigest(itemIds, digest.nonce, m);
        break;
      }
      case "dataReq":
        hookType = "request";
        itemIds = this.#itemIds(content.value.digests);
        this.#engine.onReq(itemIds, content.value.nonce, m);
        break;
      case "dataUpdate": {
        const update = this.#handleUpdate(content.value, m);
        if (update === undefined) return;
        hookType = "response";
        ({ itemIds, items } = update);
        break;
      }
    }
    for (const hook of [...(this.#hooks.get(hookType) ?? [])]) {
      try {
        hook(itemIds, items, m);
      } catch (err) {
        this.#logger.error("pull message hook failed", { hook: hookType, error: errorMessage(err) });
      }
    }
  }

  /** Applies the ingress filter; undefined when it failed (the digest is dropped). */
  #ingress(digest: DataDigest, m: ReceivedMessage): DataDigest | undefined {
    const filter = this.#adapter.ingressDigestFilter;
    if (filter === undefined) return digest;
    try {
      return filter(digest);
    } catch (err) {
      this.#logger.error("ingress digest filter failed; digest dropped", { peer: pkiHex(m.connectionInfo.id), error: errorMessage(err) });
      return undefined;
    }
  }

  /**
   * A DataUpdate: every envelope is decoded and identified first (one bad envelope drops the whole
   * update, logged); each message goes to the consumer; the engine accepts the items only for a
   * nonce of the current round within the response window, and only then are they stored and served.
   * As in Fabric, the consumer sees the messages of a late update too.
   */
  #handleUpdate(update: DataUpdate, m: ReceivedMessage): { itemIds: string[]; items: SignedGossipMessage[] } | undefined {
    const items: SignedGossipMessage[] = [];
    const itemIds: string[] = [];
    for (const [index, envelope] of update.data.entries()) {
      let msg: SignedGossipMessage;
      let itemId: string;
      try {
        msg = SignedGossipMessage.fromEnvelope(envelope);
        itemId = this.#adapter.idExtractor(msg);
      } catch (err) {
        const peer = pkiHex(m.connectionInfo.id);
        this.#badInput.warn(`${peer}:BAD_UPDATE_ITEM`, "data update contains an invalid message; update dropped", {
          peer,
          endpoint: m.connectionInfo.endpoint,
          index,
          error: errorMessage(err),
        });
        return undefined;
      }
      items.push(msg);
      itemIds.push(itemId);
    }
    for (const msg of items) {
      try {
        this.#adapter.msgConsumer(msg);
      } catch (err) {
        this.#logger.error("pull message consumer failed", { error: errorMessage(err) });
      }
    }
    if (this.#engine.onRes(itemIds, update.nonce)) {
      for (const [i, itemId] of itemIds.entries()) this.#items.set(itemId, items[i]!);
      this.#logger.debug("stored pulled items", { count: items.length, total: this.#items.size });
    }
    return { itemIds, items };
  }

  #itemIds(digests: readonly Uint8Array[]): string[] {
    return digests.map((d) => itemIdOfDigest(this.#config.msgType, d));
  }

  #digests(itemIds: readonly string[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const id of itemIds) {
      let digest = this.#digestOf.get(id);
      if (digest === undefined) {
        if (this.#digestOf.size >= DIGEST_MEMO_SIZE) this.#digestOf.clear();
        digest = digestOfItemId(this.#config.msgType, id);
        this.#digestOf.set(id, digest);
      }
      out.push(digest);
    }
    return out;
  }

  /** A pull message with our channel and tag; the pull nonce lives in the content, the outer nonce is 0. */
  #message(content: GossipContent): GossipMessage {
    return { nonce: 0n, channel: this.#config.channel, tag: this.#config.tag, content };
  }

  /** Sends to the members whose preferred endpoint is `dest` (Fabric's `peersWithEndpoints`). */
  #sendTo(dest: string, msg: GossipMessage): void {
    const peers: RemotePeer[] = [];
    for (const member of this.#adapter.membership()) {
      const endpoint = preferredEndpoint(member);
      if (endpoint === dest) peers.push({ endpoint, pkiId: member.pkiId });
    }
    if (peers.length === 0) {
      this.#logger.debug("no member has the pull peer's endpoint any more; not sent", { endpoint: dest, content: msg.content?.$case });
      return;
    }
    this.#adapter.sender(SignedGossipMessage.noopSign(msg), ...peers);
  }

  #engineAdapter(): PullAdapter<ReceivedMessage> {
    const msgType = this.#config.msgType;
    return {
      selectPeers: () => selectEndpoints(this.#config.peerCountToSelect, this.#adapter.membership(), this.#random).map((p) => p.endpoint),
      hello: (dest, nonce) => {
        this.#logger.debug("sending hello", { endpoint: dest });
        this.#sendTo(dest, this.#message({ $case: "hello", value: { nonce, metadata: new Uint8Array(0), msgType } }));
      },
      sendDigest: (digest, nonce, context) => {
        this.#logger.debug("sending digest", { peer: pkiHex(context.connectionInfo.id), items: digest.length });
        context.respond(this.#message({ $case: "dataDig", value: { nonce, digests: this.#digests(digest), msgType } }));
      },
      sendReq: (dest, items, nonce) => {
        this.#logger.debug("sending request", { endpoint: dest, items: items.length });
        this.#sendTo(dest, this.#message({ $case: "dataReq", value: { nonce, digests: this.#digests(items), msgType } }));
      },
      sendRes: (items, context, nonce) => {
        const budget = (this.#config.maxMessageBytes ?? DEFAULT_MAX_PULL_MESSAGE_BYTES) - RESPONSE_OVERHEAD_BYTES;
        const parts: Envelope[][] = [];
        let data: Envelope[] = [];
        let size = 0;
        for (const item of items) {
          const msg = this.#items.get(item);
          if (msg === undefined) continue;
          const itemSize = envelopeSize(msg.envelope) + ITEM_FRAMING_BYTES;
          if (itemSize > budget) {
            this.#badInput.warn("oversized pull item", "an item is larger than the message size limit: left out of the pull response", { item, bytes: itemSize });
            continue;
          }
          if (size + itemSize > budget && data.length > 0) {
            parts.push(data);
            data = [];
            size = 0;
          }
          data.push(msg.envelope);
          size += itemSize;
        }
        if (data.length > 0 || parts.length === 0) parts.push(data);
        this.#logger.debug("sending update", { peer: pkiHex(context.connectionInfo.id), items: parts.reduce((n, p) => n + p.length, 0), messages: parts.length });
        // The requester accepts every response carrying its nonce while its round collects (Fabric's OnRes).
        for (const part of parts) context.respond(this.#message({ $case: "dataUpdate", value: { nonce, data: part, msgType } }));
      },
    };
  }
}

/** Creates a pull mediator (Fabric's `NewPullMediator`); call start() to begin pull rounds. */
export function createPullMediator(config: PullMediatorConfig, adapter: PullMediatorAdapter, components: PullMediatorComponents): PullMediator {
  return new PullMediatorImpl(config, adapter, components);
}
