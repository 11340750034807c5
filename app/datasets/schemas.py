"""Uploaded data files as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.integrations.data_layer.config import DataFormat


class DatasetInfo(BaseModel):
    """An uploaded data file; `path` is what `data_source_config.path` takes."""

    path: str
    name: str
    format: DataFormat
    size_bytes: int
    rows: int | None = None
    columns: list[str] | None = None
    fingerprint: str | None = None
    uploaded_at: datetime


class DatasetList(BaseModel):
    items: list[DatasetInfo]
