# Luban: the two commands of the README quick start are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
STACK ?= bookworm

.PHONY: help tools stack mirror package builder demo test lint unit e2e bench bench-loop bench-apps cluster cluster-down clean-testbed apps apps-check

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

tools: ## Install podman/runc (when no Docker daemon), pack, the lifecycle and the test tools
	@scripts/install-tools.sh

stack: tools ## Build the stack images (STACK=bookworm|al2023|auto)
	@scripts/build-stack.sh $(STACK) >/dev/null

mirror: tools ## Make and serve the local uv/CPython mirror
	@scripts/make-mirror.sh && scripts/mirror.sh start

package: tools ## Compile the buildpacks (static) and package luban/python
	@scripts/package-buildpacks.sh

builder: stack mirror ## Create the offline builder (luban/builder:$(STACK))
	@scripts/create-builder.sh $(STACK)

demo: ## Build the builder and a sample app image, run it, print its answer, user and size
	@scripts/demo.sh

test: ## Everything: lint, unit tests, end-to-end tests through real pack builds
	@scripts/test.sh

lint: ## Format, clippy, hadolint, actionlint, shellcheck
	@scripts/test.sh lint

unit: ## Unit tests
	@scripts/test.sh unit

e2e: ## End-to-end tests only (T=<test name filter> runs one)
	@scripts/test.sh testbed e2e

bench: ## Benchmarks against the lifecycle and uv floors (not part of make test)
	@scripts/bench.sh

bench-loop: ## Push → live on the node, hop by hop, for LUBAN_BENCH_PUSHES (5) pushes (not part of make test)
	@T=TestBenchLoop scripts/test.sh testbed e2e

# The apps of an install (docs/apps.md): CONFIG is its config.env, APPS the directory of app files.
CONFIG ?= deploy/install/config.env
APPS ?= deploy/install/apps

apps: ## Render the apps' EventSource, Sensor and Applications for kubectl apply -f - (CONFIG=, APPS=)
	@cd deploy/apps && go run ./cmd/luban-apps render --config "$(abspath $(CONFIG))" "$(abspath $(APPS))"

apps-check: ## Check the app files (CONFIG=, APPS=): a mistake is refused naming the app
	@cd deploy/apps && go run ./cmd/luban-apps check --config "$(abspath $(CONFIG))" "$(abspath $(APPS))"

bench-apps: ## 3 apps × LUBAN_BENCH_ROUNDS (3) pushes at once on the node: outcomes, builds/hour, push → live p50/p95 (not part of make test)
	@T=TestBenchApps scripts/test.sh testbed e2e

cluster: tools ## Bring up the single-node Kubernetes cluster on 127.0.0.1 (scripts/cluster.sh)
	@scripts/cluster.sh up

cluster-down: ## Stop every process of the cluster and forget its state
	@scripts/cluster.sh down

clean-testbed: ## Remove the testbed's images, caches and mirror
	@scripts/clean-testbed.sh
