# Casedesk: `make run` for the local demo, `make test` for the test suite.
# Needs only Python 3.11+ and make; everything else is installed into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test migrate demo lint clean scan

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

# The local demo only: editors' two-factor sign-in is switched off, and every page says so.
run: demo
	CASEDESK_REQUIRE_2FA=false $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/python -m pip install --quiet ruff==0.14.0
	$(BIN)/ruff check .

# Security scan (not part of `make test`): bandit, then wapiti against a throwaway local
# instance with production settings over HTTPS, signed in as the reporter. Fails on any
# finding, HTTP 5xx or server exception; summary in scan/results/latest.txt. See scan/run.py.
SCAN_VENV := .venv-scan
$(SCAN_VENV)/.installed: pyproject.toml scan/requirements.py
	test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(PYTHON) scan/requirements.py > $(SCAN_VENV)/requirements.txt
	$(SCAN_VENV)/bin/python -m pip install --quiet -r $(SCAN_VENV)/requirements.txt
	touch $@

scan: install $(SCAN_VENV)/.installed
	$(BIN)/python scan/run.py

clean:
	rm -rf $(VENV) .pytest_cache
	rm -rf $(SCAN_VENV)
