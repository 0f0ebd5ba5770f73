// Wire vectors captured from real Fabric v2.4.9 peers (../shared/vectors, see its README): every envelope must
// decode to the captured protobuf JSON field by field and re-encode to exactly the captured bytes.
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { type DescMessage, fromBinary, toJson } from "@bufbuild/protobuf";
import fc from "fast-check";
import { DevMessageCryptoService } from "../../src/crypto/index.js";
import { SignedGossipMessage, tagName } from "../../src/protoext/index.js";
import { Envelope, GossipMessage } from "../../src/protos/gen/gossip/message.pb.js";
import { bytesEqual, fromHex, fromUtf8, toHex } from "../../src/util/bytes.js";
import { gossipMessage } from "../unit/protoext/arbitraries.js";
import { type JsonObject, loadFabricRegistry, toProtoJson } from "../utils/proto-json.js";

const VECTORS = new URL("../../../shared/vectors/", import.meta.url);

interface Vector {
  kind: string;
  tag: string;
  direction: string;
  envelope_hex: string;
  message: JsonObject;
  tls: boolean;
}

const vectors: Vector[] = readFileSync(new URL("fabric-v2.4.9-wire.jsonl", VECTORS), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line) as Vector);

/** The README's `kind` names for GossipMessage.content cases. */
const KIND_TO_CASE: Record<string, NonNullable<GossipMessage["content"]>["$case"]> = {
  AliveMsg: "aliveMsg",
  MemReq: "memReq",
  MemRes: "memRes",
  DataMsg: "dataMsg",
  Hello: "hello",
  DataDig: "dataDig",
  DataReq: "dataReq",
  DataUpdate: "dataUpdate",
  Conn: "conn",
  StateInfo: "stateInfo",
  StateSnapshot: "stateSnapshot",
  StateInfoPullReq: "stateInfoPullReq",
};

const mcs = new DevMessageCryptoService();

/** The envelopes nested in a message (membership, pull updates, state snapshots): they travel as bytes too. */
function nestedEnvelopes(m: GossipMessage): Envelope[] {
  switch (m.content?.$case) {
    case "memReq":
      return m.content.value.selfInformation === undefined ? [] : [m.content.value.selfInformation];
    case "memRes":
      return [...m.content.value.alive, ...m.content.value.dead];
    case "dataUpdate":
      return m.content.value.data;
    case "stateSnapshot":
      return m.content.value.elements;
    default:
      return [];
  }
}

/** Every uint64 decimal string in a protobuf JSON value. */
function bigDecimals(v: unknown, out: bigint[] = []): bigint[] {
  if (typeof v === "string" && /^[0-9]{16,20}$/.test(v)) out.push(BigInt(v));
  else if (Array.isArray(v)) for (const x of v) bigDecimals(x, out);
  else if (typeof v === "object" && v !== null) for (const x of Object.values(v)) bigDecimals(x, out);
  return out;
}

describe("Fabric v2.4.9 wire vectors", () => {
  let gossipDesc: DescMessage;
  before(() => {
    const desc = loadFabricRegistry().getMessage("gossip.GossipMessage");
    assert.ok(desc, "gossip.GossipMessage descriptor");
    gossipDesc = desc;
  });

  it("the file has vectors of every kind the README lists", () => {
    assert.ok(vectors.length >= 100, `${vectors.length} vectors`);
    assert.deepStrictEqual(new Set(vectors.map((v) => v.kind)), new Set(Object.keys(KIND_TO_CASE)));
  });

  vectors.forEach((v, i) => {
    it(`#${i + 1} ${v.kind} ${v.tag} ${v.direction}${v.tls ? " tls" : ""}`, () => {
      const wire = fromHex(v.envelope_hex);
      const signed = SignedGossipMessage.fromEnvelopeBytes(wire);
      const m = signed.message;

      assert.equal(m.content?.$case, KIND_TO_CASE[v.kind]);
      assert.equal(tagName(m.tag), v.tag);
      assert.deepStrictEqual(toProtoJson(gossipDesc, m), v.message);

      // Re-encoding gives the same bytes: Fabric's Go encoder writes fields in field-number order, as ours does.
      assert.equal(toHex(GossipMessage.encode(m).finish()), toHex(signed.envelope.payload));
      assert.equal(toHex(Envelope.encode(signed.envelope).finish()), v.envelope_hex);
      assert.equal(signed.bytes, wire);

      for (const nested of nestedEnvelopes(m)) {
        const inner = GossipMessage.decode(nested.payload);
        assert.equal(toHex(GossipMessage.encode(inner).finish()), toHex(nested.payload));
        if (nested.signature.byteLength > 0) assert.ok(bytesEqual(nested.signature, nested.payload));
      }

      // Fabric's test crypto: where Fabric signs, the signature is the payload itself.
      if (signed.isSigned()) {
        assert.ok(bytesEqual(signed.envelope.signature, signed.envelope.payload));
        signed.verify(new Uint8Array(0), (id, sig, msg) => mcs.verify(id, sig, msg));
      }
    });
  });

  it("uint64 values above 2^53 and 2^63 are exact", () => {
    let above53 = 0;
    let above63 = 0;
    for (const v of vectors) {
      const m = GossipMessage.decode(Envelope.decode(fromHex(v.envelope_hex)).payload);
      const json = toProtoJson(gossipDesc, m);
      for (const n of bigDecimals(v.message)) {
        if (n > 1n << 53n) above53++;
        if (n >= 1n << 63n) above63++;
      }
      assert.deepStrictEqual(bigDecimals(json), bigDecimals(v.message));
    }
    assert.ok(above53 > 0 && above63 > 0, `vectors hold uint64s beyond 2^53 (${above53}) and 2^63 (${above63})`);
    const hello = vectors.find((v) => v.kind === "Hello" && v.message.hello !== undefined);
    assert.ok(hello);
    const m = GossipMessage.decode(Envelope.decode(fromHex(hello.envelope_hex)).payload);
    assert.equal(m.content?.$case, "hello");
    assert.equal(m.content.value.nonce.toString(), (hello.message.hello as JsonObject).nonce);
  });

  it("TLS ConnEstablish tls_cert_hash is SHA-256 of the sender's certificate DER on that connection", () => {
    const tlsConns = vectors.filter((v) => v.tls && v.kind === "Conn");
    assert.ok(tlsConns.length >= 4);
    for (const v of tlsConns) {
      const m = GossipMessage.decode(Envelope.decode(fromHex(v.envelope_hex)).payload);
      assert.equal(m.content?.$case, "conn");
      const conn = m.content.value;
      const port = fromUtf8(conn.pkiId).split(":").at(-1);
      // The capturing peer sent "out" and received "in"; "(srv)" means it accepted the stream, "(cli)" that it dialed.
      const capturerAccepted = v.direction.endsWith("(srv)");
      const senderIsCapturer = v.direction.startsWith("out");
      const senderAccepted = senderIsCapturer === capturerAccepted;
      const pem = readFileSync(new URL(`tls/node-${port}-${senderAccepted ? "server" : "client"}.pem`, VECTORS), "utf8");
      const der = new X509Certificate(pem).raw;
      const hash = createHash("sha256").update(der).digest();
      assert.equal(toHex(conn.tlsCertHash), hash.toString("hex"), `${v.direction} from ${port}`);
    }
  });

  it("the JSON converter agrees with @bufbuild/protobuf's reflection toJson on arbitrary messages", () => {
    fc.assert(
      fc.property(gossipMessage, (m) => {
        const bytes = GossipMessage.encode(m).finish();
        const reference = toJson(gossipDesc, fromBinary(gossipDesc, bytes), { useProtoFieldName: true });
        assert.deepStrictEqual(toProtoJson(gossipDesc, GossipMessage.decode(bytes)), reference);
      }),
      { numRuns: 300 },
    );
  });
});
