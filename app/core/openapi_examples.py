"""Request and response examples of every operation, shown by /docs and /redoc.

Keyed by (method, OpenAPI path); an entry for an endpoint this build lacks is skipped.
"""

from __future__ import annotations

from typing import Any

from app.core.evaluation_example import EVALUATION_NOT_COMPLETED, EVALUATION_REPORT

JSON = "application/json"
PROBLEM = "application/problem+json"
JOB_ID = "3f1c2a9e-8d47-4b1e-9a55-0c6f1d2b7e10"

_IRIS_REQUEST = {
    "model_name": "iris-classifier",
    "data_source_config": {"path": "sklearn://iris", "target_column": "target"},
    "algorithm_config": {
        "name": "RandomForestClassifier",
        "parameters": {"n_estimators": 100, "random_state": 42},
    },
    "experiment_name": "iris",
    "tags": {"team": "research"},
}
_TUNING_REQUEST = {
    "model_name": "wine-tuned",
    "data_source_config": {"path": "sklearn://wine", "target_column": "target"},
    "algorithm_config": {"name": "GradientBoostingClassifier"},
    "hyperparameter_tuning_config": {
        "strategy": "bayesian",
        "search_space": {
            "n_estimators": {"type": "int", "low": 20, "high": 200},
            "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
        },
        "objective_metric": "f1_macro",
        "max_trials": 20,
        "cv_folds": 3,
    },
    "resource_config": {"max_runtime_seconds": 600, "n_jobs": 2},
}
_CSV_REQUEST = {
    "model_name": "churn",
    "data_source_config": {
        "path": "customers.csv",
        "target_column": "churned",
        "feature_columns": ["age", "plan", "monthly_spend"],
    },
    "algorithm_config": {"name": "LogisticRegression", "parameters": {"C": 0.5}},
    "evaluation_config": {"test_size": 0.25, "random_state": 7},
}

_PENDING = {
    "job_id": JOB_ID,
    "model_name": "iris-classifier",
    "model_version": "1",
    "algorithm": "RandomForestClassifier",
    "status": "pending",
    "stage": "queued",
    "message": None,
    "progress": 0.0,
    "experiment_name": "iris",
    "tags": {"team": "research"},
    "created_at": "2026-11-27T07:30:00.120000Z",
    "updated_at": "2026-11-27T07:30:00.120000Z",
    "attempt": 0,
}
_COMPLETED = {
    **_PENDING,
    "status": "completed",
    "stage": "done",
    "message": "trained RandomForestClassifier in 0.21s",
    "progress": 100.0,
    "metrics": {
        "validation_accuracy": 0.9667,
        "validation_balanced_accuracy": 0.9667,
        "validation_f1_macro": 0.9666,
        "validation_roc_auc": 0.9967,
        "train_accuracy": 1.0,
    },
    "artifacts_location": f"/srv/trainyard/var/artifacts/{JOB_ID}",
    "data": {"rows": 150, "columns": 5, "train_rows": 120, "validation_rows": 30},
    "started_at": "2026-11-27T07:30:00.180000Z",
    "updated_at": "2026-11-27T07:30:01.020000Z",
    "completed_at": "2026-11-27T07:30:01.020000Z",
    "attempt": 1,
}
_CANCELLING = {
    **_PENDING,
    "status": "running",
    "stage": "tuning",
    "message": "cancellation requested",
    "progress": 41.5,
    "eta_seconds": 12.4,
    "started_at": "2026-11-27T07:30:00.180000Z",
    "attempt": 1,
}
_NOT_FOUND = {
    "type": "urn:trainyard:problem:not-found",
    "title": "Not Found",
    "status": 404,
    "detail": f"training job {JOB_ID} not found",
}
_PAGE: dict[str, Any] = {"next_page_token": "WzEsIjIwMjYtMTEtMjdUMDc6MzAiLCIzZiJd", "total": None}
_PAGE |= {"limit": 1, "offset": 0}
_RUNNING: dict[str, Any] = {"type": "urn:trainyard:problem:job-state-conflict", "status": 409}
_RUNNING |= {"title": "Conflict", "detail": f"training job {JOB_ID} is running; cancel it first"}
_INVALID = {
    "type": "urn:trainyard:problem:invalid-configuration",
    "title": "Unprocessable Content",
    "status": 422,
    "detail": "algorithm_config.parameters.n_trees: RandomForestClassifier has no parameter "
    "'n_trees'",
    "errors": [
        {
            "field": "algorithm_config.parameters.n_trees",
            "message": "RandomForestClassifier has no parameter 'n_trees'",
        }
    ],
}
_ALGORITHM = {
    "name": "RandomForestClassifier",
    "framework": "scikit-learn",
    "task": "classification",
    "module": "sklearn.ensemble._forest",
    "parameters": [
        {
            "name": "criterion",
            "default": "gini",
            "types": ["string"],
            "constraints": ["one of 'entropy', 'gini', 'log_loss'"],
            "options": ["entropy", "gini", "log_loss"],
        },
        {
            "name": "max_depth",
            "default": None,
            "types": ["integer", "null"],
            "constraints": ["an int in the range [1, inf)", "None"],
        },
        {
            "name": "n_estimators",
            "default": 100,
            "types": ["integer"],
            "constraints": ["an int in the range [1, inf)"],
        },
    ],
}

_PREDICTIONS = {
    "job_id": JOB_ID,
    "model_name": "iris-classifier",
    "model_version": "1",
    "task": "classification",
    "predictions": [0],
    "classes": [0, 1, 2],
    "probabilities": [[1.0, 0.0, 0.0]],
}
_DATASET = {
    "path": "uploads/houses.csv",
    "name": "houses.csv",
    "format": "csv",
    "size_bytes": 215,
    "rows": 10,
    "columns": ["rooms", "area_m2", "city", "age_years", "price_k"],
    "fingerprint": "xxh3_128:bc6ea30a913110db21eff4e7723430b6",
    "uploaded_at": "2026-11-27T08:09:31.359686Z",
}
_VALIDATION_REPORT = {
    "valid": True,
    "resolved": {
        "algorithm": "RandomForestClassifier",
        "task": "classification",
        "target_column": "target",
        "feature_columns": [
            "sepal length (cm)",
            "sepal width (cm)",
            "petal length (cm)",
            "petal width (cm)",
        ],
        "n_jobs": 1,
        "max_runtime_seconds": 3600,
    },
    "data": {
        "location": "sklearn://iris",
        "format": "bundled",
        "fingerprint": "xxh3_128:1f2724bd3fa1aa17e6cca1f6fa9f9e92",
        "size_bytes": 0,
        "rows": 150,
        "columns": 5,
    },
    "profile": {
        "rows": 150,
        "columns": 5,
        "rows_dropped_missing_target": 0,
        "column_profiles": [
            {
                "name": "sepal length (cm)",
                "dtype": "float64",
                "kind": "numeric",
                "missing": 0,
                "distinct": 35,
            },
            {"name": "target", "dtype": "int64", "kind": "target", "missing": 0, "distinct": 3},
        ],
        "class_balance": {"0": 50, "1": 50, "2": 50},
        "target_summary": None,
    },
    "notes": [],
}


WEBHOOK_ID = "9b2e4c1a-0f3d-4e8b-a1c2-5d6e7f809a1b"
_WEBHOOK_IN = {
    "url": "https://hooks.example.com/trainyard",
    "events": ["job.completed", "job.failed"],
    "model_name": "iris-classifier",
}
_WEBHOOK = {
    "id": WEBHOOK_ID,
    **_WEBHOOK_IN,
    "experiment_name": None,
    "created_at": "2026-11-27T07:00:00Z",
}
_WEBHOOK_REFUSED = {
    "type": "urn:trainyard:problem:invalid-configuration",
    "title": "Unprocessable Content",
    "status": 422,
    "detail": "url: the host 10.0.0.5:80 is not allowed: http:// sources are read only from hosts "
    "listed in TRAINYARD_WEBHOOK_ALLOWED_HOSTS (add 'http://10.0.0.5' to allow it)",
    "errors": [{"field": "url", "message": "the host 10.0.0.5:80 is not allowed"}],
}
_WEBHOOK_NOT_FOUND = {
    "type": "urn:trainyard:problem:not-found",
    "title": "Not Found",
    "status": 404,
    "detail": f"webhook {WEBHOOK_ID} not found",
}
_DELIVERY = {
    "id": "5a8d2f0e-3c1b-4d7a-9e6f-1b2c3d4e5f60",
    "event_type": "job.completed",
    "status": "delivered",
    "attempts": 2,
    "tries": [
        {"at": "2026-11-27T07:30:01.100Z", "status_code": 503, "error": None, "duration_ms": 4.1},
        {"at": "2026-11-27T07:30:06.300Z", "status_code": 200, "error": None, "duration_ms": 3.2},
    ],
    "next_try_at": None,
    "created_at": "2026-11-27T07:30:01.050Z",
    "delivered_at": "2026-11-27T07:30:06.300Z",
    "payload": {
        "id": "5a8d2f0e-3c1b-4d7a-9e6f-1b2c3d4e5f60",
        "type": "job.completed",
        "created_at": "2026-11-27T07:30:01.050Z",
        "data": {"job_id": JOB_ID, "model_name": "iris-classifier", "status": "completed"},
    },
}

OPERATION_EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/training-jobs"): {
        "request": {
            "iris": {"summary": "Random forest on the bundled iris data", "value": _IRIS_REQUEST},
            "tuning": {"summary": "Bayesian search on wine", "value": _TUNING_REQUEST},
            "csv": {"summary": "A CSV file under the data root", "value": _CSV_REQUEST},
        },
        "responses": {202: (JSON, _PENDING), 422: (PROBLEM, _INVALID)},
    },
    ("get", "/v1/training-jobs"): {
        "responses": {200: (JSON, {"items": [_COMPLETED], **_PAGE})},
    },
    ("get", "/v1/training-jobs/{job_id}"): {
        "responses": {200: (JSON, _COMPLETED), 404: (PROBLEM, _NOT_FOUND)},
    },
    ("delete", "/v1/training-jobs/{job_id}"): {
        "responses": {404: (PROBLEM, _NOT_FOUND), 409: (PROBLEM, _RUNNING)},
    },
    ("post", "/v1/training-jobs/{job_id}/cancel"): {
        "responses": {
            202: (JSON, _CANCELLING),
            409: (
                PROBLEM,
                {
                    "type": "urn:trainyard:problem:job-state-conflict",
                    "title": "Conflict",
                    "status": 409,
                    "detail": f"training job {JOB_ID} is already completed; only pending or "
                    "running jobs can be cancelled",
                },
            ),
        },
    },
    ("get", "/v1/training-jobs/{job_id}/events"): {
        "responses": {
            200: (
                JSON,
                [
                    {
                        "created_at": "2026-11-27T07:30:00.120000Z",
                        "status": "pending",
                        "stage": "queued",
                        "progress": 0.0,
                        "attempt": 0,
                        "message": "submitted",
                    },
                    {
                        "created_at": "2026-11-27T07:30:00.180000Z",
                        "status": "running",
                        "stage": "fetching_data",
                        "progress": 2.0,
                        "attempt": 1,
                        "message": None,
                    },
                    {
                        "created_at": "2026-11-27T07:30:01.020000Z",
                        "status": "completed",
                        "stage": "done",
                        "progress": 100.0,
                        "attempt": 1,
                        "message": "trained RandomForestClassifier in 0.21s",
                    },
                ],
            ),
            404: (PROBLEM, _NOT_FOUND),
        },
    },
    ("get", "/v1/training-jobs/{job_id}/trials"): {
        "responses": {
            200: (
                JSON,
                [
                    {
                        "number": 0,
                        "attempt": 1,
                        "params": {"n_estimators": 57, "learning_rate": 0.042},
                        "state": "complete",
                        "mean_score": 0.9508,
                        "std_score": 0.0121,
                        "fold_scores": [0.9375, 0.9667, 0.9483],
                        "resource": None,
                        "error": None,
                        "duration_seconds": 0.84,
                        "started_at": "2026-11-27T07:30:00.400000Z",
                        "finished_at": "2026-11-27T07:30:01.240000Z",
                    }
                ],
            ),
            404: (PROBLEM, _NOT_FOUND),
        },
    },
    ("get", "/v1/training-jobs/{job_id}/evaluation"): {
        "responses": {
            200: (JSON, EVALUATION_REPORT),
            404: (PROBLEM, _NOT_FOUND),
            409: (PROBLEM, EVALUATION_NOT_COMPLETED),
        },
    },
    ("get", "/v1/training-jobs/{job_id}/logs"): {
        "responses": {
            200: (
                "text/plain",
                "==> attempt 1 <==\n"
                "2026-11-27 07:30:00,190 INFO app.execution.attempt: attempt 1 of job "
                f"{JOB_ID} started in process 4242\n"
                "2026-11-27 07:30:00,230 INFO app.execution.attempt: stage preprocessing: "
                "read 150 rows x 5 columns\n",
            ),
            404: (PROBLEM, _NOT_FOUND),
        },
    },
    ("get", "/v1/training-jobs/{job_id}/model"): {
        "responses": {404: (PROBLEM, _NOT_FOUND)},
    },
    ("get", "/v1/training-jobs/{job_id}/model/features"): {
        "responses": {
            200: (
                JSON,
                {
                    "job_id": JOB_ID,
                    "task": "classification",
                    "feature_columns": [
                        "sepal length (cm)",
                        "sepal width (cm)",
                        "petal length (cm)",
                        "petal width (cm)",
                    ],
                },
            ),
            404: (PROBLEM, _NOT_FOUND),
        },
    },
    ("post", "/v1/training-jobs/{job_id}/predictions"): {
        "request": {
            "iris": {
                "summary": "Raw feature rows, as in the training data",
                "value": {
                    "rows": [
                        {
                            "sepal length (cm)": 5.1,
                            "sepal width (cm)": 3.5,
                            "petal length (cm)": 1.4,
                            "petal width (cm)": 0.2,
                        }
                    ]
                },
            }
        },
        "responses": {200: (JSON, _PREDICTIONS), 404: (PROBLEM, _NOT_FOUND)},
    },
    ("post", "/v1/training-jobs/validate"): {
        "request": {"iris": {"summary": "Check a job without training", "value": _IRIS_REQUEST}},
        "responses": {200: (JSON, _VALIDATION_REPORT), 422: (PROBLEM, _INVALID)},
    },
    ("post", "/v1/datasets"): {
        "responses": {201: (JSON, _DATASET)},
    },
    ("get", "/v1/datasets"): {
        "responses": {200: (JSON, {"items": [_DATASET]})},
    },
    ("get", "/v1/algorithms"): {
        "responses": {200: (JSON, {"items": [_ALGORITHM], "total": 1})},
    },
    ("get", "/v1/algorithms/{name}"): {
        "responses": {
            200: (JSON, _ALGORITHM),
            404: (
                PROBLEM,
                {
                    "type": "urn:trainyard:problem:not-found",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "unknown algorithm 'RandomForest'; did you mean "
                    "RandomForestClassifier, RandomForestRegressor?",
                },
            ),
        },
    },
    ("get", "/healthz"): {"responses": {200: (JSON, {"status": "ok"})}},
    ("get", "/readyz"): {
        "responses": {
            200: (JSON, {"status": "ready", "checks": {"database": "ok", "executor": "ok"}}),
            503: (
                JSON,
                {
                    "status": "not ready",
                    "checks": {"database": "error: OperationalError", "executor": "ok"},
                },
            ),
        }
    },
    ("get", "/metrics"): {
        "responses": {
            200: (
                "text/plain; version=0.0.4; charset=utf-8",
                '# TYPE trainyard_jobs gauge\ntrainyard_jobs{status="completed"} 12.0\n'
                'trainyard_jobs{status="running"} 1.0\n',
            )
        }
    },
    ("get", "/v1/training-jobs/{job_id}/stream"): {
        "responses": {
            200: (
                "text/event-stream",
                f'event: status\nid: e0.t0.l0:0\ndata: {{"job_id":"{JOB_ID}","status":"running"}}'
                "\n\nevent: event\nid: e7.t0.l0:0\n"
                f'data: {{"id":7,"job_id":"{JOB_ID}","status":"completed","stage":"done"}}\n\n',
            ),
            404: (PROBLEM, _NOT_FOUND),
        }
    },
    ("get", "/v1/training-jobs/stream"): {
        "responses": {
            200: (
                "text/event-stream",
                'event: ready\nid: e6.t0\ndata: {"cursor":"e6.t0"}\n\n'
                "event: event\nid: e7.t0\n"
                f'data: {{"id":7,"job_id":"{JOB_ID}","status":"pending","stage":"queued"}}\n\n',
            )
        }
    },
    ("post", "/v1/webhooks"): {
        "request": {"completion": {"summary": "Job outcomes of one model", "value": _WEBHOOK_IN}},
        "responses": {
            201: (
                JSON,
                {**_WEBHOOK, "secret": "whsec_3q2-7wTnYb0mS3pZ0kq9yq2fD1a6b0O1yDk5H2u4xXo"},
            ),
            422: (PROBLEM, _WEBHOOK_REFUSED),
        },
    },
    ("get", "/v1/webhooks"): {"responses": {200: (JSON, {"items": [_WEBHOOK]})}},
    ("get", "/v1/webhooks/{webhook_id}"): {
        "responses": {200: (JSON, _WEBHOOK), 404: (PROBLEM, _WEBHOOK_NOT_FOUND)}
    },
    ("delete", "/v1/webhooks/{webhook_id}"): {"responses": {404: (PROBLEM, _WEBHOOK_NOT_FOUND)}},
    ("get", "/v1/webhooks/{webhook_id}/deliveries"): {
        "responses": {200: (JSON, {"items": [_DELIVERY]}), 404: (PROBLEM, _WEBHOOK_NOT_FOUND)}
    },
}
