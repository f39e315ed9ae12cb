# mevgraph — two commands: `make demo` and `make test` (each installs what it needs first).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DATA ?= ../shared/data/mainnet/blocks
PYTEST_ARGS ?=

.PHONY: setup demo test bench lint format clean

setup: $(VENV)/.installed node_modules/.installed build/contracts/.built

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Own contracts (contracts/*.sol) compiled with solcjs from npm; output is not committed.
build/contracts/.built: node_modules/.installed contracts/build.mjs $(wildcard contracts/*.sol)
	node contracts/build.mjs
	touch $@

DEMO_OUT ?= out/demo
DEMO_BLOCKS ?= 120
DEMO_PORT ?= 8000
DEMO_SERVE ?=
DEMO_SERVE_BATCH ?= 60

## demo: detect MEV in the real mainnet blocks (or DATA=path) and print a table; run the local
## testbed (a real node with MEV bots) and score detection against its ground truth; store the real
## blocks in the embedded store (no server to install); then start a live testbed chain and serve
## REST + GraphQL on the store while following that chain: its mempool- and block-stage MEV alerts
## are printed as they arrive (in a terminal until Ctrl-C; without one -- CI, a pipe -- for
## DEMO_SERVE_BATCH seconds; DEMO_SERVE=N forces N seconds)
demo: setup
	$(VENV)/bin/mevgraph inspect $(DATA)
	$(VENV)/bin/mevgraph sim run --blocks $(DEMO_BLOCKS) --seed 1 --out $(DEMO_OUT)
	$(VENV)/bin/mevgraph sim score $(DEMO_OUT)
	$(VENV)/bin/mevgraph inspect $(DEMO_OUT)/blocks --format html --out $(DEMO_OUT)/findings.html --no-progress
	@echo "testbed findings as HTML: $(DEMO_OUT)/findings.html"
	rm -rf $(DEMO_OUT)/store $(DEMO_OUT)/live
	$(VENV)/bin/mevgraph ingest --store $(DEMO_OUT)/store $(DATA) --no-progress
	KEY=$$($(VENV)/bin/mevgraph apikey create --store $(DEMO_OUT)/store --scope read --name demo | tail -n 1) || exit 1; \
	  SECS="$(DEMO_SERVE)"; if [ -z "$$SECS" ]; then if [ -t 0 ]; then SECS=0; else SECS=$(DEMO_SERVE_BATCH); fi; fi; \
	  $(VENV)/bin/mevgraph sim serve --seed 2 --block-time 4 --out $(DEMO_OUT)/live > $(DEMO_OUT)/live.log 2>&1 & SIM=$$!; \
	  trap 'kill $$SIM 2>/dev/null; wait $$SIM 2>/dev/null' EXIT; \
	  for i in $$(seq 1 180); do [ -f $(DEMO_OUT)/live/node.json ] && break; kill -0 $$SIM 2>/dev/null || break; sleep 1; done; \
	  [ -f $(DEMO_OUT)/live/node.json ] || { cat $(DEMO_OUT)/live.log; exit 1; }; \
	  RPC=$$($(PY) -c "import json;print(json.load(open('$(DEMO_OUT)/live/node.json'))['rpc'])"); \
	  WS=$$($(PY) -c "import json;print(json.load(open('$(DEMO_OUT)/live/node.json'))['ws'])"); \
	  $(VENV)/bin/mevgraph serve --store $(DEMO_OUT)/store --port $(DEMO_PORT) --show-key "$$KEY" --for-seconds $$SECS \
	    --follow-rpc $$RPC --follow-ws $$WS --bots $(DEMO_OUT)/live/labels.json --chain-profile $(DEMO_OUT)/live/chain.json & SERVE=$$!; \
	  sleep 4; $(VENV)/bin/mevgraph alerts --url ws://127.0.0.1:$(DEMO_PORT)/graphql --key "$$KEY" --for-seconds $$SECS; \
	  wait $$SERVE

## test: lint and types, then the whole suite against real blocks and a real local node
test: setup
	$(VENV)/bin/ruff check src tests benchmarks notebooks
	$(VENV)/bin/ruff format --check src tests benchmarks notebooks
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q -n 2 $(PYTEST_ARGS)

## bench: throughput and the peer comparison report (docs/peer-comparison.md)
bench: setup
	$(PY) benchmarks/inspect_throughput.py
	$(PY) benchmarks/compare_peer.py
	$(PY) benchmarks/sim_throughput.py

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks notebooks
	$(VENV)/bin/ruff format --check src tests benchmarks notebooks
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff check --fix src tests benchmarks notebooks
	$(VENV)/bin/ruff format src tests benchmarks notebooks

clean:
	rm -rf $(VENV) node_modules build .pytest_cache .mypy_cache .ruff_cache
