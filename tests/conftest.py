"""Registers the shared fixtures of ``tests/fixtures/`` for every test. Import helpers from
their module there (``tests.fixtures.jobs``, ``tests.fixtures.servers``, ...), not from here."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.servers",
]
