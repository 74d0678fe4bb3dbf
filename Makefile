# Two commands matter: `make run` and `make test`. Both build .venv from requirements.lock when it
# is missing or older than the pins.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint proto proto-check bench reliability venv clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check pip==25.3
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	@touch $@

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/depot up

test: $(STAMP)
	$(BIN)/pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

proto: $(STAMP)
	$(BIN)/python -m cli.protos generate

proto-check: $(STAMP)
	$(BIN)/python -m cli.protos check
	cd protos && ../$(BIN)/buf lint

bench: $(STAMP)
	$(BIN)/python -m bench

# The long reliability suites (about 30 minutes on two cores); stopped after RELIABILITY_MINUTES.
RELIABILITY_MINUTES ?= 60
reliability: $(STAMP)
	timeout --signal=INT --kill-after=60 $$(( $(RELIABILITY_MINUTES) * 60 )) $(BIN)/pytest -q tests/reliability --long

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
