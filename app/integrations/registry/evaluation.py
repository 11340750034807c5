"""The evaluation report in a job's MLflow run: ``evaluation/evaluation.json``, and the images
drawn from it beside it (``plots.draw_report``).

A part of ``MlflowRegistryClient`` (mixed in): it uses the client's ``MlflowClient``, its
retried calls and the artifact locations of the runs its process started.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

T = TypeVar("T")

# Where a run keeps its evaluation report (JSON and images).
EVALUATION_ARTIFACTS = "evaluation"
EVALUATION_JSON = "evaluation.json"


class EvaluationArtifacts:
    if TYPE_CHECKING:  # provided by ``MlflowRegistryClient``

        def mlflow(self) -> Any: ...

        def _call(self, what: str, action: Callable[[], T]) -> T: ...

        def _known_artifacts(self, run_id: str) -> Any: ...

    def log_evaluation(self, run_id: str, report: dict[str, Any]) -> None:
        """The evaluation report as ``evaluation/evaluation.json``."""
        import json
        import tempfile

        client = self.mlflow()
        text = json.dumps(report, indent=2)
        artifacts = self._known_artifacts(run_id)
        if artifacts is None:
            self._call(
                "log the evaluation report",
                lambda: client.log_text(run_id, text, f"{EVALUATION_ARTIFACTS}/{EVALUATION_JSON}"),
            )
            return

        def upload() -> None:
            with tempfile.TemporaryDirectory(prefix="trainyard-evaluation-") as folder:
                path = Path(folder) / EVALUATION_JSON
                path.write_text(text, encoding="utf-8")
                artifacts.log_artifact(str(path), EVALUATION_ARTIFACTS)

        self._call("log the evaluation report", upload)

    def log_evaluation_images(self, run_id: str, report: dict[str, Any]) -> list[str]:
        """The report's images beside its JSON, in one artifact upload (the run may have
        ended: MLflow takes artifacts of a finished run). Returns the files' names."""
        import tempfile

        from app.integrations.registry.plots import draw_report

        client = self.mlflow()
        with tempfile.TemporaryDirectory(prefix="trainyard-evaluation-") as folder:
            draw_report(report, Path(folder))
            names = sorted(path.name for path in Path(folder).iterdir())
            if names:
                artifacts = self._known_artifacts(run_id)
                upload = (
                    (lambda: artifacts.log_artifacts(folder, EVALUATION_ARTIFACTS))
                    if artifacts is not None
                    else lambda: client.log_artifacts(
                        run_id, folder, artifact_path=EVALUATION_ARTIFACTS
                    )
                )
                self._call("log the evaluation images", upload)
        return names
