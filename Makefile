# diahil: two commands from a fresh clone, with only Python 3.11+ and make.
#   make demo   create .venv, install, run the end-to-end demo
#   make test   create .venv, install, run ruff, mypy and the whole pytest suite

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench fuzz install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "make: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,dev,fuzz]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/diahil demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# Coverage-guided fuzzing of the uploader's parsers (atheris), FUZZ_SECONDS per target;
# corpus in .fuzz/corpus/<target>, crash inputs in .fuzz/crashes/<target>.
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/python -m bench.fuzz --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info .fuzz
