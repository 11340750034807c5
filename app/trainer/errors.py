"""Errors of the pure ML core. The service and the worker translate them to domain errors."""

from __future__ import annotations


class SpecError(ValueError):
    """A job specification the trainer cannot run; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TrainingError(RuntimeError):
    """Training itself could not produce a model (every search trial failed, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DataError(ValueError):
    """The data cannot train this model (a column missing, one class only, ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
