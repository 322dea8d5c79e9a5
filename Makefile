# Two commands for a fresh machine (see README):
#   make demo   install into .venv and run the demo on the embedded data
#   make test   install into .venv (and the system packages the tests need) and run the tests
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin

.PHONY: demo test lint system-deps venv data clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,web]"
	touch $@

venv: $(BIN)/.installed

system-deps:
	bash scripts/system-deps.sh

demo: system-deps venv
	$(BIN)/ecozone demo

test: system-deps venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

data: venv
	$(BIN)/pip install --quiet -e ".[build]"
	$(BIN)/python data/build_dataset.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
