# syntax=docker/dockerfile:1
# One image for the API, the Celery workers and the one-off migration (see docker-compose.yml).
ARG PYTHON_VERSION=3.11

# -- build: a virtualenv with the project installed the README's way -------------------------
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH
WORKDIR /srv/trainyard
RUN python -m venv /opt/venv
# The dependencies first, from pyproject.toml and the lock alone, so a change to app/ reuses
# this layer; requirements.lock pins the versions, as `make install` does.
COPY pyproject.toml requirements.lock ./
RUN python -m pip install --upgrade pip \
 && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" >/tmp/requirements.txt \
 && python -m pip install -c requirements.lock -r /tmp/requirements.txt
COPY README.md ./
COPY app ./app
# `make install` runs `pip install -e '.[dev]'`; the image leaves out the dev tools.
RUN python -m pip install -c requirements.lock -e .
COPY alembic.ini ./
COPY migrations ./migrations

# -- runtime: slim, no compilers, not root ---------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime
# LightGBM and XGBoost link OpenMP's runtime, which the slim image leaves out.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 trainyard \
 && useradd --system --uid 10001 --gid trainyard --home-dir /var/lib/trainyard \
      --shell /usr/sbin/nologin trainyard \
 && mkdir -p /var/lib/trainyard/data /var/lib/trainyard/artifacts /var/lib/trainyard/mlruns \
 && chown -R trainyard:trainyard /var/lib/trainyard
# Same paths as in the build stage: the editable install points at /srv/trainyard.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /srv/trainyard /srv/trainyard
WORKDIR /srv/trainyard
# Everything the process writes is under its volume, /var/lib/trainyard: /srv/trainyard is
# root's, and every relative default (./var/...) would point there.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/trainyard \
    TRAINYARD_DATABASE_URL=sqlite:////var/lib/trainyard/trainyard.db \
    TRAINYARD_DATA_ROOTS=/var/lib/trainyard/data \
    TRAINYARD_ARTIFACT_ROOT=/var/lib/trainyard/artifacts \
    TRAINYARD_MLFLOW_TRACKING_URI=sqlite:////var/lib/trainyard/mlflow.db \
    TRAINYARD_MLFLOW_ARTIFACT_ROOT=/var/lib/trainyard/mlruns
USER trainyard
VOLUME ["/var/lib/trainyard"]
EXPOSE 8000
# Ready, not merely up: the database answers, the executor runs, and the artifact root and
# the model registry's store are writable (GET /readyz names what is not).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
# Alone (`docker run`), the image does what `make run` does: migrate, then serve.
# docker-compose.yml runs the migration once, in its own service, and overrides this.
CMD ["sh", "-c", "alembic upgrade head && exec uvicorn app.main:app --host 0.0.0.0 --port 8000"]
