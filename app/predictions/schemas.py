"""Predictions with a trained model: rows in, predictions out."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.core.schemas import StrictModel


class PredictionRequest(StrictModel):
    """Rows to predict, as records of the raw feature columns the model was trained on."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "rows": [
                        {
                            "sepal length (cm)": 5.1,
                            "sepal width (cm)": 3.5,
                            "petal length (cm)": 1.4,
                            "petal width (cm)": 0.2,
                        }
                    ]
                }
            ]
        },
    )

    rows: list[dict[str, JsonValue]] = Field(
        min_length=1, description="One object per row: feature column name to value."
    )


class PredictionResponse(BaseModel):
    job_id: uuid.UUID
    model_name: str
    model_version: str
    task: str
    predictions: list[JsonValue] = Field(description="One prediction per row, in row order.")
    classes: list[JsonValue] | None = Field(
        default=None, description="Class labels, in the order of each row's probabilities."
    )
    probabilities: list[list[float]] | None = Field(
        default=None, description="Per row, the probability of each class in `classes`."
    )


class ModelFeatures(BaseModel):
    """The raw columns a trained model takes, in order: what each prediction row must hold."""

    job_id: uuid.UUID
    task: str
    feature_columns: list[str]
