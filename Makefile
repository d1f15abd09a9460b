# Two commands on a fresh machine: `make run` (install, index, server: UI at /, API at /v1) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install index run test lint eval bench cache clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

index: install
	$(VENV)/bin/policy-qa index

run: index
	$(VENV)/bin/policy-qa serve

lint: install
	$(VENV)/bin/ruff check assistant eval tests ui.py

# One pytest-xdist worker per core; tests that share a server or a module's fixture stay together (tests/conftest.py).
test: install lint
	$(VENV)/bin/pytest -q -ra -n 2 --dist loadgroup

eval: install
	$(PY) -m eval run --questions eval/questions.jsonl --compare hybrid,vector,bm25

bench: install
	$(PY) -m eval bench

# Refresh the vectors shipped with the default corpus (after changing chunking or the corpus).
cache: index
	$(VENV)/bin/policy-qa export-cache

clean:
	rm -rf .policy_qa eval/reports tests/artifacts
