"""A JSON-safe description of the allowed estimators: framework, task, parameters with their
types, defaults and scikit-learn's own constraints (``_parameter_constraints``)."""

from __future__ import annotations

import math
import numbers
from functools import cache
from typing import Any

from app.trainer.algorithms import AlgorithmInfo, registry

# scikit-learn's string shorthands in ``_parameter_constraints`` -> JSON-ish type names.
_STRING_CONSTRAINTS: dict[str, tuple[str, str]] = {
    "boolean": ("boolean", "a bool"),
    "random_state": ("integer", "an int seed, or null"),
    "verbose": ("integer", "an int or a bool"),
    "array-like": ("array", "an array-like"),
    "sparse matrix": ("array", "a sparse matrix"),
    "nan": ("number", "NaN"),
    "cv_object": ("integer", "an int number of folds, or a CV splitter"),
}
_PYTHON_TYPES: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    dict: "object",
    list: "array",
    tuple: "array",
}


def framework_of(info: AlgorithmInfo) -> str:
    root = info.module.split(".", 1)[0]
    return "scikit-learn" if root == "sklearn" else root


def json_safe(value: Any) -> Any:
    """A value JSON can carry: non-finite floats as strings, classes and objects as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and not hasattr(value, "__len__"):  # NumPy scalar
        return json_safe(value.item())
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, type):
        return value.__name__
    return repr(value)


def _type_name(cls: type) -> str:
    if issubclass(cls, bool):
        return "boolean"
    if issubclass(cls, numbers.Integral):
        return "integer"
    if issubclass(cls, numbers.Real):
        return "number"
    return _PYTHON_TYPES.get(cls, cls.__name__)


def describe_constraint(constraint: Any) -> dict[str, Any] | None:
    """One entry of ``_parameter_constraints`` as ``{type, description[, options]}``.

    Hidden constraints (scikit-learn's internal or deprecated values) are left out.
    """
    kind = type(constraint).__name__
    if kind == "Hidden":
        return None
    if constraint is None:
        return {"type": "null", "description": "None"}
    if isinstance(constraint, str):
        name, text = _STRING_CONSTRAINTS.get(constraint, (constraint, constraint))
        return {"type": name, "description": text}
    if isinstance(constraint, type):
        name = _type_name(constraint)
        article = "an" if name[0] in "aeiou" else "a"
        return {"type": name, "description": f"{article} {name}"}
    if constraint is callable:
        return {"type": "callable", "description": "a callable"}
    if kind == "Interval":
        return {"type": _type_name(constraint.type), "description": str(constraint)}
    if kind in ("StrOptions", "Options"):
        deprecated: set[Any] = getattr(constraint, "deprecated", None) or set()
        options = sorted((o for o in constraint.options if o not in deprecated), key=str)
        name = "string" if kind == "StrOptions" else _type_name(constraint.type)
        safe = json_safe(options)
        text = "one of " + ", ".join(repr(o) for o in safe)
        return {"type": name, "description": text, "options": safe}
    if kind == "HasMethods":
        return {"type": "object", "description": str(constraint)}
    return {"type": kind, "description": str(constraint)}


def _describe_boosting(info: AlgorithmInfo) -> list[dict[str, Any]]:
    """Types from the library's annotations (or, for CatBoost, its resolved values)."""
    from app.trainer.boosting import parameters_of

    types = parameters_of(info.name).types
    return [
        {
            "name": name,
            "default": json_safe(default),
            "types": sorted(types.get(name, ("any",))),
            "constraints": [f"checked by {framework_of(info)} itself"],
        }
        for name, default in info.defaults.items()
    ]


def describe_parameters(info: AlgorithmInfo) -> list[dict[str, Any]]:
    if info.library is not None:
        return _describe_boosting(info)
    raw: dict[str, list[Any]] = getattr(info.estimator_class, "_parameter_constraints", {})
    parameters = []
    for name, default in info.defaults.items():
        described = [d for d in map(describe_constraint, raw.get(name, [])) if d is not None]
        types = sorted({d["type"] for d in described})
        if "random_state" in raw.get(name, []) and "null" not in types:
            types.append("null")
        options: list[Any] = []
        for d in described:
            options.extend(o for o in d.get("options", []) if o not in options)
        entry: dict[str, Any] = {
            "name": name,
            "default": json_safe(default),
            "types": types,
            "constraints": [d["description"] for d in described],
        }
        if options:
            entry["options"] = options
        parameters.append(entry)
    return parameters


def describe(info: AlgorithmInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "framework": framework_of(info),
        "task": info.task,
        "module": info.module,
        "parameters": describe_parameters(info),
    }


@cache
def catalog() -> tuple[dict[str, Any], ...]:
    """Every allowed estimator, described once per process (the registry does not change)."""
    return tuple(describe(info) for info in registry().values())
