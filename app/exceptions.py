"""The seed's exceptions by their public names; they live in ``app.core.exceptions``."""

from app.core.exceptions import (
    AuthenticationError,
    ConfigurationError,
    DataAccessError,
    DatasetExistsError,
    FieldError,
    IdempotencyConflictError,
    JobStateConflictError,
    ModelRegistryError,
    ModelVersionConflictError,
    PayloadTooLargeError,
    ResourceNotFoundError,
    TooManyJobsError,
    TrainingJobError,
    TrainyardError,
)

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "DataAccessError",
    "DatasetExistsError",
    "FieldError",
    "IdempotencyConflictError",
    "JobStateConflictError",
    "ModelRegistryError",
    "ModelVersionConflictError",
    "PayloadTooLargeError",
    "ResourceNotFoundError",
    "TooManyJobsError",
    "TrainingJobError",
    "TrainyardError",
]
