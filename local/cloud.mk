# The embedded local cloud: LocalStack in host mode (no Docker) with the project's
# no-Docker Lambda executor. Included by the top Makefile. See local/README.md.
#
#   make localstack-up       start LocalStack on 127.0.0.1:4566 (no-op if ours is up)
#   make localstack-down     stop exactly what localstack-up started
#   make localstack-status   print pid, health and running services
#   make localstack-venv     (re)build .venv-localstack + the executor plugin
#   make lambda-runtimes     build the runtime interpreters (.venv-lambda-python3.12)
#   make test-integration    integration tests against LocalStack (starts/stops it)

PYTHON313 ?= $(shell scripts/find-python 3.13 2>/dev/null)
LS_VENV := .venv-localstack
LS_PY := $(LS_VENV)/bin/python
LS_REQ := local/localstack/requirements.txt local/localstack/constraints.txt
EXECUTOR_SRC := local/executor/pyproject.toml $(wildcard local/executor/src/localstack_nodocker/*.py)
LAMBDA_RUNTIMES := python3.12
# cloudctl is stdlib-only: any python runs it, the project venv is not needed.
CLOUDCTL := python3 local/cloudctl.py

.PHONY: localstack-venv lambda-runtimes localstack-up localstack-down localstack-status test-integration

$(LS_VENV)/.installed: $(LS_REQ)
	@test -n "$(PYTHON313)" || scripts/find-python 3.13 >/dev/null
	@test -x $(LS_PY) || { echo "==> creating $(LS_VENV) (Python 3.13)"; "$(PYTHON313)" -m venv $(LS_VENV); }
	@echo "==> installing localstack-core 2026.3.0 with pinned dependencies into $(LS_VENV)"
	@$(LS_PY) -m pip install $(PIP_FLAGS) -r local/localstack/requirements.txt 2>&1 | grep -v "is ignored" ; test $${PIPESTATUS[0]} -eq 0
	@touch $@

# Non-editable on purpose: plux (LocalStack's plugin loader) breaks on the setuptools
# editable hook. Reinstalled whenever a source file of the executor changes.
$(LS_VENV)/.executor-installed: $(LS_VENV)/.installed $(EXECUTOR_SRC)
	@echo "==> installing the nodocker Lambda executor into $(LS_VENV)"
	@$(LS_PY) -m pip install $(PIP_FLAGS) --no-deps --force-reinstall ./local/executor 2>&1 | grep -v "is ignored" ; test $${PIPESTATUS[0]} -eq 0
	@rm -rf local/executor/build local/executor/src/*.egg-info
	@touch $@

localstack-venv: $(LS_VENV)/.executor-installed ## build LocalStack's venv (.venv-localstack) with the executor

.venv-lambda-python3.12/.installed: local/runtimes/python3.12.txt | check-python
	@test -x .venv-lambda-python3.12/bin/python || { echo "==> creating .venv-lambda-python3.12 (the python3.12 Lambda runtime)"; "$(PYTHON312)" -m venv .venv-lambda-python3.12; }
	@echo "==> installing the Lambda python3.12 image packages (boto3) into .venv-lambda-python3.12"
	@.venv-lambda-python3.12/bin/python -m pip install $(PIP_FLAGS) -r local/runtimes/python3.12.txt 2>&1 | grep -v "is ignored" ; test $${PIPESTATUS[0]} -eq 0
	@touch $@

lambda-runtimes: $(foreach r,$(LAMBDA_RUNTIMES),.venv-lambda-$(r)/.installed) ## build the Lambda runtime interpreters

lambda-runtime-%: .venv-lambda-%/.installed
	@true

localstack-up: localstack-venv lambda-runtimes ## start LocalStack (host mode, 127.0.0.1:4566, no Docker)
	@$(CLOUDCTL) up

localstack-down: ## stop LocalStack and every process it started
	@$(CLOUDCTL) down

localstack-status: ## show whether LocalStack is up and healthy
	@$(CLOUDCTL) status || true

test-integration: venv localstack-venv lambda-runtimes ## integration tests on LocalStack (starts and stops it)
	$(PY) -m pytest tests/integration
