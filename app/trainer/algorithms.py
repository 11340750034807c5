"""The allow-list of estimators, and the checks of their parameters.

Built from ``sklearn.utils.all_estimators``: every classifier and regressor that can be built
without arguments, minus the few that cannot train on one 1-D target (multi-output models,
cross decomposition) and those scikit-learn has deprecated.
"""

from __future__ import annotations

import difflib
import inspect
import re
import threading
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

from sklearn.base import BaseEstimator, is_classifier, is_regressor
from sklearn.utils import all_estimators

from app.trainer import boosting
from app.trainer.errors import SpecError

# Need more than one target column, or exactly one feature: cannot serve a tabular job.
_UNSUITABLE = frozenset(
    {
        "CCA",
        "PLSCanonical",
        "IsotonicRegression",
        "MultiTaskElasticNet",
        "MultiTaskElasticNetCV",
        "MultiTaskLasso",
        "MultiTaskLassoCV",
        "ClassifierChain",
        "RegressorChain",
        "MultiOutputClassifier",
        "MultiOutputRegressor",
        "SelfTrainingClassifier",
        "TransformedTargetRegressor",
    }
)
# Models that are insensitive to feature scale; everything else gets standardised inputs.
_SCALE_FREE_MODULES = (
    "sklearn.tree",
    "sklearn.ensemble",
    "sklearn.naive_bayes",
    "sklearn.dummy",
    "xgboost.",
    "lightgbm.",
    "catboost.",
)
_CONSTRAINT_ERROR = re.compile(r"The '(?P<param>[^']+)' parameter")

CLASSIFICATION = "classification"
REGRESSION = "regression"


@dataclass(frozen=True)
class AlgorithmInfo:
    name: str
    task: str
    estimator_class: type[BaseEstimator]
    defaults: dict[str, Any]

    @property
    def module(self) -> str:
        return self.estimator_class.__module__

    @property
    def library(self) -> str | None:
        """``xgboost``, ``lightgbm`` or ``catboost`` for a boosting library's estimator."""
        return boosting.library_of(self.estimator_class)

    @property
    def needs_scaling(self) -> bool:
        return not self.module.startswith(_SCALE_FREE_MODULES)

    @property
    def supports_n_jobs(self) -> bool:
        return "n_jobs" in self.defaults

    @property
    def supports_random_state(self) -> bool:
        return "random_state" in self.defaults

    def constraints(self) -> dict[str, str]:
        """A readable rendering of scikit-learn's own parameter constraints."""
        raw = getattr(self.estimator_class, "_parameter_constraints", {})
        return {name: " | ".join(str(c) for c in raw.get(name, [])) for name in self.defaults}


def _task_of(estimator: BaseEstimator) -> str | None:
    if is_classifier(estimator):
        return CLASSIFICATION
    if is_regressor(estimator):
        return REGRESSION
    return None


_registry_lock = threading.Lock()


def registry() -> dict[str, AlgorithmInfo]:
    """Name -> info for every allowed estimator, built once per process.

    Built under a lock: the first requests of a server arrive together, and the warning
    filters the build sets (``catch_warnings``) are process-wide, so two builds at once would
    see each other's filters and drop estimators."""
    with _registry_lock:
        return _build_registry()


@cache
def _build_registry() -> dict[str, AlgorithmInfo]:
    found: dict[str, AlgorithmInfo] = {}
    for name, cls in all_estimators(type_filter=["classifier", "regressor"]):
        if name in _UNSUITABLE:
            continue
        signature = inspect.signature(cls.__init__)
        required = [
            p.name
            for p in signature.parameters.values()
            if p.name != "self"
            and p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if required:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            try:
                estimator = cls()
                task = _task_of(estimator)
            except Exception:  # deprecated, or cannot stand alone with defaults
                continue
        if task is None:
            continue
        found[name] = AlgorithmInfo(name, task, cls, estimator.get_params(deep=False))
    for name, (boosting_class, task) in boosting.available().items():
        defaults = boosting.parameters_of(name).defaults
        found[name] = AlgorithmInfo(name, task, boosting_class, dict(defaults))
    return dict(sorted(found.items()))


_IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$|^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _import_path(value: Any) -> str | None:
    """A string (at any depth) that names a module attribute, like ``os.system``."""
    if isinstance(value, str):
        return value if _IMPORT_PATH.match(value) else None
    if isinstance(value, list | tuple):
        values: list[Any] = list(value)
    elif isinstance(value, dict):
        values = [*value.keys(), *value.values()]
    else:
        return None
    for item in values:
        found = _import_path(item)
        if found is not None:
            return found
    return None


def get_algorithm(name: str, field: str = "algorithm_config.name") -> AlgorithmInfo:
    try:
        return registry()[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(registry()), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; GET /v1/algorithms lists them"
        raise SpecError(field, f"unknown algorithm {name!r}{hint}") from None


def build_estimator(
    info: AlgorithmInfo,
    parameters: dict[str, Any],
    field: str = "algorithm_config.parameters",
) -> BaseEstimator:
    """Instantiate the estimator and run scikit-learn's own parameter validation on it."""
    for name, value in parameters.items():
        # The boosting libraries hand their values to C++ (XGBoost objectives are spelled
        # like import paths: ``binary:logistic``), never to an import.
        suspicious = _import_path(value) if info.library is None else None
        if suspicious is not None:
            raise SpecError(
                f"{field}.{name}",
                f"{suspicious!r} looks like an import path; parameters take plain values only",
            )
    unknown = [p for p in parameters if p not in info.defaults]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, list(info.defaults), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise SpecError(f"{field}.{name}", f"{info.name} has no parameter {name!r}{hint}")
    if info.library is not None:
        boosting.check_types(info.name, parameters, field)
        boosting.check_values(info.name, parameters, field)
        return boosting.construct(info.name, parameters)
    estimator = info.estimator_class(**parameters)
    try:
        estimator._validate_params()
    except (ValueError, TypeError) as exc:
        match = _CONSTRAINT_ERROR.search(str(exc))
        where = f"{field}.{match['param']}" if match else field
        raise SpecError(where, str(exc)) from None
    return estimator
