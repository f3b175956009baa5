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

# QEMU boards: Debian's kernels, fetched without root into build/.
KERNEL_DIR := build/kernel/cloud-amd64
KERNEL_DIR_ARM := build/kernel/armmp
ACCEL ?= tcg
DEBIAN_PACKAGES += qemu-system-x86 qemu-system-arm cpio e2fsprogs device-tree-compiler

.PHONY: all build run sim-bundle test test-tools lint conformance bench deps clean kernel kernel-armmp dtb-ast2600 qemu qemu-test qemu-ast2600 qemu-ast2600-test

all: build

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(CMDS)) ./qemu/cmd/qemu-board

## run: build and start the simulated board (Redfish on https://127.0.0.1:8443, state in .run/sim/)
run: build
	@command -v swtpm >/dev/null || { \
	  if [[ $$(id -u) == 0 ]]; then $(MAKE) deps; \
	  else echo "make run: the simulated board's RoT TPM needs swtpm: run 'sudo make deps'"; exit 1; fi; }
	BIN=$(BIN) STATE=.run/sim ./scripts/sim-board

## sim-bundle: build and sign the sim board's bundle (bmcd + bmc-config) with the dev keys in .dev-keys/
sim-bundle: build
	BIN=$(BIN) STATE=.run/sim ./scripts/sim-board bundle

# Commands (and the OpenSSL headers the TPM simulator builds with) the tests use, each from
# a package in DEBIAN_PACKAGES.
TEST_TOOLS := redfishtool ipmitool ipmi-sensors swtpm swtpm_setup gcc qemu-system-x86_64 qemu-system-arm cpio mkfs.ext4 dtc

## test-tools: install what the tests need when it is missing (as root), else say what to install
test-tools:
	@missing=""; for t in $(TEST_TOOLS); do \
	  PATH="$$PATH:/usr/sbin:/sbin" command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	  [[ -f /usr/include/openssl/evp.h ]] || missing="$$missing openssl-headers"; \
	  if [[ -n "$$missing" ]]; then \
	    if [[ $$(id -u) == 0 ]]; then echo "make test: installing the Debian packages for:$$missing"; $(MAKE) deps; \
	    else echo "make test: missing$$missing: run 'sudo make deps' (Debian packages: $(DEBIAN_PACKAGES))"; exit 1; fi; \
	  fi

## test: what the tests need, lint, every test that needs nothing outside the repository, then the QEMU boards
test: test-tools build lint
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) qemu-test
	$(MAKE) qemu-ast2600-test

## kernel: fetch Debian's linux-image-cloud-amd64 into build/kernel/ (no root; resolved each run, VERSION records name/version/SHA-256)
kernel:
	scripts/fetch-kernel amd64 linux-image-cloud-amd64 $(KERNEL_DIR)

kernel-armmp:
	scripts/fetch-kernel armhf linux-image-armmp $(KERNEL_DIR_ARM)

## qemu: boot the QEMU x86 board behind rotd (Redfish https://127.0.0.1:18443, IPMI 127.0.0.1:16230/udp, state .run/qemu-x86/; DEBUG=1 adds a shell)
qemu: build kernel
	$(BIN)/qemu-board -kernel-dir $(KERNEL_DIR) -state .run/qemu-x86 -dev-keys .dev-keys -rotd $(BIN)/rotd \
	  -version $(VERSION) -accel $(ACCEL) $(if $(DEBUG),-debug)

## qemu-test: the QEMU x86 board end to end (one VM at a time, TCG; 3-4 min with a warm build/)
qemu-test: kernel
	IRONROOT_QEMU_TEST=1 $(GO) test -count=1 -timeout 15m -run '^TestQEMUBoard' -v ./qemu/

## dtb-ast2600: Debian's aspeed-ast2600-evb.dtb with UART1 (the RoT link) enabled, patched with dtc/fdtput
AST2600_DTB := $(KERNEL_DIR_ARM)/aspeed-ast2600-evb-uart1.dtb
dtb-ast2600: kernel-armmp
	scripts/patch-ast2600-dtb $$(ls $(KERNEL_DIR_ARM)/root/usr/lib/linux-image-*/aspeed-ast2600-evb.dtb | head -n1) $(AST2600_DTB)

## qemu-ast2600: boot the ast2600-evb board behind rotd (Redfish https://127.0.0.1:28443, IPMI 127.0.0.1:26230/udp)
qemu-ast2600: build dtb-ast2600
	$(BIN)/qemu-board -machine ast2600-evb -kernel-dir $(KERNEL_DIR_ARM) -dtb $(AST2600_DTB) \
	  -board ironroot-qemu-ast2600 -state .run/qemu-ast2600 -dev-keys .dev-keys -rotd $(BIN)/rotd \
	  -redfish-port 28443 -ipmi-port 26230 -version $(VERSION)

## qemu-ast2600-test: smoke test of the ast2600 board (1-2 min)
qemu-ast2600-test: kernel-armmp
	IRONROOT_QEMU_TEST=1 $(GO) test -count=1 -timeout 12m -run '^TestQEMUAST2600' -v ./qemu/

lint:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	  if [[ -n "$$out" ]]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./... ./cmd/bmcd/testdata/barehttps
	$(GO) tool staticcheck ./... ./cmd/bmcd/testdata/barehttps

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
	rm -rf $(BIN) build
