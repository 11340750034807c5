"""Uploaded data files."""
