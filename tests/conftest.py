"""Registers the shared fixtures of ``tests/fixtures/`` for every test, and ends the report
with one line saying what was skipped and why. Import helpers from their module there
(``tests.fixtures.jobs``, ``tests.fixtures.servers``, ...), not from here."""

from __future__ import annotations

from typing import Any

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.servers",
]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """End the report with one plain line (after the short summary, before the counts): how
    many tests were skipped, and why."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        terminalreporter.write_line("skipped: nothing")
        return
    parts = [f"{count} because {reason}" for reason, count in sorted(reasons.items())]
    terminalreporter.write_line(f"skipped {sum(reasons.values())}: " + "; ".join(parts))
