# Carereach: the one entry point. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO_ENV := var/demo.env
# Fixed, non-secret keys for lint and type checks (mypy imports the settings module).
CHECK_ENV := CARE_SECRET_KEY=check-only-secret-key-xxxxxxxxxxxxxxxxxxxx \
	CARE_FIELD_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=

# `make test` leaves out suites marked slow; CI runs everything (PYTEST_MARK=).
PYTEST_MARK ?= not slow
# Two workers: the machines here have two cores.
PYTEST_WORKERS ?= 2

.PHONY: demo test test-all test-fast lint typecheck bench install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Carereach needs Python 3.11 or newer; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

$(DEMO_ENV):
	@mkdir -p var
	@$(PYTHON) -c 'import base64, secrets; print("CARE_SECRET_KEY=" + secrets.token_urlsafe(48)); print("CARE_FIELD_KEYS=" + base64.b64encode(secrets.token_bytes(32)).decode())' > $@
	@echo "wrote $@ (demo keys; keep it to read the demo database again)"

demo: $(STAMP) $(DEMO_ENV)
	@set -a && . ./$(DEMO_ENV) && set +a && exec $(BIN)/carereach demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(CHECK_ENV) $(BIN)/mypy

test: lint typecheck
	@mkdir -p var
	$(CHECK_ENV) $(BIN)/python -m django makemigrations --check --dry-run --settings=carereach.settings >/dev/null
	$(BIN)/pytest -m "$(PYTEST_MARK)" -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-all:
	$(MAKE) test PYTEST_MARK=

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow and not browser" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var/static .pytest_cache .mypy_cache .ruff_cache
