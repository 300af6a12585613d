# apiguard: every target works on a fresh clone with only the Go toolchain;
# targets that need more (node, redis, clang) install it themselves.
GO        ?= go
WASM      := build/apiguard.wasm
LISTEN    ?= 127.0.0.1:10000
ADMIN     ?= 127.0.0.1:9901
FUZZTIME  ?= 20s
BENCHTIME ?= 1s
ROUNDS    ?= 3
# VERSION is stamped into the module and tags the OCI image.
VERSION   ?= $(shell cat VERSION)
SOAK_REQUESTS ?= 200000

.PHONY: all build test test-race run bench fuzz soak check clean deps-test validate schema oci

all: build

## build: compile the plugin with the standard Go toolchain into build/apiguard.wasm
build:
	$(GO) run ./internal/sdkabi/cmd/wasmbuild -version $(VERSION) -o $(WASM) ./plugin

## test: unit tests, conformance tests of the host, e2e tests of the compiled plugin; ends with
## every skipped test and why (a missing tool: .ci/run installs them all)
test: build
	$(GO) vet ./...
	GO=$(GO) $(GO) run ./internal/testreport -count=1 -timeout 20m ./...
	$(GO) test -count=1 -race -timeout 15m -run 'Hammer|Concurrent|Race' ./internal/...

## run: serve real HTTP on $(LISTEN) through the compiled plugin, demo API and demo config
run: build
	$(GO) run ./internal/devproxy --wasm $(WASM) --config envoy/demo-config.json --listen $(LISTEN) --admin $(ADMIN) \
	  --demo-key envoy/demo/demo-rsa-private.pem

## validate: check CONFIG (a configuration, an Envoy bootstrap or an Istio WasmPlugin): every error,
## lint warnings with fixes, then a start of the plugin in wasmhost (--dry-run)
CONFIG ?= envoy/demo-config.json
validate: build
	$(GO) run ./internal/validate/cmd/validate --dry-run --wasm $(WASM) $(CONFIG)

## oci: package build/apiguard.wasm as an OCI image Istio pulls (build/oci: layout, archive, digest,
## and the Istio manifests pinned to the digest); REPO names the repository you push to
REPO    ?= ghcr.io/apiguard/apiguard
oci: build
	$(GO) run ./internal/ociimage/cmd/ocibuild --wasm $(WASM) --version $(VERSION) --repo $(REPO) --out build/oci

## schema: regenerate docs/apiguard.schema.json from the settings types
schema:
	$(GO) run ./internal/validate/cmd/validate --schema > docs/apiguard.schema.json

## bench: benchmarks, natively and compiled (see README for how to read them), ending with one table of
## the cost ratios under wazero and V8 (scripts/bench-table.sh)
bench: build
	@command -v wat2wasm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wabt; }
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...
	@echo "== issue 12 cost table (ratios, medians of $(ROUNDS) rounds; scripts/bench-table.sh)"
	@GO=$(GO) ROUNDS=$(ROUNDS) sh scripts/bench-table.sh

## fuzz: run every fuzz target for FUZZTIME each (CI runs it with a short FUZZTIME)
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) sh scripts/fuzz.sh

## soak: the demo config through 4 workers under the oldest Envoy profile (1.33), SOAK_REQUESTS (default 200000) requests
soak: build
	SOAK_REQUESTS=$(SOAK_REQUESTS) $(GO) test -count=1 -tags soak -run TestSoakOldestEnvoy -timeout 90m -v ./e2e/envoycompat

## check: format, vet and tidy, then fail if that changed the tree; then staticcheck and deadcode,
## pinned and installed with go install, fail on any finding (scripts/check.sh says what dead means)
check: build
	gofmt -w $$(git ls-files '*.go')
	$(GO) vet ./...
	$(GO) mod tidy
	git diff --exit-code
	GO=$(GO) sh scripts/check.sh

clean:
	rm -rf build
