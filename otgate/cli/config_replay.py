"""`otgate config replay CANDIDATE --data-dir D [--since …]`: what a candidate config would have decided.

Reads the trail read-only, checks the candidate like `check-config` (every FILE:LINE:COL problem, exit 2),
and re-decides every recorded recommendation with the pure validation (`otgate.core.replay`). Exit 0 with a
report (text, or `--json`); 2 when the candidate is invalid or there is no trail to read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from otgate.audit.store import AuditStore, AuditStoreError, audit_key_from_env, audit_path
from otgate.cli.parsers import command
from otgate.config.loader import ConfigError, LoadedConfig, load_config_file
from otgate.core.plant import compile_plant
from otgate.core.replay import ReplayReport, recorded_recommendations, replay

DEFAULT_DATA_DIR = Path("otgate-data")
SHOWN_MAX = 200  # decisions listed in the text report; --json lists all


class ReplayError(Exception):
    """The replay could not run: an invalid candidate or an unreadable trail (the message says which)."""


def replay_trail(candidate: LoadedConfig, data_dir: Path, since: float | None = None) -> ReplayReport:
    """The candidate replayed on the trail in `data_dir` (blocking I/O: run it in a worker thread)."""
    if not audit_path(data_dir).is_file():
        raise ReplayError(f"no audit trail at {audit_path(data_dir)}")
    try:
        with AuditStore(data_dir, audit_key_from_env(os.environ), read_only=True) as store:
            recorded = recorded_recommendations(store.records(), since)
    except (AuditStoreError, ValueError) as error:
        raise ReplayError(str(error)) from None
    return replay(recorded, compile_plant(candidate.config))


def _since(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an ISO 8601 time, e.g. 2026-11-30T08:00:00Z") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def render_text(report: ReplayReport) -> str:
    lines = [
        f"replayed {report.replayed} recommendations ({report.not_replayable} recorded without inputs, "
        f"not replayable); {len(report.changed)} decided differently",
    ]
    if report.changed:
        lines.append("by reason: " + ", ".join(f"{code} {n}" for code, n in report.by_reason.items()))
        lines.append("affected loops: " + ", ".join(report.affected_loops))
    for c in report.changed[:SHOWN_MAX]:
        at = datetime.fromtimestamp(c.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        now = ",".join(c.now_codes) or "-"
        lines.append(f"  #{c.seq} {at} {c.id} {c.tag}={c.value:g}: {c.was} -> {c.now} ({now})")
    if len(report.changed) > SHOWN_MAX:
        lines.append(f"  ... {len(report.changed) - SHOWN_MAX} more (--json lists all)")
    return "\n".join(lines)


def cmd_config_replay(args: argparse.Namespace) -> int:
    try:
        candidate = load_config_file(args.candidate)
        report = replay_trail(candidate, args.data_dir, args.since)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 2
    except ReplayError as error:
        print(f"otgate config replay: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict(), indent=1) if args.json else render_text(report))
    return 0


def add_config_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `config replay` to the `otgate` sub-command parsers."""
    config = command(
        subparsers,
        "config",
        "managed change: what a candidate config would have decided",
        "Managed change of a plant config (see docs/MOC.md).",
        "otgate config replay candidate.yaml --data-dir otgate-data",
    )
    commands = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    rep = command(
        commands,
        "replay",
        "re-decide every recorded recommendation under a candidate config",
        "Re-decides every recommendation in the audit trail under CANDIDATE, with the inputs\n"
        "recorded with each decision (snapshot, write history, clocks), and reports those decided\n"
        "differently: counts by reason, the affected loops and the list. Reads the trail only.\n"
        "Exit 0 with the report; 2 when the candidate is invalid (FILE:LINE:COL problems) or there is\n"
        "no trail.",
        "otgate config replay candidate.yaml --data-dir otgate-data --since 2026-11-30T08:00:00Z",
    )
    rep.add_argument("candidate", type=Path, metavar="CANDIDATE", help="the candidate plant config (YAML)")
    rep.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"the gateway's data directory (default: ./{DEFAULT_DATA_DIR})",
    )
    rep.add_argument(
        "--since", type=_since, help="only recommendations recorded from this UTC time on (default: all)"
    )
    rep.add_argument("--json", action="store_true", help="the report as JSON (default: text)")
    rep.set_defaults(handler=cmd_config_replay)
