"""The Dockerfile and docker-compose.yml refer to things that exist in this project.

No Docker engine runs here, so these read the files: every command our image runs is a real
console script of a dependency pointed at a real module, target or migration head; every
TRAINYARD_* variable is a real setting whose value parses; health checks and start-up order
hold together.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shlex
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic.config import Config
from alembic.script import ScriptDirectory
from celery.app.utils import find_app
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.execution.celery_app import TASK_NAME
from app.main import create_app
from tests.fixtures.database import alembic_upgrade

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OURS = sorted(name for name, service in SERVICES.items() if service.get("build"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Console scripts our commands may start, and the dependency that installs each.
PROGRAMS = {"uvicorn": "uvicorn", "celery": "celery", "alembic": "alembic"}


def dependency_names() -> set[str]:
    names = set()
    for spec in PYPROJECT["project"]["dependencies"]:
        names.add(re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0].lower())
    return names


def makefile_recipe(target: str) -> list[list[str]]:
    """The commands of a Makefile target, tokenised, with ``$(BIN)/`` dropped."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(shlex.split(line.strip().replace("$(BIN)/", "")))
    return recipe


def interpolate(text: str) -> str:
    """Compose's ``${NAME:-default}``, with nothing set in the environment."""
    return re.sub(r"\$\{\w+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", text)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: interpolate(str(value)) for key, value in env.items()}


def probe(path: str) -> int:
    """What the app answers on ``path`` (no lifespan: the process is up, nothing more)."""
    return TestClient(create_app(Settings(database_url="sqlite://"))).get(path).status_code


def ready(path: str) -> int:
    """What the started app answers on ``path``, on settings like the image's (every path
    in a temporary folder)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        settings = Settings(
            database_url=f"sqlite:///{root}/trainyard.db",
            data_roots=[root / "data"],
            artifact_root=root / "artifacts",
            mlflow_tracking_uri=f"sqlite:///{root}/mlflow.db",
            mlflow_artifact_root=root / "mlruns",
        )
        alembic_upgrade(settings.database_url)
        with TestClient(create_app(settings)) as client:
            return client.get(path).status_code


def check_command(argv: list[str]) -> None:
    """Fail unless ``argv`` starts one of our programs on something that exists here."""
    if argv[:2] == ["sh", "-c"]:
        for part in argv[2].split("&&"):
            words = shlex.split(part)
            check_command(words[1:] if words[0] == "exec" else words)
        return
    program = argv[0]
    assert program in PROGRAMS, f"{argv}: not a program of this project"
    assert PROGRAMS[program] in dependency_names(), f"{program} is not a dependency"
    if program == "uvicorn":
        module, attribute = argv[1].split(":")
        assert isinstance(getattr(importlib.import_module(module), attribute), FastAPI)
        assert {"--host", "--port"} <= set(argv)
    elif program == "celery":
        assert argv[1] == "-A"
        app = find_app(argv[2])
        assert TASK_NAME in app.tasks
        assert argv[3] == "worker"
        queues = [a.split("=", 1)[1] for a in argv if a.startswith("--queues=")]
        assert queues == [Settings().celery_queue]
        assert "--pool=threads" in argv or "--pool=solo" in argv
    elif program == "alembic":
        assert argv[1:] == ["upgrade", "head"]
        script = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
        assert len(script.get_heads()) == 1


# -- docker-compose.yml ---------------------------------------------------------------------


def test_compose_has_the_scale_out_services() -> None:
    assert set(SERVICES) == {"api", "worker", "migrate", "postgres", "redis", "mlflow"}
    assert OURS == ["api", "migrate", "worker"]
    assert all(SERVICES[name]["build"] == "." for name in OURS)
    for name in set(SERVICES) - set(OURS):
        image = SERVICES[name]["image"]
        assert ":" in image
        assert not image.endswith(":latest"), f"{name}: pin the image"


@pytest.mark.parametrize("name", OURS)
def test_every_command_of_our_services_exists_in_the_project(name: str) -> None:
    check_command(SERVICES[name]["command"])


def test_the_worker_and_the_api_run_what_the_makefile_runs() -> None:
    (worker,) = makefile_recipe("worker")
    assert SERVICES["worker"]["command"] == worker
    (run,) = makefile_recipe("run")
    api = SERVICES["api"]["command"]
    assert api[:2] == run[:2] == ["uvicorn", "app.main:app"]
    (migrate,) = makefile_recipe("migrate")
    assert SERVICES["migrate"]["command"] == migrate


def test_every_trainyard_variable_is_a_setting_and_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = set(Settings.model_fields)
    seen = 0
    for name, service in SERVICES.items():
        env = environment(service)
        for key in env:
            if key.startswith("TRAINYARD_"):
                seen += 1
                assert key.removeprefix("TRAINYARD_").lower() in fields, f"{name}: {key}"
        if name in OURS:
            for key in [k for k in os.environ if k.startswith("TRAINYARD_")]:
                monkeypatch.delenv(key)
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            settings = Settings()
            assert settings.executor == "celery"
            assert settings.database_url.startswith("postgresql+psycopg://")
            assert settings.celery_broker_url.startswith("redis://")
            # Every host they name is a service of this file.
            for url in (
                settings.database_url,
                settings.celery_broker_url,
                settings.mlflow_tracking_uri,
            ):
                host = re.sub(r"^[\w+]+://([^@/]*@)?", "", url).split(":")[0].split("/")[0]
                assert host in SERVICES, f"{name}: {url} names no service"
    assert seen >= 3 * len(OURS)


def test_start_up_order_waits_for_health() -> None:
    for name, service in SERVICES.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in SERVICES
            if rule["condition"] == "service_healthy":
                check = SERVICES[target].get("healthcheck")
                assert check, f"{name} waits for {target}, which has no health check"
                assert not check.get("disable")
    for name in ("api", "worker"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        for target in ("postgres", "redis", "mlflow"):
            assert depends[target]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["restart"] == "no"
    for name in set(SERVICES) - {"migrate"}:
        assert SERVICES[name]["healthcheck"]["test"], name


def test_health_checks_of_our_services_probe_what_exists() -> None:
    api_check = " ".join(SERVICES["api"]["healthcheck"]["test"])
    probed = re.findall(r"http://127\.0\.0\.1:8000(/\w+)", api_check)
    assert probed == ["/healthz"]
    assert probe(probed[0]) == 200
    worker_check = " ".join(SERVICES["worker"]["healthcheck"]["test"])
    assert "celery -A app.execution.celery_app inspect ping" in worker_check


def test_the_worker_can_be_scaled() -> None:
    worker = SERVICES["worker"]
    # A fixed container name or a host port would clash between replicas.
    assert "container_name" not in worker
    assert "ports" not in worker


def test_volumes_are_declared_and_shared_where_they_must_be() -> None:
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0]
            assert source in declared, f"{name}: volume {source} is not declared"
    settings_paths = environment(SERVICES["worker"])
    for name in ("api", "worker"):
        mounts = dict(m.split(":")[::-1] for m in SERVICES[name]["volumes"])
        assert mounts[settings_paths["TRAINYARD_ARTIFACT_ROOT"]] == "artifacts"
        assert mounts[settings_paths["TRAINYARD_DATA_ROOTS"]] == "data"


def test_mlflow_has_a_backend_store_and_an_artifacts_volume() -> None:
    mlflow = SERVICES["mlflow"]
    command = mlflow["command"]
    assert command[:2] == ["mlflow", "server"]
    options = dict(a.split("=", 1) for a in command if a.startswith("--") and "=" in a)
    (mounted,) = [m.split(":")[1] for m in mlflow["volumes"]]
    assert options["--backend-store-uri"].startswith(f"sqlite:///{mounted}/")
    assert options["--artifacts-destination"].startswith(f"{mounted}/")
    assert "--serve-artifacts" in command
    port = options["--port"]
    assert environment(SERVICES["api"])["TRAINYARD_MLFLOW_TRACKING_URI"].endswith(f":{port}")


# -- Dockerfile -----------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", text)
    result = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            result.append((instruction.upper(), arguments.strip()))
    return result


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction, arguments in dockerfile():
        if instruction == "FROM":
            found.append([])
        if found:
            found[-1].append((instruction, arguments))
    return found


def exec_form(arguments: str) -> list[str]:
    words = yaml.safe_load(arguments)  # a JSON array is YAML too
    assert isinstance(words, list), f"use the exec form: {arguments}"
    return [str(w) for w in words]


def test_the_image_is_multi_stage_slim_and_not_root() -> None:
    build, runtime = stages()
    assert all("-slim" in s[0][1] for s in (build, runtime))
    users = [a for i, a in runtime if i == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    assert any(i == "RUN" and "useradd" in a and users[-1] in a for i, a in runtime)
    assert any(i == "COPY" and a.startswith("--from=build") for i, a in runtime)
    # The runtime stage installs no Python packages and, of the system's, only OpenMP's
    # runtime (LightGBM and XGBoost load it), leaving no package lists behind.
    assert not any(i == "RUN" and "pip install" in a for i, a in runtime)
    for apt in [a for i, a in runtime if i == "RUN" and "apt-get install" in a]:
        assert apt.split("apt-get install")[1].split("&&")[0].split()[-1] == "libgomp1", apt
        assert "rm -rf /var/lib/apt/lists/*" in apt


def test_the_image_installs_the_way_the_makefile_does() -> None:
    runs = [a for i, a in dockerfile() if i == "RUN"]
    installs = [part.strip() for run in runs for part in run.split("&&") if "pip install" in part]
    # Both install the project against the same lock file.
    assert "python -m pip install -c requirements.lock -e ." in installs
    make_install = [" ".join(c) for c in makefile_recipe("$(STAMP)")]
    assert any(
        "-m pip install" in c and "-c requirements.lock" in c and " -e " in c for c in make_install
    )
    for run in runs:
        for part in run.split("&&"):
            words = shlex.split(part)
            if words[:2] == ["python", "-m"]:
                assert importlib.util.find_spec(words[2]) is not None, part


def test_every_file_the_image_copies_exists_and_is_not_ignored() -> None:
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()
    }
    assert {".venv", "var", ".git"} <= ignored
    for instruction, arguments in dockerfile():
        if instruction == "COPY" and not arguments.startswith("--from"):
            *sources, _ = arguments.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source.rstrip("/") not in ignored, source


def test_the_image_command_and_health_check_refer_to_what_exists() -> None:
    instructions = dockerfile()
    (command,) = [exec_form(a) for i, a in instructions if i == "CMD"]
    check_command(command)
    (health,) = [a for i, a in instructions if i == "HEALTHCHECK"]
    check = exec_form(health.split("CMD", 1)[1])
    assert check[:2] == ["python", "-c"]
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", check[2])
    assert url is not None
    # Readiness needs the lifespan (executor started): probe it on a started app.
    assert url.group(2) == "/readyz"
    assert ready(url.group(2)) == 200
    exposed = [a for i, a in instructions if i == "EXPOSE"]
    assert exposed == [url.group(1)]
    assert f"--port {url.group(1)}" in " ".join(command)
    for instruction, arguments in instructions:
        if instruction == "ENV":
            for key in re.findall(r"(TRAINYARD_\w+)=", arguments):
                assert key.removeprefix("TRAINYARD_").lower() in Settings.model_fields
