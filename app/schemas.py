"""The seed's schema module (``ml_models_schemas``): every request and response model by its
public name. Each lives in its domain package; import from here or from there."""

from app.algorithms.schemas import AlgorithmList, AlgorithmParameter, AlgorithmResponse
from app.core.problems import Problem, ProblemFieldError
from app.datasets.schemas import DatasetInfo, DatasetList
from app.integrations.data_layer.config import DataFormat, DataSourceConfig, ReadOptions
from app.jobs.schemas import (
    AlgorithmConfig,
    CategoricalDistribution,
    ColumnProfile,
    DataProfile,
    EvaluationConfig,
    FloatDistribution,
    HyperparameterTuningConfig,
    IntDistribution,
    JobError,
    JobEventResponse,
    PreprocessingConfig,
    RegistryInfo,
    ResourceConfig,
    TaskType,
    TrainingJobList,
    TrainingJobRequest,
    TrainingJobStatusResponse,
    TrialResponse,
    ValidationReport,
)
from app.predictions.schemas import PredictionRequest, PredictionResponse

__all__ = [
    "AlgorithmConfig",
    "AlgorithmList",
    "AlgorithmParameter",
    "AlgorithmResponse",
    "CategoricalDistribution",
    "ColumnProfile",
    "DataFormat",
    "DataProfile",
    "DataSourceConfig",
    "DatasetInfo",
    "DatasetList",
    "EvaluationConfig",
    "FloatDistribution",
    "HyperparameterTuningConfig",
    "IntDistribution",
    "JobError",
    "JobEventResponse",
    "PredictionRequest",
    "PredictionResponse",
    "PreprocessingConfig",
    "Problem",
    "ProblemFieldError",
    "ReadOptions",
    "RegistryInfo",
    "ResourceConfig",
    "TaskType",
    "TrainingJobList",
    "TrainingJobRequest",
    "TrainingJobStatusResponse",
    "TrialResponse",
    "ValidationReport",
]
