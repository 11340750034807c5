"""Outbound adapters: the data layer and the model registry."""
