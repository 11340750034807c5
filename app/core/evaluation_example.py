"""The OpenAPI examples of the evaluation report (a binary classifier), kept apart for size."""

from __future__ import annotations

from typing import Any

JOB_ID = "3f1c2a9e-8d47-4b1e-9a55-0c6f1d2b7e10"

EVALUATION_REPORT: dict[str, Any] = {
    "job_id": JOB_ID,
    "task": "classification",
    "split": "validation",
    "rows": 114,
    "classification": {
        "labels": ["malignant", "benign"],
        "confusion_matrix": [[40, 2], [1, 71]],
        "per_class": [
            {
                "label": "malignant",
                "precision": 0.9756,
                "recall": 0.9524,
                "f1": 0.9639,
                "support": 42,
            },
            {"label": "benign", "precision": 0.9726, "recall": 0.9861, "f1": 0.9793, "support": 72},
        ],
        "score_source": "predict_proba",
        "roc": [
            {
                "label": "benign",
                "fpr": [0.0, 0.0, 0.0238, 0.0476, 1.0],
                "tpr": [0.0, 0.7639, 0.9722, 0.9861, 1.0],
                "thresholds": [None, 0.99, 0.71, 0.42, 0.0],
                "auc": 0.9947,
                "points": 5,
            },
        ],
        "precision_recall": [
            {
                "label": "benign",
                "precision": [0.6316, 0.9726, 0.9859, 1.0, 1.0],
                "recall": [1.0, 0.9861, 0.9722, 0.7639, 0.0],
                "thresholds": [0.0, 0.42, 0.71, 0.99, None],
                "average_precision": 0.9968,
                "points": 5,
            },
        ],
        "calibration": [
            {
                "label": "benign",
                "prob_pred": [0.03, 0.45, 0.97],
                "prob_true": [0.0, 0.5, 0.99],
                "bins": 10,
                "brier_score": 0.0281,
            },
        ],
        "notes": [],
    },
    "regression": None,
    "feature_importance": {
        "method": "permutation",
        "scoring": "accuracy",
        "n_repeats": 5,
        "rows": 114,
        "seed": 0,
        "seconds": 0.41,
        "budget_seconds": 5.0,
        "features": [
            {
                "feature": "worst concave points",
                "importance_mean": 0.0351,
                "importance_std": 0.0086,
            },
            {"feature": "worst area", "importance_mean": 0.0175, "importance_std": 0.0061},
        ],
    },
    "skipped_reason": None,
}

EVALUATION_NOT_COMPLETED: dict[str, Any] = {
    "type": "urn:trainyard:problem:job-state-conflict",
    "title": "Conflict",
    "status": 409,
    "detail": f"training job {JOB_ID} is running; its evaluation report is there once it has "
    "completed",
}
