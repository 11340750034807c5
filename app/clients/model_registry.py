"""``ModelRegistryClientInterface``, by its public path."""

from app.integrations.registry.interface import ModelRegistryClientInterface, RunStatus

__all__ = ["ModelRegistryClientInterface", "RunStatus"]
