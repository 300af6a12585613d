#!/bin/sh
# Static analysis that `make check` and CI fail on: staticcheck and deadcode,
# each installed with `go install` at a pinned version into build/tools.
#
# staticcheck runs natively over every package, tests included, and under
# GOOS=wasip1 over the packages that have wasip1-only files (the plugin's
# tests do not build there: they read rusage). Checks are switched off only
# in staticcheck.conf, one line of reason each.
#
# deadcode (rapid type analysis from main functions) is valid for one build
# configuration at a time, so it runs three times and the results meet:
#   P  the shipped plugin: ./plugin under GOOS=wasip1, against the SDK with
#      internal/sdkabi put in as `make build` does (build/sdk), whose
#      //go:wasmexport callbacks are the roots;
#   C  every command (package main) natively;
#   T  natively with -test: the commands plus every test binary.
# A function is dead when P and T both report it: nothing shipped and no test
# reaches it. That fails the check. A function that P and C report but T
# does not is reached by tests only: it must be listed in
# scripts/testonly.txt with why it exists (a test double, a test-only
# convenience); one that is not listed fails the check too, so production
# code that only its own tests call does not go unnoticed.
#
# Needs build/sdk: run after `make build`.
set -eu
GO=${GO:-go}
cd "$(dirname "$0")/.."
root=$(pwd)

# honnef.co/go/tools v0.8.2 (staticcheck 2026.2.2): the newest release, and
# the first line (2026.2) that analyses Go 1.26 code.
STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
# golang.org/x/tools v0.52.0: the newest x/tools; deadcode lives there.
DEADCODE=golang.org/x/tools/cmd/deadcode@v0.52.0

tool() { # tool <pkg@version>: the binary's path, installed on first use
	dir="$root/build/tools/$(echo "$1" | tr '/@' '__')"
	bin="$dir/$(basename "${1%@*}")"
	if [ ! -x "$bin" ]; then
		GOBIN="$dir" GOFLAGS= "$GO" install "$1" >&2
	fi
	echo "$bin"
}
staticcheck=$(tool "$STATICCHECK")
deadcode=$(tool "$DEADCODE")

[ -d build/sdk ] || { echo "check: build/sdk is missing; run make build first" >&2; exit 1; }

echo "== staticcheck (native)"
"$staticcheck" ./...
echo "== staticcheck (GOOS=wasip1)"
GOOS=wasip1 GOARCH=wasm "$staticcheck" -tests=false ./plugin/... ./internal/sdkabi/localreply/... ./internal/sdkabi/direct/... ./internal/respfilter/wasmbench/...

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
format='{{$p := .Path}}{{range .Funcs}}{{printf "%s.%s %s\n" $p .Name .Position}}{{end}}'
filter='^github.com/apiguard/apiguard/'

echo "== deadcode: the plugin (GOOS=wasip1, SDK with sdkabi)"
# A workspace puts build/sdk in place of the SDK, as build/wasm.mod does
# for `go build -modfile` (a flag go/packages cannot pass).
printf 'go 1.26.0\n\nuse ..\n\nreplace github.com/tetratelabs/proxy-wasm-go-sdk => ./sdk\n' >build/deadcode.work
GOWORK="$root/build/deadcode.work" GOOS=wasip1 GOARCH=wasm \
	"$deadcode" -tags apiguard_sdkabi -filter "$filter" -f "$format" ./plugin | sort >"$tmp/plugin"
echo "== deadcode: the commands"
mains=$("$GO" list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./... | grep -v '/plugin$')
# shellcheck disable=SC2086
"$deadcode" -filter "$filter" -f "$format" $mains | sort >"$tmp/commands"
echo "== deadcode: the commands and the tests"
"$deadcode" -test -filter "$filter" -f "$format" ./... | sort >"$tmp/tests"

names() { cut -d' ' -f1 "$1" | sort -u; }
names "$tmp/plugin" >"$tmp/p"
names "$tmp/commands" >"$tmp/c"
names "$tmp/tests" >"$tmp/t"
grep -v '^#' scripts/testonly.txt | awk 'NF { print $1 }' | sort -u >"$tmp/allowed"

fail=0
comm -12 "$tmp/p" "$tmp/t" >"$tmp/dead"
if [ -s "$tmp/dead" ]; then
	echo "check: dead code (reached by neither the plugin, a command nor a test); remove it:"
	grep -F -f "$tmp/dead" "$tmp/tests" | sed 's/^/  /'
	fail=1
fi
comm -12 "$tmp/p" "$tmp/c" | comm -23 - "$tmp/t" >"$tmp/testonly"
comm -23 "$tmp/testonly" "$tmp/allowed" >"$tmp/unlisted"
if [ -s "$tmp/unlisted" ]; then
	echo "check: reached by tests only; use it in the plugin or a command, remove it with its tests,"
	echo "or list it in scripts/testonly.txt with why it exists:"
	sed 's/^/  /' "$tmp/unlisted"
	fail=1
fi
comm -13 "$tmp/testonly" "$tmp/allowed" >"$tmp/stale"
if [ -s "$tmp/stale" ]; then
	echo "check: scripts/testonly.txt lists code that is no longer test-only (or gone); drop these lines:"
	sed 's/^/  /' "$tmp/stale"
	fail=1
fi
[ "$fail" = 0 ] && echo "check: staticcheck and deadcode clean"
exit "$fail"
