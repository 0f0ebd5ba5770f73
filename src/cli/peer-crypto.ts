import type { MessageCryptoService } from "../api/index.js";
import type { Logger } from "../logging/index.js";
import { loadPeerCrypto as loadCrypto, type PeerCrypto, type PeerCryptoArgs as ServiceCryptoArgs } from "../service/index.js";

export type { PeerCrypto } from "../service/index.js";

/** Deliberate misbehaviour, for the tests that prove a peer refuses it. */
export type Fault = "forge-signature" | "wrong-tls-hash";

/** The service's crypto arguments, plus a deliberate fault (`comm peer --fault`). */
export interface PeerCryptoArgs extends ServiceCryptoArgs {
  fault?: Fault;
}

/** Builds the peer's MCS from the command line (src/service's loader), with the fault asked for. */
export async function loadPeerCrypto(args: PeerCryptoArgs, logger: Logger): Promise<PeerCrypto> {
  const crypto = await loadCrypto(args, logger);
  return args.fault === "forge-signature" ? { ...crypto, mcs: withForgedSignatures(crypto.mcs) } : crypto;
}

/** An MCS whose signatures do not verify: every signature has its last byte flipped. */
function withForgedSignatures(inner: MessageCryptoService): MessageCryptoService {
  return {
    getPKIidOfCert: (id) => inner.getPKIidOfCert(id),
    verifyBlock: (ch, seq, block) => inner.verifyBlock(ch, seq, block),
    sign: (msg) => {
      const sig = Uint8Array.from(inner.sign(msg));
      sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 0xff;
      return sig;
    },
    verify: (id, sig, msg) => inner.verify(id, sig, msg),
    verifyByChannel: (ch, id, sig, msg) => inner.verifyByChannel(ch, id, sig, msg),
    validateIdentity: (id) => inner.validateIdentity(id),
    expiration: (id) => inner.expiration(id),
  };
}
