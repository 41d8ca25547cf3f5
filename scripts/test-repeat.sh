#!/usr/bin/env bash
# make test-repeat (not in CI): while cpuload keeps every CPU busy, the
# tests that used to flake FLAKY_COUNT times each with -race, then every Go
# suite REPEAT times with -race. A test that fails one run in a hundred is a bug;
# this is where it shows.
set -euo pipefail
GO=${GO:-go}
REPEAT=${REPEAT:-3}
FLAKY_COUNT=${FLAKY_COUNT:-200}
SERVER_FLAKY_COUNT=${SERVER_FLAKY_COUNT:-10}
MODULES=${MODULES:-. sdk}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mkdir -p bin
$GO build -o bin/cpuload ./scripts/cpuload
bin/cpuload &
load=$!
trap 'kill $load 2>/dev/null || true' EXIT

failed=()
run() { # dir, go test arguments...
	local dir=$1
	shift
	echo "== $(date +%H:%M:%S) [$dir] go test $*"
	if ! (cd "$dir" && $GO test "$@"); then
		failed+=("[$dir] go test $*")
	fi
}

# First (so a failure shows early) the tests that failed under load before
# they were fixed, and the tests changed to stop sleeping: the whole of
# sdk/guard (TestUnavailableBeforeKeys failed about one run in five) but its
# 400,000-entry feed test, which is deterministic and costs half a minute
# under -race (the suites below run it REPEAT times), and by name elsewhere.
run sdk -race -count="$FLAKY_COUNT" -timeout 600m -skip '^TestRevocationFeedLarge$' ./guard
run sdk -race -count="$FLAKY_COUNT" -timeout 60m -run '^(TestCloseStopsBackgroundRefresh|TestBackgroundRefresh.*)$' ./clientcredentials
run . -race -count="$FLAKY_COUNT" -timeout 60m -run '^TestCacheRun$' ./internal/store
run . -race -count="$FLAKY_COUNT" -timeout 60m -run '^TestPostgresCrossProcess$' ./internal/store/sqlstore
run . -race -count="$FLAKY_COUNT" -timeout 60m -run '^TestRedisRecovers$' ./internal/ratelimit
run . -race -count="$FLAKY_COUNT" -timeout 60m -run '^TestRunLoadLatencies$' ./internal/bench
# End-to-end servers cost seconds each: fewer rounds.
run . -race -count="$SERVER_FLAKY_COUNT" -timeout 300m \
	-run '^(TestOriginalBugs|TestChecklistTokens|TestChecklistRBAC|TestDrainOrder|TestDrain|TestSIGTERMDrains|TestPostgresOutage|TestHARollingRestart|TestRevocationFeedHTTP)$' ./internal/server

# Then every suite, REPEAT times each.
for m in $MODULES; do
	run "$m" -race -count="$REPEAT" -timeout 120m ./...
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "test-repeat: FAILED:"
	printf '  %s\n' "${failed[@]}"
	exit 1
fi
echo "test-repeat: every run passed"
