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

.PHONY: help venv test unit lint clean venv-sam build up down demo deploy

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

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

lint: venv ## ruff (pyflakes + import order) over the code, cfn-lint over the SAM template
	$(VENV)/bin/ruff check layers/modelobs/python functions local/*.py local/labelbox_emulator local/observe_collector model_build bench tests events
	$(VENV)/bin/cfn-lint template.yaml

# --- the local cloud: LocalStack (local/cloud.mk) + the SAM stack --------------------------

.venv-sam/.installed: local/requirements-sam.txt | check-python
	@test -x .venv-sam/bin/python || "$(PYTHON312)" -m venv .venv-sam
	@echo "==> installing the SAM CLI into .venv-sam"
	@.venv-sam/bin/python -m pip install $(PIP_FLAGS) -r local/requirements-sam.txt 2>&1 | grep -v "is ignored" ; test $${PIPESTATUS[0]} -eq 0
	@touch $@

venv-sam: .venv-sam/.installed ## create .venv-sam with the SAM CLI

build: venv-sam ## sam build: the three layers (trimmed, smoke-tested) and the functions
	PATH="$$(dirname $(PYTHON312)):$$PATH" .venv-sam/bin/sam build

deploy: venv venv-sam ## (re)deploy the stack to the running local cloud; last line: API: <url>
	$(PY) local/stack.py deploy

up: venv localstack-venv lambda-runtimes ## start the local cloud and deploy the stack (idempotent)
	$(PY) local/services.py up
	@$(MAKE) --no-print-directory deploy

down: ## stop everything `make up` started (LocalStack and the emulators)
	$(PY) local/services.py down

demo: venv venv-sam localstack-venv lambda-runtimes ## run the demo on the local cloud (starts and stops it)
	$(PY) local/demo.py

clean: ## remove virtualenvs and build output
	rm -rf $(VENV) .venv-* .aws-sam build *.egg-info

# Each area keeps its own targets beside its code.
-include model_build/build.mk
-include local/cloud.mk
-include local/observe.mk
-include local/labelbox.mk
