import type { MessageCryptoService, PeerIdentityType, PKIidType } from "../api/index.js";
import { LruCache } from "../crypto/index.js";
import { GossipMessage_Tag } from "../protos/gen/gossip/message.pb.js";
import { type ConnectionInfo, SignedGossipMessage } from "../protoext/index.js";
import { bytesEqual, type Clock, GossipError, latin1 } from "../util/index.js";
import { CommError, type CommErrorCode } from "./errors.js";

const EMPTY = new Uint8Array(0);

/** This side's part of a handshake. */
export interface LocalHandshake {
  pkiId: PKIidType;
  identity: PeerIdentityType;
  /** SHA-256 of the TLS certificate this side presents on this connection, or undefined without TLS. */
  tlsCertHash: Uint8Array | undefined;
  probe: boolean;
}

/** Fabric's `createConnectionMsg`: ConnEstablish in a GossipMessage{tag EMPTY, nonce 0}, signed. */
export function buildConnEstablish(local: LocalHandshake, sign: (msg: Uint8Array) => Uint8Array): SignedGossipMessage {
  return SignedGossipMessage.sign(
    {
      nonce: 0n,
      channel: EMPTY,
      tag: GossipMessage_Tag.EMPTY,
      content: {
        $case: "conn",
        value: { pkiId: local.pkiId, identity: local.identity, tlsCertHash: local.tlsCertHash ?? EMPTY, probe: local.probe },
      },
    },
    sign,
  );
}

/** What the remote side proved in its ConnEstablish. */
export interface RemoteHandshake {
  info: ConnectionInfo;
  probe: boolean;
}

/**
 * Fabric's `authenticateRemotePeer`, receiving half: checks the first envelope of a stream.
 * `remoteCertHash` is the hash of the certificate the remote presented on this connection;
 * `tlsEnabled` says whether the binding is required. Throws CommError with the failing check.
 */
export function checkConnEstablish(
  first: SignedGossipMessage,
  ctx: {
    mcs: MessageCryptoService;
    clock: Clock;
    tlsEnabled: boolean;
    remoteCertHash: Uint8Array | undefined;
    remoteAddress: string;
    /** Handshakes whose signature verified before (their identity and TLS binding are still checked each time). */
    verified?: VerifiedHandshakes;
  },
): RemoteHandshake {
  const content = first.message.content;
  if (content?.$case !== "conn") {
    throw new CommError("WRONG_FIRST_MESSAGE", `expected ConnEstablish as the first message from ${ctx.remoteAddress}, got ${content?.$case ?? "empty content"}`);
  }
  const conn = content.value;
  if (conn.pkiId.byteLength === 0) throw new CommError("NO_PKI_ID", `ConnEstablish from ${ctx.remoteAddress} has no PKI-ID`);
  if (conn.identity.byteLength === 0) throw new CommError("BAD_IDENTITY", `ConnEstablish from ${ctx.remoteAddress} has no identity`);

  let derived: PKIidType;
  try {
    ctx.mcs.validateIdentity(conn.identity);
    const expiry = ctx.mcs.expiration(conn.identity);
    if (expiry !== undefined && expiry.getTime() <= ctx.clock.now()) {
      throw new CommError("EXPIRED_IDENTITY", `identity of ${ctx.remoteAddress} expired at ${expiry.toISOString()}`);
    }
    derived = ctx.mcs.getPKIidOfCert(conn.identity);
  } catch (err) {
    throw asCommError(err, ctx.remoteAddress);
  }
  if (!bytesEqual(derived, conn.pkiId)) {
    throw new CommError("PKI_ID_MISMATCH", `ConnEstablish from ${ctx.remoteAddress} claims a PKI-ID that is not the one of its identity`);
  }
  if (ctx.tlsEnabled) {
    if (ctx.remoteCertHash === undefined) throw new CommError("NO_TLS_CERT", `${ctx.remoteAddress} presented no TLS certificate`);
    if (!bytesEqual(ctx.remoteCertHash, conn.tlsCertHash)) {
      throw new CommError("TLS_HASH_MISMATCH", `tls_cert_hash from ${ctx.remoteAddress} does not match the certificate it presented on this connection`);
    }
  }
  const { payload, signature } = first.envelope;
  if (ctx.verified?.has(payload, signature) !== true) {
    try {
      first.verify(conn.identity, (identity, sig, message) => ctx.mcs.verify(identity, sig, message));
    } catch (err) {
      throw new CommError("BAD_SIGNATURE", `ConnEstablish signature of ${ctx.remoteAddress} does not verify: ${(err as Error).message}`, { cause: err });
    }
    ctx.verified?.add(payload, signature);
  }
  return {
    info: {
      // A copy: it lives as long as the connection and is looked up on every message it carries
      // (caches keyed by array identity keep only copies, see startsBuffer), and it pins no frame.
      id: conn.pkiId.slice(),
      identity: conn.identity,
      endpoint: ctx.remoteAddress,
      auth: { signedData: first.envelope.payload, signature: first.envelope.signature },
    },
    probe: conn.probe,
  };
}

function asCommError(err: unknown, remote: string): CommError {
  if (err instanceof CommError) return err;
  const code = err instanceof GossipError ? err.code : "";
  const mapped: CommErrorCode = code === "UNKNOWN_CA" ? "UNKNOWN_CA" : code === "EXPIRED_IDENTITY" ? "EXPIRED_IDENTITY" : "BAD_IDENTITY";
  return new CommError(mapped, `identity of ${remote} is not valid: ${(err as Error).message}`, { cause: err });
}

/**
 * ConnEstablish envelopes whose signature verified, the `max` most recently seen. A peer's ConnEstablish
 * carries no nonce or time, so the same peer sends the same bytes on each stream (ours sign it once); a stream
 * whose handshake is one of these skips the ECDSA verification, never the identity's validity or the TLS
 * certificate binding, which are checked before. Only bytes that verified are remembered, so nothing unverified
 * can be made to pass.
 */
export class VerifiedHandshakes {
  /** Payload by signature (as a latin1 string). */
  readonly #bySignature: LruCache<string, Uint8Array>;

  constructor(max = 256) {
    this.#bySignature = new LruCache(max);
  }

  has(payload: Uint8Array, signature: Uint8Array): boolean {
    const known = this.#bySignature.get(latin1(signature));
    return known !== undefined && bytesEqual(known, payload);
  }

  add(payload: Uint8Array, signature: Uint8Array): void {
    this.#bySignature.set(latin1(signature), payload.slice());
  }
}

