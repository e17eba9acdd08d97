# clusterctl: build, demo and tests. Every image is built locally from this
# repository (FROM scratch plus a static Go binary); nothing is pulled.

SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN := $(CURDIR)/bin
CLUSTERCTL := $(BIN)/clusterctl
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/clusterctl/clusterctl/internal/cli.Version=$(VERSION) \
	-X github.com/clusterctl/clusterctl/internal/cli.Commit=$(COMMIT)
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

# The clusterctl binary is static (CGO_ENABLED=0), because the front door
# runs it in an empty image; the race detector in unit tests needs cgo.
# testcontainers-go: Ryuk is a pulled image, and without the override it
# dials a non-loopback gateway address on this kind of machine.
export TESTCONTAINERS_RYUK_DISABLED := true
export TESTCONTAINERS_HOST_OVERRIDE := 127.0.0.1

.PHONY: all build image images demo demo-down test check-docker vet lint unit e2e bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(CLUSTERCTL) ./cmd/clusterctl

# The clusterctl image itself: FROM scratch with the static binary.
image: build
	cp $(CLUSTERCTL) deployments/clusterctl-image/clusterctl 2>/dev/null || { mkdir -p deployments/clusterctl-image && cp $(CLUSTERCTL) deployments/clusterctl-image/clusterctl; }
	docker build -q -t clusterctl/clusterctl:$(VERSION) -f Dockerfile deployments/clusterctl-image

# The collector image and the demo worker binary.
images:
	deployments/collector/build.sh
	deployments/demo/build.sh

demo: check-docker build images
	CLUSTERCTL=$(CLUSTERCTL) deployments/demo/demo.sh

demo-down: build
	$(CLUSTERCTL) -f deployments/demo/compose.yaml down --volumes

check-docker:
	@docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || { \
	  echo "make: no Docker engine answers (docker version failed); start the Docker daemon first" >&2; exit 1; }

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...

$(GOLANGCI_LINT):
	GOBIN=$(BIN)/lint-tmp $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/lint-tmp/golangci-lint $@ && rmdir $(BIN)/lint-tmp

lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

unit:
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

# e2e builds the binary and the images it needs, then drives the real
# binary against the real engine.
e2e: check-docker build images
	CLUSTERCTL=$(CLUSTERCTL) $(GO) test -tags e2e -count=1 -timeout 14m -v ./e2e/... 2>&1 | tee $(BIN)/e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go' ; exit $${PIPESTATUS[0]}

test: check-docker vet lint unit e2e

bench: build images
	bench/up/run.sh
	bench/frontdoor/run.sh

clean:
	rm -rf $(BIN) deployments/demo/worker/bin deployments/collector/bin deployments/clusterctl-image
