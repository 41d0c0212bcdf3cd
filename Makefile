# The grading environment is the project's own venv. It is built from Debian's
# /usr/bin/python3 when present: an interpreter under /root (pyenv) cannot be
# executed by the unprivileged sandbox user.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/autograder serve

lint: $(STAMP)
	$(BIN)/ruff check graders service reference tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/grade_latency.py

clean:
	rm -rf $(VENV) var
