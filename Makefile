# dispatchd build, test and benchmark entry points.
# `make test` is what CI runs (.ci/run); `make check` adds formatting and static analysis.

GO          ?= go
STATICCHECK_VERSION := v0.7.0
GOBIN       ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
BENCHTIME   ?= 1x
BENCHCOUNT  ?= 5

.PHONY: all build test vet check fmt-check staticcheck bench bench-round bench-geo tidy

all: build test

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

# The test command named in the README and run by CI.
test: vet
	$(GO) test -race -count=1 ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# staticcheck is installed at a pinned version by the Makefile itself, so a clean machine needs nothing by hand.
$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

check: fmt-check test staticcheck

# Benchmarks (see docs/benchmarks.md for what each figure means).
bench: bench-geo bench-round

bench-geo:
	$(GO) test ./geo -run '^$$' -bench . -benchmem -count $(BENCHCOUNT)

bench-round:
	$(GO) test ./dispatch -run '^$$' -bench BenchmarkRound -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) -timeout 30m

tidy:
	$(GO) mod tidy
