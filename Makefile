# The grading environment is the project's own venv. It is built from Debian's
# /usr/bin/python3 when present: an interpreter under /root (pyenv) cannot be
# executed by the unprivileged sandbox user.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install sandbox-check serve test test-all record rescore-recordings lint bench clean

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

# Student code runs only inside bubblewrap: say how to get it before starting anything.
sandbox-check:
	@command -v bwrap >/dev/null 2>&1 || test "$$AUTOGRADER_UNSAFE_NO_SANDBOX" = true || { \
	  echo "bubblewrap (bwrap) is not installed: student code runs only inside it."; \
	  echo "Install it with: sudo apt-get install bubblewrap   (Fedora: dnf install bubblewrap)"; \
	  exit 1; }

serve: sandbox-check $(STAMP) $(DEMO_DATA)/.made
	AUTOGRADER_DATASETS_DIR=$${AUTOGRADER_DATASETS_DIR:-$(DEMO_DATA)/datasets} \
	AUTOGRADER_HIDDEN_DIR=$${AUTOGRADER_HIDDEN_DIR:-$(DEMO_DATA)/hidden} \
	AUTOGRADER_WEIGHTS_DIR=$${AUTOGRADER_WEIGHTS_DIR:-$(DEMO_DATA)/weights} \
	$(BIN)/autograder serve

lint: $(STAMP)
	$(BIN)/ruff check graders service reference tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# The suite CI runs: hand-ins that train networks are scored from recorded evidence
# (tests/recordings); every check kind and every assignment still runs in the sandbox.
# Two pytest-xdist workers, a test file each at a time: the suite mostly waits on sandboxes
# and servers (one worker kept 0.9 of 2 cores busy); each worker grades as a sandbox user
# of its own (tests/conftest.py). As an ordinary user the sandbox runs as that user, whose
# process limit a fork-bomb test would then share with the other worker's kernels: one
# process there. TEST_WORKERS=0 runs it in one process anywhere.
TEST_WORKERS ?= $(shell [ "$$(id -u)" = 0 ] && echo 2 || echo 0)
test: lint
	$(BIN)/python -m pytest -q --durations=20 -m "not live" -n $(TEST_WORKERS) --dist loadfile

# Everything, live: every fixture hand-in trains again through the sandbox (about 45 min).
# One process: on two workers each would calibrate every reference again (not yet tried).
test-all: lint
	AUTOGRADER_TESTS_LIVE=1 $(BIN)/python -m pytest -q --durations=20

# Re-record the evidence the scorer tests replay; run after changing the kernel side.
record: $(STAMP)
	$(BIN)/python -m tests.record $(ASSIGNMENTS)

# the recorded evidence scored again by the current scorers (nothing runs)
rescore-recordings: $(STAMP)
	$(BIN)/python -m tests.record --rescore $(ASSIGNMENTS)

bench: $(STAMP)
	$(BIN)/python bench/grade_latency.py
	$(BIN)/python bench/model_grading.py

clean:
	rm -rf $(VENV) var
