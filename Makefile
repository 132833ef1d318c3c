# Tozalash — `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

TEMPL_VERSION := $(shell go list -m -f '{{.Version}}' github.com/a-h/templ)
TEMPL := go run github.com/a-h/templ/cmd/templ@$(TEMPL_VERSION)
GO_TEST_FLAGS ?= -count=1 -timeout 12m

.PHONY: help run test generate css vendor-js lint node_modules bench-orders bench-stats bench-chat bench bench-smoke loadtest fuzz

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: ## start the app on http://localhost:3000 with the embedded database and demo data (its catalogue, crews, customers and visits, once)
	go run . seed
	go run . serve

# The store, route, mail and browser tests run twice: on the embedded
# database, and in the "shared" profile against FerretDB in a process of its
# own reached by URI, the code path of a MONGODB_URI deployment.
SHARED_PACKAGES := ./store/... ./mail ./handlers ./e2e

test: ## every test, in both database profiles (needs /usr/bin/chromium); the chat hub and the store again with -race
	go build -o .build/ferretdbd ./store/storetest/ferretdbd
	go test $(GO_TEST_FLAGS) ./...
	TOZALASH_TEST_DB=shared TOZALASH_TEST_FERRETDB=$(CURDIR)/.build/ferretdbd go test $(GO_TEST_FLAGS) $(SHARED_PACKAGES)
	go test -race -count=1 ./chat ./store

# go test -fuzz takes one target at a time; every Fuzz function of ./handlers.
# Each target runs for a number of executions, not a time: a time budget
# meets a race in Go's fuzzing coordinator (go.dev/issue/75804) that fails a
# loaded machine's run with "context deadline exceeded" and no crasher.
FUZZ_TARGETS := FuzzParseID:100000 FuzzParseChatFrame:100000 FuzzLocalPath:100000 FuzzSafeCell:100000 FuzzBindInputs:10000

fuzz: ## run each fuzz target for its number of executions
	@status=0; for t in $(FUZZ_TARGETS); do f=$${t%%:*}; n=$${t##*:}; echo "== $$f ($$n runs)"; go test ./handlers -run '^$$' -fuzz "^$$f\$$" -fuzztime $${n}x || status=1; done; exit $$status

generate: ## regenerate the templ components (*_templ.go)
	$(TEMPL) generate -path views

node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

css: node_modules ## build static/css/app.css with Tailwind
	npx tailwindcss -c tailwind.config.js -i static/css/input.css -o static/css/app.css --minify

vendor-js: node_modules ## copy htmx and its ws extension from npm into static/js
	cp node_modules/htmx.org/dist/htmx.min.js static/js/htmx.min.js
	cp node_modules/htmx-ext-ws/dist/ws.min.js static/js/ws.min.js

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	go vet ./...

bench: ## build the app, fill a database, drive every hot path at 50 clients beside a bare Fiber baseline; writes bench/RESULTS.md (about 5 minutes)
	go run ./bench all 15

bench-smoke: ## the same benchmark, a second a scenario, so it never rots (CI runs it; no thresholds)
	go run ./bench all 1 > /dev/null

loadtest: ## 200 simulated customers and an admin for 60 s against the built binary (INSTANCES=2: two instances on one database): fails on any 5xx (a 503 busy of a login aside) or lost write, prints p50/p99 per route
	INSTANCES=$(INSTANCES) go run ./bench load 60

bench-orders: ## load 1k, 20k and 100k orders into the embedded database and report p50/p99 of the order pages (a few minutes)
	BENCH_CONCURRENCY=1 go run ./bench orders 1000,20000,100000
	BENCH_CONCURRENCY=8 go run ./bench orders 1000,20000,100000

bench-chat: ## 1,000 chat sockets in 200 conversations: messages delivered a second, p50/p99 delivery, memory a socket (about a minute)
	go run ./bench chat 1000

bench-stats: ## load 10k, 100k and 1M orders into the embedded database and report p50/p99 of GET /admin/statistics (about 10 minutes)
	BENCH_CONCURRENCY=1 go run ./bench stats 10000,100000,1000000
