# Two commands on a fresh machine: `make run` and `make test`. Everything installs into .venv
# from the lock file; nothing is installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock requirements-dev.lock pyproject.toml | sha1sum | cut -c1-12)
UV_VERSION := 0.13.9

.PHONY: install run test lint lock clean eval eval-language eval-dedupe eval-categorize \
	bench bench-ingest bench-dedupe bench-pipeline

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

## Re-resolve every pinned dependency (after editing pyproject.toml): runtime (the image) and dev
## (tests and CI: the test extra and the semantic extra, so tier 3's encoder is tested).
lock:
	$(BIN)/uv pip compile -q pyproject.toml --python-version 3.11 -o requirements.lock
	$(BIN)/uv pip compile -q pyproject.toml --extra test --extra semantic --python-version 3.11 \
	  -c requirements.lock -o requirements-dev.lock
	$(BIN)/uv pip compile -q pyproject.toml --extra bench --python-version 3.11 \
	  -c requirements.lock -o requirements-bench.lock

## Measured quality (prints tables, writes eval-results/*.json); reads ../shared/corpus in place.
eval: eval-language

eval-language: install
	$(BIN)/python -m wiredesk.evaluation.language

eval-dedupe: install
	$(BIN)/python -m wiredesk.evaluation.dedupe

eval-categorize: install
	$(BIN)/python -m wiredesk.evaluation.categorize

## Measured speed (prints tables, writes bench-results/*.json); loopback traffic only.
bench: bench-ingest bench-dedupe bench-pipeline

bench-ingest: install
	$(BIN)/uv pip install -q -p $(BIN)/python -r requirements-bench.lock
	$(BIN)/python -m wiredesk.bench.ingest $(BENCH_ARGS)

bench-dedupe: install
	$(BIN)/python -m wiredesk.bench.dedupe $(BENCH_ARGS)

## The pipeline three ways: pure stages, process_article in a loop, real Celery workers.
bench-pipeline: install
	$(BIN)/python -m wiredesk.bench.pipeline $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data bench-results eval-results
