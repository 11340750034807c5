"""Trainyard: a self-hosted service that runs real scikit-learn training jobs."""

__version__ = "0.1.0"
