import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  checkTagLegal,
  getPullMsgType,
  isAck,
  isAliveMsg,
  isChannelRestricted,
  isConnEstablish,
  isDataMsg,
  isIdentityMsg,
  isLeadershipMsg,
  isOrgRestricted,
  isPrivateDataMsg,
  isPullMsg,
  isRemoteStateMessage,
  isStateInfoMsg,
  isStateInfoPullRequestMsg,
  isStateInfoSnapshot,
} from "../../../src/protoext/index.js";
import { type GossipMessage, GossipMessage_Tag as Tag, PullMsgType } from "../../../src/protos/gen/gossip/message.pb.js";
import { CONTENT_CASES, type ContentCase, contents } from "./arbitraries.js";

const TAGS = [Tag.UNDEFINED, Tag.EMPTY, Tag.ORG_ONLY, Tag.CHAN_ONLY, Tag.CHAN_AND_ORG, Tag.CHAN_OR_ORG];
const PULL_CASES: ContentCase[] = ["hello", "dataDig", "dataReq", "dataUpdate"];

/** A message of case `c` with `tag`, its content drawn once from the arbitrary. */
function message(c: ContentCase, tag: Tag, msgType?: PullMsgType): GossipMessage {
  const [value] = fc.sample(contents[c], { numRuns: 1, seed: 7 });
  const v = msgType === undefined ? value : { ...(value as object), msgType };
  return { nonce: 0n, channel: new Uint8Array(0), tag, content: { $case: c, value: v } as GossipMessage["content"] };
}

/** FABRIC-REFERENCE §2.2, written out independently of the implementation. */
const REQUIRED: Partial<Record<ContentCase, Tag>> = {
  dataMsg: Tag.CHAN_AND_ORG,
  aliveMsg: Tag.EMPTY,
  memReq: Tag.EMPTY,
  memRes: Tag.EMPTY,
  peerIdentity: Tag.ORG_ONLY,
  stateInfo: Tag.CHAN_OR_ORG,
  stateInfoPullReq: Tag.CHAN_OR_ORG,
  stateSnapshot: Tag.CHAN_OR_ORG,
  stateRequest: Tag.CHAN_OR_ORG,
  stateResponse: Tag.CHAN_OR_ORG,
  leadershipMsg: Tag.CHAN_AND_ORG,
};

describe("checkTagLegal (Fabric's IsTagLegal)", () => {
  for (const c of CONTENT_CASES.filter((x) => !PULL_CASES.includes(x))) {
    it(`${c}: ${REQUIRED[c] === undefined ? "Unknown message type" : `only ${Tag[REQUIRED[c]]}`}`, () => {
      for (const tag of TAGS) {
        const got = checkTagLegal(message(c, tag));
        const required = REQUIRED[c];
        if (tag === Tag.UNDEFINED) assert.equal(got, "Undefined tag", `${c} with UNDEFINED`);
        else if (required === undefined) assert.match(got ?? "", /^Unknown message type/, `${c} with ${Tag[tag]}`);
        else if (tag === required) assert.equal(got, undefined, `${c} with ${Tag[tag]}`);
        else assert.equal(got, `Tag should be ${Tag[required]}`, `${c} with ${Tag[tag]}`);
      }
    });
  }

  for (const c of PULL_CASES) {
    it(`${c}: BLOCK_MSG needs CHAN_AND_ORG, IDENTITY_MSG needs EMPTY, other pull types are refused`, () => {
      for (const tag of TAGS.filter((t) => t !== Tag.UNDEFINED)) {
        const block = checkTagLegal(message(c, tag, PullMsgType.BLOCK_MSG));
        assert.equal(block, tag === Tag.CHAN_AND_ORG ? undefined : "Tag should be CHAN_AND_ORG");
        const identity = checkTagLegal(message(c, tag, PullMsgType.IDENTITY_MSG));
        assert.equal(identity, tag === Tag.EMPTY ? undefined : "Tag should be EMPTY");
        assert.equal(checkTagLegal(message(c, tag, PullMsgType.UNDEFINED)), "Invalid PullMsgType: UNDEFINED");
        assert.equal(checkTagLegal(message(c, tag, 7 as PullMsgType)), "Invalid PullMsgType: 7");
      }
    });
  }

  it("a message without content is of unknown type", () => {
    const m: GossipMessage = { nonce: 0n, channel: new Uint8Array(0), tag: Tag.EMPTY, content: undefined };
    assert.match(checkTagLegal(m) ?? "", /^Unknown message type/);
  });
});

describe("message kind predicates", () => {
  const expectations: [string, (m: GossipMessage) => boolean, ContentCase[]][] = [
    ["isAliveMsg", isAliveMsg, ["aliveMsg"]],
    ["isDataMsg", isDataMsg, ["dataMsg"]],
    ["isPullMsg", isPullMsg, PULL_CASES],
    ["isIdentityMsg", isIdentityMsg, ["peerIdentity"]],
    ["isStateInfoMsg", isStateInfoMsg, ["stateInfo"]],
    ["isStateInfoSnapshot", isStateInfoSnapshot, ["stateSnapshot"]],
    ["isStateInfoPullRequestMsg", isStateInfoPullRequestMsg, ["stateInfoPullReq"]],
    ["isRemoteStateMessage", isRemoteStateMessage, ["stateRequest", "stateResponse"]],
    ["isLeadershipMsg", isLeadershipMsg, ["leadershipMsg"]],
    ["isConnEstablish", isConnEstablish, ["conn"]],
    ["isAck", isAck, ["ack"]],
    ["isPrivateDataMsg", isPrivateDataMsg, ["privateReq", "privateRes", "privateData"]],
  ];
  for (const [name, pred, yes] of expectations) {
    it(`${name} is true exactly for ${yes.join(", ")}`, () => {
      for (const c of CONTENT_CASES) assert.equal(pred(message(c, Tag.EMPTY)), yes.includes(c), `${name}(${c})`);
      assert.equal(pred({ nonce: 0n, channel: new Uint8Array(0), tag: Tag.EMPTY, content: undefined }), false);
    });
  }

  it("getPullMsgType reads the type of pull messages and is UNDEFINED otherwise", () => {
    for (const c of PULL_CASES) assert.equal(getPullMsgType(message(c, Tag.EMPTY, PullMsgType.IDENTITY_MSG)), PullMsgType.IDENTITY_MSG);
    assert.equal(getPullMsgType(message("dataMsg", Tag.CHAN_AND_ORG)), PullMsgType.UNDEFINED);
  });

  it("isChannelRestricted and isOrgRestricted follow the tag", () => {
    const chan = [Tag.CHAN_AND_ORG, Tag.CHAN_ONLY, Tag.CHAN_OR_ORG];
    const org = [Tag.CHAN_AND_ORG, Tag.ORG_ONLY];
    for (const tag of TAGS) {
      const m = message("empty", tag);
      assert.equal(isChannelRestricted(m), chan.includes(tag), Tag[tag]);
      assert.equal(isOrgRestricted(m), org.includes(tag), Tag[tag]);
    }
  });
});
