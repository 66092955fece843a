# The two newcomer commands: `make up` (run Patchbay) and `make test` (run every test).
# Each installs what it needs into a local virtualenv (.venv) first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install up test lint snapshots bench

$(BIN)/patchbay-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/patchbay-installed

# Arguments for `patchbay up`: make up ARGS="--port 8001" (or PORT=8001, or ARGS=--new-token).
ARGS ?=
PORT ?=

up: install
	$(BIN)/patchbay up $(if $(PORT),--port $(PORT)) $(ARGS)

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest $(ARGS)

snapshots: install
	PATCHBAY_UPDATE_SNAPSHOTS=1 $(BIN)/python -m pytest tests -k snapshot
