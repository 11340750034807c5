"""The estimator catalog as the API shows it."""

from __future__ import annotations

from pydantic import BaseModel, Field, JsonValue

from app.jobs.schemas import TaskType


class AlgorithmParameter(BaseModel):
    """One constructor parameter of an estimator."""

    name: str
    default: JsonValue = Field(description="The estimator's default (non-finite floats as text).")
    types: list[str] = Field(
        description="JSON types the parameter accepts (`integer`, `number`, `string`, ...)."
    )
    constraints: list[str] = Field(description="scikit-learn's own constraints, readable.")
    options: list[JsonValue] | None = Field(
        default=None, description="The allowed values, when the parameter takes named options."
    )


class AlgorithmResponse(BaseModel):
    """An estimator that training jobs may use."""

    name: str
    framework: str
    task: TaskType
    module: str
    parameters: list[AlgorithmParameter]


class AlgorithmList(BaseModel):
    items: list[AlgorithmResponse]
    total: int
