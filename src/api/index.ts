export type { PKIidType, PeerIdentityType, OrgIdentityType, PkiHex, RemotePeer, PeerIdentityInfo } from "./identity.js";
export { PkiIdMemo, pkiHex, pkiKey } from "./identity.js";
export type { MessageCryptoService, SecurityAdvisor, Signer, Verifier, PeerSignature } from "./crypto.js";
export type { PeerEvent, PeerEventKind, PeerEventOf, PeerEventSink, MemberDeathCause } from "./events.js";
export { NO_EVENTS, PeerEvents } from "./events.js";
