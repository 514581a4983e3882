# Yishi — the two commands a newcomer needs: `make run` and `make test`.

CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
BIN_DEBUG := $(CARGO_TARGET_DIR)/debug/yishi
BIN_RELEASE := $(CARGO_TARGET_DIR)/release/yishi

.PHONY: run test build frontend frontend-test schema lint fmt check-postgres supply-chain audit import-china bench perf clean

## run: build everything, migrate, seed Gansu + demo accounts on first start, serve on 127.0.0.1:8080
run: frontend
	cargo build --release -p yishi
	$(BIN_RELEASE) serve

## test: every test, on SQLite and PostgreSQL
test: frontend check-postgres supply-chain
	cargo build -p yishi
	$(MAKE) frontend-test
	cargo test --workspace --all-targets

build: frontend
	cargo build --release -p yishi

## frontend: build the web pages into frontend/dist
frontend:
	@if [ -f frontend/package.json ]; then \
		cd frontend && npm ci --no-audit --no-fund && npm run build; \
	else \
		mkdir -p frontend/dist && cp -r frontend/public/. frontend/dist/; \
	fi

## frontend-test: lint, type check, unit tests, bundle budget, browser tests (real yishi serve + chromium); needs `make frontend`
frontend-test:
	cargo build -p yishi
	cd frontend && npm run lint && npm run typecheck && npm test && npm run bundle-check && npm run e2e

## schema: regenerate schema.graphql from the code
schema:
	cargo run -q -p yishi -- schema > schema.graphql

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

## supply-chain: licences, duplicate majors and sources of every crate (deny.toml), offline;
## then the advisory databases (RustSec, npm), where this machine can reach them
supply-chain:
	cargo deny --offline check bans licenses sources
	@$(MAKE) --no-print-directory audit AUDIT_OPTIONAL=1

## audit: known vulnerabilities: `cargo deny check advisories` (RustSec) and `npm audit --omit=dev`
## (high and critical); exceptions are explained in deny.toml and frontend/audit-allow.json
audit:
	@scripts/audit.sh

## check-postgres: the tests need PostgreSQL (YISHI_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres)
check-postgres:
	@url=$${YISHI_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}; \
	if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -d "$$url"; then \
		echo "PostgreSQL is not reachable at $$url; start it (see README) or set YISHI_TEST_PG_URL" >&2; exit 1; \
	fi

## import-china: time the national import (665,276 rows) into a scratch SQLite database
import-china:
	cargo build --release -p yishi
	rm -rf $(CARGO_TARGET_DIR)/import-china && mkdir -p $(CARGO_TARGET_DIR)/import-china
	cd $(CARGO_TARGET_DIR)/import-china && YISHI_DEMO_DATA=false \
		DATABASE_URL=sqlite://$(CARGO_TARGET_DIR)/import-china/yishi.db?mode=rwc \
		YISHI_DATA_DIR=$(CARGO_TARGET_DIR)/import-china \
		$(BIN_RELEASE) import-divisions $(CURDIR)/../shared/data/china-divisions-2023.csv.gz

## bench: load benchmark (not part of test): BENCH_SECONDS=10 BENCH_RESIDENTS=100000 for a quick run
bench:
	bench/run.sh

## perf: time to the first topic card on a slow phone (Slow 3G, CPU ×4; not part of test); needs `make frontend`
perf:
	cargo build -p yishi
	cd frontend && npm run perf

clean:
	cargo clean
	rm -rf frontend/dist
