"""What a job says about its data: where it is, its format, which columns to use."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, field_validator, model_validator

from app.core.schemas import StrictModel

DataFormat = Literal["csv", "tsv", "parquet", "json", "jsonl", "feather"]


class ReadOptions(StrictModel):
    """Options for text formats (csv, tsv)."""

    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    encoding: str | None = Field(default=None, max_length=64)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown text encoding {value!r}") from None
        return value


class DataSourceConfig(StrictModel):
    """Where the training data is and which columns to use."""

    path: str = Field(
        min_length=1,
        max_length=4096,
        description=(
            "A file under a data root (relative paths resolve against the first root), "
            "a bundled dataset such as `sklearn://iris`, `https://` from an allowed host, "
            "or `s3://` from an allowed bucket."
        ),
        examples=["sklearn://iris", "customers.csv"],
    )
    type: DataFormat | None = Field(
        default=None, description="File format; taken from the file extension when omitted."
    )
    feature_columns: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Columns used as features; every column but the target when omitted.",
    )
    target_column: str = Field(min_length=1, description="The column to predict.")
    read_options: ReadOptions | None = None

    @field_validator("feature_columns")
    @classmethod
    def _unique_columns(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            seen: set[str] = set()
            duplicated = sorted({c for c in value if c in seen or seen.add(c)})  # type: ignore[func-returns-value]
            if duplicated:
                raise ValueError(f"columns listed more than once: {', '.join(duplicated)}")
        return value

    @model_validator(mode="after")
    def _target_not_a_feature(self) -> DataSourceConfig:
        if self.feature_columns and self.target_column in self.feature_columns:
            raise ValueError(
                f"target_column {self.target_column!r} is also listed in feature_columns"
            )
        return self
