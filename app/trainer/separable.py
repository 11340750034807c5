"""Which columns of a fitted preprocessing's output depend on each raw column, and on it alone.

The permutation importance shuffles one raw column at a time. When the preprocessing works
row by row and keeps the raw columns apart (each output column is made from one raw column,
the same way for every row), shuffling a raw column's rows and then preprocessing gives the
same array as preprocessing once and shuffling the rows of that column's outputs. The second
costs a copy of an array instead of a pass through the preprocessing per shuffled copy.

This module answers for the pipelines ``app.trainer.preprocessing`` builds, step by step, from
what each known step does; for anything else it answers None and the caller shuffles the raw
columns as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

from app.trainer.preprocessing import CategoricalAsText, DatetimeFeatures

# Steps whose output column k is their input column k, transformed.
_ONE_TO_ONE = (StandardScaler, MinMaxScaler, RobustScaler, MaxAbsScaler, CategoricalAsText)
# Steps whose output columns are named after the input column each comes from.
_NAMED = (SimpleImputer, OrdinalEncoder, OneHotEncoder)
_MARK = "\x1f"


def _token(index: int) -> str:
    return f"{_MARK}{index}{_MARK}"


def _named_inputs(step: Any, width: int) -> list[int] | None:
    """The input each output of ``step`` comes from, read from its output names: marked
    placeholders as input names (``"<mark>3<mark>_red"`` comes from input 3), or, for a step
    fitted on named columns, names that must equal an input's name."""
    if isinstance(step, SimpleImputer) and step.add_indicator:
        return None
    known = getattr(step, "feature_names_in_", None)
    if known is not None and isinstance(step, OneHotEncoder):
        return None  # "a_x" may be column a's category x or a column named a_x
    if known is not None:
        inputs = {str(name): index for index, name in enumerate(known)}
        found = [inputs.get(str(name)) for name in step.get_feature_names_out()]
        return None if any(index is None for index in found) else found  # type: ignore[return-value]
    owners = []
    for name in step.get_feature_names_out([_token(i) for i in range(width)]):
        text = str(name)
        end = text.find(_MARK, 1)
        if not text.startswith(_MARK) or end < 0 or not text[1:end].isdigit():
            return None
        owners.append(int(text[1:end]))
    return owners


def _through(step: Any, owners: list[int]) -> list[int] | None:
    """``owners`` (the raw column of each input of ``step``) for each output of ``step``."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return owners
    if isinstance(step, Pipeline):
        for _, inner in step.steps:
            if (next_owners := _through(inner, owners)) is None:
                return None
            owners = next_owners
        return owners
    if getattr(step, "n_features_in_", len(owners)) != len(owners):
        return None
    if isinstance(step, _ONE_TO_ONE):
        return owners
    if isinstance(step, DatetimeFeatures):
        return [owner for owner in owners for _ in step.parts]
    if isinstance(step, _NAMED):
        found = _named_inputs(step, len(owners))
        return None if found is None else [owners[index] for index in found]
    return None


def _positions(selected: Any, columns: Sequence[str]) -> list[int] | None:
    """The positions of a transformer's columns given as names or positions; None for any
    other selection (a slice, a mask)."""
    index = {name: position for position, name in enumerate(columns)}
    if isinstance(selected, str | int | np.integer) and not isinstance(selected, bool):
        selected = [selected]
    if not isinstance(selected, list | tuple | np.ndarray):
        return None
    out = []
    for item in list(selected):
        if isinstance(item, str) and item in index:
            out.append(index[item])
        elif isinstance(item, int | np.integer) and not isinstance(item, bool):
            out.append(int(item))
        else:
            return None
    return out


def column_groups(model: Any, columns: Sequence[str]) -> tuple[Any, list[np.ndarray]] | None:
    """``(final estimator, output columns of each raw column)`` for a pipeline of one
    ``ColumnTransformer`` and an estimator whose every transformer is known to work row by
    row and column by column; None for any other model. Each output column belongs to
    exactly one raw column (a raw column the preprocessing drops has none)."""
    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        return None
    preprocessor, estimator = model.steps[0][1], model.steps[1][1]
    if not isinstance(preprocessor, ColumnTransformer):
        return None
    groups: list[list[int]] = [[] for _ in columns]
    width = 0
    for name, transformer, selected in preprocessor.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        block = preprocessor.output_indices_[name]
        positions = _positions(selected, columns)
        if positions is None:
            return None
        owners = _through(transformer, positions)
        if owners is None or len(owners) != block.stop - block.start:
            return None
        for offset, owner in enumerate(owners):
            groups[owner].append(block.start + offset)
        width = max(width, block.stop)
    if sorted(i for group in groups for i in group) != list(range(width)):
        return None
    return estimator, [np.asarray(group, dtype=np.intp) for group in groups]
