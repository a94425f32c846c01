# modelobs: every target creates what it needs. Start with `make help`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12 everywhere (Lambda python3.12 runs on AL2023, where ai-edge-litert
# and numpy>=2.3 load; python3.11 runs on AL2 and they do not).
PYTHON312 ?= $(shell scripts/find-python 3.12 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
# The package index mirrors on this machine print a warning per package; keep pip quiet.
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: help venv test unit lint clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

check-python:
	@test -n "$(PYTHON312)" || scripts/find-python 3.12 >/dev/null

$(VENV)/.installed: pyproject.toml | check-python
	@test -x $(PY) || "$(PYTHON312)" -m venv $(VENV)
	@echo "==> installing modelobs with test extras into $(VENV)"
	@$(PY) -m pip install $(PIP_FLAGS) --upgrade pip 2>&1 | grep -v "is ignored" || true
	@$(PY) -m pip install $(PIP_FLAGS) -e '.[test]' 2>&1 | grep -v "is ignored" ; test $${PIPESTATUS[0]} -eq 0
	@touch $@

venv: $(VENV)/.installed ## create .venv (Python 3.12) with the project and its test extras

test: venv ## run the whole test suite
	$(PY) -m pytest

clean: ## remove virtualenvs and build output
	rm -rf $(VENV) .venv-* .aws-sam build *.egg-info

# Each area keeps its own targets beside its code.
-include model_build/build.mk
-include local/cloud.mk
