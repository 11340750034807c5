"""XGBoost's classifier with the labels the data has.

``xgboost.XGBClassifier`` only takes labels already encoded as 0..k-1 and predicts those
codes. This subclass encodes the labels it is fitted on (``yes``/``no``, 3/7/9) and decodes
its predictions, so it is a drop-in scikit-learn classifier like the others; everything else
(parameters, the booster, callbacks) is XGBoost's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xgboost


class LabelledXGBClassifier(xgboost.XGBClassifier):
    def fit(self, X: Any, y: Any, **kwargs: Any) -> LabelledXGBClassifier:
        self.labels_ = np.unique(np.asarray(y))
        evals = kwargs.get("eval_set")
        if evals:
            kwargs["eval_set"] = [(Xe, self._encode(ye)) for Xe, ye in evals]
        # XGBoost checks the codes against ``classes_`` while it fits: codes until it is done.
        self.fitting_codes_ = True
        try:
            super().fit(X, self._encode(y), **kwargs)
        finally:
            self.fitting_codes_ = False
        return self

    def _encode(self, y: Any) -> np.ndarray[Any, Any]:
        return np.searchsorted(self.labels_, np.asarray(y))

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray[Any, Any]:
        codes = np.asarray(super().predict(X, **kwargs)).astype(int)
        return self.labels_[codes]  # type: ignore[no-any-return]

    @property
    def classes_(self) -> np.ndarray[Any, Any]:
        if getattr(self, "fitting_codes_", False):
            return np.arange(self.n_classes_)
        return self.labels_
