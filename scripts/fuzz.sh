#!/bin/sh
# Runs every Go fuzz target of the module for FUZZTIME each (default 20s).
#
# Go's fuzzer sometimes ends a clean run with "context deadline exceeded"
# when -fuzztime runs out while a worker is mid-input (golang/go#48127); no
# failing input is written then. Such a run is retried (up to 3 times); a real failure
# (a "Failing input written" line) fails at once.
set -eu
FUZZTIME=${FUZZTIME:-20s}
GO=${GO:-go}
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for dir in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
	for target in $(grep -h '^func Fuzz' "$dir"/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
		for attempt in 1 2 3 4; do
			echo "fuzz $dir $target ($FUZZTIME)"
			if "$GO" test -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" "$dir" >"$log" 2>&1; then
				tail -n 1 "$log"
				break
			fi
			cat "$log"
			if grep -q 'Failing input written' "$log" || ! grep -q 'context deadline exceeded' "$log" || [ "$attempt" = 4 ]; then
				exit 1
			fi
			echo "fuzz $dir $target: the fuzzer's end-of-run deadline flake; retrying"
		done
	done
done
