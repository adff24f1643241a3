# postlog: `make up` runs everything locally, `make test` is what CI runs (.ci/run).
# Both bootstrap their own tools on a fresh clone: .tools (a venv holding a pinned uv) and .venv
# (the project and its locked dependencies, `uv sync --frozen`).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help env up test lint system-deps bench-deps bench clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

env: $(UV) ## create or update .venv from uv.lock
	$(UV) sync --frozen --quiet --compile-bytecode --python $(PYTHON)
	@# bytecode for our own modules too: every service process of the e2e tests imports them
	@# afresh, and PYTHONDONTWRITEBYTECODE (set on some machines) would compile them each time
	@$(BIN)/python -m compileall -q kernel events projections readmodels gotemplate services postlog >/dev/null

up: env ## run postlog on :9000 (embedded PostgreSQL and NATS unless POSTLOG_*_URL are set)
	$(BIN)/postlog up

lint: env ## ruff, mypy --strict and the import contracts (layers point one way)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

system-deps: ## install nginx (the e2e tests' gateway) when missing and we may
	@if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then \
		exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing nginx for the e2e tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && \
		{ apt-get install -y -qq nginx-light || apt-get install -y -qq nginx; }; \
	else \
		echo "nginx is missing and cannot be installed here: the e2e tests will be skipped"; \
	fi

test: env system-deps lint ## lint, then the whole test suite
	$(BIN)/pytest

bench-deps: ## install wrk and postfix's smtp-sink/smtp-source (never starts the postfix daemon)
	@if command -v wrk >/dev/null 2>&1 && [ -x /usr/sbin/smtp-sink ]; then \
		exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk postfix; \
	else \
		echo "install wrk and postfix (for smtp-sink) to run every benchmark"; \
	fi

bench: env bench-deps ## run every benchmark in bench/
	@set -e; for file in bench/*.py; do \
		name=$$(basename $$file .py); \
		case $$name in _*|common) continue;; esac; \
		echo "== bench/$$name.py"; \
		$(BIN)/python -m bench.$$name; \
	done

clean: ## remove caches and test leftovers (keeps .venv and the data in .postlog/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .postlog-test bench/results dist build
	find . -path ./.venv -prune -o -path ./.tools -prune -o -name __pycache__ -type d -print \
		| xargs rm -rf

distclean: clean ## also remove .venv and .tools (still keeps .postlog/)
	rm -rf $(VENV) $(TOOLS)
