// fast-check arbitraries for every gossip message, with fields over their whole range (uint64 up to 2^64-1,
// negative int32s, multi-byte length prefixes, non-ASCII strings).
import fc from "fast-check";
import type { SignaturePolicy, SignaturePolicyEnvelope } from "../../../src/protos/gen/common/policies.pb.js";
import type {
  AliveMessage,
  Chaincode,
  ConnEstablish,
  Envelope,
  GossipMessage,
  Payload,
  PeerTime,
  PrivatePayload,
  PvtDataDigest,
  SecretEnvelope,
} from "../../../src/protos/gen/gossip/message.pb.js";
import type { MSPPrincipal } from "../../../src/protos/gen/msp/msp_principal.pb.js";
import type { CollectionConfigPackage, StaticCollectionConfig } from "../../../src/protos/gen/peer/collection.pb.js";
import type { ApplicationPolicy } from "../../../src/protos/gen/peer/policy.pb.js";

export type Content = NonNullable<GossipMessage["content"]>;
export type ContentCase = Content["$case"];

const U64_MAX = (1n << 64n) - 1n;

/** uint64 over its whole range, every bit length (so every varint size) equally often, and the edges. */
export const u64 = fc.oneof(
  fc
    .integer({ min: 0, max: 64 })
    .chain((bits) => fc.bigInt({ min: bits === 0 ? 0n : 1n << BigInt(bits - 1), max: (1n << BigInt(bits)) - 1n })),
  fc.constantFrom(0n, 1n, 127n, 128n, (1n << 32n) - 1n, 1n << 32n, (1n << 53n) + 1n, 1n << 63n, U64_MAX - 1n, U64_MAX),
);
export const int32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
/** Mostly short, sometimes over 127 bytes so the length prefix takes two bytes. */
export const bytes = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 120, maxLength: 400 }) },
);
/** Any valid Unicode (so it survives UTF-8), sometimes long. */
export const str = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 100, maxLength: 200 }) },
);
/** fc.record with plain objects, as the decoder builds them (deepStrictEqual compares prototypes). */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record<T>(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}
const list = <T>(a: fc.Arbitrary<T>) => fc.array(a, { maxLength: 4 });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** Known enum values and one the receiver does not know (it must still round-trip). */
const tag = fc.integer({ min: 0, max: 6 });
const pullMsgType = fc.integer({ min: 0, max: 3 });

export const peerTime: fc.Arbitrary<PeerTime> = rec({ incNum: u64, seqNum: u64 });
export const secretEnvelope: fc.Arbitrary<SecretEnvelope> = rec({ payload: bytes, signature: bytes });
export const envelope: fc.Arbitrary<Envelope> = rec({
  payload: bytes,
  signature: bytes,
  secretEnvelope: opt(secretEnvelope),
});
export const payload: fc.Arbitrary<Payload> = rec({ seqNum: u64, data: bytes, privateData: list(bytes) });
const pvtDataDigest: fc.Arbitrary<PvtDataDigest> = rec({
  txId: str,
  namespace: str,
  collection: str,
  blockSeq: u64,
  seqInBlock: u64,
});
const chaincode: fc.Arbitrary<Chaincode> = rec({ name: str, version: str, metadata: bytes });
const mspPrincipal: fc.Arbitrary<MSPPrincipal> = rec({
  principalClassification: fc.integer({ min: 0, max: 6 }),
  principal: bytes,
});
const { signaturePolicy } = fc.letrec<{ signaturePolicy: SignaturePolicy }>((tie) => ({
  signaturePolicy: rec({
    Type: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constant(undefined),
      rec({ $case: fc.constant("signedBy" as const), value: int32 }),
      rec({
        $case: fc.constant("nOutOf" as const),
        value: rec({ n: int32, rules: fc.array(tie("signaturePolicy"), { maxLength: 3 }) }),
      }),
    ),
  }),
}));
const signaturePolicyEnvelope: fc.Arbitrary<SignaturePolicyEnvelope> = rec({
  version: int32,
  rule: opt(signaturePolicy),
  identities: list(mspPrincipal),
});
const applicationPolicy: fc.Arbitrary<ApplicationPolicy> = rec({
  Type: opt(
    fc.oneof(
      rec({ $case: fc.constant("signaturePolicy" as const), value: signaturePolicyEnvelope }),
      rec({ $case: fc.constant("channelConfigPolicyReference" as const), value: str }),
    ),
  ),
});
const staticCollectionConfig: fc.Arbitrary<StaticCollectionConfig> = rec({
  name: str,
  memberOrgsPolicy: opt(
    rec({
      payload: opt(rec({ $case: fc.constant("signaturePolicy" as const), value: signaturePolicyEnvelope })),
    }),
  ),
  requiredPeerCount: int32,
  maximumPeerCount: int32,
  blockToLive: u64,
  memberOnlyRead: fc.boolean(),
  memberOnlyWrite: fc.boolean(),
  endorsementPolicy: opt(applicationPolicy),
});
const collectionConfigPackage: fc.Arbitrary<CollectionConfigPackage> = rec({
  config: list(
    rec({
      payload: opt(rec({ $case: fc.constant("staticCollectionConfig" as const), value: staticCollectionConfig })),
    }),
  ),
});
const privatePayload: fc.Arbitrary<PrivatePayload> = rec({
  collectionName: str,
  namespace: str,
  txId: str,
  privateRwset: bytes,
  privateSimHeight: u64,
  collectionConfigs: opt(collectionConfigPackage),
});
export const aliveMessage: fc.Arbitrary<AliveMessage> = rec({
  membership: opt(rec({ endpoint: str, metadata: bytes, pkiId: bytes })),
  timestamp: opt(peerTime),
  identity: bytes,
});
export const connEstablish: fc.Arbitrary<ConnEstablish> = rec({
  pkiId: bytes,
  identity: bytes,
  tlsCertHash: bytes,
  probe: fc.boolean(),
});

/** One arbitrary per GossipMessage.content case, fields 5..25 in field order. */
export const contents: { [C in ContentCase]: fc.Arbitrary<Extract<Content, { $case: C }>["value"]> } = {
  aliveMsg: aliveMessage,
  memReq: rec({ selfInformation: opt(envelope), known: list(bytes) }),
  memRes: rec({ alive: list(envelope), dead: list(envelope) }),
  dataMsg: rec({ payload: opt(payload) }),
  hello: rec({ nonce: u64, metadata: bytes, msgType: pullMsgType }),
  dataDig: rec({ nonce: u64, digests: list(bytes), msgType: pullMsgType }),
  dataReq: rec({ nonce: u64, digests: list(bytes), msgType: pullMsgType }),
  dataUpdate: rec({ nonce: u64, data: list(envelope), msgType: pullMsgType }),
  empty: fc.constant({}),
  conn: connEstablish,
  stateInfo: rec({
    timestamp: opt(peerTime),
    pkiId: bytes,
    channelMAC: bytes,
    properties: opt(rec({ ledgerHeight: u64, leftChannel: fc.boolean(), chaincodes: list(chaincode) })),
  }),
  stateSnapshot: rec({ elements: list(envelope) }),
  stateInfoPullReq: rec({ channelMAC: bytes }),
  stateRequest: rec({ startSeqNum: u64, endSeqNum: u64 }),
  stateResponse: rec({ payloads: list(payload) }),
  leadershipMsg: rec({ pkiId: bytes, timestamp: opt(peerTime), isDeclaration: fc.boolean() }),
  peerIdentity: rec({ pkiId: bytes, cert: bytes, metadata: bytes }),
  ack: rec({ error: str }),
  privateReq: rec({ digests: list(pvtDataDigest) }),
  privateRes: rec({ elements: list(rec({ digest: opt(pvtDataDigest), payload: list(bytes) })) }),
  privateData: rec({ payload: opt(privatePayload) }),
};

export const CONTENT_CASES = Object.keys(contents) as ContentCase[];

/** A GossipMessage whose content is of case `c`. */
export function gossipMessageOf(c: ContentCase): fc.Arbitrary<GossipMessage> {
  const value = contents[c] as fc.Arbitrary<Content["value"]>;
  return rec({
    nonce: u64,
    channel: bytes,
    tag,
    content: value.map((v) => ({ $case: c, value: v }) as Content),
  });
}

/** Any GossipMessage, including one without content. */
export const gossipMessage: fc.Arbitrary<GossipMessage> = fc.oneof(
  ...CONTENT_CASES.map(gossipMessageOf),
  rec({ nonce: u64, channel: bytes, tag, content: fc.constant(undefined) }),
);
