#!/bin/sh
# The cost table of issue 12, under wazero and V8, as ratios:
#   pass-through / floor      BenchmarkLifecycle and BenchmarkV8Lifecycle (e2e/bench)
#   Go floors / floor         the same: floor.wat's calls made from Go, with the
#                             SDK as the plugin is built and with none
#                             (e2e/bench/gofloor), and the pass-through over the
#                             first: what Go costs, and what apiguard adds
#   demo / native             the same, over plugin's BenchmarkNativeLifecycle
#   10 KiB chain / native     the same
#   filter / naive native     BenchmarkFilterEngines (internal/respfilter/wasmbench):
#                             the filter compiled, against encoding/json into any,
#                             filter, marshal natively
# Every figure is process CPU time, measured in rotating blocks so that the
# lifecycles of a ratio share the machine's load. Each ratio is computed
# within one round and the table shows the median over ROUNDS rounds: on a
# shared machine absolute times move by +-30% and more, ratios much less.
#
#   sh scripts/bench-table.sh                 # ROUNDS=3
#   ROUNDS=5 BENCHTIME=3s sh scripts/bench-table.sh
#
# Needs wat2wasm (Debian's wabt) for the floor guest; without node the V8
# column is "-".
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
ROUNDS=${ROUNDS:-3}
BENCHTIME=${BENCHTIME:-2s}
out=build/bench-table
rm -rf "$out"
mkdir -p "$out"

"$GO" test -c -o "$out/bench.test" ./e2e/bench
"$GO" test -c -o "$out/engines.test" ./internal/respfilter/wasmbench
"$GO" test -c -o "$out/plugin.test" ./plugin
have_node=0
command -v node >/dev/null 2>&1 && have_node=1

# bench runs a test binary's benchmark from its package directory and keeps
# the result line.
bench() { # binary dir pattern benchtime
	(cd "$2" && "$OLDPWD/$1" -test.run '^$' -test.bench "$3" -test.benchtime "$4") | grep '^Benchmark' || true
}

r=1
while [ "$r" -le "$ROUNDS" ]; do
	echo "round $r of $ROUNDS..." >&2
	bench "$out/bench.test" e2e/bench '^BenchmarkLifecycle$' "$BENCHTIME" | sed "s/^/$r wazero /" >>"$out/lines.txt"
	bench "$out/plugin.test" plugin '^BenchmarkNativeLifecycle$' "$BENCHTIME" | sed "s/^/$r native /" >>"$out/lines.txt"
	bench "$out/engines.test" internal/respfilter/wasmbench '^BenchmarkFilterEngines$' 2x | sed "s/^/$r filter /" >>"$out/lines.txt"
	if [ "$have_node" = 1 ]; then
		bench "$out/bench.test" e2e/bench '^BenchmarkV8Lifecycle$' 1x | sed "s/^/$r v8 /" >>"$out/lines.txt"
	fi
	r=$((r + 1))
done

awk '
# Lines: round source, then a benchmark line (value-unit pairs).
{
	r = $1; src = $2
	for (i = 4; i < NF; i++) {
		if ($(i + 1) ~ /-ns$/) ns[src, r, $(i + 1)] = $i
		if ($(i + 1) == "x-naive-wazero") naive["wazero", r] = $i
		if ($(i + 1) == "x-naive-v8") naive["v8", r] = $i
	}
	rounds[r] = 1
}
function ratio(a, b) { return (a != "" && b != "" && b + 0 > 0) ? a / b : "" }
function median(list,   n, a, i, j, t) {
	n = split(list, a, " ")
	if (n == 0) return ""
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function row(label, wz, v8, goal) {
	printf "| %-32s | %9s | %9s | %-26s |\n", label, fmt(wz), fmt(v8), goal
}
function fmt(x) { return x == "" ? "-" : sprintf("%.2fx", x) }
END {
	for (r in rounds) {
		for (e = 1; e <= 2; e++) {
			eng = (e == 1) ? "wazero" : "v8"
			x = ratio(ns[eng, r, "pass-ns"], ns[eng, r, "floor-ns"]); if (x != "") pass[eng] = pass[eng] " " x
			x = ratio(ns[eng, r, "gofloor-ns"], ns[eng, r, "floor-ns"]); if (x != "") gofloor[eng] = gofloor[eng] " " x
			x = ratio(ns[eng, r, "bare-ns"], ns[eng, r, "floor-ns"]); if (x != "") bare[eng] = bare[eng] " " x
			x = ratio(ns[eng, r, "pass-ns"], ns[eng, r, "gofloor-ns"]); if (x != "") overgo[eng] = overgo[eng] " " x
			x = ratio(ns[eng, r, "demo-ns"], ns["native", r, "demo-ns"]); if (x != "") demo[eng] = demo[eng] " " x
			x = ratio(ns[eng, r, "chain10k-ns"], ns["native", r, "chain10k-ns"]); if (x != "") chain[eng] = chain[eng] " " x
		}
		if (("wazero", r) in naive) filt["wazero"] = filt["wazero"] " " naive["wazero", r]
		if (("v8", r) in naive) filt["v8"] = filt["v8"] " " naive["v8", r]
	}
	printf "| %-32s | %9s | %9s | %-26s |\n", "request (medians of per-round ratios)", "wazero", "V8", "goal (acceptance)"
	printf "|%s|%s|%s|%s|\n", "----------------------------------", "-----------", "-----------", "----------------------------"
	row("pass-through, {} / floor guest", median(pass["wazero"]), median(pass["v8"]), "<= 1.5x (<= 2x)")
	row("  Go floor, SDK / floor guest", median(gofloor["wazero"]), median(gofloor["v8"]), "reported (what Go costs)")
	row("  Go floor, no SDK / floor guest", median(bare["wazero"]), median(bare["v8"]), "reported")
	row("  pass-through / Go floor, SDK", median(overgo["wazero"]), median(overgo["v8"]), "reported (apiguard alone)")
	row("demo request / native", median(demo["wazero"]), median(demo["v8"]), "<= 2.5x")
	row("10 KiB chain / native", median(chain["wazero"]), median(chain["v8"]), "<= 3x (<= 4x)")
	row("filter 100 KiB / naive native", median(filt["wazero"]), median(filt["v8"]), ">= 1.5x (>= 1x), speed")
	print "Ratios of CPU time per request (lower is better), except the filter row: the filter compiled, in"
	print "documents per CPU second, over encoding/json natively (higher is better). Raw figures: " FILENAME
}' "$out/lines.txt"
