import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  ChannelTrackerRegistry,
  createChannelConfigTracker,
  createChannelMessageCryptoService,
} from "../../../src/channelconfig/index.js";
import { loadOrgMspFolder, MspVerifier, } from "../../../src/crypto/index.js";
import { block, CRYPTO, fixtureClock, fixtureSigner } from "./vectors.js";
import { codeOf } from "../../utils/error-code.js";

const clock = fixtureClock();

const peer0Org1 = fixtureSigner("org1", "Org1MSP", "peer0.org1.example.com");
const peer2Org1 = fixtureSigner("org1", "Org1MSP", "peer2.org1.example.com");
const peer0Org2 = fixtureSigner("org2", "Org2MSP", "peer0.org2.example.com");
const peer1Org2 = fixtureSigner("org2", "Org2MSP", "peer1.org2.example.com");
const peer0Org3 = fixtureSigner("org3", "Org3MSP", "peer0.org3.example.com");

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe("the MessageCryptoService over the channels' configurations (peer0.org2's view)", async () => {
  const local = new MspVerifier([await loadOrgMspFolder(join(CRYPTO, "peerOrganizations/org2.example.com/msp"), "Org2MSP")], { clock });
  const msg = new TextEncoder().encode("an alive message");

  it("verifies blocks of a joined channel under the config in force, and knows no other channel", () => {
    const channels = new ChannelTrackerRegistry();
    const mcs = createChannelMessageCryptoService({ signer: peer0Org2, local, channels });
    assert.equal(codeOf(() => mcs.verifyBlock("mychannel", 1n, block(1))), "UNKNOWN_CHANNEL");
    const tracker = createChannelConfigTracker(block(0), { clock });
    channels.set(tracker);
    for (let n = 1; n <= 9; n++) {
      mcs.verifyBlock("mychannel", BigInt(n), block(n));
      tracker.append(block(n));
    }
    assert.equal(codeOf(() => mcs.verifyBlock("mychannel", 3n, block(2))), "WRONG_SEQUENCE");
    assert.equal(codeOf(() => mcs.verifyByChannel("otherchannel", peer0Org1.serialized, peer0Org1.sign(msg), msg)), "UNKNOWN_CHANNEL");
  });

  it("own org by the local MSP, others by the channel: peer2.org1 is refused after block 6, Org3 accepted after block 7", () => {
    const channels = new ChannelTrackerRegistry();
    const mcs = createChannelMessageCryptoService({ signer: peer0Org2, local, channels });
    // Before any channel only the own org is known.
    mcs.verify(peer1Org2.serialized, peer1Org2.sign(msg), msg);
    assert.equal(codeOf(() => mcs.verify(peer0Org1.serialized, peer0Org1.sign(msg), msg)), "UNKNOWN_IDENTITY");
    assert.equal(mcs.orgByPeerIdentity(peer0Org1.serialized).byteLength, 0);

    const tracker = createChannelConfigTracker(block(0), { clock });
    channels.set(tracker);
    for (let n = 1; n <= 5; n++) tracker.append(block(n));
    mcs.verify(peer0Org1.serialized, peer0Org1.sign(msg), msg);
    mcs.verify(peer2Org1.serialized, peer2Org1.sign(msg), msg);
    mcs.verifyByChannel("mychannel", peer2Org1.serialized, peer2Org1.sign(msg), msg);
    assert.equal(text(mcs.orgByPeerIdentity(peer0Org1.serialized)), "Org1MSP");
    assert.equal(codeOf(() => mcs.verify(peer0Org1.serialized, peer0Org1.sign(new TextEncoder().encode("other")), msg)), "POLICY_NOT_SATISFIED");

    tracker.append(block(6));
    assert.equal(codeOf(() => mcs.validateIdentity(peer2Org1.serialized)), "UNKNOWN_IDENTITY");
    assert.equal(codeOf(() => mcs.verify(peer2Org1.serialized, peer2Org1.sign(msg), msg)), "UNKNOWN_IDENTITY");
    assert.equal(codeOf(() => mcs.verifyByChannel("mychannel", peer2Org1.serialized, peer2Org1.sign(msg), msg)), "POLICY_NOT_SATISFIED");
    // A revoked identity can still be told apart by its org, as Fabric's security advisor does.
    assert.equal(text(mcs.orgByPeerIdentity(peer2Org1.serialized)), "Org1MSP");
    mcs.validateIdentity(peer0Org1.serialized);

    assert.equal(codeOf(() => mcs.validateIdentity(peer0Org3.serialized)), "UNKNOWN_IDENTITY");
    tracker.append(block(7));
    mcs.verify(peer0Org3.serialized, peer0Org3.sign(msg), msg);
    assert.equal(text(mcs.orgByPeerIdentity(peer0Org3.serialized)), "Org3MSP");
  });

  it("PKI-IDs and expiry as the MSP MCS has them; signs with its own identity", () => {
    const channels = new ChannelTrackerRegistry();
    channels.set(createChannelConfigTracker(block(0), { clock }));
    const mcs = createChannelMessageCryptoService({ signer: peer0Org2, local, channels });
    assert.deepEqual(mcs.getPKIidOfCert(peer0Org1.serialized), local.pkiIdOf(peer0Org1.serialized));
    const expiry = mcs.expiration(peer0Org1.serialized);
    assert.ok(expiry !== undefined && expiry.getTime() > clock.now());
    assert.deepEqual(mcs.expiration(peer1Org2.serialized), local.expiration(peer1Org2.serialized));
    peer0Org2.verify(mcs.sign(msg), msg);
    assert.ok(channels.delete("mychannel"));
    assert.equal(codeOf(() => mcs.validateIdentity(peer0Org1.serialized)), "UNKNOWN_IDENTITY");
  });
});
