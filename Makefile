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

# The demo serves the bundled assignments on fixture data unless real data is configured.
DEMO_DATA := var/data

$(DEMO_DATA)/.made: | $(STAMP)
	$(BIN)/autograder datasets make-fixtures $(DEMO_DATA)
	touch $@

serve: $(STAMP) $(DEMO_DATA)/.made
	AUTOGRADER_DATASETS_DIR=$${AUTOGRADER_DATASETS_DIR:-$(DEMO_DATA)/datasets} \
	AUTOGRADER_HIDDEN_DIR=$${AUTOGRADER_HIDDEN_DIR:-$(DEMO_DATA)/hidden} \
	AUTOGRADER_WEIGHTS_DIR=$${AUTOGRADER_WEIGHTS_DIR:-$(DEMO_DATA)/weights} \
	$(BIN)/autograder serve

lint: $(STAMP)
	$(BIN)/ruff check graders service reference tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -q --durations=20

bench: $(STAMP)
	$(BIN)/python bench/grade_latency.py
	$(BIN)/python bench/model_grading.py

clean:
	rm -rf $(VENV) var
