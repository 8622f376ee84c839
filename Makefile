# pixelmotion: `make run` serves, `make test` passes the tests. Both set up .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Phaser (tests/web/test_phaser.py) and ase-parser (tests/media/test_aseprite.py), pinned in
# tests/web/package.json and package-lock.json; npm ci installs exactly the locked version.
WEB_DEPS := tests/web/node_modules/.installed
# Some shells set it; without bytecode caches every test process compiles src and tests anew.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-fast lint typecheck format bench-clips bench-pipeline bench-events bench-api bench-api-wrk bench-submit-cpu bench-faults bench-chaos bench-load clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

$(WEB_DEPS): tests/web/package.json tests/web/package-lock.json
	cd tests/web && npm ci --no-audit --no-fund
	@touch $(WEB_DEPS)

run: $(STAMP)
	$(BIN)/pixelmotion serve

test: $(STAMP) $(WEB_DEPS)
	@scripts/ensure-postgres.sh
	$(BIN)/python -m pytest -q -n 3 --dist loadfile -m "not alone"
	$(BIN)/python -m pytest -q -m alone

# The fast tier: the domain, the worker's steps (in-memory provider, fake clock, a SQLite file)
# and the media tests; no PostgreSQL, no app server, no browser. Under 60 s (issue 12): one
# process per core, and without the API-schema plugin, which no test here uses.
FAST_TESTS := tests/jobs tests/worker tests/media

test-fast: $(STAMP) $(WEB_DEPS)
	$(BIN)/python -m pytest -q -n 2 -p no:schemathesis $(FAST_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench-clips: $(STAMP)
	$(BIN)/python bench/clips.py

bench-pipeline: bench-clips
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/quality_matrix.py

bench-events: $(STAMP)
	@scripts/ensure-postgres.sh
	$(BIN)/python bench/events.py

bench-api: $(STAMP)
	$(BIN)/python bench/api_latency.py

# Needs wrk (Debian package); the PostgreSQL part of it: $(BIN)/python bench/api_wrk.py --postgres
bench-api-wrk: $(STAMP)
	$(BIN)/python bench/api_wrk.py

bench-submit-cpu: $(STAMP)
	@scripts/ensure-postgres.sh
	$(BIN)/python bench/submit_cpu.py

bench-faults: $(STAMP)
	$(BIN)/python bench/faults.py

# Needs the PostgreSQL server binaries (initdb, pg_ctl): it runs a throwaway cluster it restarts.
bench-chaos: $(STAMP)
	$(BIN)/python bench/chaos.py

bench-load: $(STAMP)
	@scripts/ensure-postgres.sh
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache tests/web/node_modules
