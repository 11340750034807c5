"""The trainyard-client distribution stands alone: light dependencies, nothing of the server."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = {
    "scikit-learn",
    "pandas",
    "sqlalchemy",
    "celery",
    "fastapi",
    "mlflow-skinny",
    "numpy",
}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(names: list[str]) -> set[str]:
    """Every distribution the given ones need, as installed here (extras left out)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(_name(requirement.name))
    return seen


def test_the_client_needs_none_of_the_servers_dependencies() -> None:
    project = tomllib.loads((ROOT / "clients/python/pyproject.toml").read_text())["project"]
    direct = [_name(r) for r in project["dependencies"]]
    assert set(direct) == {"httpx", "rich", "pyyaml"}
    assert not _closure(direct) & SERVER_ONLY


def test_importing_the_client_and_its_cli_loads_nothing_of_the_server() -> None:
    probe = (
        "import sys, trainyard_client, trainyard_client.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    for module in ("app", "sklearn", "pandas", "sqlalchemy", "celery", "fastapi", "numpy"):
        assert f"'{module}'" not in loaded, module
    cli = subprocess.run(
        [sys.executable, "-m", "trainyard_client", "--help"], capture_output=True, text=True
    )
    assert cli.returncode == 0
    assert "Submit and follow training jobs" in cli.stdout
