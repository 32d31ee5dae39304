# reidlab: the two commands of the README.
#   make reproduce   set up .venv if needed, run notebooks 00-08 with papermill, regenerate results/
#   make sweep       the training-length sweep (notebook 09) into results/sweep/
#   make test        set up .venv (test tools too), run unit tests + every notebook under nbval (smoke)
#   make check-results  run the study into runs/check-results/<profile>/ and compare its metrics.json and
#                    claims with the committed results/ within the study's own uncertainty (exit 1 if not)
#   make figures     re-render results/figures and results/tables (PNG + PDF, Markdown + LaTeX) from the stored
#                    data in seconds, no model (reidlab/study/show/figures.py)
#   make docs        regenerate the code-derived part of docs/architecture.md (python -m reidlab.architecture_doc)
# Options: PROFILE=quick|paper|smoke  DATASET=... (results/<dataset>/)  DATA_ROOT=...  MLR=per-image|camera  SEED=0  PRETRAINED=imagenet|synthpeople|scratch|FILE
#          REFERENCE=results (check-results)  ALLOW_DIRTY=1 (regenerate results/ from uncommitted code; recorded in run_info.json)  PYTHON=python3

PYTHON ?= python3
VENV ?= .venv
PROFILE ?= quick
DATASET ?=
DATA_ROOT ?=
MLR ?=
PRETRAINED ?=
SEED ?= 0
REFERENCE ?= results
RESULTS_DIR ?= results
CELL_TIMEOUT ?= 3600
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg
# headless notebook runs: plain-text progress bars (no widget state in executed notebooks)
export REIDLAB_PLAIN_PROGRESS := 1

.PHONY: reproduce sweep test check-results install notebooks-nbval benchmarks lab clean-build docs figures

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	@touch $@

reproduce: install
	$(BIN)/python -m reidlab.study.drive.pipeline reproduce --profile $(PROFILE) --seed $(SEED) \
		$(if $(DATASET),--dataset $(DATASET)) $(if $(DATA_ROOT),--data-root $(DATA_ROOT)) $(if $(PRETRAINED),--pretrained $(PRETRAINED)) \
		$(if $(MLR),--mlr $(MLR)) --cell-timeout $(CELL_TIMEOUT) $(if $(ALLOW_DIRTY),--allow-dirty)

# the training-length sweep (notebook 09) alone, into results/sweep/ (results/<dataset>/sweep/ for an arm): outside
# make reproduce's budget (quick: B-F, the HR-only B-F and B-R at 1, 3, 8 and 30 epochs, 3 seeds each)
sweep: install
	$(BIN)/python -m reidlab.study.drive.pipeline reproduce --sweep --profile $(PROFILE) --seed $(SEED) \
		$(if $(DATASET),--dataset $(DATASET)) $(if $(DATA_ROOT),--data-root $(DATA_ROOT)) $(if $(PRETRAINED),--pretrained $(PRETRAINED)) \
		$(if $(MLR),--mlr $(MLR)) --cell-timeout $(CELL_TIMEOUT) $(if $(ALLOW_DIRTY),--allow-dirty)

# re-render every figure (PNG + PDF) and table (Markdown + LaTeX) of results/ from its stored data
figures: install
	$(BIN)/python -m reidlab.study.drive.pipeline figures --results-dir $(RESULTS_DIR)

check-results: install
	$(BIN)/python -m reidlab.study.drive.pipeline check-results --profile $(PROFILE) --seed $(SEED) \
		--reference $(REFERENCE) --cell-timeout $(CELL_TIMEOUT)

notebooks-nbval: install
	$(BIN)/python -m reidlab.study.drive.pipeline prepare-nbval --out build/nbval

# nbval executes the smoke notebooks first; tests/test_notebook_results.py then reads their results
test: notebooks-nbval
	REIDLAB_SMOKE_BUILD=build/nbval $(BIN)/python -m pytest -p no:cacheprovider -p tests.nbval_outputs build/nbval tests \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=600 -q

benchmarks: install
	$(BIN)/python benchmarks/eval_speed.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/model_speed.py
	$(BIN)/python benchmarks/time_shares.py
	$(BIN)/python benchmarks/extract_speed.py

docs: install
	$(BIN)/python -m reidlab.architecture_doc

lab: install
	$(BIN)/jupyter lab notebooks/

clean-build:
	rm -rf build
