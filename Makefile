# Every target sets itself up: a fresh clone needs only python3 (3.11+) and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml clients/python/pyproject.toml requirements.lock | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install run migrate test container-test lint format worker bench clean lock

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
	rm -rf $(VENV) $(VENV).lock var .pytest_cache .mypy_cache .ruff_cache
