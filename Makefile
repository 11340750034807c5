# Every target sets itself up: a fresh clone needs only python3 (3.11+) and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml clients/python/pyproject.toml requirements.lock | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install run migrate test container-test lint format worker bench clean lock mlflow-ui

# Targets started at once on a fresh clone (make run + make test, two make worker) take turns
# installing: the first holds $(VENV).lock, the others wait, then find the stamp and go on.
FLOCK := $(if $(shell command -v flock 2>/dev/null),flock $(VENV).lock,)
INSTALL_INPUTS := pyproject.toml clients/python/pyproject.toml requirements.lock
ifneq ($(INSTALL_LOCKED),)
$(STAMP): $(INSTALL_INPUTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ./clients/python -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@
else
$(STAMP): $(INSTALL_INPUTS)
	$(FLOCK) $(MAKE) --no-print-directory INSTALL_LOCKED=1 $@
endif

install: $(STAMP)

migrate: install
	$(BIN)/alembic upgrade head

run: migrate
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT)

# MLflow's own web UI on the embedded tracking store (the runs, models and artifacts that jobs
# register). The full `mlflow` package (the optional extra `mlflow-ui`) goes in a venv of its
# own, at the version of the locked mlflow-skinny, so it reads the store's schema as the
# service writes it and leaves the service's pins alone (it wants an older pyarrow). Set
# TRAINYARD_MLFLOW_UI_URL on the service to the URL it serves to get a link from job pages.
MLFLOW_VENV ?= .venv-mlflow
MLFLOW_PORT ?= 5000
MLFLOW_TRACKING_URI ?= sqlite:///./var/mlflow.db
MLFLOW_ARTIFACT_ROOT ?= ./var/mlruns
MLFLOW_VERSION := $(shell sed -n 's/^mlflow-skinny==//p' requirements.lock)
mlflow-ui:
	test -x $(MLFLOW_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet 'mlflow==$(MLFLOW_VERSION)'
	mkdir -p var
	$(MLFLOW_VENV)/bin/mlflow ui --backend-store-uri '$(MLFLOW_TRACKING_URI)' \
	  --default-artifact-root '$(MLFLOW_ARTIFACT_ROOT)' --host $(HOST) --port $(MLFLOW_PORT) --workers 1

worker: migrate
	$(BIN)/celery -A app.execution.celery_app worker --loglevel=INFO --queues=training --concurrency=1 --pool=threads

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

# The image alone and the compose stack, for real: sets up Docker (deploy/docker-engine.sh),
# builds stand-ins for base images it cannot pull, builds the image, then the tests.
container-test: install
	deploy/docker-engine.sh
	$(BIN)/pytest -m containers -s tests/deployment $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# Re-resolve the pinned versions after a change of dependencies in either pyproject.toml.
lock: install
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml clients/python/pyproject.toml --extra dev \
	  --python-version 3.11 --universal --quiet -o requirements.lock

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(VENV).lock $(MLFLOW_VENV) var .pytest_cache .mypy_cache .ruff_cache
