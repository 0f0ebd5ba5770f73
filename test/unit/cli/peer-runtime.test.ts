import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PEER_V8_FLAGS, tunePeerRuntime } from "../../../src/cli/peer-runtime.js";

/** `peer start` sets its V8 flags unless the process was started with a choice about them. */
describe("peer runtime settings", () => {
  it("applies every flag to a process started without V8 flags", () => {
    assert.deepEqual(tunePeerRuntime([]), [...PEER_V8_FLAGS]);
    assert.deepEqual(tunePeerRuntime(["--max-semi-space-size=64", "--import", "tsx"]), [...PEER_V8_FLAGS]);
  });

  it("keeps the operator's choice, either way and in either spelling", () => {
    for (const given of ["--parallel-scavenge", "--no-parallel-scavenge", "--parallel_scavenge", "--no-parallel_scavenge"]) {
      assert.deepEqual(
        tunePeerRuntime([given]).filter((f) => f.includes("scavenge")),
        [],
        given,
      );
    }
    assert.deepEqual(
      tunePeerRuntime(["--heap_growing_percent=0"]).filter((f) => f.includes("growing")),
      [],
    );
  });
});
