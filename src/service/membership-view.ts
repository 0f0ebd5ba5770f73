/** A peer as the admin API shows it. */
export interface PeerView {
  endpoint: string;
  internalEndpoint: string;
  org: string;
  /** Lower-case hex of the PKI-ID. */
  pkiId: string;
}

/** A channel member as the admin API shows it. */
export interface ChannelPeerView extends PeerView {
  ledgerHeight: number;
  leftChannel: boolean;
}

/** The JSON of `GET /v1/membership`. */
export interface MembershipView {
  self: PeerView;
  alive: PeerView[];
  dead: PeerView[];
  /** Channel name to the peers this peer knows in it (itself excluded). */
  channels: Record<string, ChannelPeerView[]>;
  /**
   * Identities seen in use by two processes at once in the last 10 minutes (duplicate-identity events): our own
   * when a twin runs with it, or another peer's whose alive messages alternate between endpoints.
   */
  duplicates?: DuplicateIdentityView[];
}

/** An identity run by more than one process, as `GET /v1/membership` shows it. */
export interface DuplicateIdentityView {
  pkiId: string;
  /** The endpoints it was seen at. */
  endpoints: string[];
  /** When it was last seen, ISO time. */
  lastSeen: string;
}

/** One channel with a ledger, as `GET /v1/channels` shows it. */
export interface ChannelStatusView {
  channel: string;
  /** Ledger height: blocks committed, the genesis block included. */
  height: number;
  /** Lower-case hex SHA-256 of the last committed block header. */
  lastBlockHash: string;
  /** Whether this peer is the org's leader of the channel (elected, or static). */
  leader: boolean;
  /** Whether the leader's Deliver client runs. */
  delivering: boolean;
  /** Channel peers this peer knows (itself excluded). */
  members: number;
  /** Alive peers this peer knows, on any channel. */
  alive: number;
  /** The member orgs (MSP IDs) of the configuration in force. */
  orgs?: string[];
  /** The orderer endpoints the Deliver client uses (the configuration in force). */
  orderers?: string[];
}
