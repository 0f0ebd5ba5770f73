export { CryptoError } from "./errors.js";
export { DevMessageCryptoService, DEV_ORG } from "./dev-mcs.js";
export {
  type EcCurve,
  type EcdsaSignature,
  P256,
  P384,
  curveOfKey,
  isLowS,
  toLowS,
  marshalEcdsaSignature,
  unmarshalEcdsaSignature,
  signatureToLowS,
  p1363ToLowSDer,
  ecdsaSign,
  ecdsaVerify,
} from "./ecdsa.js";
export { encodePem, decodePem, decodeAllPem, type PemBlock } from "./pem.js";
export { sanitizeEcdsaSignedCert } from "./x509-util.js";
export {
  type MspOrgMaterial,
  type DecodedIdentity,
  type LocalMsp,
  type MspVerifierOptions,
  type ValidIdentity,
  type VerifierStats,
  IDENTITY_CACHE_SIZE,
  certificationChain,
  MSP_FOLDERS,
  serializeIdentity,
  deserializeIdentity,
  pkiIdOf,
  certIdBytes,
  SigningIdentity,
  createSigningIdentity,
  loadOrgMspFolder,
  loadMspFolder,
  MspVerifier,
} from "./msp.js";
export {
  blockDataHash,
  blockHeaderBytes,
  blockHeaderHash,
  channelIdOfBlock,
  createBlockSignatureMetadata,
  concatBytes,
  NONCE_SIZE,
  type BlockSigner,
} from "./block.js";
export {
  BLOCK_METADATA_SIGNATURES,
  type MspMessageCryptoService,
  createMspMessageCryptoService,
  type MspMcsComponents,
  type MspMcsOptions,
} from "./mcs.js";
export {
  type CaMaterial,
  type IssuedMaterial,
  type IssueOptions,
  type GenerateCryptoOptions,
  type CryptoMaterialSummary,
  type OrgSummary,
  type NodeSummary,
  type PeerMaterial,
  mspIdForOrg,
  createCa,
  issueCertificate,
  createCrl,
  writeCrl,
  loadCa,
  existingCryptoMaterial,
  generateCryptoMaterial,
  removeCryptoMaterial,
  loadPeerMaterial,
  loadVerifierOrgs,
  nodeDirs,
} from "./generate.js";
export { LruCache } from "./lru.js";
