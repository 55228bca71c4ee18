# Entry points of the benchmark. `make help` lists them.
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

CODECS ?= jpeg
DATASET ?= kodak
RESULTS ?= results
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
REPEATS ?= 1
# Offline: point at a local Kodak copy (verified against the built-in hashes).
KODAK_DIR ?=
KODAK_FLAG := $(if $(KODAK_DIR),--kodak-dir $(KODAK_DIR),)

.PHONY: help install bench summary test clean-venv

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  variables: CODECS=$(CODECS) DATASET=$(DATASET) KODAK_DIR=<local Kodak copy> JOBS=$(JOBS) REPEATS=$(REPEATS)"

$(STAMP): requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

install: $(STAMP)  ## create .venv with the pinned dependencies

bench: $(STAMP)  ## benchmark CODECS on DATASET (resumes; results/<dataset>/rows.csv)
	$(PY) -m bench run --dataset $(DATASET) --codecs $(CODECS) --jobs $(JOBS) --repeats $(REPEATS) \
		--results $(RESULTS) $(KODAK_FLAG)

summary: $(STAMP)  ## print the averages of the stored results
	$(PY) -m bench summary --results $(RESULTS) --dataset $(DATASET)

test: $(STAMP)  ## run the test suite
	$(PY) -m pytest -q tests

clean-venv:  ## remove the virtual environment
	rm -rf $(VENV)
