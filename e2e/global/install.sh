#!/bin/sh
# Installs what the fleet-wide rate-limit e2e tests (e2e/global) run:
#   - redis-server, from Debian (apt-get), when it is not on PATH;
#   - envoyproxy/ratelimit's service, built with `go install` from the Go
#     module proxy at a pinned version, into $(go env GOPATH)/bin/service_cmd
#     (also where the tests look for it; APIGUARD_RATELIMIT_BIN overrides).
# It is idempotent: what is present is left alone. Run it from anywhere.
set -eu

# envoyproxy/ratelimit publishes no semver tags on the module proxy; this is
# the commit 3fb702589d36 of 2026-01-22 on main.
RATELIMIT_VERSION=v1.4.1-0.20260122083618-3fb702589d36

if ! command -v redis-server >/dev/null 2>&1; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends redis-server
	# The tests start their own instance on a free port; the packaged
	# service is not needed.
	$SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
fi

bin="$(go env GOPATH)/bin/service_cmd"
stamp="$bin.version"
if [ ! -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$RATELIMIT_VERSION" ]; then
	# Outside any module, so the project's go.mod is not touched.
	(cd / && GOFLAGS=-buildvcs=false GOWORK=off go install "github.com/envoyproxy/ratelimit/src/service_cmd@$RATELIMIT_VERSION")
	echo "$RATELIMIT_VERSION" >"$stamp"
fi

echo "redis-server: $(command -v redis-server)"
echo "ratelimit:    $bin ($RATELIMIT_VERSION)"
