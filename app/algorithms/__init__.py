"""The estimator catalog."""
