"""Domain exceptions. They name the problem; ``app.core.problems`` alone decides the HTTP status."""

from __future__ import annotations

from dataclasses import dataclass

from app.trainer.errors import DataError, SpecError, TrainingError


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field, ``field`` in dotted form (``algorithm_config.name``)."""

    field: str
    message: str


class TrainyardError(Exception):
    """Base class: every domain error carries a human ``message``."""

    def __init__(self, message: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = list(errors or [])


class ConfigurationError(TrainyardError):
    """Invalid or missing request parameters, found before any work starts."""

    @classmethod
    def for_field(cls, field: str, message: str) -> ConfigurationError:
        return cls(f"{field}: {message}", errors=[FieldError(field, message)])


class ResourceNotFoundError(TrainyardError):
    """The job (or another resource) does not exist."""


class DataAccessError(TrainyardError):
    """The training data could not be read, or is not usable for the job."""


class ModelRegistryError(TrainyardError):
    """The model registry (MLflow) failed."""


class TrainingJobError(TrainyardError):
    """A failure inside training itself."""


class JobStateConflictError(TrainyardError):
    """The job is not in a state that allows the operation (cancel a finished job, ...)."""


class AuthenticationError(TrainyardError):
    """No API key, or one that is not valid."""


class TooManyJobsError(TrainyardError):
    """The tenant has too many pending jobs; try again later."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLargeError(TrainyardError):
    """The request body (or an upload) is over its size limit."""


class IdempotencyConflictError(TrainyardError):
    """An Idempotency-Key was reused with a different request body."""


class ModelVersionConflictError(TrainyardError):
    """The tenant already has a job for this model name and version."""


class DatasetExistsError(TrainyardError):
    """An upload would replace a data file that is already there."""


def from_trainer_error(exc: SpecError | DataError | TrainingError) -> TrainyardError:
    """The one translation of the ML core's errors into domain errors."""
    if isinstance(exc, SpecError):
        return ConfigurationError.for_field(exc.field, exc.message)
    if isinstance(exc, DataError):
        return DataAccessError(exc.message, errors=[FieldError("data_source_config", exc.message)])
    return TrainingJobError(exc.message)
