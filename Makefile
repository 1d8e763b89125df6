# dispatchd build, test and benchmark entry points.
# `make test` is what CI runs (.ci/run); `make check` adds formatting and static analysis.

GO          ?= go
STATICCHECK_VERSION := v0.7.0
GOBIN       ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
BENCHTIME   ?= 1x
BENCHCOUNT  ?= 5

# Every binary the Makefile builds says what it is (--version): the version is `git describe`, the commit the full
# hash, both stamped into cmd/internal/version by the linker. Outside a git checkout they fall back to "devel".
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null)
VERSION_PKG := github.com/o2o-dispatch/dispatchd/cmd/internal/version
LDFLAGS     := -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT)

.PHONY: all build run test vet check fmt-check staticcheck bench bench-roads bench-round bench-fulfil bench-geo bench-mdrp bench-intake bench-reliability tidy fuzz-smoke fuzz dist dist-check deploy-check

all: build test

build: console
	$(GO) build -ldflags "$(LDFLAGS)" ./...

# The operator's console (docs/console.md): npm ci from the committed lock file when it changed, then the bundle
# into dispatch/httpapi/console/dist/ (git-ignored: it holds Leaflet), which the daemon embeds. Without it the
# daemon serves a page that says to run this.
CONSOLE_DIR := dispatch/httpapi/console
CONSOLE_SRC := $(wildcard $(CONSOLE_DIR)/web/*) $(CONSOLE_DIR)/build.mjs

.PHONY: console
console: $(CONSOLE_DIR)/dist/index.html

$(CONSOLE_DIR)/node_modules/.package-lock.json: $(CONSOLE_DIR)/package-lock.json $(CONSOLE_DIR)/package.json
	cd $(CONSOLE_DIR) && npm ci --no-audit --no-fund --loglevel=error

$(CONSOLE_DIR)/dist/index.html: $(CONSOLE_DIR)/node_modules/.package-lock.json $(CONSOLE_SRC)
	cd $(CONSOLE_DIR) && npm run --silent build

# The daemon on :8080 with its data in ./var. Without DISPATCHD_ADMIN_TOKEN or --admin-token-file the first start
# writes a random admin token to ./var/admin.token; RUN_ARGS passes more flags (RUN_ARGS='--dispatch-interval 5s').
DATA_DIR ?= ./var
RUN_ARGS ?=

run: console
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/dispatchd ./cmd/dispatchd
	@echo "dispatchd: API on http://localhost:8080, data in $(DATA_DIR)."
	@if [ -z "$$DISPATCHD_ADMIN_TOKEN" ]; then echo "dispatchd: the admin token is in $(DATA_DIR)/admin.token (written on the first start)."; \
		else echo "dispatchd: the admin token is \$$DISPATCHD_ADMIN_TOKEN."; fi
	exec ./bin/dispatchd --addr :8080 --data-dir $(DATA_DIR) $(RUN_ARGS)

# The demo (docs/console.md): the daemon on loopback with a road map and a simulated city driving it, and the
# console's URL; Ctrl-C stops it. DEMO_ADDR (127.0.0.1:8080), DEMO_COURIERS, DEMO_STORES, DEMO_RATE tune it.
.PHONY: demo
demo: console
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/dispatchd ./cmd/dispatchd
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/dispatchd-load ./cmd/dispatchd-load
	OSM_DIR=$(OSM_DIR) bash .ci/demo

# nats-server in ./bin at the release go.mod pins (the one the cluster tests embed), for running a JetStream cluster
# by hand (docs/cluster.md); nothing is done when it is already there.
.PHONY: install-nats-server
install-nats-server:
	GO=$(GO) bash .ci/install-nats-server

# A cluster on loopback (docs/cluster.md): three nats-servers from ./bin (JetStream, sync_interval: always) and
# three dispatchd nodes sharing four regions; it prints where everything is and how to fail a node over by hand.
# Ctrl-C stops it. CLUSTER_DIR (./var/cluster), CLUSTER_NATS_PORT (4222), CLUSTER_HTTP_PORT (8081) and
# CLUSTER_REGIONS (north,south,east,west) tune it.
.PHONY: run-cluster
run-cluster: console install-nats-server
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/dispatchd ./cmd/dispatchd
	bash .ci/run-cluster

vet:
	$(GO) vet ./...

# The test command named in the README and run by CI. The console's browser tests need chromium (they skip without
# it, unless DISPATCHD_BROWSER=required, as in CI; bash .ci/install-chromium installs it); their screenshots go to
# $$DISPATCHD_ARTIFACTS when set.
# Every package runs under the race detector, the slowest first so that none of them is left running alone at the end
# (RACE_FIRST). Under it the tests sized for coverage check fewer cases (raceOn, in race_on_test.go and
# race_off_test.go of their packages), and the second command runs them at full size without it (FULL_SIZE_TESTS).
# -timeout: go test's default limit of 10 minutes per package is too close under load for dispatch/daemon's race suite
# (restarts, replays, fuzz seeds that each open a daemon).
RACE_FIRST := ./dispatch/daemon ./dispatch ./sim ./cmd/dispatch-sim ./dispatch/journal ./cmd/dispatchd ./cmd/internal/load
FULL_SIZE_PKGS := ./dispatch ./dispatch/daemon ./sim
FULL_SIZE_TESTS := TestPropertyRandomDays TestPropertyRandomDaysInRegions TestPropertyRandomDaysOnRoads TestDeterminism \
	TestDeterminismOfThePlannedRound TestImproveOnRandomDays TestDecisionMatchesInlineRound TestSnapshotRestoreDeterminism \
	TestReplayMatchesLive TestMDRPCouriersDoNotWaitForTheFood TestMDRPRunsRespectTheLostBound \
	TestMDRPPlannedRoundDeliversMoreWhenCouriersAreScarce
space := $() $()

# The list and the tests agree: each name is a test of FULL_SIZE_PKGS, and each test there that uses raceOn or sized
# is named.
FULL_SIZE_FILES = $(addsuffix /*_test.go,$(FULL_SIZE_PKGS))

test: console vet
	@for t in $(FULL_SIZE_TESTS); do grep -qs "^func $$t(" $(FULL_SIZE_FILES) || \
		{ echo "make test: FULL_SIZE_TESTS names $$t, a test no package of FULL_SIZE_PKGS has"; exit 1; }; done
	@missing=$$(awk 'FNR == 1 || /^func / { name = "" } /^func Test/ { name = $$2; sub(/\(.*/, "", name) } \
		name && /raceOn|sized\[/ { print name }' $(FULL_SIZE_FILES) | sort -u | grep -vxF $(addprefix -e ,$(FULL_SIZE_TESTS))); \
	if [ -n "$$missing" ]; then echo "make test: not in FULL_SIZE_TESTS, but smaller under -race:" $$missing; exit 1; fi
	$(GO) test -race -count=1 -timeout 25m $(RACE_FIRST) ./...
	$(GO) test -count=1 -run '^($(subst $(space),|,$(strip $(FULL_SIZE_TESTS))))$$' $(FULL_SIZE_PKGS)

# The metrics of a running daemon, after traffic that touches them all, linted by `promtool check metrics`
# (CI installs promtool with .ci/install-promtool, from Debian's prometheus package).
.PHONY: metrics-check
metrics-check:
	@command -v promtool >/dev/null || { echo "metrics-check: promtool is not on PATH (bash .ci/install-promtool)"; exit 1; }
	DISPATCHD_PROMTOOL=$$(command -v promtool) $(GO) test -count=1 -run '^TestMetricsPassPromtool$$' ./cmd/dispatchd

# The Prometheus files under metrics/ (scrape config, recording and alerting rules) checked by promtool, the
# alerting rules' unit tests (metrics/alerts_test.yml) run by it, then the rules and the dashboard's queries run by
# a real Prometheus (on loopback) against a daemon under test traffic; see .ci/alerts-check. The Go side (every
# metric the rules and the Grafana dashboard use is one the daemon exports) is in `go test ./metrics`.
.PHONY: alerts-check
alerts-check:
	GO=$(GO) bash .ci/alerts-check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# staticcheck is installed at a pinned version by the Makefile itself, so a clean machine needs nothing by hand.
$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

check: fmt-check test staticcheck

# Fuzzing (see docs/fuzzing.md): every fuzz target for FUZZTIME, one worker each; any finding fails the run and leaves
# its input in the package's testdata/fuzz. fuzz-smoke is the short pass CI runs, fuzz the longer one.
fuzz-smoke: FUZZTIME ?= 5s
fuzz: FUZZTIME ?= 60s
fuzz-smoke fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) .ci/fuzz

# Benchmarks (see docs/benchmarks.md for what each figure means).
bench: bench-geo bench-round bench-fulfil bench-mdrp bench-intake bench-roads

bench-geo:
	$(GO) test ./geo -run '^$$' -bench . -benchmem -count $(BENCHCOUNT)

bench-fulfil:
	$(GO) test ./dispatch/fulfil -run '^$$' -bench BenchmarkChoose5000Stores -benchtime 5000x -count 3

bench-round:
	$(GO) test ./dispatch -run '^$$' -bench 'BenchmarkRound$$' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) -timeout 30m

# Road network figures (docs/benchmarks.md, "Roads"): queries, tables, preparation and loading on the synthetic
# metro of a million junctions (built by the benchmarks: minutes) and on the OpenStreetMap extracts in OSM_DIR when
# present; the dense grid kept as a stress case; then the dispatch round on roads against straight lines in the
# same run, on the metro at 300 000 junctions (a little more than the dispatch city), cold then warm (-count 3).
OSM_DIR ?= ../shared/data/osm

bench-roads:
	MONACO_PBF=$(abspath $(OSM_DIR))/monaco.osm.pbf BALTIMORE_PBF=$(abspath $(OSM_DIR))/baltimore.osm.pbf \
		$(GO) test ./geo/roads/... -run '^$$' -bench . -benchmem -timeout 60m
	CH_BENCH_CITY=dense $(GO) test ./geo/roads/ch -run '^$$' -bench 'Build1M|Query1M|Scan1M|Table100x100_1M' -benchtime 1x -benchmem -timeout 60m
	ROADS_BENCH_CITY_NODES=300000 $(GO) test ./dispatch -run '^$$' -bench BenchmarkRoundRoads -benchmem -benchtime 1x -count 3 -timeout 60m

# The Grubhub MDRP instances are not shipped (see docs/benchmarks.md); point MDRP_DIR at a copy.
MDRP_DIR ?= ../shared/data/mdrplib
MDRP_PATTERN ?= *o100t100s2p100

bench-mdrp:
	@if [ ! -d "$(MDRP_DIR)/public_instances" ]; then \
		echo "bench-mdrp: skipped, no MDRP instances at $(MDRP_DIR)/public_instances (set MDRP_DIR)"; exit 0; fi; \
	$(GO) run ./cmd/dispatch-sim bench --mdrp-root "$(MDRP_DIR)/public_instances" --pattern '$(MDRP_PATTERN)'

# Intake and location figures: a load generator (vegeta, constant rate) in a second process against a daemon it
# starts on a fresh data directory under $$TMPDIR (put that on the disk to measure: every 201 waits for an fsync).
LOAD := ./bin/dispatchd-load --spawn ./bin/dispatchd

bench-intake:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/dispatchd ./cmd/dispatchd
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/dispatchd-load ./cmd/dispatchd-load
	$(LOAD) --mode orders --rate 1000 --duration 30s
	$(LOAD) --mode orders --couriers 1000 --rate 1000 --duration 30s
	$(LOAD) --mode orders --sweep 1000,1500,2000,2500,3000 --duration 10s
	$(LOAD) --mode locations --couriers 2000 --sweep 4000,8000,10000 --duration 10s
	$(LOAD) --mode locations-batch --batch 100 --couriers 10000 --sweep 200,400,600,800,1000 --duration 10s

# Reliability figures (docs/reliability-load.md): order services and working couriers at 1 000 orders and 5 000
# positions a second for 60 s, then 20 SIGKILLs under load with every acknowledged order checked afterwards.
bench-reliability:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/dispatchd ./cmd/dispatchd
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/dispatchd-load ./cmd/dispatchd-load
	$(LOAD) --mode drive --rate 1000 --location-rate 5000 --couriers 1000 --duration 60s --p99-limit 10ms
	$(LOAD) --mode crash --kills 20 --rate 50 --location-rate 1000 --couriers 400 --time-scale 100 --prep-seconds 5 --duration 60s

# Release binaries: static (no cgo), without the build machine's paths (-trimpath), stamped, for each platform, with
# their SHA-256 sums in dist/SHA256SUMS (check with `cd dist && sha256sum -c SHA256SUMS`). dist-check builds them and
# checks the sums, that each is static and stamped, and that the one for this machine runs --version.
DIST_PLATFORMS := linux/amd64 linux/arm64
DIST_COMMANDS  := dispatchd dispatch-sim dispatchd-load

dist: console
	rm -rf dist
	mkdir -p dist
	@set -e; for p in $(DIST_PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; for c in $(DIST_COMMANDS); do \
		echo "dist: $$c $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o dist/$$c-$$os-$$arch ./cmd/$$c; \
	done; done
	cd dist && sha256sum $(foreach p,$(DIST_PLATFORMS),$(foreach c,$(DIST_COMMANDS),$(c)-$(subst /,-,$(p)))) > SHA256SUMS
	@echo "dist: $(VERSION) in dist/, sums in dist/SHA256SUMS"

dist-check: dist
	GO=$(GO) VERSION=$(VERSION) bash .ci/dist-check

# The systemd unit of docs/deploy checked by systemd-analyze verify (CI installs it with .ci/deploy-check).
deploy-check:
	bash .ci/deploy-check

tidy:
	$(GO) mod tidy
