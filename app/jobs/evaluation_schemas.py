"""The evaluation report's response model (``GET /v1/training-jobs/{job_id}/evaluation``)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

# -- the evaluation report (GET /v1/training-jobs/{job_id}/evaluation) ----------------------
# Curves hold at most 201 points, all points of scikit-learn's own curve (the first and the
# last kept); arrays of one curve are aligned; a number with no finite value is null.


class ClassMetrics(BaseModel):
    label: str
    precision: float
    recall: float
    f1: float
    support: int


class RocCurve(BaseModel):
    label: str = Field(description="The positive class (binary) or the class against the rest.")
    fpr: list[float | None]
    tpr: list[float | None]
    thresholds: list[float | None] = Field(description="null for scikit-learn's infinite first.")
    auc: float | None
    points: int | None = Field(default=None, description="Points of the curve before thinning.")


class PrecisionRecallCurve(BaseModel):
    label: str
    precision: list[float | None]
    recall: list[float | None]
    thresholds: list[float | None] = Field(description="null for the last point (recall 0).")
    average_precision: float | None
    points: int | None = None


class CalibrationCurve(BaseModel):
    label: str
    prob_pred: list[float | None]
    prob_true: list[float | None]
    bins: int
    brier_score: float | None = None


class ClassificationReport(BaseModel):
    labels: list[str]
    confusion_matrix: list[list[int]] = Field(
        description="Rows are the actual class, columns the predicted one, in `labels` order."
    )
    per_class: list[ClassMetrics]
    score_source: Literal["predict_proba", "decision_function"] | None = Field(
        default=None, description="What the curves are drawn from; null when there are none."
    )
    roc: list[RocCurve]
    precision_recall: list[PrecisionRecallCurve]
    calibration: list[CalibrationCurve]
    notes: list[str] = Field(default_factory=list)


class RegressionSample(BaseModel):
    actual: list[float | None]
    predicted: list[float | None]
    rows: int | None = None
    seed: int | None = None


class Histogram(BaseModel):
    bin_edges: list[float | None]
    counts: list[int]


class Residuals(BaseModel):
    definition: str = "actual - predicted"
    histogram: Histogram
    quantiles: dict[str, float | None]
    mean: float | None = None
    std: float | None = None


class RegressionReport(BaseModel):
    sample: RegressionSample
    residuals: Residuals


class FeatureImportance(BaseModel):
    feature: str = Field(description="An original input column.")
    importance_mean: float | None
    importance_std: float | None


class FeatureImportanceReport(BaseModel):
    method: Literal["permutation"]
    scoring: str
    n_repeats: int = Field(description="Repeats made (seeds seed .. seed + n_repeats - 1).")
    n_repeats_planned: int | None = Field(
        default=None, description="Repeats planned; fewer were made when the budget ran out."
    )
    rows: int
    seed: int
    seconds: float
    budget_seconds: float | None = None
    features: list[FeatureImportance] = Field(description="Most important first.")


class EvaluationReport(BaseModel):
    """A completed job's model on its validation split."""

    job_id: uuid.UUID
    task: Literal["classification", "regression"]
    split: Literal["validation"]
    rows: int = Field(description="Rows of the validation split the report was computed on.")
    classification: ClassificationReport | None
    regression: RegressionReport | None
    feature_importance: FeatureImportanceReport | None
    skipped_reason: str | None = Field(
        default=None, description="Why the feature importance (or the report) is missing."
    )
