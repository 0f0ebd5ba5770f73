export { CryptoError } from "./errors.js";
export { DevMessageCryptoService, DEV_ORG } from "./dev-mcs.js";
