# Two commands for a fresh machine (see README):
#   make demo   install into .venv and run the demo on the embedded data
#   make test   install into .venv (and the system packages the tests need) and run the tests
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
# pytest-xdist workers for `make test` (CI has 2 cores); TEST_WORKERS=0 runs in one process
TEST_WORKERS ?= 2

.PHONY: demo test lint system-deps venv data clean

# ecozone itself (what the demo needs); pip compiles its C module (setup.py)
$(BIN)/.installed-base: pyproject.toml setup.py zoning/check/_segments.c
	PYTHON=$(PYTHON) bash scripts/system-deps.sh build
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[web]"
	touch $@

# plus test tools, the scale-out engines, the benchmark peers and the data builder
$(BIN)/.installed-test: $(BIN)/.installed-base
	$(BIN)/pip install --quiet -e ".[dev,web,scale,bench,build]"
	touch $@

venv: $(BIN)/.installed-base

system-deps:
	bash scripts/system-deps.sh test

demo: $(BIN)/.installed-base
	bash scripts/system-deps.sh demo
	$(BIN)/ecozone demo

test: system-deps $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

data: $(BIN)/.installed-test
	$(BIN)/python data/build_dataset.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
