export type {
  EgressDigestFilter,
  IngressDigestFilter,
  PullHookMsgType,
  PullMediator,
  PullMediatorAdapter,
  PullMediatorComponents,
  PullMediatorConfig,
  PullMember,
  PullMessageHook,
} from "./interface.js";
export { DEFAULT_MAX_PULL_MESSAGE_BYTES } from "./interface.js";
export { PullMediatorImpl, createPullMediator, selectEndpoints } from "./pull-mediator.js";
export { digestOfItemId, itemIdOfDigest } from "./item-ids.js";
