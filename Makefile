# The targets README, CI and people all call.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv lint test test-cluster demo bench broker redis clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "komo-braze needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

broker:
	bash scripts/ensure-broker.sh

redis:
	bash scripts/ensure-redis.sh

test: lint
	bash scripts/ensure-broker.sh --with-server
	bash scripts/ensure-redis.sh --with-server
	bash scripts/ensure-compose.sh
	bash scripts/ensure-prometheus.sh
	bash scripts/ensure-tools.sh
	$(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest ran no tests: that is a failure" >&2; exit 1; fi; exit $$status

# the three-node cluster test alone (make test runs it too), with its ledger and pauses printed
test-cluster: venv
	bash scripts/ensure-broker.sh --with-server
	$(BIN)/pytest -m cluster -rP $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest ran no cluster test: that is a failure" >&2; exit 1; fi; exit $$status

demo: venv broker
	$(BIN)/komo-braze demo $(DEMO_ARGS)

bench: venv broker redis
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache *.egg-info
