#!/usr/bin/env bash
# Runs every fuzz target in the repository, found by name so a new target
# cannot be left out, each for FUZZTIME.
#
# FUZZTIME is a count of executions (20000x) rather than a duration: with a
# duration, Go 1.26's fuzz coordinator can report "context deadline
# exceeded" as a failure when the time runs out while a worker is busy
# (go.dev/issue/75804, fixed in Go 1.27), which failed CI on a loaded
# machine with no failing input. A count has no deadline to race.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20000x}

ran=0
for f in $(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | sort); do
	dir=$(dirname "$f")
	mod=$dir
	while [ ! -f "$mod/go.mod" ]; do mod=$(dirname "$mod"); done
	if [ "$dir" = "$mod" ]; then pkg=.; elif [ "$mod" = . ]; then pkg=./$dir; else pkg=./${dir#"$mod"/}; fi
	for name in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$f" | cut -d' ' -f2); do
		echo "== fuzz $name ($mod $pkg, $FUZZTIME)"
		(cd "$mod" && "$GO" test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" "$pkg")
		ran=$((ran + 1))
	done
done
if [ "$ran" -eq 0 ]; then
	echo "no fuzz targets found" >&2
	exit 1
fi
echo "fuzz: $ran targets passed"
