# Agent Registry: `make run` serves it locally, `make test` runs the whole suite.
# Needs GNU make, python3 and, for the browser tests, Debian's chromium (installed when root).

SHELL := /bin/bash

# The first uv that runs: on PATH, in pip's --user bin folder, or as a Python module.
FIND_UV = if uv --version >/dev/null 2>&1; then echo uv; \
	elif "$$(python3 -m site --user-base 2>/dev/null)/bin/uv" --version >/dev/null 2>&1; \
	then echo "$$(python3 -m site --user-base)/bin/uv"; \
	elif python3 -m uv --version >/dev/null 2>&1; then echo "python3 -m uv"; fi
# Resolved on first use, which comes after the `uv` target may have installed it.
UV = $(eval UV := $(shell $(FIND_UV)))$(UV)
UV_RUN = $(UV) run --frozen
MANAGE = $(UV_RUN) python manage.py
PYTEST_ARGS ?=

.PHONY: uv install run serve test browser lint check load bench

uv:
	@if [ -z "$$($(FIND_UV))" ]; then \
		echo "uv not found: installing it from PyPI with pip --user"; \
		python3 -m pip install --user --quiet uv 2>/dev/null \
			|| python3 -m pip install --user --quiet --break-system-packages uv; \
		if [ -z "$$($(FIND_UV))" ]; then \
			echo "make: uv was installed but cannot be run; add ~/.local/bin to PATH" >&2; \
			exit 1; \
		fi; \
	fi

install: uv
	$(UV) sync --frozen

run: export DEBUG = true
run: install
	$(MANAGE) migrate --noinput
	$(MANAGE) recheck_agents
	$(MANAGE) import_agents registry/demo
	$(MANAGE) ensure_local_login
	@# The worker runs beside the server, and stops with it (Ctrl+C stops both).
	$(MANAGE) worker --no-reload --interval 1 & worker=$$!; \
		trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
		$(MANAGE) runserver 127.0.0.1:8000

# Production: gunicorn, static files by whitenoise, DEBUG off, everything from the environment.
serve: export DEBUG = false
# Every process writes its metrics to files in this folder, and /metrics adds them all up
# (prometheus_client's multiprocess mode), so it counts every gunicorn worker's requests.
serve: export PROMETHEUS_MULTIPROC_DIR ?= $(CURDIR)/.metrics
serve: install
	@if [ -z "$${SECRET_KEY:-}" ]; then \
		echo "make serve: set SECRET_KEY (and ALLOWED_HOSTS, DATABASE_URL; see README)" >&2; \
		exit 1; \
	fi
	mkdir -p "$$PROMETHEUS_MULTIPROC_DIR"
	$(MANAGE) check --deploy --fail-level ERROR
	$(MANAGE) migrate --noinput
	$(MANAGE) recheck_agents
	$(MANAGE) collectstatic --noinput --verbosity 0
	@echo "Background work (pushes to the repository, large imports) needs at least one worker" \
		"beside gunicorn, with the same environment: $(UV_RUN) python manage.py worker"
	@# Emptied of what earlier runs and the commands above wrote: gunicorn's workers start at 0.
	rm -f "$$PROMETHEUS_MULTIPROC_DIR"/*.db
	CONN_MAX_AGE=$${CONN_MAX_AGE:-60} \
		$(UV_RUN) gunicorn agentsite.wsgi --config agentsite/gunicorn.conf.py \
		--bind $${BIND:-127.0.0.1:8000} \
		--access-logfile - --forwarded-allow-ips="$${FORWARDED_ALLOW_IPS:-127.0.0.1}"

# Debian's chromium, never a browser downloaded by Playwright.
browser:
	@if [ -x /usr/bin/chromium ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "make: /usr/bin/chromium is missing; install it with: sudo apt-get install chromium" >&2; \
	fi

# The tests create their own database, so ask the server's maintenance database.
define POSTGRES_CHECK
import os
import sys

import psycopg

try:
    with psycopg.connect(os.environ["DATABASE_URL"], dbname="postgres", connect_timeout=10) as conn:
        print(f"PostgreSQL is reachable at {conn.info.host}:{conn.info.port}.")
except Exception as error:
    sys.exit(f"make: cannot reach the PostgreSQL server that DATABASE_URL names: {error}")
endef
export POSTGRES_CHECK

# pytest's exit status 5 means it collected no tests, which must not pass.
define run_pytest
echo "== pytest on $(1) =="; \
status=0; $(UV_RUN) pytest $(PYTEST_ARGS) || status=$$?; \
if [ $$status -eq 5 ]; then echo "make: pytest collected no tests on $(1)" >&2; exit 1; fi; \
exit $$status
endef

# The whole suite on SQLite, then again on PostgreSQL when DATABASE_URL names one. A server
# that cannot be reached fails the run before any test starts; it is never skipped.
test: install browser
	@case "$${DATABASE_URL:-}" in \
		postgres://*|postgresql://*) $(UV_RUN) python -c "$$POSTGRES_CHECK" ;; \
	esac
	@unset DATABASE_URL; $(call run_pytest,SQLite)
	@case "$${DATABASE_URL:-}" in \
		postgres://*|postgresql://*) $(call run_pytest,PostgreSQL) ;; \
		"") echo "DATABASE_URL is not set: tested on SQLite only." ;; \
		*) echo "DATABASE_URL does not name PostgreSQL: tested on SQLite only." ;; \
	esac

# 60 s of mixed traffic from 16 clients against gunicorn, in its own database on the
# PostgreSQL server that DATABASE_URL names (CI runs it after the suite).
load: install
	$(UV_RUN) python tests/load/run.py $(LOAD_ARGS)

lint: install
	$(UV_RUN) ruff check .
	$(UV_RUN) ruff format --check .

check: install
	DEBUG=true $(MANAGE) makemigrations --check --dry-run
	DEBUG=false HTTPS=true ALLOWED_HOSTS=registry.example.com \
		SECRET_KEY="$$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')" \
		$(MANAGE) check --deploy --fail-level WARNING

# The benchmark (bench/run.py): a fresh SQLite file under .bench/ (or DATABASE_URL), one table.
# BENCH_ARGS passes options, e.g. BENCH_ARGS="--agents 10000 --rounds 1 --duration 5".
bench: install
	$(UV_RUN) python bench/run.py $(BENCH_ARGS)
