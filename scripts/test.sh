#!/usr/bin/env bash
# Every test, in two runs: the virtual-time ones (unit, compliance, simulator) two files at a time, then
# the ones with real sockets and processes (integration, e2e) one file at a time, since their peers'
# timing is what they check. Both runs always run; the failures of both are repeated at the end, so the
# last lines of a long log say what failed.
set -u
cd "$(dirname "$0")/.."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# The processes the tests start run the code under test: the sources through tsx, or dist/ when it was built
# from these very sources (no source or TypeScript setting newer than it, as after `npm ci`, which builds it),
# which starts in about half the time (test/utils/cli.ts, src/cli/peer-process.ts).
if [ -f dist/cli/main.js ] && [ -z "$(find src tsconfig.json tsconfig.build.json -newer dist/cli/main.js -print -quit)" ]; then
  export FABRIC_GOSSIP_BUILD_CURRENT=1
  echo "== processes started by the tests run dist/ (built from these sources)"
else
  export FABRIC_GOSSIP_BUILD_CURRENT=0
  echo "== processes started by the tests run the sources (dist/ is missing or older than them)"
fi

run() {
  local concurrency="$1"
  shift
  # shellcheck disable=SC2046 # one word per file
  node --import tsx --test --test-concurrency="$concurrency" $(find "$@" -name '*.test.ts' | sort) 2>&1 | tee -a "$log"
  return "${PIPESTATUS[0]}"
}

run 2 test/unit test/compliance test/sim
virtual=$?
run 1 test/integration test/e2e
real=$?

echo
echo "== virtual-time tests: exit $virtual; real-process tests: exit $real"
# A failed test's TAP line and the YAML block after it (the error, where it was thrown).
failed="$(awk '/^ *not ok / && !/# (TODO|SKIP)/ { show = 40 } show > 0 { print; show-- }' "$log")"
if [ -n "$failed" ]; then
  echo "== failed tests:"
  echo "$failed"
fi
[ "$virtual" = 0 ] && [ "$real" = 0 ]
