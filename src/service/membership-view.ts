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
}
