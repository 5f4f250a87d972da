# skiff — see README.md. Every target works from a clean checkout.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
BIN      := bin/skiff

# How long `make fuzz` runs each fuzz target, and how long `make test` does.
# make test counts executions instead of seconds: Go 1.26's fuzz coordinator
# can report a bare "context deadline exceeded" when a duration-based
# -fuzztime ends while a worker is mid-input (go.dev/issue/75804, fixed in
# Go 1.27); a count has no deadline to race.
FUZZTIME      ?= 30s
TEST_FUZZTIME ?= 40000x

.PHONY: all build test test-unit test-race test-e2e fuzz bench-micro lint demo clean generate check-generated

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/skiff

# Packages tested in-process (everything but the end-to-end tests).
UNIT_PKGS = $$($(GO) list ./... | grep -v /e2e)

# The whole suite: lint, every unit and in-memory test (with the seeds of
# every fuzz target), the race detector on the short suite, the end-to-end
# tests in network namespaces (root), and a brief run of every fuzz target.
test: lint check-generated test-unit test-race test-e2e
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME)

test-unit:
	$(GO) test -count=1 -p 1 $(UNIT_PKGS)

test-race:
	$(GO) test -count=1 -race -short $(UNIT_PKGS)

# Real skiff binaries in network namespaces: needs root. Without root the
# tests skip, unless CI is set: then they fail.
test-e2e:
	$(GO) test -count=1 -p 1 -timeout 15m ./e2e/

# Runs every fuzz target in the module for FUZZTIME each (go test -fuzz
# takes one target per run). Failing inputs land in the package's
# testdata/fuzz and become regression seeds.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $${pkg#github.com/skiffnet/skiff/} $$target for $(FUZZTIME)"; \
	    ok=0; for try in 1 2; do \
	      if $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg > /tmp/skiff-fuzz.log 2>&1; then ok=1; break; fi; \
	      if grep -q 'Failing input written' /tmp/skiff-fuzz.log || ! grep -q 'context deadline exceeded' /tmp/skiff-fuzz.log; then break; fi; \
	      echo "  no failing input written, only Go's fuzztime deadline race (go.dev/issue/75804): running it again"; \
	    done; \
	    [ $$ok = 1 ] || { cat /tmp/skiff-fuzz.log; exit 1; }; \
	  done; \
	done

# Micro-benchmarks of every stage and of the whole tx and rx pipelines at
# 64, 512, 1400 and 9000 bytes, beside plain AES-256-GCM Seal, as a table.
# Fails if any benchmark allocates.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./dataplane/... | $(GO) run ./bench/microtable

# Regenerates bpf/'s XDP objects and their Go bindings with bpf2go,
# installing clang, llvm and libbpf-dev first if they are missing (root).
# The output is committed, so building needs no clang.
generate:
	bpf/generate.sh

# Fails if bpf/'s committed objects differ from what the C compiles to
# (only where clang is installed; without it the check says so and passes).
check-generated:
	bpf/checkgen.sh

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# skiff bench: two sites in network namespaces, every row (skiff
# configurations) and the anchors (bare veth, kernel VXLAN, wireguard-go
# with BENCHFLAGS="--wireguard-go PATH") measured in one run, a table at
# the end. Needs root; removes everything it created, also when
# interrupted. E.g. make bench BENCHFLAGS="--quick --json bench.json".
BENCHFLAGS ?=
.PHONY: bench
bench: build
	$(BIN) bench $(BENCHFLAGS)

# Two sites in network namespaces, a tunnel between them, a ping and a
# 200 MB TCP transfer through it, and each node's counters. Needs root;
# removes everything it created, also when interrupted.
demo: build
	$(GO) run ./bench/demo -skiff $(BIN)

clean:
	rm -rf bin
