import type { TestContext } from "node:test";
import { silentLogger } from "../../src/logging/index.js";
import { createOrderer, type Orderer } from "../../src/orderer/index.js";
import { SystemClock } from "../../src/util/index.js";
import { type OrdererFixture, ordererFixture } from "../unit/orderer/fixture.js";

/** A client's mutual-TLS credentials towards the orderer: the orderer's CA and the client's pair (PEM). */
export interface ClientTls {
  rootCAs: string;
  cert: string;
  key: string;
}

/** The orderer of {@link tlsOrdererSetup}, and the identities and credentials of its clients. */
export interface TlsOrdererSetup {
  clock: SystemClock;
  fx: OrdererFixture;
  /**
   * Creates (does not start) the orderer on `listen`. Every one keeps its ledger in the same
   * folder, so an orderer made after another stopped continues its chain.
   */
  make(listen: string): Orderer;
  /** TLS of Org1MSP's peer (Org1MSP is the member of ch1; `fx.member`, its client, signs). */
  memberTls: ClientTls;
  /** Org2MSP's peer, no member of ch1. */
  outsiderTls: ClientTls;
}

/**
 * An orderer of channel "ch1" (member: Org1MSP; started from `fx.genesis`) on the real clock, over mutual TLS with the
 * orderer fixture's certificates. It trusts the member's and the outsider's TLS CAs, so the
 * outsider is refused by the channel's membership, not by TLS.
 */
export async function tlsOrdererSetup(t: TestContext, batch: { batchSize: number; batchTimeoutMs: number }): Promise<TlsOrdererSetup> {
  const clock = new SystemClock();
  const fx = await ordererFixture(t, clock);
  const dir = await fx.tmp();
  const make = (listen: string): Orderer =>
    createOrderer(
      {
        listen,
        tls: { cert: fx.tls.orderer.cert, key: fx.tls.orderer.key, rootCAs: fx.tls.member.ca + fx.tls.outsider.ca },
        dir,
        channels: [fx.genesis],
        ...batch,
      },
      { signer: fx.orderer, clock, logger: silentLogger },
    );
  return {
    clock,
    fx,
    make,
    memberTls: { rootCAs: fx.tls.orderer.ca, cert: fx.tls.member.cert, key: fx.tls.member.key },
    outsiderTls: { rootCAs: fx.tls.orderer.ca, cert: fx.tls.outsider.cert, key: fx.tls.outsider.key },
  };
}
