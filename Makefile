# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export OPENBLAS_NUM_THREADS := 1

.PHONY: run test install lint typecheck bench bench-pg migration screenshots clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## set up, migrate, load demo data (once), serve on http://127.0.0.1:8000
	$(VENV)/bin/plaza migrate
	$(VENV)/bin/plaza demo
	$(VENV)/bin/plaza serve --host 127.0.0.1 --port 8000

test: $(STAMP)  ## set up and run the whole suite (PLAZA_TEST_DATABASE_URL picks PostgreSQL)
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not slow"

screenshots: $(STAMP)  ## retake docs/screenshots: the browser flows at device scale 1
	rm -rf test-artifacts/screenshots
	PLAZA_E2E_ARTIFACTS=$(CURDIR)/test-artifacts/screenshots PLAZA_E2E_DEVICE_SCALE=1 \
		PLAZA_E2E_FULL_PAGE=0 $(PY) -m pytest -q -n 2 --dist loadfile tests/e2e || true
	$(PY) -m tests.e2e.screenshots test-artifacts/screenshots docs/screenshots

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)  ## load benchmarks on SQLite (see docs/benchmarks.md)
	$(PY) bench/load.py --db sqlite

bench-pg: $(STAMP)  ## the same against PostgreSQL at $$PLAZA_BENCH_PG_URL
	$(PY) bench/load.py --db postgresql

migration: $(STAMP)  ## regenerate the initial migration from the models (pre-release only)
	$(PY) -c "from plaza.migrate import regenerate_initial as r; print(r())"
	$(VENV)/bin/ruff format -q src/plaza/migrations/versions
	$(VENV)/bin/ruff check -q --fix src/plaza/migrations/versions || true

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
