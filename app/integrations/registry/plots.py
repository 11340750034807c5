"""Images of an evaluation report, for the registry run: PNG files drawn with matplotlib's Agg
backend (no display, no pyplot and its global state: each figure is its own object).

Small figures at a low resolution: a job pays for a few tens of milliseconds per image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SIZE = (5.0, 4.0)
DPI = 80
MAX_LABELS_ANNOTATED = 20
MAX_FEATURES_DRAWN = 20
# Curves differ in line style as well as colour: colour is never the only signal.
LINE_STYLES = ("-", "--", "-.", ":")
# A title at a fixed height: placing it clear of the axes' decorations (matplotlib's default)
# lays out the axes once more, some 7% of an image's cost; nothing is drawn above these axes.
TITLE_Y = 1.0


def _figure(*, left: float = 0.15, bottom: float = 0.13) -> Any:
    """Fixed margins: a layout engine (constrained, tight) doubles the cost of an image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE, dpi=DPI)
    figure.subplots_adjust(left=left, bottom=bottom, right=0.96, top=0.91)
    FigureCanvasAgg(figure)
    return figure


def _axes(figure: Any) -> Any:
    axes = figure.add_subplot()
    axes.set_title("", y=TITLE_Y)  # a title set later keeps this fixed position
    return axes


def _save(figure: Any, path: Path) -> Path:
    figure.savefig(path, format="png")
    return path


def _points(values: list[float | None]) -> list[float]:
    return [float("nan") if v is None else v for v in values]


def confusion_matrix(report: dict[str, Any], path: Path) -> Path:
    labels = report["labels"]
    matrix = report["confusion_matrix"]
    figure = _figure(left=0.25, bottom=0.25)
    axes = _axes(figure)
    axes.imshow(matrix, cmap="Blues")
    ticks = range(len(labels))
    axes.set_xticks(ticks, labels, rotation=45, ha="right")
    axes.set_yticks(ticks, labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title("Confusion matrix")
    if len(labels) <= MAX_LABELS_ANNOTATED:
        top = max((max(row) for row in matrix), default=0)
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                colour = "white" if count > top / 2 else "black"
                axes.text(j, i, str(count), ha="center", va="center", color=colour)
    return _save(figure, path)


def roc(curves: list[dict[str, Any]], path: Path) -> Path:
    figure = _figure()
    axes = _axes(figure)
    for i, curve in enumerate(curves):
        auc = curve.get("auc")
        name = f"{curve['label']} (AUC {auc:.3f})" if auc is not None else curve["label"]
        style = LINE_STYLES[i % len(LINE_STYLES)]
        axes.plot(_points(curve["fpr"]), _points(curve["tpr"]), label=name, linestyle=style)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1)
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    axes.legend(loc="lower right", fontsize="small")
    return _save(figure, path)


def precision_recall(curves: list[dict[str, Any]], path: Path) -> Path:
    figure = _figure()
    axes = _axes(figure)
    for i, curve in enumerate(curves):
        ap = curve.get("average_precision")
        name = f"{curve['label']} (AP {ap:.3f})" if ap is not None else curve["label"]
        style = LINE_STYLES[i % len(LINE_STYLES)]
        axes.plot(_points(curve["recall"]), _points(curve["precision"]), label=name,
                  linestyle=style)  # fmt: skip
    axes.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    axes.set_ylim(0, 1.05)
    axes.legend(loc="lower left", fontsize="small")
    return _save(figure, path)


def calibration(curves: list[dict[str, Any]], path: Path) -> Path:
    figure = _figure()
    axes = _axes(figure)
    for curve in curves:
        axes.plot(_points(curve["prob_pred"]), _points(curve["prob_true"]), marker="o",
                  label=curve["label"])  # fmt: skip
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axes.set(xlabel="mean predicted probability", ylabel="fraction of positives",
             title="Calibration")  # fmt: skip
    axes.legend(loc="upper left", fontsize="small")
    return _save(figure, path)


def predicted_vs_actual(sample: dict[str, Any], path: Path) -> Path:
    actual, predicted = _points(sample["actual"]), _points(sample["predicted"])
    figure = _figure()
    axes = _axes(figure)
    axes.scatter(actual, predicted, s=8, alpha=0.6)
    finite = [v for v in actual + predicted if v == v]
    if finite:
        low, high = min(finite), max(finite)
        axes.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=1)
    axes.set(xlabel="actual", ylabel="predicted", title="Predicted against actual")
    return _save(figure, path)


def residuals(histogram: dict[str, Any], path: Path) -> Path:
    edges = _points(histogram["bin_edges"])
    counts = histogram["counts"]
    figure = _figure()
    axes = _axes(figure)
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    axes.bar(edges[:-1], counts, width=widths, align="edge", edgecolor="white")
    axes.set(xlabel="residual (actual - predicted)", ylabel="rows", title="Residuals")
    return _save(figure, path)


def feature_importance(importance: dict[str, Any], path: Path) -> Path:
    features = importance["features"][:MAX_FEATURES_DRAWN][::-1]
    longest = max((len(f["feature"]) for f in features), default=0)
    figure = _figure(left=min(0.55, 0.1 + 0.016 * longest))
    axes = _axes(figure)
    axes.barh(
        [f["feature"] for f in features],
        [f["importance_mean"] or 0.0 for f in features],
        xerr=[f["importance_std"] or 0.0 for f in features],
    )
    axes.set(xlabel=f"drop in {importance['scoring']}", title="Permutation importance")
    return _save(figure, path)


def draw_report(report: dict[str, Any], directory: Path) -> list[Path]:
    """Every image the report has data for, written into ``directory``."""
    drawn: list[Path] = []
    classification = report.get("classification")
    if classification:
        drawn.append(confusion_matrix(classification, directory / "confusion_matrix.png"))
        if classification["roc"]:
            drawn.append(roc(classification["roc"], directory / "roc.png"))
        if classification["precision_recall"]:
            pr = classification["precision_recall"]
            drawn.append(precision_recall(pr, directory / "precision_recall.png"))
        if classification["calibration"]:
            drawn.append(calibration(classification["calibration"], directory / "calibration.png"))
    regression = report.get("regression")
    if regression:
        drawn.append(
            predicted_vs_actual(regression["sample"], directory / "predicted_vs_actual.png")
        )
        drawn.append(residuals(regression["residuals"]["histogram"], directory / "residuals.png"))
    importance = report.get("feature_importance")
    if importance and importance["features"]:
        drawn.append(feature_importance(importance, directory / "feature_importance.png"))
    return drawn
