"""Model files: the fitted pipeline in skops format (no pickle), plus JSON sidecars."""

from __future__ import annotations

import io
import json
import os
import platform
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import skops.io as sio

MODEL_FILE = "model.skops"
METRICS_FILE = "metrics.json"
SPEC_FILE = "spec.json"
LINEAGE_FILE = "lineage.json"
# The evaluation report (``report.py``) of the validation split, served by the API.
EVALUATION_FILE = "evaluation.json"

# Types are trusted by where they come from: scikit-learn, NumPy and SciPy, and the
# preprocessing transformers of this package. Anything else in a file is refused.
TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "app.trainer.")
TRUSTED_BUILTINS = frozenset({"builtins.slice", "builtins.type", "builtins.object"})
# The boosting libraries' types, each reviewed, by exact name (not by module: a module
# prefix would trust every class of the library). skops rebuilds each with ``__new__`` and
# ``__setstate__``; the state is data: the estimator's parameters and fitted attributes,
# and the booster as the library's own model bytes (XGBoost's UBJSON, LightGBM's model
# text, CatBoost's cbm), which each library parses in C++ -- no pickle anywhere.
TRUSTED_BOOSTING_TYPES = frozenset(
    {
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "catboost.core.CatBoostClassifier",
        "catboost.core.CatBoostRegressor",
        # LightGBM keeps its evaluation results and parameters in ordered dicts.
        "collections.OrderedDict",
        "collections.defaultdict",
    }
)


class UntrustedModelError(ValueError):
    """The model file holds a type outside the trusted list."""


@cache
def library_versions() -> dict[str, str]:
    """The versions this process runs (looked up once: a process does not change them)."""
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
        **boosting_versions(),
    }


@cache
def boosting_versions() -> dict[str, str]:
    """Versions of the boosting libraries that are installed."""
    from importlib import metadata

    found = {}
    for module, distributions in (
        ("xgboost", ("xgboost-cpu", "xgboost")),
        ("lightgbm", ("lightgbm",)),
        ("catboost", ("catboost",)),
    ):
        for distribution in distributions:
            try:
                found[module] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def model_requirements(model: Any) -> list[str]:
    """Pinned pip requirements of the boosting library a pipeline uses (for MLflow)."""
    from importlib import metadata

    from app.trainer.boosting import library_of

    steps = getattr(model, "steps", [("model", model)])
    # By the class's ancestry: Trainyard's XGBoost classifier lives in app.trainer.xgb.
    library = library_of(type(steps[-1][1])) or ""
    distributions = {
        "xgboost": ("xgboost-cpu", "xgboost"),
        "lightgbm": ("lightgbm",),
        "catboost": ("catboost",),
    }
    for distribution in distributions.get(library, ()):
        try:
            return [f"{distribution}=={metadata.version(distribution)}"]
        except metadata.PackageNotFoundError:
            continue
    return []


def _write_json(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def _skops_bytes(pipeline: Any) -> bytes | None:
    """The skops file of ``pipeline`` with its schema written compactly, or None when this
    skops lacks the parts used (then ``skops.io.dump`` writes it).

    ``skops.io.dump`` writes ``schema.json`` with ``indent=2``, which makes Python's json
    module take its pure-Python encoder: 8.9 ms of CPU for a depth-3 tree against 3.1 ms
    without the indent (``docs/performance.md``). The archive is otherwise the same (the
    same state and the same protocol and version keys); skops reads the schema with
    ``json.loads``, which does not care for whitespace."""
    try:
        import skops
        from skops.io._utils import SaveContext, get_state
    except ImportError:
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        context = SaveContext(zip_file=archive)
        state = get_state(pipeline, context)
        context.clear_memo()
        state["protocol"] = context.protocol
        state["_skops_version"] = skops.__version__
        archive.writestr("schema.json", json.dumps(state))
    return buffer.getvalue()


def save_model(pipeline: Any, path: Path) -> None:
    """Write atomically: a reader never sees half a model."""
    tmp = path.with_suffix(".tmp")
    data = _skops_bytes(pipeline)
    if data is None:
        sio.dump(pipeline, tmp)
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)


def write_artifacts(
    directory: Path,
    pipeline: Any,
    *,
    metrics: dict[str, float],
    spec: dict[str, Any],
    lineage: dict[str, Any],
    evaluation: dict[str, Any] | None = None,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    save_model(pipeline, directory / MODEL_FILE)
    _write_json(directory / METRICS_FILE, metrics)
    _write_json(directory / SPEC_FILE, spec)
    _write_json(directory / LINEAGE_FILE, {**lineage, "libraries": dict(library_versions())})
    if evaluation is not None:
        _write_json(directory / EVALUATION_FILE, evaluation)
    return directory


def read_evaluation(directory: Path) -> dict[str, Any] | None:
    """The stored evaluation report, or None when the job has none (trained before reports)."""
    try:
        text = (directory / EVALUATION_FILE).read_text()
    except FileNotFoundError:
        return None
    report: dict[str, Any] = json.loads(text)
    return report


def _reviewed(needed: list[str], what: str) -> list[str]:
    refused = [
        t
        for t in needed
        if not (
            t.startswith(TRUSTED_MODULE_PREFIXES)
            or t in TRUSTED_BUILTINS
            or t in TRUSTED_BOOSTING_TYPES
        )
    ]
    if refused:
        raise UntrustedModelError(f"{what} holds untrusted types: {', '.join(refused)}")
    return list(needed)


def trusted_types(path: Path) -> list[str]:
    """The types the file needs, after checking each against the trusted list."""
    return _reviewed(sio.get_untrusted_types(file=path), path.name)


def model_trusted_types(model: Any) -> list[str]:
    """The types loading ``model`` from skops needs, checked like a file's (for MLflow)."""
    data = _skops_bytes(model)
    return _reviewed(
        sio.get_untrusted_types(data=sio.dumps(model) if data is None else data),
        type(model).__name__,
    )


def load_model(path: Path) -> Any:
    return sio.load(path, trusted=trusted_types(path))
