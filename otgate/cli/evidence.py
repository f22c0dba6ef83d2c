"""`otgate evidence --out DIR`: the commissioning evidence pack (docs/ASSURANCE.md).

Collects from result files (`--junit` from pytest, `--hil-junit` from `otgate hil run`, `--bench` from
`make bench`), or runs the tests itself with `--run-tests` / the scenarios with `--run-hil`; hashes and
checks the plant configs; verifies the audit trail of `--data-dir` when given. Writes `evidence.json` and
`evidence.html` to DIR.

Exit codes: 0 no requirement failed and every site check passed (unproven ones are listed, in red, but
do not fail the command unless `--strict`); 1 something failed; 2 the catalogues or inputs cannot be read.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from otgate.assurance.html import render_html
from otgate.assurance.pack import Check, build_pack
from otgate.assurance.proofs import find_scenario_proofs, find_test_proofs
from otgate.assurance.requirements import CatalogueError, load_hazards, load_requirements
from otgate.assurance.results import ResultError, read_benchmarks, read_junit
from otgate.audit.store import AuditStore, AuditStoreError, audit_key_from_env, audit_path
from otgate.cli.selftest import sign
from otgate.config.loader import ConfigError, load_config_file
from otgate.core.audit_chain import AuditKind

CONFIG_REQUIREMENTS = ("R-49",)  # the config linter accepts the site's configs
AUDIT_REQUIREMENTS = ("R-36",)  # the site's trail verifies end to end


def _config_checks(paths: list[Path], root: Path) -> list[Check]:
    checks = []
    for path in paths:
        name = f"check-config {_shown(path, root)}"
        try:
            loaded = load_config_file(path)
        except ConfigError as error:
            checks.append(
                Check(name, False, "; ".join(str(p) for p in error.problems)[:500], CONFIG_REQUIREMENTS)
            )
        except OSError as error:
            checks.append(Check(name, False, str(error), CONFIG_REQUIREMENTS))
        else:
            checks.append(Check(name, True, f"sha256 {loaded.sha256}", CONFIG_REQUIREMENTS))
    return checks


def _audit_checks(data_dir: Path) -> list[Check]:
    """`audit verify` of the trail, then the steps of the latest self-test report recorded in it."""
    name = "audit verify"
    if not audit_path(data_dir).is_file():
        return [Check(name, False, "no audit trail in the data dir", AUDIT_REQUIREMENTS)]
    try:
        key = audit_key_from_env(os.environ)
        with AuditStore(data_dir, key, read_only=True) as store:
            result = store.verify()
            reports = [r for r in store.records() if r.kind == AuditKind.SELFTEST] if result.ok else []
    except (AuditStoreError, ValueError) as error:
        return [Check(name, False, f"cannot verify: {error}", AUDIT_REQUIREMENTS)]
    if not result.ok:
        problem = f"BROKEN at record {result.first_bad_seq}: {result.problem}"
        return [Check(name, False, problem, AUDIT_REQUIREMENTS)]
    head = f", head {result.last.seq}:{result.last.hash}" if result.last is not None else ""
    checks = [Check(name, True, f"intact: {result.count} records{head}", AUDIT_REQUIREMENTS)]
    # The latest report per loop: a SAT runs the self-test once for each supervised loop.
    latest = {str(r.data.get("report", {}).get("loop")): r for r in reports}
    for loop in sorted(latest):
        checks += _selftest_checks(latest[loop].seq, latest[loop].data, key)
    return checks


def _selftest_checks(seq: int, signed: Mapping[str, Any], key: bytes | None) -> list[Check]:
    """One check per step that ran in the self-test report of record `seq`, and its signature."""
    report = signed.get("report", {})
    where = f"record {seq}, {report.get('started_at')}, operator {report.get('operator')}"
    prefix = f"selftest {report.get('loop')}"
    checks = []
    if key is not None:
        good = hmac.compare_digest(str(signed.get("hmac_sha256")), sign(report, key))
        verdict = "valid" if good else "INVALID"
        checks.append(Check(f"{prefix} signature", good, f"HMAC {verdict} ({where})", ("R-56",)))
    for step in report.get("steps", []):
        if step.get("status") in ("pass", "fail"):
            requirements = ("R-56", *step.get("requirements", []))
            passed = step["status"] == "pass"
            checks.append(
                Check(f"{prefix} {step['name']}", passed, f"{step['detail']} ({where})", requirements)
            )
    return checks


def _shown(path: Path, root: Path) -> str:
    # Relative names keep the pack free of machine paths, so packs from two checkouts diff cleanly.
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def _run(command: list[str], root: Path) -> None:
    print("running: " + " ".join(command), file=sys.stderr)
    # The exit status is not the verdict: failures are read from the JUnit file, test by test.
    subprocess.run(command, cwd=root, check=False)


def _results_inputs(args: argparse.Namespace) -> tuple[list[Path], Path | None]:
    junit = list(args.junit) + list(args.hil_junit)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.run_tests:
        target = (args.out / "junit.xml").resolve()
        _run(
            [sys.executable, "-m", "pytest", "-q", f"--junitxml={target}", *shlex.split(args.pytest_args)],
            args.root,
        )
        junit.append(target)
    if args.run_hil:
        target = (args.out / "hil-junit.xml").resolve()
        _run([sys.executable, "-m", "otgate_hil.cli", "hil", "run", "--junit", str(target)], args.root)
        junit.append(target)
    bench = args.bench if args.bench is not None else args.root / "benchmarks" / "results.json"
    return junit, bench if bench.is_file() else None


def make_pack(args: argparse.Namespace) -> dict[str, Any]:
    root: Path = args.root
    catalogue = load_requirements(args.requirements or root / "docs" / "requirements.yaml")
    hazards = load_hazards(
        args.hazards or root / "docs" / "hazards.yaml", {r.id for r in catalogue.requirements}
    )
    test_proofs = find_test_proofs(root)
    proofs = test_proofs + find_scenario_proofs(root / "hil" / "scenarios")
    junit, bench = _results_inputs(args)
    modules = {p.key.split("::", 1)[0] for p in test_proofs}
    modules |= {
        ".".join(p.relative_to(root).with_suffix("").parts) for p in (root / "tests").rglob("test_*.py")
    }
    results = read_junit(junit, modules)
    configs = list(args.config) if args.config else sorted((root / "plant_configs").glob("*.yaml"))
    checks = _config_checks(configs, root)
    if args.data_dir is not None:
        checks += _audit_checks(args.data_dir)
    benchmarks = read_benchmarks(bench) if bench is not None else []
    return build_pack(catalogue, hazards, proofs, results, checks, benchmarks, args.label)


def cmd_evidence(args: argparse.Namespace) -> int:
    try:
        pack = make_pack(args)
    except (CatalogueError, ResultError) as error:
        print(f"otgate evidence: {error}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "evidence.json").write_text(
        json.dumps(pack, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (args.out / "evidence.html").write_text(render_html(pack), encoding="utf-8")
    s = pack["summary"]
    print(
        f"{s['requirements']} requirements: {s['proven']} proven, {s['not_run']} not run, "
        f"{s['unproven']} unproven, {s['failed']} failed -> {args.out / 'evidence.html'}"
    )
    for rid in s["failed_ids"]:
        print(f"FAILED {rid}", file=sys.stderr)
    failed_checks = [c for c in pack["checks"] if not c["passed"]]
    for check in failed_checks:
        print(f"FAILED check {check['name']}: {check['detail']}", file=sys.stderr)
    if s["failed"] or failed_checks or pack["problems"] or (args.strict and s["unproven"]):
        return 1
    return 0


def add_evidence_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    evidence = commands.add_parser(
        "evidence",
        help="write the requirement-by-requirement evidence pack",
        description=(
            "Write the commissioning evidence pack (evidence.json and evidence.html): for every requirement,\n"
            "what proves it and the latest result, from test and HIL JUnit, benchmark figures, the configs'\n"
            "check and hash, and the audit trail's verification; every requirement nothing proves in red."
        ),
        epilog="example:\n  otgate evidence --out evidence/ --junit junit.xml --config plant_configs/cstr.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evidence.add_argument(
        "--out", type=Path, required=True, help="directory for evidence.json and evidence.html"
    )
    evidence.add_argument("--root", type=Path, default=Path("."), help="the project checkout (default: .)")
    evidence.add_argument(
        "--junit", type=Path, action="append", default=[], help="pytest JUnit XML, repeatable (default: none)"
    )
    evidence.add_argument(
        "--hil-junit",
        type=Path,
        action="append",
        default=[],
        help="`otgate hil run --junit` XML, repeatable (default: none)",
    )
    evidence.add_argument(
        "--bench", type=Path, default=None, help="benchmark results (default benchmarks/results.json)"
    )
    evidence.add_argument(
        "--config",
        type=Path,
        action="append",
        default=[],
        help="plant config to hash and check, repeatable (default: none)",
    )
    evidence.add_argument(
        "--data-dir", type=Path, default=None, help="verify this data dir's audit trail (default: none)"
    )
    evidence.add_argument(
        "--requirements", type=Path, default=None, help="the requirements (default docs/requirements.yaml)"
    )
    evidence.add_argument(
        "--hazards", type=Path, default=None, help="the hazard list (default docs/hazards.yaml, if present)"
    )
    evidence.add_argument(
        "--run-tests",
        action="store_true",
        help="run pytest now and use its JUnit XML (default: collect only)",
    )
    evidence.add_argument(
        "--pytest-args", default="", help="arguments for --run-tests, e.g. 'tests/core' (default: none)"
    )
    evidence.add_argument(
        "--run-hil", action="store_true", help="run the HIL scenario library now (default: collect only)"
    )
    evidence.add_argument(
        "--label", default="", help="a release or site label shown in the pack (default: none)"
    )
    evidence.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any requirement is unproven (default: only on a failure)",
    )
    evidence.set_defaults(handler=cmd_evidence)
