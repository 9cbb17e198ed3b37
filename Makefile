# The two commands a new user needs: `make run` (the bot on the embedded default: SQLite and the
# local chat in this terminal) and `make test` (the whole suite). Both create .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint venv clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/shanzhi run

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The layers import one way (contracts in pyproject.toml: [tool.importlinter]); ruff and mypy clean.
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot services storage schedules classifiers benchmarks core

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm
