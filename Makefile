# The single entry point: `make run`, `make test`, `make lint`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_ARGS ?= --hub-url http://$(HOST):$(PORT)

.PHONY: install run test lint format migrate worker beat clean bench reliability demo soak

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# With gunicorn's compiled HTTP parser where a C compiler is at hand; without, gunicorn parses
	@# in Python.
	$(BIN)/python -m pip install --quiet -e ".[dev,fast]" \
	  || { echo "gunicorn_h1c not built (no C compiler?): installing without it"; \
	       $(BIN)/python -m pip install --quiet -e ".[dev]"; }
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput -v 0

# Serves the hub on $(HOST):$(PORT) with its scheduler (and a worker when REDIS_URL is set).
# Embedded defaults need nothing but Python: SQLite, tasks in-process, beat running periodic jobs.
run: migrate
	@$(BIN)/python manage.py seed_demo --banner --url http://$(HOST):$(PORT)
	@trap 'kill 0' INT TERM EXIT; \
	  $(BIN)/celery -A clearinghouse beat --loglevel=WARNING --pidfile= & \
	  if [ -n "$$REDIS_URL" ]; then $(BIN)/celery -A clearinghouse worker --loglevel=INFO & fi; \
	  $(BIN)/python manage.py runserver $(HOST):$(PORT)

# A day of roaming played against the hub `make run` serves (start that first, in another terminal).
demo: install
	$(BIN)/python -m demo.run $(DEMO_ARGS)

worker: install
	$(BIN)/celery -A clearinghouse worker --loglevel=INFO

beat: install
	$(BIN)/celery -A clearinghouse beat --loglevel=INFO --pidfile=

test: install
	DJANGO_ENV=test CELERY_TASK_ALWAYS_EAGER=true $(BIN)/python -m pytest $(PYTEST_ARGS)

# Hostile input and fault tests (docs/reliability.md); CI runs them after the unit suite.
reliability: install
	DJANGO_ENV=test CELERY_TASK_ALWAYS_EAGER=true $(BIN)/python -m pytest -m reliability $(PYTEST_ARGS)

# Ten minutes of mixed traffic against gunicorn + a Celery worker on a private PostgreSQL and Redis
# (docs/reliability.md); SOAK_SECONDS, SOAK_RATE, SOAK_MEMORY_MARGIN_MIB tune it. Not run in CI.
soak: install
	DJANGO_ENV=test $(BIN)/python -m pytest -m soak tests/reliability -s $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_ENV=test $(BIN)/python manage.py check --fail-level WARNING
	DJANGO_ENV=test $(BIN)/python manage.py makemigrations --check --dry-run

# Benchmarks on PostgreSQL (see docs/benchmarks.md); needs the local PostgreSQL and Redis.
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var db.sqlite3*
