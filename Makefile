# Two commands on a fresh machine: `make run` and `make test`. Everything installs into .venv
# from the lock file; nothing is installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock requirements-dev.lock pyproject.toml | sha1sum | cut -c1-12)
UV_VERSION := 0.13.9

.PHONY: install run test lint lock bench eval clean

install: $(STAMP)

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip install -q -p $(BIN)/python -r requirements-dev.lock
	$(BIN)/uv pip install -q -p $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

## Start the whole pipeline locally (embedded Valkey + SQLite + bundled sample feeds by default).
run: install
	WIREDESK_SAMPLE_FEEDS=$${WIREDESK_SAMPLE_FEEDS:-1} $(BIN)/wiredesk run

## The whole test suite (real Redis/PostgreSQL when they answer, else embedded Valkey/SQLite).
test: install lint
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests

## Re-resolve every pinned dependency (after editing pyproject.toml): runtime (the image) and dev.
lock:
	$(BIN)/uv pip compile -q pyproject.toml --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile -q pyproject.toml --extra test --python-version 3.11 \
	  -c requirements.lock -o requirements-dev.lock

clean:
	rm -rf $(VENV) data bench-results eval-results
