/**
 * Fakes for the deliver client tests: a hash-chained block factory, a fake MCS that checks the data
 * hash and a fake orderer signature (SHA-256 over "orderer" || header DER) and can be told to
 * reject chosen block numbers, a fake signer, a deterministic Random, and a scripted in-memory
 * Deliver connector.
 */
import { createHash } from "node:crypto";
import { blockDataHash, blockHeaderBytes, blockHeaderHash } from "../../../src/crypto/index.js";
import type { DeliverConnector, DeliverSigner, DeliverStream } from "../../../src/deliver/index.js";
import { Block, Envelope, Payload, type Status } from "../../../src/protos/gen/common/common.pb.js";
import { DeliverResponse, SeekInfo } from "../../../src/protos/gen/orderer/ab.pb.js";
import { bytesEqual, type Random, SeededRandom, utf8 } from "../../../src/util/index.js";

export const CHANNEL = "testchannel";

function fakeOrdererSig(header: Block["header"]): Uint8Array {
  return new Uint8Array(createHash("sha256").update("orderer").update(blockHeaderBytes(header!)).digest());
}

/** Blocks 0..count-1 of a correct chain (data hash, previous hash, fake orderer signature). */
export function makeChain(count: number, seed = "chain"): Block[] {
  const out: Block[] = [];
  let prev: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < count; i++) {
    const data = { data: [utf8(`${seed}-tx-${i}`)] };
    const header = { number: BigInt(i), previousHash: prev, dataHash: blockDataHash(data) };
    out.push({ header, data, metadata: { metadata: [fakeOrdererSig(header), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)] } });
    prev = blockHeaderHash(header);
  }
  return out;
}

/** The block with a signature no orderer made. */
export function withBadSignature(block: Block): Block {
  const md = [...block.metadata!.metadata];
  md[0] = utf8("forged");
  return { ...block, metadata: { metadata: md } };
}

/** The block with a previous_hash that is not its predecessor's, re-signed (a key-holding but lying orderer). */
export function withBrokenChain(block: Block): Block {
  const header = { ...block.header!, previousHash: new Uint8Array(32).fill(7) };
  const md = [...block.metadata!.metadata];
  md[0] = fakeOrdererSig(header);
  return { ...block, header, metadata: { metadata: md } };
}

/** A fake MCS: data hash and fake orderer signature, plus an explicit list of refused numbers. */
export class FakeMcs {
  readonly refuse = new Set<bigint>();
  verified = 0;

  verifyBlock(_channel: string, seq: bigint, block: Block): void {
    const h = block.header;
    if (h === undefined || h.number !== seq) throw new Error("bad seq");
    if (this.refuse.has(seq)) throw new Error(`block ${seq} refused by the test`);
    if (!bytesEqual(blockDataHash(block.data), h.dataHash)) throw new Error("data hash mismatch");
    if (!bytesEqual(block.metadata?.metadata[0] ?? new Uint8Array(0), fakeOrdererSig(h))) throw new Error("bad orderer signature");
    this.verified++;
  }
}

export const fakeSigner: DeliverSigner = {
  serialized: utf8("peer0.org1"),
  sign: (msg) => new Uint8Array(createHash("sha256").update("sig").update(msg).digest()),
};

/** A Random whose endpoint picks are the first candidate (deterministic failover order); the rest seeded. */
export function firstPickRandom(seed = 1): Random {
  const r = new SeededRandom(seed);
  return {
    float: () => r.float(),
    int: () => 0,
    uint64: () => r.uint64(),
    indices: (k, n) => r.indices(k, n),
    shuffle: (items) => r.shuffle(items),
  };
}

/** A ledger fed by onBlock: height = last delivered + 1, starting with the genesis block. */
export class FakeLedger {
  readonly blocks: Block[] = [];
  readonly bytes: Uint8Array[] = [];
  constructor(genesis: Block) {
    this.blocks.push(genesis);
    this.bytes.push(Block.encode(genesis).finish());
  }
  height = (): bigint => BigInt(this.blocks.length);
  onBlock = async (block: Block, bytes: Uint8Array): Promise<void> => {
    if (block.header!.number !== this.height()) return; // a re-delivery: the state buffer ignores it
    this.blocks.push(block);
    this.bytes.push(bytes);
  };
  blockHashAt = (n: bigint): Uint8Array | undefined => {
    const b = this.blocks[Number(n)];
    return b === undefined ? undefined : blockHeaderHash(b.header!);
  };
  numbers(): number[] {
    return this.blocks.map((b) => Number(b.header!.number));
  }
}

export function blockResponse(block: Block): Uint8Array {
  return DeliverResponse.encode({ Type: { $case: "block", value: block } }).finish();
}

export function statusResponse(status: Status): Uint8Array {
  return DeliverResponse.encode({ Type: { $case: "status", value: status } }).finish();
}

/** The start block of a SeekInfo envelope. */
export function seekStart(envelope: Uint8Array): bigint {
  const payload = Payload.decode(Envelope.decode(envelope).payload);
  const info = SeekInfo.decode(payload.data);
  const start = info.start?.Type;
  if (start?.$case !== "specified") throw new Error("SeekInfo start is not specified");
  return start.value.number;
}

/** An in-memory stream: queued messages, then waits (BLOCK_UNTIL_READY) until ended or closed. */
export class FakeStream implements DeliverStream {
  readonly #queue: Uint8Array[] = [];
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  closed = false;

  push(msg: Uint8Array): void {
    this.#queue.push(msg);
    this.#notify();
  }
  end(): void {
    this.#ended = true;
    this.#notify();
  }
  fail(err: Error): void {
    this.#error = err;
    this.#notify();
  }
  close(): void {
    this.closed = true;
    this.#notify();
  }
  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      if (this.closed) throw new Error("CANCELLED: stream closed by the client");
      const next = this.#queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}

/** What a scripted fake orderer does with one Deliver request. */
export type FakeOrdererScript = (start: bigint, stream: FakeStream) => void;

/** An in-memory connector: per endpoint, either down or a script that fills the stream. */
export class FakeConnector implements DeliverConnector {
  readonly scripts = new Map<string, FakeOrdererScript>();
  readonly opened: { endpoint: string; start: bigint; stream: FakeStream }[] = [];
  readonly tlsCertHash = undefined;

  async open(endpoint: string, seekEnvelope: Uint8Array): Promise<DeliverStream> {
    const script = this.scripts.get(endpoint);
    if (script === undefined) throw new Error(`connection refused: ${endpoint}`);
    const start = seekStart(seekEnvelope);
    const stream = new FakeStream();
    this.opened.push({ endpoint, start, stream });
    script(start, stream);
    return stream;
  }

  openStreams(): number {
    return this.opened.filter((o) => !o.stream.closed).length;
  }
}

/** A script serving `chain` from the requested start, with some blocks replaced. */
export function serveChain(chain: readonly Block[], replace: ReadonlyMap<number, Block> = new Map()): FakeOrdererScript {
  return (start, stream) => {
    for (let i = Number(start); i < chain.length; i++) stream.push(blockResponse(replace.get(i) ?? chain[i]!));
  };
}
