"""The `otgate` command line: every command, and the only part of `otgate` that wires in the simulator and
the HIL runner (for `demo`, `identify --sim` and `hil`)."""

from otgate.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
