# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test lint translations

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "rightsdesk needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The worker is restarted whenever it stops (as the systemd units' Restart= does in production).
# Demo mode: without MAIL_SERVER, mail is delivered to http://$(HOST):$(PORT)/dev/mailbox.
# The demo shop (the operator's own database, as the demo data map describes it).
run: export RIGHTSDESK_DEMO = 1
run: export RIGHTSDESK_BASE_URL ?= http://$(HOST):$(PORT)
run: export RIGHTSDESK_DATAMAP_FILE ?= $(CURDIR)/rightsdesk/demo/demo_datamap.toml
run: export RIGHTSDESK_SHOP_DATABASE_URL ?= sqlite:///$(CURDIR)/instance/demo-shop.db
run: export RIGHTSDESK_SHOP_WEBHOOK_URL ?= http://$(HOST):$(PORT)/dev/app-webhook
run: export RIGHTSDESK_SHOP_WEBHOOK_SECRET ?= demo-app-webhook-secret
run: export RIGHTSDESK_RETENTION_FILE ?= $(CURDIR)/rightsdesk/demo/demo_retention.toml
run: install
	@mkdir -p instance && printf '%s\n' "# written by make run: the demo's settings, for every rightsdesk command here" \
	  RIGHTSDESK_DEMO=1 "RIGHTSDESK_BASE_URL=$$RIGHTSDESK_BASE_URL" \
	  "RIGHTSDESK_DATAMAP_FILE=$$RIGHTSDESK_DATAMAP_FILE" \
	  "RIGHTSDESK_SHOP_DATABASE_URL=$$RIGHTSDESK_SHOP_DATABASE_URL" \
	  "RIGHTSDESK_SHOP_WEBHOOK_URL=$$RIGHTSDESK_SHOP_WEBHOOK_URL" \
	  "RIGHTSDESK_SHOP_WEBHOOK_SECRET=$$RIGHTSDESK_SHOP_WEBHOOK_SECRET" \
	  "RIGHTSDESK_RETENTION_FILE=$$RIGHTSDESK_RETENTION_FILE" > instance/rightsdesk.env
	$(BIN)/rightsdesk db upgrade
	$(BIN)/rightsdesk demo load
	@test -f instance/demo-shop.db || { $(BIN)/rightsdesk datamap demo-shop --url "$$RIGHTSDESK_SHOP_DATABASE_URL" \
	  && $(BIN)/rightsdesk demo dormancy; }
	@echo "rightsdesk is serving the demo on http://$(HOST):$(PORT) (Ctrl-C stops it)"
	@echo "its mail: http://$(HOST):$(PORT)/dev/mailbox (or set MAIL_SERVER)"
	@( trap 'kill $$w 2>/dev/null; exit 0' INT TERM; \
	   while :; do $(BIN)/rightsdesk worker --interval 2 & w=$$!; wait $$w; \
	   echo "make run: the worker stopped (status $$?); starting it again in 2 s" >&2; sleep 2; done ) & sender=$$!; \
	trap 'kill $$sender 2>/dev/null' EXIT INT TERM; \
	$(BIN)/rightsdesk run --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

# Re-extract messages after changing user-facing text; then translate and compile.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -o rightsdesk/translations/messages.pot --no-location --sort-output --project rightsdesk .
	$(BIN)/pybabel update -i rightsdesk/translations/messages.pot -d rightsdesk/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d rightsdesk/translations
