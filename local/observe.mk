# The local Observe collector (an emulator of Observe's HTTP ingest API).
# Included by the top Makefile (`-include local/observe.mk`). See local/observe_collector/.
#
#   make observe-up       start it on 127.0.0.1:$(OBSERVE_PORT) (no-op if ours is up)
#   make observe-down     stop exactly what observe-up started (pid file in .local/observe)
#   make observe-status   pid, URL and how many observations it holds
#   make observe-reset    forget what it received (and any simulated outage)
#
# Stdlib only: any python3 runs it, the project venv is not needed. The token it
# accepts defaults to observe_collector.LOCAL_TOKEN; override with OBSERVE_LOCAL_TOKEN.

OBSERVE_PORT ?= 8491
OBSERVE_STATE_DIR ?= .local/observe
OBSERVE_COLLECTOR := PYTHONPATH=local python3 -m observe_collector

.PHONY: observe-up observe-down observe-status observe-reset

observe-up: ## start the local Observe collector (127.0.0.1:8491)
	@OBSERVE_COLLECTOR_TOKEN="$(OBSERVE_LOCAL_TOKEN)" $(OBSERVE_COLLECTOR) start --port $(OBSERVE_PORT) --state-dir $(OBSERVE_STATE_DIR)

observe-down: ## stop the local Observe collector
	@$(OBSERVE_COLLECTOR) stop --state-dir $(OBSERVE_STATE_DIR)

observe-status: ## show whether the local Observe collector is up
	@$(OBSERVE_COLLECTOR) status --state-dir $(OBSERVE_STATE_DIR) || true

observe-reset: ## empty the local Observe collector
	@python3 -c "import urllib.request as u; print(u.urlopen(u.Request('http://127.0.0.1:$(OBSERVE_PORT)/_collector/reset', data=b'{}', method='POST')).read().decode().strip())"
