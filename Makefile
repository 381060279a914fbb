# Two entry points (see README): `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is pinned here only for the install; the package accepts any torch>=2.2,<3.
TORCH ?= torch==2.13.0
PROFILE ?= quick
NOTEBOOKS ?=
# notebooks at a time: auto = all at once on a GPU machine, one per core on CPU
JOBS ?= auto
# Data: NTKLIB_DATA from the environment, else ../shared/data when it exists (this project's
# workspace and CI), else the loader's cache / torchvision download (see docs/running.md, "Data").
NTKLIB_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export NTKLIB_DATA

.PHONY: help setup run test smoke refresh lab clean

help:  ## list the targets (a bare `make` prints this instead of installing anything)
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z]+):.*## /  make \1\t/' | expand -t 16

$(VENV)/.done: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[test]"
	touch $@

setup: $(VENV)/.done  ## create .venv with torch and the package (what run and test do first)

run: setup  ## execute the notebooks with PROFILE (quick | reduced | paper), writing figures and results (07: its readings grid too)
	$(PY) -m ntklib --profile $(PROFILE) --jobs $(JOBS) $(NOTEBOOKS)

# make smoke leaves out the readings grid (07: its cells are the study notebooks again, under other
# readings); NOTEBOOKS=07 runs the paper grid's cells at 1 epoch
SMOKE_NOTEBOOKS = $(or $(NOTEBOOKS),$(filter-out 07_readings,$(basename $(notdir $(wildcard notebooks/[0-9]*.py)))))

smoke: setup  ## paper parameters at 1 epoch into build/smoke: every paper-scale code path on CPU (over an hour on 2 cores: at paper size the attacks dominate, 04 alone 11 min)
	NTKLIB_OUTPUT=build/smoke NTKLIB_RESULT_CACHE=build/smoke/cache $(PY) -m ntklib --profile paper \
		--set epochs=1 $(SMOKE_NOTEBOOKS)

test: setup  ## unit tests, pair sync, environment check, nbval over the committed notebooks
	NTKLIB_PROGRESS=0 MPLBACKEND=agg $(PY) -m pytest tests
	# env -u MPLBACKEND: the kernels draw figures inline, as the committed outputs were made (runner)
	env -u MPLBACKEND NTKLIB_PROGRESS=0 NTKLIB_RECOMPUTE=1 $(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks

refresh: setup  ## re-execute notebooks/*.ipynb in place (after editing a .py), for committing
	$(PY) -m ntklib --refresh-committed $(NOTEBOOKS)

lab: setup  ## JupyterLab on notebooks/
	$(VENV)/bin/jupyter lab notebooks

clean:  ## remove build/ (quick outputs, the result cache, logs)
	rm -rf build
