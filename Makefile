# Permiso: `make run` starts a server, `make test` runs every test.
GO ?= go
MODULES := . sdk sdk/guard/grpcguard sdk/forwardauth/extauthz examples/trading examples/trading/dashboard/e2e
DASHBOARD := examples/trading/dashboard
# A count, not a duration: see scripts/fuzz.sh.
FUZZTIME ?= 20000x
# staticcheck at a pinned version, built by `go run` (cached after the first).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run build deps test vet unit fuzz bench-smoke bench dashboard dashboard-test test-repeat

run:
	$(GO) run ./cmd/permiso serve

build:
	$(GO) build -o bin/permiso ./cmd/permiso

# The one test command (README.md, .ci/run). It first installs what a fresh
# machine lacks (Chromium, nginx, promtool) and starts PostgreSQL and Redis
# if they are stopped, then: vet, staticcheck, go mod tidy and gofmt, every module's unit and
# end-to-end tests, the dashboard's component tests, a short fuzzing pass,
# and every Go benchmark once.
test: deps vet dashboard-test unit fuzz bench-smoke

deps:
	scripts/install-deps.sh
	scripts/services.sh

# Every module: go vet, staticcheck and go.mod/go.sum as go mod tidy leaves
# them; gofmt; and no module left out of MODULES.
vet:
	@for m in $(MODULES); do if [ -f $$m/go.mod ]; then echo "== vet $$m"; (cd $$m && $(GO) vet ./... && $(GO) mod tidy -diff && $(GO) run $(STATICCHECK) ./...) || exit 1; fi; done
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	@for f in $$(git ls-files 'go.mod' '*/go.mod'); do d=$$(dirname $$f); case " $(MODULES) " in *" $$d "*) ;; *) echo "module $$d is missing from MODULES in the Makefile"; exit 1;; esac; done

# Not in CI: every module's tests several times with -race while cpuload
# keeps every CPU busy, then the tests that used to flake 200 times each
# (scripts/test-repeat.sh; REPEAT, FLAKY_COUNT and SERVER_FLAKY_COUNT tune it).
test-repeat:
	MODULES="$(MODULES)" GO="$(GO)" scripts/test-repeat.sh

unit:
	@for m in $(MODULES); do if [ -f $$m/go.mod ]; then echo "== test $$m"; (cd $$m && $(GO) test -count=1 -timeout 15m ./...) || exit 1; fi; done

# Every fuzz target in the repository (scripts/fuzz.sh finds them by name).
fuzz:
	GO="$(GO)" FUZZTIME="$(FUZZTIME)" scripts/fuzz.sh

# Benchmarks run once each so a broken benchmark fails CI; timings are
# never asserted.
bench-smoke:
	@for m in $(MODULES); do if [ -f $$m/go.mod ]; then echo "== bench $$m"; (cd $$m && $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x ./...) || exit 1; fi; done

# The load benchmark: starts a server and drives it (see docs/performance.md).
bench:
	$(GO) build -o bin/permiso ./cmd/permiso
	./bin/permiso bench --scenario all --connections 32 --duration 10s

# The trading dashboard (React + TypeScript): production build into dist/,
# and its Vitest component tests.
dashboard:
	cd $(DASHBOARD) && npm ci --no-audit --no-fund && npm run build

dashboard-test:
	cd $(DASHBOARD) && npm ci --no-audit --no-fund && npm test
