"""The datasets that ship with scikit-learn, as ``sklearn://<name>`` sources."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pandas as pd

BUNDLED_SCHEME = "sklearn://"


def bundled_loaders() -> dict[str, Any]:
    from sklearn import datasets

    return {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
        "digits": datasets.load_digits,
    }


BUNDLED_DATASETS = ("iris", "wine", "breast_cancer", "diabetes", "digits")


@lru_cache(maxsize=len(BUNDLED_DATASETS))
def bundled_frame(name: str) -> pd.DataFrame:
    frame: pd.DataFrame = bundled_loaders()[name](as_frame=True).frame
    return frame
