# smart-router: one entry point for building, testing, benchmarking and the demo.
# `make test` and `make demo` install what they need on a fresh machine.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
NPM ?= npm
JEST := node --experimental-vm-modules node_modules/jest/bin/jest.js

-include hack/cluster.mk

.PHONY: help deps packages build typecheck test unit integration e2e image demo demo-operator bench profile clean

help: ## Show the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{ printf "  %-15s %s\n", $$1, $$2 }'

node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund --loglevel=error
	@touch $@

packages: ## Install redis-server and nginx from Debian when missing
	@hack/install-packages.sh

deps: node_modules/.installed packages ## Install npm and Debian dependencies

build: node_modules/.installed ## Compile TypeScript to dist/
	$(NPM) run --silent build

typecheck: node_modules/.installed ## Type-check sources and tests
	npx tsc -p tsconfig.json --noEmit

unit: node_modules/.installed ## Unit tests (pure logic, no servers)
	$(JEST) --selectProjects unit

integration: deps ## Integration tests against a real redis-server
	$(JEST) --selectProjects integration

# podman, buildah, runc and mmdebstrap are installed from Debian when missing;
# the Debian base images are built once and kept in podman's store.
image: ## Build the container image (localhost/smart-router:dev) with podman, on bases built from Debian packages
	hack/build-image.sh localhost/smart-router:dev

e2e: deps build image cluster-up ## E2E tests against the cluster (the local control plane, or kind with CLUSTER=kind)
	$(JEST) --selectProjects e2e

# The cluster is stopped afterwards, pass or fail; KEEP_CLUSTER=1 keeps it.
# --forceExit: a handle left open by a failing test must not hold CI until its deadline.
test: deps typecheck build image cluster-up ## Every test: unit, integration (real Redis), e2e (real Kubernetes API)
	set +e; $(JEST) --selectProjects unit integration e2e --forceExit; status=$$?; \
	[ -n "$${KEEP_CLUSTER:-}" ] || hack/cluster-down.sh; exit $$status

demo: deps build ## Run smart-router standalone on the example pools and show an allocate/release
	hack/demo.sh

demo-operator: deps build ## The same in operator mode, on the local control plane with a StatefulSet of voice agents
	hack/demo-operator.sh

# The operator at scale: 10,000 pods need 10 kwok nodes (the benchmark adds them);
# kwok making them Ready takes most of its time on a small machine.
BENCH_SCALE_PODS ?= 10000

bench: deps build cluster-up ## Benchmarks, with baselines measured in the same run (allocator, then operator on the local cluster)
	node dist/bench/run.js
	node dist/bench/soak.js
	node dist/bench/redis-cost.js
	node dist/bench/redis-failover.js
	node dist/bench/eviction-webhook.js
	node dist/bench/operator-converge.js
	SCALE_PODS=$(BENCH_SCALE_PODS) node dist/bench/operator-scale.js
	node dist/bench/status-writes.js
	node dist/bench/autoscale.js

# PROFILE_OUT=docs/perf/router writes router.txt (µs per pair by function), router.collapsed and router.svg (a flame graph).
profile: deps build ## CPU profile of the router (node --cpu-prof) under the benchmark's load: per-function µs per pair and a flame graph
	node dist/bench/profile.js

clean: ## Remove build output
	rm -rf dist coverage
