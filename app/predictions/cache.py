"""Trained models at serving time: the model file of a job, and a bounded cache of loaded ones.

Models are read from the job's local artifacts (``ARTIFACT_ROOT/<job_id>/model.skops``),
which stay whether or not a registry is used, and are loaded with skops' trusted-type
check. The cache holds at most ``max_models`` pipelines and about ``max_bytes`` of them
(a model's file size stands for its size in memory), least recently used out first.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.trainer.artifacts import MODEL_FILE, SPEC_FILE, load_model


@dataclass(frozen=True)
class ModelFile:
    path: Path
    filename: str


@dataclass(frozen=True)
class LoadedModel:
    pipeline: Any
    feature_columns: list[str]
    task: str
    size_bytes: int
    stamp: tuple[int, int]


def model_path(artifact_root: Path, job_id: uuid.UUID) -> Path:
    return Path(artifact_root).resolve() / str(job_id) / MODEL_FILE


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


class ModelCache:
    def __init__(self, *, max_models: int, max_bytes: int) -> None:
        self.max_models = max_models
        self.max_bytes = max_bytes
        self._entries: OrderedDict[uuid.UUID, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[uuid.UUID, threading.Lock] = {}
        self.hits = 0
        self.loads = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return sum(e.size_bytes for e in self._entries.values())

    def _cached(self, job_id: uuid.UUID, stamp: tuple[int, int]) -> LoadedModel | None:
        entry = self._entries.get(job_id)
        if entry is not None and entry.stamp == stamp:
            self._entries.move_to_end(job_id)
            self.hits += 1
            return entry
        return None

    def get(self, job_id: uuid.UUID, path: Path) -> LoadedModel:
        """The loaded model of ``job_id`` (loading it at most once at a time per job)."""
        stamp = _stamp(path)
        with self._lock:
            entry = self._cached(job_id, stamp)
            if entry is not None:
                return entry
            loading = self._loading.setdefault(job_id, threading.Lock())
        with loading:
            with self._lock:
                entry = self._cached(job_id, stamp)
                if entry is not None:
                    return entry
            entry = self._load(path, stamp)
            with self._lock:
                self.loads += 1
                self._entries[job_id] = entry
                self._entries.move_to_end(job_id)
                self._evict()
                self._loading.pop(job_id, None)
            return entry

    def _evict(self) -> None:
        total = sum(e.size_bytes for e in self._entries.values())
        # The newest entry always stays: a model larger than the budget is still served.
        while len(self._entries) > 1 and (
            len(self._entries) > self.max_models or total > self.max_bytes
        ):
            _, evicted = self._entries.popitem(last=False)
            total -= evicted.size_bytes

    @staticmethod
    def _load(path: Path, stamp: tuple[int, int]) -> LoadedModel:
        spec = json.loads((path.parent / SPEC_FILE).read_text())
        return LoadedModel(
            pipeline=load_model(path),
            feature_columns=[str(c) for c in spec["feature_columns"]],
            task=str(spec.get("task", "")),
            size_bytes=stamp[1],
            stamp=stamp,
        )
