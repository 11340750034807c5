"""An MLflow model folder of the sklearn flavour around a pipeline already saved with skops:
the file as it is, its ``MLmodel``, and the environment files MLflow's loaders read."""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

SKOPS_MODEL_FILE = "model.skops"  # the name mlflow.sklearn gives a model saved with skops


def write_model_folder(
    local: Path,
    model_file: Path,
    *,
    model_id: str,
    artifact_path: str,
    run_id: str,
    signature: Any,
    trusted_types: list[str],
    requirements: list[str],
) -> None:
    """Write into ``local`` what ``mlflow.sklearn.load_model`` and ``mlflow.pyfunc.load_model``
    load: the skops file, ``MLmodel`` (pyfunc and sklearn flavours), requirements, conda and
    python environments. Nothing is inferred: the caller gives the signature and the
    requirements."""
    import sklearn
    from mlflow.models import Model
    from mlflow.pyfunc import add_to_model

    shutil.copyfile(model_file, local / SKOPS_MODEL_FILE)
    model = Model(
        artifact_path=artifact_path,
        model_uuid=model_id,
        run_id=run_id,
        model_id=model_id,
        signature=signature,
    )
    add_to_model(  # type: ignore[no-untyped-call]
        model,
        loader_module="mlflow.sklearn",
        model_path=SKOPS_MODEL_FILE,
        conda_env="conda.yaml",
        python_env="python_env.yaml",
        predict_fn="predict",
    )
    model.add_flavor(
        "sklearn",
        pickled_model=SKOPS_MODEL_FILE,
        sklearn_version=sklearn.__version__,
        serialization_format="skops",
        code=None,
        skops_trusted_types=trusted_types,
    )
    model.model_size_bytes = model_file.stat().st_size
    model.save(str(local / "MLmodel"))
    for name, text in environment_files(tuple(requirements)).items():
        (local / name).write_text(text)


@functools.cache
def environment_files(requirements: tuple[str, ...]) -> dict[str, str]:
    """``requirements.txt``, ``conda.yaml`` and ``python_env.yaml`` for these requirements,
    as MLflow writes them. The same for every job of a process with the same requirements:
    made once (MLflow looks up the Python version and the build tools' versions each time)."""
    import yaml
    from mlflow.utils.environment import _mlflow_conda_env, _PythonEnv

    conda = _mlflow_conda_env(additional_pip_deps=list(requirements))  # type: ignore[no-untyped-call]
    with tempfile.TemporaryDirectory(prefix="trainyard-env-") as folder:
        path = Path(folder) / "python_env.yaml"
        _PythonEnv.current().to_yaml(str(path))  # type: ignore[no-untyped-call]
        python_env = path.read_text()
    return {
        "requirements.txt": "\n".join(requirements),
        "conda.yaml": yaml.safe_dump(conda, default_flow_style=False),
        "python_env.yaml": python_env,
    }


def pip_requirements() -> list[str]:
    """Pinned requirements of a logged pipeline, given explicitly: letting MLflow infer them
    loads the model in a subprocess and costs seconds per job."""
    import numpy
    import pandas
    import scipy
    import sklearn
    import skops
    from mlflow import __version__ as mlflow_version

    return [
        f"mlflow=={mlflow_version}",
        f"scikit-learn=={sklearn.__version__}",
        f"skops=={skops.__version__}",
        f"numpy=={numpy.__version__}",
        f"pandas=={pandas.__version__}",
        f"scipy=={scipy.__version__}",
    ]
