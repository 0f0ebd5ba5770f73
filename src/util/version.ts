/** fabric-gossip's version (package.json's; a unit test keeps them equal): `--version` and `/version`. */
export const FABRIC_GOSSIP_VERSION = "0.1.0";
