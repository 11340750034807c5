"""Images of an evaluation report, for the registry run: PNG files drawn with matplotlib's Agg
backend (no display, no pyplot and its global state: each figure is its own object).

Small figures at a low resolution, and each kind of image drawn on a canvas kept for the next
report (``Canvases``): making a figure and its axes with their ticks is about half of what a
new image costs, and the forkserver makes them all once (``warm_up``) for every process it
forks. A canvas is emptied to what a new one would draw: its data artists, legend, data limits,
autoscaling and colour cycle (a test compares the pixels with a new canvas's).
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
# Fast to write and still small: level 1 takes a tenth less time than the default (6) for
# files a tenth larger.
PNG_COMPRESS_LEVEL = 1
# A title at a fixed height: placing it clear of the axes' decorations (matplotlib's default)
# lays out the axes once more, some 7% of an image's cost; nothing is drawn above these axes.
TITLE_Y = 1.0


def _figure() -> tuple[Any, Any]:
    """A figure with one axes. Fixed margins: a layout engine (constrained, tight) doubles the
    cost of an image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title("", y=TITLE_Y)  # a title set later keeps this fixed position
    return figure, axes


def _report_artists(axes: Any) -> list[Any]:
    """What a report drew on ``axes`` (lines, bars, texts, images, collections; not the legend)."""
    groups = (axes.lines, axes.patches, axes.texts, axes.images, axes.collections)
    return [artist for group in groups for artist in group]


def _empty(axes: Any) -> None:
    """Take back what the last report drew: the axes then draw as new ones would."""
    legend = axes.get_legend()
    if legend is not None:
        legend.remove()
    for container in list(axes.containers):
        container.remove()
    for artist in _report_artists(axes):
        artist.remove()
    axes.relim()  # no artists left: the data limits are empty again
    axes.set_autoscale_on(True)
    axes.set_prop_cycle(None)  # the first curve gets the first colour again


class Canvases:
    """One figure per kind of image, made on first use and drawn on again for each report.
    Not for two threads at once (a process draws one report at a time).

    A canvas also keeps its last frame (background, ticks, labels, title: what the axes draw
    without the report's data and the spines) with what it depends on. Most of an image's cost is
    its frame's text; the curves' axes are the same for every report, a confusion matrix's
    for every report with the same labels. When the next report's frame is the same, the
    kept pixels are put back and only the data is drawn on them (matplotlib's blitting)."""

    def __init__(self) -> None:
        self._made: dict[str, tuple[Any, Any]] = {}
        self._frames: dict[str, tuple[tuple[Any, ...], Any]] = {}
        self.frames_reused = 0

    def axes(self, kind: str, *, left: float = 0.15, bottom: float = 0.13) -> Any:
        made = self._made.get(kind)
        if made is None:
            made = self._made[kind] = _figure()
        else:
            _empty(made[1])
        figure, axes = made
        figure.subplots_adjust(left=left, bottom=bottom, right=0.96, top=0.91)
        return axes

    def save(self, kind: str, path: Path) -> Path:
        """Draw the canvas of ``kind`` (its frame from the one kept when that is the same)
        and write it as a PNG."""
        from matplotlib.image import imsave

        figure, axes = self._made[kind]
        canvas = figure.canvas
        data = _data_artists(axes)
        axes.apply_aspect()  # as Axes.draw does first: an image's square cells move the axes
        key = _frame_key(axes)
        kept = self._frames.get(kind)
        if kept is not None and kept[0] == key:
            canvas.restore_region(kept[1])
            self.frames_reused += 1
        else:
            for artist in data:
                artist.set_visible(False)
            canvas.draw()
            self._frames[kind] = (key, canvas.copy_from_bbox(figure.bbox))
            for artist in data:
                artist.set_visible(True)
        for artist in data:
            axes.draw_artist(artist)
        imsave(
            path,
            canvas.buffer_rgba(),
            format="png",
            origin="upper",
            dpi=figure.dpi,
            pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL},
        )
        return path


def _data_artists(axes: Any) -> list[Any]:
    """What the report drew on ``axes``, with the spines (drawn over the data, as a full draw
    does: an image or a bar reaches the axes' edge), in the order ``Axes.draw`` draws them
    (by z-order, then as added)."""
    drawn = {id(artist) for artist in _report_artists(axes)}
    drawn.update(id(spine) for spine in axes.spines.values())
    legend = axes.get_legend()
    if legend is not None:
        drawn.add(id(legend))
    ordered = [artist for artist in axes.get_children() if id(artist) in drawn]
    return sorted(ordered, key=lambda artist: artist.get_zorder())


def _frame_key(axes: Any) -> tuple[Any, ...]:
    """What the frame of ``axes`` depends on, as a report sets it: the axes' place in the
    figure, limits, ticks and their labels, axis labels and title (each kind sets every other
    property alike)."""
    return (
        tuple(axes.get_position().bounds),
        axes.get_xlim(),
        axes.get_ylim(),
        tuple(axes.get_xticks()),
        tuple(axes.get_yticks()),
        tuple(label.get_text() for label in axes.get_xticklabels()),
        tuple(label.get_text() for label in axes.get_yticklabels()),
        axes.get_xlabel(),
        axes.get_ylabel(),
        axes.get_title(),
    )


# The canvases of this process (the forkserver's, copied into each process it forks).
CANVASES = Canvases()


def _points(values: list[float | None]) -> list[float]:
    return [float("nan") if v is None else v for v in values]


def confusion_matrix(report: dict[str, Any], path: Path, canvases: Canvases) -> Path:
    labels = report["labels"]
    matrix = report["confusion_matrix"]
    axes = canvases.axes("confusion_matrix", left=0.25, bottom=0.25)
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
    return canvases.save("confusion_matrix", path)


def roc(curves: list[dict[str, Any]], path: Path, canvases: Canvases) -> Path:
    axes = canvases.axes("roc")
    for i, curve in enumerate(curves):
        auc = curve.get("auc")
        name = f"{curve['label']} (AUC {auc:.3f})" if auc is not None else curve["label"]
        style = LINE_STYLES[i % len(LINE_STYLES)]
        axes.plot(_points(curve["fpr"]), _points(curve["tpr"]), label=name, linestyle=style)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1)
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    axes.legend(loc="lower right", fontsize="small")
    return canvases.save("roc", path)


def precision_recall(curves: list[dict[str, Any]], path: Path, canvases: Canvases) -> Path:
    axes = canvases.axes("precision_recall")
    for i, curve in enumerate(curves):
        ap = curve.get("average_precision")
        name = f"{curve['label']} (AP {ap:.3f})" if ap is not None else curve["label"]
        style = LINE_STYLES[i % len(LINE_STYLES)]
        axes.plot(_points(curve["recall"]), _points(curve["precision"]), label=name,
                  linestyle=style)  # fmt: skip
    axes.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    axes.set_ylim(0, 1.05)
    axes.legend(loc="lower left", fontsize="small")
    return canvases.save("precision_recall", path)


def calibration(curves: list[dict[str, Any]], path: Path, canvases: Canvases) -> Path:
    axes = canvases.axes("calibration")
    for curve in curves:
        axes.plot(_points(curve["prob_pred"]), _points(curve["prob_true"]), marker="o",
                  label=curve["label"])  # fmt: skip
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axes.set(xlabel="mean predicted probability", ylabel="fraction of positives",
             title="Calibration")  # fmt: skip
    axes.legend(loc="upper left", fontsize="small")
    return canvases.save("calibration", path)


def predicted_vs_actual(sample: dict[str, Any], path: Path, canvases: Canvases) -> Path:
    actual, predicted = _points(sample["actual"]), _points(sample["predicted"])
    axes = canvases.axes("predicted_vs_actual")
    axes.scatter(actual, predicted, s=8, alpha=0.6)
    finite = [v for v in actual + predicted if v == v]
    if finite:
        low, high = min(finite), max(finite)
        axes.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=1)
    axes.set(xlabel="actual", ylabel="predicted", title="Predicted against actual")
    return canvases.save("predicted_vs_actual", path)


def residuals(histogram: dict[str, Any], path: Path, canvases: Canvases) -> Path:
    edges = _points(histogram["bin_edges"])
    counts = histogram["counts"]
    axes = canvases.axes("residuals")
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    axes.bar(edges[:-1], counts, width=widths, align="edge", edgecolor="white")
    axes.set(xlabel="residual (actual - predicted)", ylabel="rows", title="Residuals")
    return canvases.save("residuals", path)


def feature_importance(importance: dict[str, Any], path: Path, canvases: Canvases) -> Path:
    features = importance["features"][:MAX_FEATURES_DRAWN][::-1]
    longest = max((len(f["feature"]) for f in features), default=0)
    axes = canvases.axes("feature_importance", left=min(0.55, 0.1 + 0.016 * longest))
    # Rows at numbers, named by their ticks: a canvas kept for the next report must not keep
    # this report's names as categories of its axis.
    rows = range(len(features))
    axes.barh(
        rows,
        [f["importance_mean"] or 0.0 for f in features],
        xerr=[f["importance_std"] or 0.0 for f in features],
    )
    axes.set_yticks(rows, [f["feature"] for f in features])
    axes.set(xlabel=f"drop in {importance['scoring']}", title="Permutation importance")
    return canvases.save("feature_importance", path)


def draw_report(
    report: dict[str, Any], directory: Path, canvases: Canvases = CANVASES
) -> list[Path]:
    """Every image the report has data for, written into ``directory``."""
    drawn: list[Path] = []
    classification = report.get("classification")
    if classification:
        drawn.append(confusion_matrix(classification, directory / "confusion_matrix.png", canvases))
        if classification["roc"]:
            drawn.append(roc(classification["roc"], directory / "roc.png", canvases))
        if classification["precision_recall"]:
            pr = classification["precision_recall"]
            drawn.append(precision_recall(pr, directory / "precision_recall.png", canvases))
        if classification["calibration"]:
            curves = classification["calibration"]
            drawn.append(calibration(curves, directory / "calibration.png", canvases))
    regression = report.get("regression")
    if regression:
        sample, histogram = regression["sample"], regression["residuals"]["histogram"]
        drawn.append(predicted_vs_actual(sample, directory / "predicted_vs_actual.png", canvases))
        drawn.append(residuals(histogram, directory / "residuals.png", canvases))
    importance = report.get("feature_importance")
    if importance and importance["features"]:
        path = directory / "feature_importance.png"
        drawn.append(feature_importance(importance, path, canvases))
    return drawn


# A report with something for every image, drawn once by the forkserver (``warm_up``).
_CURVE = {"label": "b", "auc": 0.9, "average_precision": 0.9}
WARM_UP_REPORT: dict[str, Any] = {
    "classification": {
        "labels": ["a", "b"],
        "confusion_matrix": [[3, 1], [0, 4]],
        "roc": [{**_CURVE, "fpr": [0.0, 0.25, 1.0], "tpr": [0.0, 1.0, 1.0]}],
        "precision_recall": [{**_CURVE, "recall": [1.0, 1.0, 0.0], "precision": [0.5, 0.8, 1.0]}],
        "calibration": [{"label": "b", "prob_pred": [0.1, 0.9], "prob_true": [0.0, 1.0]}],
    },
    "regression": {
        "sample": {"actual": [1.0, 2.0, 3.0], "predicted": [1.1, 1.9, None]},
        "residuals": {"histogram": {"bin_edges": [-1.0, 0.0, 1.0], "counts": [1, 2]}},
    },
    "feature_importance": {
        "scoring": "accuracy",
        "features": [{"feature": "x", "importance_mean": 0.5, "importance_std": 0.1}],
    },
}


def warm_up() -> None:
    """Draw every kind of image once, into a folder thrown away. The first images a process
    draws cost three times the next ones (fonts read and cached, glyphs laid out, the first
    use of each kind of artist); the forkserver pays that here, and every attempt process it
    forks starts with those caches."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="trainyard-warm-up-") as folder:
        draw_report(WARM_UP_REPORT, Path(folder))
