/** Fabric's certStore: identity dissemination by pull. */
export { CertStore, type CertStoreComponents, type CertStoreOptions } from "./cert-store.js";
