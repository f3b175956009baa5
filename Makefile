# ironroot — the two commands first: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# Reference data kept outside the repository (DMTF schemas, libspdm recordings).
IRONROOT_SHARED ?= $(abspath ../shared)
export IRONROOT_SHARED

# Debian packages the tests need; .ci/run installs them through `make deps`.
DEBIAN_PACKAGES := redfishtool swtpm swtpm-tools gcc libssl-dev ipmitool freeipmi-tools

CMDS := bmcd spdmctl fwbundle rotd bmcctl

.PHONY: all build run sim-bundle test lint conformance bench deps clean

all: build

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))

## run: build and start the simulated board (Redfish on https://127.0.0.1:8443, state in .run/sim/)
run: build
	BIN=$(BIN) STATE=.run/sim ./scripts/sim-board

## sim-bundle: build and sign the sim board's bundle (bmcd + bmc-config) with the dev keys in .dev-keys/
sim-bundle: build
	BIN=$(BIN) STATE=.run/sim ./scripts/sim-board bundle

## test: lint, then every test that needs nothing outside the repository
test: build lint
	$(GO) test -count=1 -timeout 20m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	  if [[ -n "$$out" ]]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## conformance: tests against DMTF reference data in $(IRONROOT_SHARED)
conformance:
	@if [[ ! -d "$(IRONROOT_SHARED)/redfish/json-schema" || ! -d "$(IRONROOT_SHARED)/spdm-vectors" ]]; then \
	  echo "make conformance: reference data not found in IRONROOT_SHARED=$(IRONROOT_SHARED)"; \
	  echo "  it needs redfish/json-schema (DMTF DSP8010) and spdm-vectors (libspdm recordings);"; \
	  echo "  set IRONROOT_SHARED to the folder that holds them."; exit 1; fi
	$(GO) test -count=1 -tags conformance -run Conformance -timeout 20m ./...

## bench: speed and memory targets (figures are ratios against baselines run alongside)
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 3s -timeout 30m ./redfish/ ./cmd/bmcd/ ./spdm/ ./bmc/account/ ./rot/ ./images/ ./mgmtif/ ./mgmtif/ipmi/ ./internal/e2e/

## deps: install the Debian packages the tests need (as root)
deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEBIAN_PACKAGES)

clean:
	rm -rf $(BIN)
