# The local Labelbox: an emulator the real `labelbox` SDK talks to (GraphQL, uploads,
# exports) that also plays the reviewer and sends signed webhooks. Included by the top
# Makefile. Stdlib only: any python3 runs it. See local/labelbox_emulator/server.py.
#
#   make labelbox-up        start it on 127.0.0.1:$(LABELBOX_EMULATOR_PORT) (no-op if ours is up)
#   make labelbox-down      stop exactly what labelbox-up started
#   make labelbox-status    pid, URL and health
#   make labelbox-state     dump its state (data rows, pre-labels, labels, deliveries)
#   make test-labelbox      the Labelbox unit tests (library on the real SDK + emulator)
#
# Point the SDK at it: LABELBOX_API_URL=http://127.0.0.1:$(LABELBOX_EMULATOR_PORT)
# (modelobs.labelbox_connect.connect derives /graphql and /api/v1 from it).

LABELBOX_EMULATOR_PORT ?= 8490
LABELBOXCTL := LABELBOX_EMULATOR_PORT=$(LABELBOX_EMULATOR_PORT) python3 local/labelbox_emulator/ctl.py

.PHONY: labelbox-up labelbox-down labelbox-status labelbox-state test-labelbox

labelbox-up: ## start the Labelbox emulator (127.0.0.1:8490, state in .local/labelbox)
	@$(LABELBOXCTL) start

labelbox-down: ## stop the Labelbox emulator
	@$(LABELBOXCTL) stop

labelbox-status: ## show whether the Labelbox emulator is up
	@$(LABELBOXCTL) status || true

labelbox-state: ## print the Labelbox emulator's state as JSON
	@curl -fsS http://127.0.0.1:$(LABELBOX_EMULATOR_PORT)/_emulator/state

test-labelbox: venv ## Labelbox library + emulator unit tests
	$(PY) -m pytest tests/unit -q -k labelbox
