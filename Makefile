# gameday: `make demo` runs the drill against the local lab, `make test` runs the tests.
# Both create .venv once (with a Python >= 3.12 found by tools/find-python) and install into it.

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
RUNTIME := $(VENV)/.installed-runtime
PYTEST_ARGS ?=
# The suite waits far more than it computes (lab intervals, failovers, drill pauses): it runs
# on three pytest-xdist workers per core (2 cores: 4 workers kept them 79% busy and took 422 s,
# 6 workers 94% and 355 s). tests/scheduling.py keeps a module's lab on one worker, runs the
# shared lab's tests in four blocks and hands out the costliest work first. WORKERS=0 runs
# everything in one process.
WORKERS ?= 6
XDIST   := $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadgroup)
COV     := --cov=gameday --cov-report=term:skip-covered

.PHONY: demo test test-fast lint bench clean install

install: $(STAMP)

# $(call venv_install,REQUIREMENT): create .venv if needed, install into it, touch the target.
define venv_install
	@test -x $(PY) || { python=$$(tools/find-python) && "$$python" -m venv $(VENV); }
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '$(1)'
	@touch $@
endef

$(STAMP): pyproject.toml
	$(call venv_install,.[test])

# The demo needs gameday's runtime only (not the test tools): a fresh clone gets there faster.
$(RUNTIME): pyproject.toml
	$(call venv_install,.)

demo: $(RUNTIME)
	$(VENV)/bin/gameday demo

# The whole suite, lab drills included (what CI runs), with the line coverage of gameday/.
test: $(STAMP)
	$(PY) -m pytest $(XDIST) $(COV) $(PYTEST_ARGS)

# For local iteration: every test that runs in-process (moto, Stubber, the reports, the CLI),
# none that starts a lab (about a minute here). A lab test alone: pytest tests/lab/test_x.py.
test-fast: $(STAMP)
	$(PY) -m pytest $(XDIST) -m 'not slow and not lab' $(PYTEST_ARGS)

# ruff, the formatter, the import contracts (the layers, pyproject.toml) and mypy.
lint: $(STAMP)
	$(VENV)/bin/ruff check gameday tests benchmarks tools
	$(VENV)/bin/ruff format --check gameday tests benchmarks tools
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint examples/reference-stack/*.yaml
	$(VENV)/bin/actionlint examples/ci/*.yml

bench: $(STAMP)
	$(PY) benchmarks/lab.py

clean:
	rm -rf $(VENV) .gameday reports/*/ .pytest_cache .coverage .coverage.*
