# Entry points of the benchmark. `make help` lists them.
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The study's models and anchors, from bench/study.py (the one place that names them).
LEARNED := $(shell $(PYTHON) -m bench.study learned)
ANCHORS := $(shell $(PYTHON) -m bench.study anchors)
CODECS ?= jpeg,$(ANCHORS),$(LEARNED)
DATASET ?= kodak
RESULTS ?= results
REPORTS ?= reports
# make report into committed reports from a tree with uncommitted changes (empty: refused; 1: stamped pages).
ALLOW_DIRTY ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
# Timed values per row (empty: by duration, the default; N: N single calls for every row).
REPEATS ?=
# A quick look: only some images (a count, spread over both orientations, or a glob of file names).
IMAGES ?=
# plug-in metrics beside PSNR and MS-SSIM (a list or a set: METRICS=jpeg-ai); rate targets in bpp (TARGETS=0.06,0.12,0.25,0.5,0.75)
METRICS ?=
TARGETS ?=
ANCHOR ?= $(shell $(PYTHON) -m bench.study anchor)
# Offline: a local Kodak copy (verified against the built-in hashes), a zoo mirror, your checkpoints.
KODAK_DIR ?=
WEIGHTS_MIRROR ?=
CHECKPOINTS ?=
# Training (bench.learned.train): data folder (Vimeo-90k septuplets or any image folder), config, output.
TRAIN_DATA ?=
TRAIN_CONFIG ?=
TRAIN_ARCH ?=
TRAIN_OUT ?= runs/train
TRAIN_ARGS ?=

COMPLEXITY_IMAGES ?= 4
COMPLEXITY_REPEATS ?= 3
# Test worker processes (pytest-xdist); 0 runs the suite in the make process itself.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)

ROWS := $(RESULTS)/$(DATASET)/rows.csv
SOURCES := $(wildcard bench/*.py bench/*/*.py bench/*/*/*.py codecs/*.py)
# Where images and weights come from, for every command that encodes (bench, visual, complexity).
INPUT_FLAGS := $(if $(KODAK_DIR),--kodak-dir $(KODAK_DIR),) \
	$(if $(WEIGHTS_MIRROR),--weights-mirror $(WEIGHTS_MIRROR),) \
	$(if $(CHECKPOINTS),--checkpoint-dir $(CHECKPOINTS),)
RUN_FLAGS := --dataset $(DATASET) --results $(RESULTS) $(INPUT_FLAGS)
REPORT_FLAGS := --results $(RESULTS) --dataset $(DATASET) --reports $(REPORTS) --anchor $(ANCHOR) --pairs

.PHONY: help install bench summary bd-rate complexity report visual export train train-small test clean-venv

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  variables: CODECS=$(CODECS) DATASET=$(DATASET) JOBS=$(JOBS) REPEATS=$(REPEATS) ANCHOR=$(ANCHOR)"
	@echo "             KODAK_DIR=<local Kodak copy> WEIGHTS_MIRROR=<dir|url> CHECKPOINTS=<dir of .pth exports>"
	@echo "             IMAGES=<N, or a glob of file names: measure only those images>"
	@echo "             ALLOW_DIRTY=1 (make report: rewrite committed reports from a dirty tree, stamped)"
	@echo "  make report rebuilds what changed; not make -B report, which also measures the rows and complexity again"

$(STAMP): requirements.txt requirements-test.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-test.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP)  ## create .venv with the pinned dependencies and lic-bench (pip install -e .)

bench: $(STAMP)  ## benchmark CODECS on DATASET (resumes; writes results/<dataset>/)
	$(PY) -m bench run --codecs $(CODECS) --jobs $(JOBS) $(if $(REPEATS),--repeats $(REPEATS),) $(RUN_FLAGS) \
		$(if $(IMAGES),--images '$(IMAGES)',) $(if $(METRICS),--metrics $(METRICS),) $(if $(TARGETS),--targets $(TARGETS),)

$(ROWS): | $(STAMP)
	$(MAKE) bench

summary: $(STAMP)  ## print the averages of the stored results
	$(PY) -m bench summary --results $(RESULTS) --dataset $(DATASET)

bd-rate: $(REPORTS)/bd-rate.md $(REPORTS)/vs-heic/bd-rate.md  ## BD-rate and BD-PSNR vs ANCHOR (and vs HEIC) with 95% CIs

$(REPORTS)/bd-rate.md: $(ROWS) $(SOURCES) | $(STAMP)
	$(PY) -m bench bd-rate $(REPORT_FLAGS) > /dev/null

$(REPORTS)/vs-heic/bd-rate.md: $(ROWS) $(SOURCES) | $(STAMP)
	$(PY) -m bench bd-rate --results $(RESULTS) --dataset $(DATASET) --reports $(REPORTS)/vs-heic \
		--anchor heic --method cubic > /dev/null
	rm -f $(REPORTS)/vs-heic/bd-rate-study.csv

visual: $(REPORTS)/visual-kodim19.png  ## kodim19 crop decoded by each codec near 0.25 bpp

# Built when missing; `make -B visual` encodes again. `make report` only reads the PNG.
$(REPORTS)/visual-kodim19.png: | $(STAMP)
	$(PY) -m bench visual --codecs $(CODECS) --reports $(REPORTS) $(INPUT_FLAGS)

complexity: $(REPORTS)/complexity.md  ## params, MACs, time, peak memory per learned model and λ

# Built when missing (it times every model: minutes); `make -B complexity` measures again.
$(REPORTS)/complexity.md: | $(STAMP)
	$(PY) -m bench complexity --results $(RESULTS) --reports $(REPORTS) --images $(COMPLEXITY_IMAGES) \
		--repeats $(COMPLEXITY_REPEATS) $(INPUT_FLAGS)

report: $(REPORTS)/REPORT.md  ## regenerate reports/REPORT.md from stored results (no encoding)

$(REPORTS)/REPORT.md: $(ROWS) $(SOURCES) $(wildcard $(REPORTS)/complexity.md $(REPORTS)/visual-*.png) | $(STAMP)
	$(PY) -m bench report $(REPORT_FLAGS) $(if $(ALLOW_DIRTY),--allow-dirty,)

export: $(STAMP)  ## mean curves in CompressAI's JSON format (results/<dataset>/compressai/)
	$(PY) -m bench export --results $(RESULTS) --dataset $(DATASET)

train: $(STAMP)  ## the reference recipe: pre-train at λ=0.0483, fine-tune each λ (resumes); exports in TRAIN_OUT/exports
	$(PY) -m bench.learned.train run --out $(TRAIN_OUT) $(if $(TRAIN_DATA),--train $(TRAIN_DATA),) \
		$(if $(TRAIN_CONFIG),--config $(TRAIN_CONFIG),) $(if $(TRAIN_ARCH),--arch $(TRAIN_ARCH),) $(TRAIN_ARGS)

train-small: $(STAMP)  ## the recipe shrunk to a few CPU minutes on ../shared/data/bsds500
	$(PY) -m bench.learned.train run --config configs/train-small-cpu.json

test: $(STAMP)  ## run the test suite
	$(PY) -m pytest -q -rs -n $(TEST_JOBS) $(if $(filter-out 0,$(TEST_JOBS)),--dist worksteal,) tests

clean-venv:  ## remove the virtual environment
	rm -rf $(VENV)
