# runbook — build, test and tool pins.
#
# Tools are built from the Go module proxy into the git-ignored .tools/ directory:
#   .tools/build/<tool>-<version>/<binary>   the build, one directory per pinned version
#   .tools/bin/<binary>                      a symlink to the pinned build
# Rule targets are the versioned paths, so bumping a *_VERSION rebuilds that tool and
# nothing else, and a second `make tools` does no work. None of these builds touches
# the root go.mod: `go install pkg@version` ignores it, and OpenTofu builds inside its
# own downloaded module directory (go install refuses its replace directive), with the
# flags of its release builds (dev=no, so `tofu version` reports the plain version).

TEMPORAL_VERSION    ?= 1.5.1
TOFU_VERSION        ?= 1.12.6
STATICCHECK_VERSION ?= 0.8.2
# Temporal's determinism checker for workflow code; released apart from the SDK
# (it analyses source, so any SDK version in go.mod works with it).
WORKFLOWCHECK_VERSION ?= 0.6.0
# Terraform 1.5.7 (the last MPL release) is the second binary the provisioning
# activities are tested against.
TERRAFORM_VERSION   ?= 1.5.7
# The Temporal server itself (all services in one process, on PostgreSQL) and its SQL
# schema tool: the second pass of the e2e tests runs on it instead of the dev server.
TEMPORAL_SERVER_VERSION ?= 1.29.1

SHELL       := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

TOOLS_DIR   := $(abspath .tools)
TOOLS_BIN   := $(TOOLS_DIR)/bin
TOOLS_BUILD := $(TOOLS_DIR)/build

TEMPORAL    := $(TOOLS_BUILD)/temporal-$(TEMPORAL_VERSION)/temporal
TOFU        := $(TOOLS_BUILD)/tofu-$(TOFU_VERSION)/tofu
STATICCHECK := $(TOOLS_BUILD)/staticcheck-$(STATICCHECK_VERSION)/staticcheck
WORKFLOWCHECK := $(TOOLS_BUILD)/workflowcheck-$(WORKFLOWCHECK_VERSION)/workflowcheck
TERRAFORM   := $(TOOLS_BUILD)/terraform-$(TERRAFORM_VERSION)/terraform
TEMPORAL_SERVER := $(TOOLS_BUILD)/temporal-server-$(TEMPORAL_SERVER_VERSION)/temporal-server
TEMPORAL_SQL_TOOL := $(TOOLS_BUILD)/temporal-server-$(TEMPORAL_SERVER_VERSION)/temporal-sql-tool
# What the demo and the dev stack run: the Temporal dev server and OpenTofu. The rest
# (Terraform, staticcheck, workflowcheck) only the tests and the linters need, so a
# newcomer's first `make demo` does not wait for them.
DEMO_TOOLS  := $(TOOLS_BIN)/temporal $(TOOLS_BIN)/tofu
TOOL_LINKS  := $(DEMO_TOOLS) $(TOOLS_BIN)/staticcheck $(TOOLS_BIN)/terraform \
	$(TOOLS_BIN)/workflowcheck $(TOOLS_BIN)/temporal-server $(TOOLS_BIN)/temporal-sql-tool

# The environment the end-to-end tests, the demo and the dev stack read.
RUNBOOK_ENV := \
	RUNBOOK_TEMPORAL_BIN=$(abspath .tools/bin/temporal) \
	RUNBOOK_TOFU_BIN=$(abspath .tools/bin/tofu) \
	RUNBOOK_BIN=$(abspath bin/runbook) \
	RUNBOOK_SAMPLEAPP_BIN=$(abspath bin/sampleapp)

.PHONY: help tools deps build test lint bench chaos demo demo-rollback demo-governance demo-train dev clean distclean FORCE

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

tools: $(TOOL_LINKS) ## Build the pinned temporal CLI and server, tofu, terraform, staticcheck and workflowcheck into .tools/ (once per pin)

deps: ## Check (and as root, install) the Debian packages the tests need
	@scripts/deps.sh

# The version `runbook version` prints and a worker's default build ID
# (Worker Versioning); without git, the binary falls back to Go's VCS stamp.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null)

build: ## Build bin/runbook and bin/sampleapp
	CGO_ENABLED=0 go build -ldflags '-X github.com/runbookhq/runbook/internal/buildinfo.version=$(VERSION)' -o bin/runbook ./cmd/runbook
	CGO_ENABLED=0 go build -o bin/sampleapp ./test/sampleapp

# The release tests that cover the product's core, run a second time on the real
# Temporal server on PostgreSQL (approval, rejection with compensation, rollback,
# canary, provisioning, migrations, worker crashes, two workers with one killed, and the
# bounded fault-injection subset).
SERVER_TESTS := ^(TestDeployApproveSucceed|TestRejectRollsBackInReverse|TestRollbackFinishedRelease|TestCanaryBreachGradualRollback|TestCanarySurvivesWorkerCrash|TestWorkerKilledMidStep|TestProvisionReleases|TestProvisionDestroyOnRollback|TestMigrations|TestSecondLiveReleaseRefused|TestAbortDuringProvisionApply|TestTwoWorkersOneKilled|TestChaos)$$

test: deps tools build ## Run all tests on the real local stack, a short fuzz run, then lint
	$(RUNBOOK_ENV) go test -count=1 -timeout 30m ./...
	@echo "the main release tests again on the real Temporal server $(TEMPORAL_SERVER_VERSION) on PostgreSQL:"
	$(RUNBOOK_ENV) RUNBOOK_TEST_TEMPORAL=server RUNBOOK_TEMPORAL_SERVER_BIN=$(abspath .tools/bin/temporal-server) \
		RUNBOOK_TEMPORAL_SQL_TOOL_BIN=$(abspath .tools/bin/temporal-sql-tool) \
		go test -count=1 -timeout 15m -run '$(SERVER_TESTS)' ./test/
	@echo "provisioning tests again with Terraform $(TERRAFORM_VERSION):"
	$(RUNBOOK_ENV) RUNBOOK_TOFU_BIN=$(abspath .tools/bin/terraform) go test -count=1 ./activities/terraform/ ./infra/
	go test ./runbooks/ -run '^$$' -fuzz FuzzParse -fuzztime 20s -fuzzminimizetime 2s
	@$(MAKE) --no-print-directory lint

lint: $(TOOLS_BIN)/staticcheck $(TOOLS_BIN)/workflowcheck ## gofmt, go vet, staticcheck and workflowcheck (workflow determinism)
	@unformatted=$$(find . -name '*.go' -not -path './.git/*' -not -path './.tools/*' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(TOOLS_BIN)/staticcheck ./...
	$(TOOLS_BIN)/workflowcheck -config workflowcheck.config.yaml ./workflows/

# BENCH narrows the benchmarks (a -bench regexp); RUNBOOK_BENCH_INFLIGHT sets how many
# releases BenchmarkInflightReleases keeps in flight, and the workflows of each run of
# BenchmarkFloorCosts (100 by default; the full benches are RUNBOOK_BENCH_INFLIGHT=1000
# make bench BENCH=InflightReleases, about 4 min on 2 cores, and BENCH=FloorCosts, 5 min).
BENCH ?= .

bench: ## Run the benchmarks (BENCH=regexp; RUNBOOK_BENCH_INFLIGHT=1000 for the full scale bench)
	$(RUNBOOK_ENV) go test -run '^$$' -bench '$(BENCH)' -benchmem -timeout 60m ./...

# The fault-injection suite: CHAOS_TRIALS releases drawn from every step kind x moment x
# fault (a seeded shuffle of the whole matrix, repeated as needed); CHAOS_SEED repeats a
# run, CHAOS_ONLY=migrate.up/during,traffic.revert narrows it. `make test` runs a bounded
# subset of the same test (one trial per step kind and moment).
CHAOS_TRIALS   ?= 300
CHAOS_SEED     ?= $(shell date +%s)
CHAOS_PARALLEL ?= 4

chaos: deps tools build ## Fault-injection suite on the real stack (CHAOS_TRIALS=300, CHAOS_SEED=<time>, CHAOS_PARALLEL=4)
	$(RUNBOOK_ENV) CHAOS_TRIALS=$(CHAOS_TRIALS) CHAOS_SEED=$(CHAOS_SEED) CHAOS_PARALLEL=$(CHAOS_PARALLEL) \
		go test -count=1 -timeout 6h -v -run '^TestChaos$$' ./test/ | grep -E '^(chaos|bench)|^ *--- |^(ok|FAIL|PASS)'

demo: $(DEMO_TOOLS) build ## Run the demo releases (approvals, migrations, provisioning, a canary under load)
	$(RUNBOOK_ENV) bin/runbook demo

demo-rollback: $(DEMO_TOOLS) build ## Run the demo with a canary that breaks and is rolled back automatically
	$(RUNBOOK_ENV) bin/runbook demo --break

demo-governance: $(DEMO_TOOLS) build ## Run the checkout releases under change freezes: one held and lifted, then break-glass
	$(RUNBOOK_ENV) bin/runbook demo --governance

demo-train: $(DEMO_TOOLS) build ## Release checkout and storefront as one train: staging, one CAB approval, production in order
	$(RUNBOOK_ENV) bin/runbook demo --train

dev: $(DEMO_TOOLS) build ## Start the local dev stack (Temporal dev server, UI, worker)
	$(RUNBOOK_ENV) bin/runbook dev

clean: ## Remove build outputs (bin/), keep the tools
	rm -rf bin/

distclean: clean ## Remove build outputs and the built tools (.tools/)
	rm -rf .tools/

# --- tool builds --------------------------------------------------------------------

$(TEMPORAL):
	GOBIN=$(@D) go install github.com/temporalio/cli/cmd/temporal@v$(TEMPORAL_VERSION)

$(TOFU):
	dir=$$(cd / && go mod download -json github.com/opentofu/opentofu@v$(TOFU_VERSION) | grep '"Dir":' | cut -d'"' -f4); \
	test -n "$$dir"; \
	mkdir -p $(@D); \
	cd "$$dir" && CGO_ENABLED=0 go build -trimpath -ldflags '-X github.com/opentofu/opentofu/version.dev=no' -o $@.tmp ./cmd/tofu
	mv $@.tmp $@

$(STATICCHECK):
	GOBIN=$(@D) go install honnef.co/go/tools/cmd/staticcheck@v$(STATICCHECK_VERSION)

$(WORKFLOWCHECK):
	GOBIN=$(@D) go install go.temporal.io/sdk/contrib/tools/workflowcheck@v$(WORKFLOWCHECK_VERSION)

$(TERRAFORM):
	GOBIN=$(@D) go install github.com/hashicorp/terraform@v$(TERRAFORM_VERSION)

# Built inside the downloaded module like OpenTofu (the server's go.mod has replace
# directives); the schema tool needs the module's schema/postgresql directory, which
# is copied beside the binaries. The schema tool's rule depends on the server's so the
# two never build at once on a 2-core machine.
$(TEMPORAL_SERVER):
	dir=$$(cd / && go mod download -json go.temporal.io/server@v$(TEMPORAL_SERVER_VERSION) | grep '"Dir":' | cut -d'"' -f4); \
	test -n "$$dir"; \
	mkdir -p $(@D); \
	rm -rf $(@D)/schema && mkdir -p $(@D)/schema && cp -r "$$dir/schema/postgresql" $(@D)/schema/ && chmod -R u+w $(@D)/schema; \
	cd "$$dir" && CGO_ENABLED=0 go build -trimpath -o $@.tmp ./cmd/server
	mv $@.tmp $@

$(TEMPORAL_SQL_TOOL): $(TEMPORAL_SERVER)
	dir=$$(cd / && go mod download -json go.temporal.io/server@v$(TEMPORAL_SERVER_VERSION) | grep '"Dir":' | cut -d'"' -f4); \
	test -n "$$dir"; \
	cd "$$dir" && CGO_ENABLED=0 go build -trimpath -o $@.tmp ./cmd/tools/sql
	mv $@.tmp $@

# The links are checked on every run (FORCE) but only rewritten when they point at
# another version, so switching a pin back and forth needs no rebuild and no make -B.
$(TOOLS_BIN)/temporal: $(TEMPORAL) FORCE
$(TOOLS_BIN)/tofu: $(TOFU) FORCE
$(TOOLS_BIN)/staticcheck: $(STATICCHECK) FORCE
$(TOOLS_BIN)/terraform: $(TERRAFORM) FORCE
$(TOOLS_BIN)/workflowcheck: $(WORKFLOWCHECK) FORCE
$(TOOLS_BIN)/temporal-server: $(TEMPORAL_SERVER) FORCE
$(TOOLS_BIN)/temporal-sql-tool: $(TEMPORAL_SQL_TOOL) FORCE
$(TOOL_LINKS):
	@target=../build/$(notdir $(patsubst %/,%,$(dir $<)))/$(notdir $<); \
	if [ "$$(readlink $@ 2>/dev/null)" != "$$target" ]; then \
		mkdir -p $(@D) && ln -sfn "$$target" $@ && echo "$@ -> $$target"; \
	fi

FORCE:
