# The single entry point. `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt layers/common/requirements.txt pyproject.toml package-lock.json | sha1sum | cut -c1-12)
export PYTHONPATH := $(CURDIR)/layers/common:$(CURDIR)/functions/api:$(CURDIR)/functions/validator:$(CURDIR)/functions/worker:$(CURDIR)/functions/deadletter:$(CURDIR)/functions/sweeper:$(CURDIR)
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: install run test acceptance lint format typecheck cfn-lint unit integration e2e bench mutation build deploy clean

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	# pinned node packages (package-lock.json): the staff page's browser library (tests/unit/test_web_vendor.py checks
	# the shipped copy) and the OpenAPI linter of `make lint`
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install  ## the local stack, seeded; Ctrl-C stops it
	$(PY) -m local.local_stack

# The suite runs the local-stack bulk flow at 1,000 rows (an Argon2id hash per row is the cost); `acceptance` runs it
# alone at the acceptance size of 10,000 rows (issue 3). .ci/run runs the suite once with the 10,000 rows
# (`make test INTAKE_E2E_BULK_ROWS=10000`) rather than the flow twice.
INTAKE_E2E_BULK_ROWS ?= 1000
test: install lint typecheck cfn-lint  ## the whole suite
	INTAKE_E2E_BULK_ROWS=$(INTAKE_E2E_BULK_ROWS) $(BIN)/pytest -n 2 --dist loadfile --cov --cov-report=term

acceptance: install  ## the 10,000-row bulk flow over the local stack
	INTAKE_E2E_BULK_ROWS=10000 $(BIN)/pytest tests/e2e/test_bulk_e2e.py -p no:cacheprovider

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports  # the layering contracts of pyproject.toml [tool.importlinter] (docs/architecture.md)
	$(PY) -m tools.openapi_lint  # Redocly's recommended-strict rules over the served /openapi.json

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

cfn-lint: install
	$(BIN)/cfn-lint template.yaml
	$(PY) -m tools.lint_transformed template.yaml

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

e2e: install
	$(BIN)/pytest tests/e2e

bench: install
	$(PY) -m bench.run

mutation: install  ## mutmut over the core modules against their unit tests (slow: not in `make test`)
	$(PY) -m tools.mutation $(MUTATION_ARGS)  # e.g. MUTATION_ARGS="--max-children 1" on a shared machine
	$(PY) -m tools.named_bugs  # the four bugs of issue 21, each planted in a scratch copy, must fail their tests

build: install  ## needs the AWS SAM CLI (kept out of .venv: it pins its own boto3/pydantic); no Docker, no python3.12
	$(BIN)/pytest tests/unit/test_build.py
	sam build

deploy: build
	sam deploy --guided

clean:
	rm -rf $(VENV) .aws-sam .intake .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .coverage
