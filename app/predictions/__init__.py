"""Trained models: download and predictions."""
