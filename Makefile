# The README's two commands: `make demo` and `make test`. Needs only python3 (3.11+) and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1:8000

.PHONY: install demo test lint schema docs messages clean-demo bench bench-import bench-export bench-load

$(VENV)/.installed: requirements.lock requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $@

install: $(VENV)/.installed

# Embedded default: SQLite in data/, Celery eager, database nonce store. Idempotent.
# The catalogue's stable URIs (DCAT-AP) name the address the demo serves.
demo: export PLATFORM_BASE_URL ?= http://$(HOST)
# The demo's logins use a password alone (no authenticator app needed to try it); every start says so
# (system check registry.W001). `make demo TWO_FACTOR_REQUIRED=on` asks for the second factor as production does.
demo: export TWO_FACTOR_REQUIRED ?= off
demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py platform_keygen
	$(PY) manage.py demo_setup --base-url http://$(HOST)
	$(PY) manage.py runserver $(HOST) --insecure

test: install
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports  # the layers contract in pyproject.toml

# Regenerate the committed OpenAPI schema after changing the API.
schema: install
	$(PY) manage.py spectacular --file docs/openapi.yaml --validate --lang en

# Regenerate every generated document: the OpenAPI schema and the audit event types.
docs: schema
	$(PY) manage.py audit_event_docs

# Extract the interface's strings into the zh_Hans catalogue; translate the new entries, then compile.
messages: install
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=tests --ignore=staticfiles --ignore=data --ignore=bench
	$(PY) manage.py compilemessages --ignore=.venv

# Start the demo afresh: drops the embedded database and the demo keys (not the platform key).
clean-demo:
	rm -rf data/db.sqlite3 data/demo

# Benchmarks (bench/README.md): a real server driven on loopback, ratios against baselines measured in
# the same run; JSON under bench/results/. Embedded default, or PostgreSQL + Redis + a Celery worker
# when DATABASE_URL and REDIS_URL are exported (in a database of its own, <name>_bench). BENCH_SCALE sizes it.
bench: install
	$(PY) -m bench

# The import benchmark alone (bench/import_figure.py): BENCH_IMPORT_ROWS rows, 1,000,000 by default.
bench-import: install
	BENCH_ONLY=import $(PY) -m bench

# The export benchmark alone (bench/export_figure.py): BENCH_IMPORT_ROWS masked records, 1,000,000 by default.
bench-export: install
	BENCH_ONLY=export $(PY) -m bench

# The load run (bench/load_run.py): ten times the demo's expected traffic for ten minutes on PostgreSQL, Redis,
# gunicorn and a Celery worker, a mix of good, refused and unsigned calls (Locust); memory, the sequencer's
# backlog and audit_verify judged. Needs DATABASE_URL and REDIS_URL; BENCH_LOAD_SECONDS shortens it (CI: 60).
bench-load: install
	$(PY) -m bench.load_run
