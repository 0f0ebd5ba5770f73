// The channel configuration as Fabric encodes it (configtx): config blocks, their groups, values and policies,
// block metadata, and the typed view a peer uses. The only entry to src/channelconfig.
export { type ChannelConfigErrorCode, ChannelConfigError } from "./errors.js";
export {
  APPLICATION_GROUP,
  type BlockKind,
  type ConfigBlockContent,
  type FirstEnvelope,
  ORDERER_GROUP,
  ROOT_GROUP,
  blockKind,
  configOfBlock,
  decodeBlock,
  firstEnvelope,
  groupAt,
} from "./configtx.js";
export {
  type BlockSignature,
  type LastConfigIndices,
  blockSignatures,
  lastConfigIndex,
  lastConfigIndices,
  metadataAt,
} from "./block-metadata.js";
export {
  type AnchorPeerAddress,
  type ApplicationOrgConfig,
  CONFIG_VALUE,
  type ChannelCapabilities,
  type ChannelConfig,
  type ChannelMsp,
  type ChannelPolicy,
  type MspType,
  type OrdererOrgConfig,
  type OrgConfig,
  type PolicyTypeName,
  channelConfigFromBlock,
  parseChannelConfig,
} from "./channel-config.js";
export { channelMspMaterials, mspOrgMaterialOf } from "./msp-material.js";
export { genesisMspOfFolder } from "./msp-folder.js";
export {
  GENESIS_DEFAULTS,
  type GenesisApplicationOrg,
  type GenesisConsenter,
  type GenesisMsp,
  type GenesisOptions,
  type GenesisOrdererOrg,
  createGenesisBlock,
} from "./genesis.js";
export { type BlockInspection, type InspectedOrg, inspectBlock } from "./inspect.js";
export {
  type IdentityDeserializer,
  type PolicyDefinition,
  type PolicyEvaluator,
  type PolicyIdentity,
  type PolicyTree,
  type RejectedSignature,
  type SignedData,
  PolicyError,
  createPolicyTree,
  createSignaturePolicy,
  describePrincipal,
  signatureSetToValidIdentities,
} from "./policies.js";
export {
  type ChannelMspConfig,
  type ChannelMspOptions,
  type IdentityOu,
  type NodeOusConfig,
  type NodeRole,
  type OuIdentifierConfig,
  ChannelIdentity,
  ChannelMspError,
  ChannelMspManager,
  ChannelOrgMsp,
  channelMspConfigOf,
} from "./msp-config.js";
export {
  APPLICATION_READERS_POLICY,
  BLOCK_VALIDATION_POLICY,
  type ChannelBundle,
  type ChannelBundleOptions,
  type ChannelVerifyErrorCode,
  ChannelVerifyError,
  createChannelBundle,
} from "./bundle.js";
export {
  type ChannelConfigTracker,
  type ChannelConfigTrackerOptions,
  createChannelConfigTracker,
} from "./tracker.js";
export {
  type ChannelMcsComponents,
  type ChannelTrackers,
  ChannelMessageCryptoService,
  ChannelTrackerRegistry,
  createChannelMessageCryptoService,
} from "./mcs.js";
