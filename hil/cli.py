"""`otgate hil run [PATH...] [--report DIR] [--junit FILE] [--protocol modbus|opcua]`,
`otgate hil coverage [PATH...] [--hazards FILE]` and `otgate hil certify ENGINE [PATH...] [--out DIR]`.

Runs every scenario file given (directories are expanded to their *.yaml files), prints one progress line
per scenario on stderr (a bar, the scenario, its verdict and wall time: plain text, so it reads the same
in a terminal and in a CI log, and needs no extra dependency), writes the HTML report and the JUnit XML,
and exits 0 only when every assertion of every scenario held (1 when one failed, 2 when a file does not
load). `--subject passthrough` runs the negative control instead of otgate (every scenario should fail).

`hil coverage` runs nothing: it reads the scenarios' `hazards`/`requirements` and the hazard list
(`docs/hazards.yaml`), prints the matrix and the uncovered hazards, and exits 0 only when every hazard is
covered and every hazard a scenario names is on the list (1 otherwise, 2 when a file does not load).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DEFAULT_SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def add_hil_commands(commands: Any) -> None:
    """Register `hil run` on the top-level `otgate` subparsers."""
    raw = argparse.RawDescriptionHelpFormatter
    hil = commands.add_parser(
        "hil",
        help="hardware-in-the-loop style scenario runs against the simulator",
        description="Runs failure scenarios (hil/scenarios/*.yaml) against the simulated plants, faster\n"
        "than real time, and reports every assertion (docs/HIL.md).",
        epilog="example:\n  otgate hil run hil/scenarios/ --report hil-report",
        formatter_class=raw,
    )
    sub = hil.add_subparsers(dest="hil_command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run scenario files; exit 0 only when every assertion holds",
        description="Runs scenario files or folders with a progress bar; writes an HTML report with trend\n"
        "plots and JUnit XML when asked. Exit 0 when every assertion holds, 1 when any fails.",
        epilog="example:\n  otgate hil run hil/scenarios/ --report hil-report --junit hil.xml",
        formatter_class=raw,
    )
    run.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="scenario files or directories (default: the bundled hil/scenarios/)",
    )
    run.add_argument(
        "--report",
        type=Path,
        default=None,
        help="directory for report.html, plots and artefacts (default: no report)",
    )
    run.add_argument("--junit", type=Path, default=None, help="JUnit XML output file (default: none)")
    run.add_argument(
        "--protocol",
        choices=["modbus", "opcua"],
        default=None,
        help="the protocol for every scenario (default: each scenario's own)",
    )
    run.add_argument("--subject", choices=["otgate", "passthrough"], default="otgate", help=argparse.SUPPRESS)
    run.set_defaults(handler=cmd_hil_run)
    cover = sub.add_parser(
        "coverage",
        help="hazard x scenario matrix; exit 1 when a hazard is uncovered",
        description=(
            "Print which scenarios exercise each hazard of the hazard list (and which requirements they\n"
            "name), and the hazards no scenario covers. Runs nothing: it reads the scenario files."
        ),
        epilog="example:\n  otgate hil coverage hil/scenarios/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cover.add_argument(
        "paths", nargs="*", type=Path, help=f"scenario files or directories (default {DEFAULT_SCENARIOS})"
    )
    cover.add_argument("--hazards", type=Path, default=None, help="hazard list (default docs/hazards.yaml)")
    cover.set_defaults(handler=cmd_hil_coverage)
    certify = sub.add_parser(
        "certify",
        help="run an engine against the scenario library; scorecard; exit 1 when not certified",
        description=(
            "Runs ENGINE (module:Class implementing otgate.client.Engine) in lock-step in place of each\n"
            "scenario's scripted engines, and each scenario once more under conventional control alone;\n"
            "writes scorecard.json and scorecard.md (docs/AUTONOMY.md). Exit 0 certified, 1 not, 2 bad input."
        ),
        epilog="example:\n  otgate hil certify otgate.client.demo_engine:DemoEngine hil/scenarios/ --out certification",
        formatter_class=raw,
    )
    certify.add_argument("engine", metavar="ENGINE", help="the engine as module:Class")
    certify.add_argument(
        "paths", nargs="*", type=Path, help=f"scenario files or directories (default {DEFAULT_SCENARIOS})"
    )
    certify.add_argument(
        "--out",
        type=Path,
        default=Path("certification"),
        help="scorecard directory (default: ./certification)",
    )
    certify.set_defaults(handler=cmd_hil_certify)


def cmd_hil_certify(args: argparse.Namespace) -> int:
    import json

    from otgate.client.engine import load_engine
    from otgate_hil.certify import certify, markdown, scorecard, source_digest
    from otgate_hil.scenario import ScenarioError, load_scenario, scenario_paths

    try:
        load_engine(args.engine)  # fail fast on a bad spec, before any simulation
        scenarios = [load_scenario(p) for p in scenario_paths(list(args.paths) or [DEFAULT_SCENARIOS])]
    except (ValueError, ImportError, ScenarioError) as error:
        print(f"otgate hil certify: {error}", file=sys.stderr)
        return 2

    def report(line: str) -> None:
        print(line, file=sys.stderr)

    results = asyncio.run(certify(lambda: load_engine(args.engine), scenarios, report))
    card = scorecard(args.engine, results, source_digest(load_engine(args.engine)))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scorecard.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (args.out / "scorecard.md").write_text(markdown(card), encoding="utf-8")
    summary = card["summary"]
    print(
        f"{'certified' if summary['certified'] else 'NOT certified'}: {summary['passed']}/{summary['scenarios']}"
        f" scenarios, {summary['safety_refusals']} safety refusals, {summary['anomalies']} anomalies;"
        f" scorecard in {args.out}"
    )
    return 0 if summary["certified"] else 1


def cmd_hil_coverage(args: argparse.Namespace) -> int:
    from otgate_hil.coverage import DEFAULT_HAZARDS, HazardListError, coverage, format_text, load_hazards
    from otgate_hil.scenario import ScenarioError, load_scenario, scenario_paths

    try:
        hazards = load_hazards(args.hazards or DEFAULT_HAZARDS)
        scenarios = [load_scenario(p) for p in scenario_paths(list(args.paths) or [DEFAULT_SCENARIOS])]
    except (HazardListError, ScenarioError) as error:
        print(f"otgate hil coverage: {error}", file=sys.stderr)
        return 2
    result = coverage(scenarios, hazards)
    print(format_text(result))
    return 0 if result.ok else 1


def cmd_hil_run(args: argparse.Namespace) -> int:
    # Imported here so that `otgate --help` and the other commands do not pay for the simulator and plots.
    from otgate_hil.report import write_html, write_junit
    from otgate_hil.scenario import ScenarioError, load_scenario, scenario_paths
    from otgate_hil.suite import run_all

    paths = scenario_paths(list(args.paths) or [DEFAULT_SCENARIOS])
    if not paths:
        print("otgate hil run: no scenario files found", file=sys.stderr)
        return 2
    try:
        scenarios = [(path, load_scenario(path)) for path in paths]
    except ScenarioError as error:
        print(f"otgate hil run: {error}", file=sys.stderr)
        return 2
    results = asyncio.run(
        run_all(
            scenarios, report=args.report, protocol=args.protocol, subject=args.subject, progress=sys.stderr
        )
    )
    if args.report is not None:
        page = write_html(results, args.report / "report.html", coverage=_coverage_of(scenarios))
        print(f"report: {page}", file=sys.stderr)
    if args.junit is not None:
        write_junit(results, args.junit, args.report)
        print(f"junit: {args.junit}", file=sys.stderr)
    failed = [r for r in results if not r.passed]
    for r in failed:
        for o in r.outcomes:
            if not o.passed:
                print(f"{o.verdict} {r.record.scenario.metadata.id}/{o.id}: {o.message}", file=sys.stderr)
    return 1 if failed else 0


def _coverage_of(scenarios: Sequence[tuple[Path, Any]]) -> Any:
    """The hazard matrix of the scenarios run, or None when the hazard list cannot be read."""
    from otgate_hil.coverage import HazardListError, coverage, load_hazards

    try:
        return coverage([s for _, s in scenarios], load_hazards())
    except HazardListError as error:
        print(f"otgate hil run: no coverage matrix: {error}", file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m otgate_hil.cli hil run ...`: the same command without the `otgate` entry point."""
    parser = argparse.ArgumentParser(prog="otgate")
    add_hil_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
