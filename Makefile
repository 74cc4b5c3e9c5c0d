# soekpi: the set-up commands of the README.  Everything runs inside .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo

.PHONY: venv demo test lint bench docs clean spark-deps

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

test: venv spark-deps
	$(BIN)/python -m pytest

# The Spark tests (marker 'spark') need pyspark + pyarrow and Java 17+: the extra is
# installed once when java is on PATH; without it those tests skip with the reason.
SPARK_STAMP := $(VENV)/.spark-installed
spark-deps: venv
	@if [ -f $(SPARK_STAMP) ] || ! command -v java >/dev/null 2>&1; then :; else \
	  $(BIN)/python -m pip install --quiet -e '.[spark]' && touch $(SPARK_STAMP); fi

lint: venv
	$(BIN)/ruff check soekpi tests benchmarks
	$(BIN)/ruff format --check soekpi tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: venv
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

docs: venv
	$(BIN)/soekpi catalogue-docs --out docs/catalogue.md

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
