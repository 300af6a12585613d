#!/bin/sh
# Response-filter throughput (issue 5): builds the wasmbench program natively
# and for wasip1, runs it natively, under wazero (the engine of wasmhost and
# the tests) and under V8 (Node's WASI; V8 is the engine Envoy embeds), and
# prints one MB/s table with the wasm/native ratios and the native/naive
# ratio (the target is >= 3x). Every engine measures the same documents
# (package benchdoc).
#
#   sh e2e/respfilter/bench.sh            # BENCHTIME=1s per case
#   BENCHTIME=3s sh e2e/respfilter/bench.sh
#
# V8 is skipped, with a note, when node is not installed.
set -eu
cd "$(dirname "$0")/../.."
GO=${GO:-go}
BENCHTIME=${BENCHTIME:-1s}
out=build/respfilter-bench
mkdir -p "$out"

"$GO" build -o "$out/native" ./internal/respfilter/wasmbench
GOOS=wasip1 GOARCH=wasm "$GO" build -o "$out/bench.wasm" ./internal/respfilter/wasmbench
"$GO" build -o "$out/wazero" github.com/tetratelabs/wazero/cmd/wazero

echo "running natively..." >&2
"$out/native" -time "$BENCHTIME" >"$out/native.txt"
echo "running under wazero..." >&2
"$out/wazero" run "$out/bench.wasm" -time "$BENCHTIME" >"$out/wazero.txt"
if command -v node >/dev/null 2>&1; then
	echo "running under V8 (node $(node --version))..." >&2
	# Node has crashed at exit after printing every line (a WASI teardown
	# abort); the lines it printed still make the V8 column.
	status=0
	node --no-warnings internal/respfilter/wasmbench/run-wasi.mjs "$out/bench.wasm" -time "$BENCHTIME" >"$out/v8.txt" || status=$?
	if [ "$status" != 0 ]; then
		echo "node exited with status $status after $(grep -vc '^#' "$out/v8.txt") result lines; the table shows those" >&2
	fi
else
	echo "node not found: no V8 column" >&2
	: >"$out/v8.txt"
fi

# Each input line: case size MB/s "MB/s" iterations "iterations".
awk '
FNR == 1 { engine++ }
/^#/ { next }
{
	key = $1 " " $2
	if (!(key in seen)) { seen[key] = 1; order[++n] = key }
	mbps[engine, key] = $3
}
function cell(e, k) { return ((e, k) in mbps) ? sprintf("%9.1f", mbps[e, k]) : sprintf("%9s", "-") }
function ratio(a, b) { return (a != "" && b != "" && b + 0 > 0) ? sprintf("%8.2f", a / b) : sprintf("%8s", "-") }
END {
	printf "%-12s %-7s %9s %9s %9s %8s %8s %8s\n", "case", "size", "native", "wazero", "v8", "wz/nat", "v8/nat", "nat/naive"
	for (i = 1; i <= n; i++) {
		k = order[i]; split(k, p, " ")
		naive = ""
		if (p[1] == "filter" && ((1, "naive " p[2]) in mbps)) naive = mbps[1, "naive " p[2]]
		printf "%-12s %-7s %s %s %s %s %s %s\n", p[1], p[2], cell(1, k), cell(2, k), cell(3, k),
			ratio(mbps[2, k], mbps[1, k]), ratio(mbps[3, k], mbps[1, k]), ratio(mbps[1, k], naive)
	}
	print "MB/s of decoded JSON; nat/naive: the filter against encoding/json into any, filter, marshal."
}' "$out/native.txt" "$out/wazero.txt" "$out/v8.txt"
