"""The model registry: the interface, MLflow behind it, and an attempt's run."""
