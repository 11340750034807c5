"""Model files: the fitted pipeline in skops format (no pickle), plus JSON sidecars."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import skops.io as sio

MODEL_FILE = "model.skops"
METRICS_FILE = "metrics.json"
SPEC_FILE = "spec.json"
LINEAGE_FILE = "lineage.json"

# Types are trusted by where they come from: scikit-learn, NumPy and SciPy, and the
# preprocessing transformers of this package. Anything else in a file is refused.
TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "app.trainer.")
TRUSTED_BUILTINS = frozenset({"builtins.slice", "builtins.type", "builtins.object"})


class UntrustedModelError(ValueError):
    """The model file holds a type outside the trusted list."""


def library_versions() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn
    import skops

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "skops": skops.__version__,
    }


def _write_json(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def save_model(pipeline: Any, path: Path) -> None:
    """Write atomically: a reader never sees half a model."""
    tmp = path.with_suffix(".tmp")
    sio.dump(pipeline, tmp)
    os.replace(tmp, path)


def write_artifacts(
    directory: Path,
    pipeline: Any,
    *,
    metrics: dict[str, float],
    spec: dict[str, Any],
    lineage: dict[str, Any],
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    save_model(pipeline, directory / MODEL_FILE)
    _write_json(directory / METRICS_FILE, metrics)
    _write_json(directory / SPEC_FILE, spec)
    _write_json(directory / LINEAGE_FILE, {**lineage, "libraries": library_versions()})
    return directory


def _reviewed(needed: list[str], what: str) -> list[str]:
    refused = [
        t for t in needed if not (t.startswith(TRUSTED_MODULE_PREFIXES) or t in TRUSTED_BUILTINS)
    ]
    if refused:
        raise UntrustedModelError(f"{what} holds untrusted types: {', '.join(refused)}")
    return list(needed)


def trusted_types(path: Path) -> list[str]:
    """The types the file needs, after checking each against the trusted list."""
    return _reviewed(sio.get_untrusted_types(file=path), path.name)


def model_trusted_types(model: Any) -> list[str]:
    """The types loading ``model`` from skops needs, checked like a file's (for MLflow)."""
    return _reviewed(sio.get_untrusted_types(data=sio.dumps(model)), type(model).__name__)


def load_model(path: Path) -> Any:
    return sio.load(path, trusted=trusted_types(path))
