# Casedesk: `make run` for the local demo, `make test` for the test suite.
# Needs only Python 3.11+ and make; everything else is installed into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run worker test install install-test migrate demo lint clean scan bench-search bench fuzz catalogues messages

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

install: $(VENV)/.installed catalogues
install-test: $(VENV)/.installed-test catalogues

# Translations: each locale/<language>/LC_MESSAGES/django.po is compiled into its .mo (not
# committed) whenever the .po is newer, in Python (polib), so no machine needs GNU gettext.
CATALOGUES := $(wildcard locale/*/LC_MESSAGES/*.po)
catalogues: $(CATALOGUES:.po=.mo)
locale/%.mo: locale/%.po | $(VENV)/.installed
	$(BIN)/python -m config.catalogues $<

# Brings the catalogues (MESSAGES_LANGUAGES, default ru) up to date with the strings marked in the code and templates
# (then translate what is new). Translators only: makemessages needs GNU gettext (xgettext).
# No djangojs domain: no script of ours holds text of its own (static/js reads it from pages).
MESSAGES_LANGUAGES ?= ru
MESSAGES_IGNORE := .venv .venv-scan staticfiles fuzz scan bench node_modules tests build
messages: install
	$(BIN)/python manage.py makemessages $(addprefix -l ,$(MESSAGES_LANGUAGES)) --no-obsolete $(addprefix --ignore=,$(MESSAGES_IGNORE))

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

# The local demo only: editors' two-factor sign-in is switched off, and every page says so.
# The web server and a background worker, started and stopped together (background/launcher.py).
run: demo
	CASEDESK_REQUIRE_2FA=false $(BIN)/python -m background.launcher $(HOST):$(PORT)

# One more background worker beside `make run`, or the only one beside another web server.
worker: migrate
	$(BIN)/python manage.py worker

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

# Fuzzing (not part of `make test`, which runs a derandomized subset): schemathesis over every
# API operation as every role, and hypothesis over every form and page's query, against
# gunicorn with production settings on PostgreSQL (FUZZ_DATABASE_URL, made anew). Fails on any
# 5xx, server exception or check failure; summary in fuzz/results/latest.md. See fuzz/.
# FUZZ_SEED (random by default, printed), FUZZ_EXAMPLES (per API operation, default 500).
fuzz: install-test
	$(BIN)/python -m fuzz

# Benchmarks on PostgreSQL (not part of `make test`). BENCH_DATABASE_URL names a database of
# their own: it is filled with bench/generate.py's data (1,000,000 claims) when it has none.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/casedesk_bench
# Both benchmarks run even when the first misses its goals; the target fails if either does.
bench-search: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'  # the import reference, django-import-export
	status=0; export BENCH_DATABASE_URL=$(BENCH_DATABASE_URL); \
	$(BIN)/python bench/search.py --generate || status=1; \
	$(BIN)/python bench/imports.py --database-url $(BENCH_DATABASE_URL) --save-rows 5000 || status=1; \
	exit $$status

# What every page costs as data grows (issue 6; bench/README.md): queries and p50/p95 per page
# at BENCH_SCALE and at a tenth of it, the floor and the stock admin beside them, then
# gunicorn + wrk. Fills BENCH_PAGES_DATABASE_URL (and <name>_tenth) when missing or at another
# scale. Writes bench/results/latest.md. Then what capturing cited pages costs (issue 13):
# the citation save with capture on and off, save to capture done, captures per minute with
# one and two workers, on BENCH_CAPTURE_DATABASE_URL (made anew); bench/results/captures.md.
# Both run even when the first misses its targets; the target fails if either does.
BENCH_PAGES_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/casedesk_pagebench
BENCH_CAPTURE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/casedesk_capturebench
BENCH_SCALE ?= 1.0
bench: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	status=0; \
	$(BIN)/python bench/pages.py --scale $(BENCH_SCALE) --database-url $(BENCH_PAGES_DATABASE_URL) || status=1; \
	$(BIN)/python bench/captures.py --database-url $(BENCH_CAPTURE_DATABASE_URL) || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) .pytest_cache
	rm -f $(CATALOGUES:.po=.mo)
	rm -rf $(SCAN_VENV)
