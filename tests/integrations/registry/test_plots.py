"""The evaluation images: a canvas kept from one report to the next, its frame put back when it
is the same, draws what a new canvas would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from app.integrations.registry import plots
from app.trainer.report import evaluation_report

PNG = b"\x89PNG\r\n\x1a\n"


def report(loader: Any, task: str) -> dict[str, Any]:
    X, y = loader(return_X_y=True, as_frame=True)
    model = (DecisionTreeClassifier if task == "classification" else DecisionTreeRegressor)(
        max_depth=3, random_state=0
    ).fit(X, y)
    return evaluation_report(model, task, X, y)


@pytest.fixture(scope="module")
def reports() -> list[dict[str, Any]]:
    # Three classes, then two (fewer ticks, curves and annotations than the canvas holds),
    # a regression with other features (other names and widths on the importance axis), and
    # the small warm-up report.
    return [
        report(load_iris, "classification"),
        report(load_breast_cancer, "classification"),
        report(load_diabetes, "regression"),
        plots.WARM_UP_REPORT,
    ]


def files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_a_kept_canvas_draws_the_same_pixels_as_a_new_one(
    reports: list[dict[str, Any]], tmp_path: Path
) -> None:
    kept = plots.Canvases()
    for number, each in enumerate([*reports, *reversed(reports)]):
        again, new = tmp_path / f"kept-{number}", tmp_path / f"new-{number}"
        again.mkdir()
        new.mkdir()
        plots.draw_report(each, again, kept)
        plots.draw_report(each, new, plots.Canvases())
        drawn = files(again)
        assert drawn, number
        assert all(body.startswith(PNG) for body in drawn.values())
        assert drawn == files(new), number
    # The curves' frames are the same for every classifier, and every frame is the same for a
    # report drawn twice in a row (the warm-up report at the turn).
    assert kept.frames_reused >= 3 + 7


def test_the_images_differ_between_reports(reports: list[dict[str, Any]], tmp_path: Path) -> None:
    # The comparison above would hold for a canvas that ignored its data.
    kept = plots.Canvases()
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    plots.draw_report(reports[0], first, kept)
    plots.draw_report(reports[1], second, kept)
    a, b = files(first), files(second)
    assert set(a) == set(b)
    assert all(a[name] != b[name] for name in a)


def test_warm_up_draws_every_kind_of_image(tmp_path: Path) -> None:
    canvases = plots.Canvases()
    drawn = plots.draw_report(plots.WARM_UP_REPORT, tmp_path, canvases)
    assert {path.name for path in drawn} == {
        "confusion_matrix.png",
        "roc.png",
        "precision_recall.png",
        "calibration.png",
        "predicted_vs_actual.png",
        "residuals.png",
        "feature_importance.png",
    }
