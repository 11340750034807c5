"""XGBoost, LightGBM and CatBoost: their estimators, parameters and types, read from each
library, checked the way scikit-learn checks its own.

scikit-learn estimators carry ``_parameter_constraints``; these libraries do not. Their
parameters, defaults and types come from the library instead: the type annotations of
XGBoost's and LightGBM's ``__init__``, and for CatBoost (which has none) the types of the
values CatBoost itself resolves on a tiny fit (``get_all_params``). A value of the wrong type
is refused naming the parameter; a value of the right type that the library rejects is found
by a probe fit on a few synthetic rows (milliseconds), and refused naming the parameter too.
"""

from __future__ import annotations

import importlib
import inspect
import typing
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from app.trainer.errors import SpecError

# name -> (module, class, task)
ESTIMATORS: dict[str, tuple[str, str, str]] = {
    "XGBClassifier": ("xgboost", "XGBClassifier", "classification"),
    "XGBRegressor": ("xgboost", "XGBRegressor", "regression"),
    "LGBMClassifier": ("lightgbm", "LGBMClassifier", "classification"),
    "LGBMRegressor": ("lightgbm", "LGBMRegressor", "regression"),
    "CatBoostClassifier": ("catboost", "CatBoostClassifier", "classification"),
    "CatBoostRegressor": ("catboost", "CatBoostRegressor", "regression"),
}
LIBRARIES = ("xgboost", "lightgbm", "catboost")

# Parameters Trainyard sets itself (threads, logging, files, callbacks, the categorical
# columns) or that take Python objects a JSON request cannot carry.
_HIDDEN: dict[str, frozenset[str]] = {
    "xgboost": frozenset(
        {"callbacks", "feature_types", "enable_categorical", "feature_weights", "kwargs"}
    ),
    "lightgbm": frozenset({"kwargs"}),
    "catboost": frozenset(
        {
            "thread_count",
            "train_dir",
            "allow_writing_files",
            "save_snapshot",
            "snapshot_file",
            "snapshot_interval",
            "callback",
            "cat_features",
            "text_features",
            "embedding_features",
            "tokenizers",
            "dictionaries",
            "feature_calcers",
            "text_processing",
            "verbose",
            "silent",
            "logging_level",
            "metadata",
        }
    ),
}
# Parameters a library takes through ``**kwargs`` that Trainyard offers by name.
# LightGBM reads ``early_stopping_rounds`` as its alias of ``early_stopping_round``.
_EXTRA: dict[str, dict[str, tuple[Any, tuple[str, ...]]]] = {
    "xgboost": {},
    "lightgbm": {"early_stopping_rounds": (None, ("integer", "null"))},
    # CatBoost calls it thread_count; Trainyard's n_jobs (capped by the settings) sets it.
    "catboost": {"n_jobs": (None, ("integer", "null"))},
}
# Quiet by default: the libraries otherwise print every iteration into the job's log.
_QUIET: dict[str, dict[str, Any]] = {
    "xgboost": {"verbosity": 0},
    "lightgbm": {"verbose": -1},
    "catboost": {"verbose": False, "allow_writing_files": False},
}
# CatBoost resolves these from the data, so a tiny fit's value is no default.
_DATA_DEPENDENT = frozenset({"learning_rate", "class_names", "classes_count", "iterations"})
ITERATION_PARAMETER = {"xgboost": "n_estimators", "lightgbm": "n_estimators"}


def library_of(estimator_class: type) -> str | None:
    """The boosting library a class comes from (Trainyard's subclasses included)."""
    for klass in estimator_class.__mro__:
        root = klass.__module__.split(".", 1)[0]
        if root in LIBRARIES:
            return root
    return None


@dataclass(frozen=True)
class BoostingParameters:
    defaults: dict[str, Any]
    types: dict[str, tuple[str, ...]]


def _estimator_class(name: str) -> type:
    module, cls, _ = ESTIMATORS[name]
    found: type = getattr(importlib.import_module(module), cls)
    return found


def _json_types(annotation: Any) -> tuple[str, ...]:
    """JSON type names an annotation admits; () when it admits nothing JSON can carry."""
    if annotation is Any:
        return ("any",)
    origin = typing.get_origin(annotation)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        found: list[str] = []
        for arg in typing.get_args(annotation):
            found.extend(t for t in _json_types(arg) if t not in found)
        return tuple(found)
    if origin is typing.Literal:
        return ("string",)
    simple = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        type(None): "null",
        dict: "object",
        list: "array",
        tuple: "array",
    }
    if annotation in simple:
        return (simple[annotation],)
    if origin in (list, tuple, typing.Sequence) or origin is not None and "Sequence" in str(origin):
        return ("array",)
    if origin is dict:
        return ("object",)
    return ()  # callables, RandomState, library classes


def _annotated(cls: type, library: str) -> BoostingParameters:
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):  # XGBClassifier's own __init__ only names objective
        if "__init__" in vars(klass):
            try:
                hints.update(typing.get_type_hints(vars(klass)["__init__"]))
            except Exception:  # an annotation that does not resolve: its types stay unknown
                continue
    defaults = cls().get_params(deep=False)
    types: dict[str, tuple[str, ...]] = {}
    for name in list(defaults):
        if name in _HIDDEN[library]:
            del defaults[name]
            continue
        found = _json_types(hints[name]) if name in hints else ("any",)
        if name == "random_state":
            found = ("integer", "null")
        types[name] = found or ("any",)
    return BoostingParameters(defaults, types)


def _probe_rows(
    task: str, rows: int = 40, classes: int = 2
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 3))
    if task == "classification":
        return X, np.arange(rows) % classes
    return X, X[:, 0] + rng.normal(size=rows)


def _resolved_catboost(cls: type, task: str) -> dict[str, Any]:
    X, y = _probe_rows(task)
    model = cls(iterations=2, thread_count=1, **_QUIET["catboost"])
    model.fit(X, y)
    resolved: dict[str, Any] = model.get_all_params()
    return resolved


def _catboost(cls: type, task: str) -> BoostingParameters:
    signature = inspect.signature(cls)
    resolved = _resolved_catboost(cls, task)
    simple = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}
    defaults: dict[str, Any] = {}
    types: dict[str, tuple[str, ...]] = {}
    for name, parameter in signature.parameters.items():
        if name == "self" or name in _HIDDEN["catboost"]:
            continue
        default = parameter.default
        value = resolved.get(name)
        if default is None and value is not None and name not in _DATA_DEPENDENT:
            default = value
        defaults[name] = default
        kind = simple.get(type(value))
        if kind == "integer" and isinstance(value, int):  # 3 stands for 3.0 as often as not
            types[name] = ("integer", "number", "null")
        elif kind is not None:
            types[name] = (kind, "null")
        else:
            types[name] = ("any",)
    return BoostingParameters(defaults, types)


@cache
def parameters_of(name: str) -> BoostingParameters:
    """The parameters of one boosting estimator, described once per process."""
    cls = _estimator_class(name)
    library = ESTIMATORS[name][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        described = _catboost(cls, ESTIMATORS[name][2]) if library == "catboost" else None
        described = described or _annotated(cls, library)
    for extra, (default, kinds) in _EXTRA[library].items():
        described.defaults.setdefault(extra, default)
        described.types.setdefault(extra, kinds)
    return described


def available() -> dict[str, tuple[type, str]]:
    """Name -> (class, task) for every boosting estimator whose library imports."""
    found: dict[str, tuple[type, str]] = {}
    for name, (_, _, task) in ESTIMATORS.items():
        try:
            found[name] = (_estimator_class(name), task)
        except ImportError:
            continue
    return found


_TYPE_OF: dict[str, Any] = {
    "boolean": lambda v: isinstance(v, bool | np.bool_),
    "integer": lambda v: isinstance(v, int | np.integer) and not isinstance(v, bool),
    "number": lambda v: (
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
    ),
    "string": lambda v: isinstance(v, str),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list | tuple),
    "object": lambda v: isinstance(v, dict),
    "any": lambda v: True,
}


def check_types(name: str, parameters: dict[str, Any], field: str) -> None:
    described = parameters_of(name)
    for key, value in parameters.items():
        kinds = described.types.get(key, ("any",))
        if not any(_TYPE_OF[k](value) for k in kinds):
            raise SpecError(
                f"{field}.{key}",
                f"The {key!r} parameter of {name} must be {' or '.join(kinds)}; got {value!r}",
            )


def construct(name: str, parameters: dict[str, Any]) -> Any:
    """The estimator with Trainyard's managed settings (quiet, no files, threads) applied."""
    library = ESTIMATORS[name][0]
    values = {**_QUIET[library], **parameters}
    if library == "catboost":
        values["thread_count"] = values.pop("n_jobs", None) or 1
    if name == "XGBClassifier":
        from app.trainer.xgb import LabelledXGBClassifier

        return LabelledXGBClassifier(**values)
    return _estimator_class(name)(**values)


def _probe_once(name: str, parameters: dict[str, Any], classes: int) -> str | None:
    library, _, task = ESTIMATORS[name]
    capped = dict(parameters)
    capped.pop("early_stopping_rounds", None)
    capped["n_jobs"] = 1
    names: tuple[str, ...] = ("n_estimators", "iterations", "num_boost_round", "num_trees")
    aliases = [k for k in names if k in capped]
    for key in aliases or [ITERATION_PARAMETER.get(library, "iterations")]:
        capped[key] = 2
    X, y = _probe_rows(task, classes=classes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            construct(name, capped).fit(X, y)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()[:500]
    return None


def _probe(name: str, parameters: dict[str, Any]) -> str | None:
    """The library's own complaint about ``parameters``, from a fit on a few rows.

    A classifier's complaint about classes is tried again on three classes: a multi-class
    objective is no error on a binary probe's account.
    """
    complaint = _probe_once(name, parameters, 2)
    about_classes = complaint is not None and "class" in complaint.lower()
    if about_classes and ESTIMATORS[name][2] == "classification":
        if _probe_once(name, parameters, 3) is None:
            return None
    return complaint


def check_values(name: str, parameters: dict[str, Any], field: str) -> None:
    """Refuse values the library itself rejects, naming the parameter at fault.

    The culprit is the parameter the library's message names, else the one that fails alone.
    A complaint that no single parameter causes may come from the probe's synthetic rows
    rather than from the values: it is left for the real fit to decide.
    """
    if not parameters:
        return
    complaint = _probe(name, parameters)
    if complaint is None:
        return
    lowered = complaint.lower()
    named = [key for key in sorted(parameters, key=len, reverse=True) if key.lower() in lowered]
    culprits = named or [key for key in parameters if _probe(name, {key: parameters[key]})]
    if culprits:
        key = culprits[0]
        raise SpecError(f"{field}.{key}", f"{name} rejects {key}={parameters[key]!r}: {complaint}")
