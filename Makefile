# soekpi: the set-up commands of the README.  Everything runs inside .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo

.PHONY: venv demo test lint bench docs clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: venv
	rm -rf $(DEMO)
	$(BIN)/soekpi init $(DEMO) --demo
	@echo "The demo report: $$($(BIN)/soekpi -w $(DEMO) report --cycle latest --force)/report.html"

test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check soekpi tests benchmarks
	$(BIN)/ruff format --check soekpi tests benchmarks
	$(BIN)/mypy

bench: venv
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

docs: venv
	$(BIN)/soekpi catalogue-docs --out docs/catalogue.md

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
