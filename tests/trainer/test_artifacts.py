"""Model files (``app.trainer.artifacts``): skops round trips, JSON sidecars, and the refusal
of any type outside the trusted list."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn
import skops.io as sio

from app.trainer import TrainingSpec, train
from app.trainer.artifacts import (
    LINEAGE_FILE,
    METRICS_FILE,
    MODEL_FILE,
    SPEC_FILE,
    UntrustedModelError,
    load_model,
    model_trusted_types,
    save_model,
    trusted_types,
    write_artifacts,
)


def mixed() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = 60
    return pd.DataFrame(
        {
            "size": rng.normal(size=rows),
            "colour": rng.choice(["red", "blue"], size=rows),
            "when": [f"2024-01-{1 + i % 28:02d}" for i in range(rows)],
            "label": rng.choice(["a", "b"], size=rows),
        }
    )


@pytest.fixture(scope="module")
def fitted() -> object:
    spec = TrainingSpec(algorithm="LogisticRegression", target_column="label")
    return train(spec, mixed()).pipeline


def test_write_then_load_gives_a_pipeline_that_predicts_the_same(
    fitted: object, tmp_path: Path
) -> None:
    directory = write_artifacts(
        tmp_path / "job",
        fitted,
        metrics={"validation_accuracy": 0.5},
        spec={"algorithm": "LogisticRegression"},
        lineage={"fingerprint": "abc"},
    )
    assert directory == tmp_path / "job"
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        [MODEL_FILE, METRICS_FILE, SPEC_FILE, LINEAGE_FILE]
    )
    loaded = load_model(directory / MODEL_FILE)
    rows = mixed().drop(columns="label")
    assert list(loaded.predict(rows)) == list(fitted.predict(rows))  # type: ignore[attr-defined]
    assert np.allclose(loaded.predict_proba(rows), fitted.predict_proba(rows))  # type: ignore[attr-defined]


def test_the_model_file_is_skops_own_archive_with_its_schema_written_compactly(
    fitted: object, tmp_path: Path
) -> None:
    """The file holds what ``skops.io.dump`` would write (the same entries, and the same
    schema once parsed), only without the schema's indentation."""
    import hashlib
    import io
    import zipfile

    def by_content(archive: zipfile.ZipFile) -> Any:
        """The schema with each array file's name replaced by its digest and each object id
        (``__id__``, the memo's key) by its rank of first appearance: both are ``id()``s."""
        schema = archive.read("schema.json").decode()
        for name in archive.namelist():
            if name != "schema.json":
                schema = schema.replace(name, hashlib.sha256(archive.read(name)).hexdigest())
        ranks: dict[Any, int] = {}

        def renumber(node: Any) -> Any:
            if isinstance(node, dict):
                return {
                    key: ranks.setdefault(value, len(ranks)) if key == "__id__" else renumber(value)
                    for key, value in node.items()
                }
            if isinstance(node, list):
                return [renumber(item) for item in node]
            return node

        return renumber(json.loads(schema))

    save_model(fitted, tmp_path / MODEL_FILE)
    ours = zipfile.ZipFile(tmp_path / MODEL_FILE)
    theirs = zipfile.ZipFile(io.BytesIO(sio.dumps(fitted)))
    assert len(ours.namelist()) == len(theirs.namelist())
    assert b"\n" not in ours.read("schema.json")
    assert by_content(ours) == by_content(theirs)


def test_the_sidecars_are_json_with_the_library_versions(fitted: object, tmp_path: Path) -> None:
    write_artifacts(
        tmp_path,
        fitted,
        metrics={"validation_accuracy": 0.75},
        spec={"algorithm": "LogisticRegression", "parameters": {"C": 1.0}},
        lineage={"fingerprint": "abc", "rows": 60},
    )
    assert json.loads((tmp_path / METRICS_FILE).read_text()) == {"validation_accuracy": 0.75}
    assert json.loads((tmp_path / SPEC_FILE).read_text())["parameters"] == {"C": 1.0}
    lineage = json.loads((tmp_path / LINEAGE_FILE).read_text())
    assert lineage["fingerprint"] == "abc"
    assert lineage["rows"] == 60
    assert lineage["libraries"]["scikit-learn"] == sklearn.__version__
    assert {"python", "numpy", "pandas", "skops"} <= set(lineage["libraries"])
    assert not list(tmp_path.glob("*.tmp"))  # written atomically, nothing left behind


def test_our_own_transformers_are_trusted(fitted: object, tmp_path: Path) -> None:
    save_model(fitted, tmp_path / MODEL_FILE)
    needed = trusted_types(tmp_path / MODEL_FILE)
    assert "app.trainer.preprocessing.CategoricalAsText" in needed
    assert "app.trainer.preprocessing.DatetimeFeatures" in needed
    assert model_trusted_types(fitted) == needed


@pytest.mark.parametrize(
    ("payload", "name"),
    [
        ({"path": Path("/etc/passwd")}, "pathlib"),
        ({"counts": Counter("abc")}, "collections.Counter"),
        ({"amount": Decimal("1.5")}, "decimal.Decimal"),
    ],
)
def test_a_file_holding_an_untrusted_type_is_refused_before_loading(
    tmp_path: Path, payload: object, name: str
) -> None:
    sio.dump(payload, tmp_path / MODEL_FILE)
    with pytest.raises(UntrustedModelError) as caught:
        load_model(tmp_path / MODEL_FILE)
    assert name in str(caught.value)
    assert MODEL_FILE in str(caught.value)
    with pytest.raises(UntrustedModelError):
        model_trusted_types(payload)


def test_a_module_that_only_starts_like_a_trusted_one_is_not_trusted(tmp_path: Path) -> None:
    # "sklearn_evil" is not "sklearn.": prefixes end with a dot.
    from app.trainer import artifacts

    assert all(prefix.endswith(".") for prefix in artifacts.TRUSTED_MODULE_PREFIXES)
    with pytest.raises(UntrustedModelError):
        artifacts._reviewed(["sklearn_evil.Thing"], "x")
    assert artifacts._reviewed(["sklearn.tree.DecisionTreeClassifier"], "x") == [
        "sklearn.tree.DecisionTreeClassifier"
    ]
