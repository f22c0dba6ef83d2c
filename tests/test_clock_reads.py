"""One time base (issue 13): no module outside the clock adapter reads the wall clock or the monotonic
clock itself. Durations go through `Clock.monotonic()`, stamps through `Clock.now()`, so a wall-clock
step can only ever move a stamp."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.test_architecture import ROOT, python_files

pytestmark = pytest.mark.requirement("R-39")

CLOCK_ADAPTER = ROOT / "otgate" / "runtime" / "clock.py"
# Calls that read a system clock: (module or class, attribute).
CLOCK_READS = {
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "monotonic_ns"),
    ("time", "perf_counter"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
}
# Places that read a clock for a stamp, never for a duration, each with why.
ALLOWED = {
    # The demo engine is an AI engine, not the gateway: it stamps `issued_at` with its own wall clock,
    # exactly as a real engine does.
    ROOT / "otgate" / "client" / "demo_engine.py": "an engine's own issued_at stamp",
    # The client SDK runs in an engine's process: it stamps `issued_at` with the engine's own clock.
    ROOT / "otgate" / "client" / "connection.py": "an engine's own issued_at stamp",
    ROOT / "otgate" / "client" / "models.py": "an engine's own issued_at stamp",
    # The site self-test stamps its report and its trail record (its durations run on the loop's clock).
    ROOT / "otgate" / "cli" / "selftest.py": "the self-test report's stamps",
    # The reconnect back-off's default clock argument (the gateway passes its own in tests and HIL).
    ROOT / "otgate" / "field" / "backoff.py": "default monotonic clock of the back-off",
}


def clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        name = node.value.id if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) else None
        if isinstance(node, ast.Attribute) and (name, node.attr) in CLOCK_READS:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}.{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            for alias in node.names:
                if ("time", alias.name) in CLOCK_READS:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: from time import {alias.name}")
    return found


def test_only_the_clock_adapter_reads_system_clocks():
    offenders = [
        read
        for path in python_files("otgate")
        if path != CLOCK_ADAPTER and path not in ALLOWED
        for read in clock_reads(path)
    ]
    assert offenders == []


def test_clock_read_check_finds_a_wall_clock_read():
    """The check itself: a module that times something with time.time() is found."""
    sample = ROOT / "otgate" / "runtime" / "clock.py"
    assert clock_reads(sample)  # the adapter does read the clocks, and the walker sees it
