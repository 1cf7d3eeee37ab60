# Postroom: `make run` starts a server on SQLite, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

export POSTROOM_DATA_DIR ?= ./data

.PHONY: run test lint typecheck migrations-check pytest install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/postroom db upgrade
	$(BIN)/postroom serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

migrations-check: $(STAMP)
	$(BIN)/python -m tests.migrations_check

# Two test processes, each taking whole files: most tests wait on I/O, and the suite must stay
# under 10 minutes on 2 cores. The benchmark smoke tests need smtp-sink, smtp-source and wrk:
# bench/tools.sh installs them when it can (as root), and they are skipped without them.
pytest: $(STAMP)
	-bash bench/tools.sh
	$(BIN)/pytest -n 2 --dist loadfile

test: lint typecheck migrations-check pytest

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache

# Every benchmark on SQLite and PostgreSQL, beside its ceiling or peer, into
# bench/results/latest.md; see bench/README.md. Installs smtp-sink, smtp-source and wrk
# (Debian packages) and the peer's own virtual environment when they are missing.
.PHONY: bench bench-tools
bench-tools:
	bash bench/tools.sh
	PYTHON=$(PYTHON) bash bench/peer/setup.sh

bench: $(STAMP) bench-tools
	$(BIN)/python bench/delivery.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/lateness.py
	$(BIN)/python bench/report.py

# Property-based fuzzing of /openapi.json and Close's description with 200 random calls per
# operation (make test runs 6, derandomized); 30-60 minutes. See tests/fuzz/harness.py.
.PHONY: fuzz
fuzz: $(STAMP)
	POSTROOM_FUZZ_EXAMPLES=$${POSTROOM_FUZZ_EXAMPLES:-200} POSTROOM_FUZZ_RANDOM=1 \
		$(BIN)/pytest -n 2 --dist loadfile tests/fuzz -p no:cacheprovider

# Where the CPU goes: py-spy profiles of the worker and the server under the benchmarks' load,
# summarised by library into bench/results/profiles.md; see bench/profiles.py.
.PHONY: profile
profile: $(STAMP) bench-tools
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python bench/profiles.py

# 4x the sustainable request rate against a real server; see bench/overload.py.
.PHONY: overload
overload: $(STAMP) bench-tools
	$(BIN)/python bench/overload.py

# SIGKILL a real server 20 times while emails are created, then check that no email was lost
# or sent twice; CRASH_ARGS="--database postgres" for PostgreSQL, and "--workers 2
# --pause-share 0.3 --cancel-share 0.3 --temporary-share 0.1 --drop-share 0.02
# --terminate-every 0.5" for killed and paused workers, cancels, SMTP faults and terminated
# PostgreSQL connections too. See tests/crash/crash_test.py.
.PHONY: crash-test
crash-test: $(STAMP)
	$(BIN)/python -m tests.crash.crash_test --kills 20 $(CRASH_ARGS)
