# Both targets do all their own setup, so they work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test print-check chaos lint format run bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rasoat chat --demo

# Where PYTHONDONTWRITEBYTECODE is set (CI's machines set it), every process the tests start
# would compile rasoat's ~200 modules again: compile them once first.
COMPILE := $(BIN)/python -m compileall -q -j0 bot bench classification exports forms locales storage tests

# The suite on every core, a test file's tests on one worker (its module fixtures, such as a
# seeded database, are built once); `make test XDIST=` runs it in one process.
XDIST ?= -n auto --dist loadfile

test: $(STAMP)
	$(COMPILE) >/dev/null
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

# The exports as printed: LibreOffice converts a generated workbook and Word report to PDF,
# poppler reads the pages back. Needs soffice, pdfinfo and pdftotext, so it is not in `test`.
print-check: $(STAMP)
	RASOAT_PRINT_CHECK=1 $(BIN)/pytest tests/print $(PYTEST_ARGS)

chaos: $(STAMP)
	$(COMPILE) >/dev/null
	RASOAT_CHAOS=1 $(BIN)/pytest tests/chaos -s $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench all

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
