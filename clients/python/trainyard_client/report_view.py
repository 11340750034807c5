"""An evaluation report as tables in the terminal (``trainyard evaluation JOB_ID``)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

MAX_FEATURES_SHOWN = 15


def _number(value: Any, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _classification(report: dict[str, Any], console: Console) -> None:
    labels = report["labels"]
    matrix = Table(
        title="confusion matrix (rows: actual, columns: predicted)", title_justify="left"
    )
    matrix.add_column("")
    for label in labels:
        matrix.add_column(escape(label), justify="right")
    for label, row in zip(labels, report["confusion_matrix"], strict=True):
        matrix.add_row(escape(label), *(str(count) for count in row))
    console.print(matrix)

    auc = {curve["label"]: curve.get("auc") for curve in report["roc"]}
    ap = {curve["label"]: curve.get("average_precision") for curve in report["precision_recall"]}
    per_class = Table(title="per class", title_justify="left")
    for column in ("class", "precision", "recall", "f1", "support", "ROC AUC", "AP"):
        per_class.add_column(column, justify="left" if column == "class" else "right")
    for row in report["per_class"]:
        per_class.add_row(
            escape(row["label"]),
            _number(row["precision"]),
            _number(row["recall"]),
            _number(row["f1"]),
            str(row["support"]),
            _number(auc.get(row["label"])),
            _number(ap.get(row["label"])),
        )
    console.print(per_class)
    for note in report.get("notes") or []:
        console.print(escape(f"note: {note}"), style="dim")


def _regression(report: dict[str, Any], console: Console) -> None:
    residuals = report["residuals"]
    table = Table(title=f"residuals ({residuals.get('definition', 'actual - predicted')})",
                  title_justify="left")  # fmt: skip
    table.add_column("quantile")
    table.add_column("residual", justify="right")
    for quantile, value in residuals["quantiles"].items():
        table.add_row(quantile, _number(value))
    console.print(table)


def _importance(importance: dict[str, Any], console: Console) -> None:
    title = (
        f"permutation importance ({importance['scoring']}, {importance['n_repeats']} repeats "
        f"on {importance['rows']} rows, seed {importance['seed']})"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("feature")
    table.add_column("mean", justify="right")
    table.add_column("std", justify="right")
    for feature in importance["features"][:MAX_FEATURES_SHOWN]:
        table.add_row(
            escape(feature["feature"]),
            _number(feature["importance_mean"]),
            _number(feature["importance_std"]),
        )
    console.print(table)
    hidden = len(importance["features"]) - MAX_FEATURES_SHOWN
    if hidden > 0:
        console.print(f"... and {hidden} more (--json shows all)", style="dim")


def print_report(report: dict[str, Any], console: Console) -> None:
    console.print(
        escape(
            f"{report['task']} report of job {report['job_id']} "
            f"on {report['rows']} {report['split']} rows"
        )  # fmt: skip
    )
    if report.get("classification"):
        _classification(report["classification"], console)
    if report.get("regression"):
        _regression(report["regression"], console)
    if report.get("feature_importance"):
        _importance(report["feature_importance"], console)
    if report.get("skipped_reason"):
        console.print(escape(f"note: {report['skipped_reason']}"), style="dim")
