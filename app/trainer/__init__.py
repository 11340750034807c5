"""The pure ML core: estimators, preprocessing, tuning, evaluation and model files.

Nothing here knows about HTTP or the database; callers hand in a spec and a DataFrame.
"""

from app.trainer.core import ProgressCallback, TrainingResult, TrainingSpec, train
from app.trainer.errors import DataError, SpecError

__all__ = ["DataError", "ProgressCallback", "SpecError", "TrainingResult", "TrainingSpec", "train"]
