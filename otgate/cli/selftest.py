"""`otgate selftest --config FILE [--allow-plant-actions --operator NAME]`: the site acceptance test.

Runs the steps of `otgate.assurance.selftest` against the PLCs of the config (real ones, or the simulator),
prints one line per step, writes the report as JSON (`--report`), and appends it to the audit trail of
`--data-dir` as a `selftest` record signed with HMAC-SHA256 under the audit key (OTGATE_AUDIT_HMAC_KEY), so a
report cannot be edited or made up after the fact without the key. Reference: docs/ASSURANCE.md.

Exit codes: 0 every step that ran passed; 1 a step failed; 2 usage (config, loop, operator, key).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from otgate.assurance.selftest import FAIL, Selftest, StepResult, default_plan
from otgate.audit.store import AUDIT_KEY_ENV, AuditStore, AuditStoreError, audit_key_from_env
from otgate.config.loader import ConfigError, load_config_file
from otgate.core.audit_chain import AuditKind
from otgate.core.canonical_json import canonical_json
from otgate.core.config import PlantConfig, Protocol, Role
from otgate.field.link import FieldLink


def _links(config: PlantConfig) -> dict[str, FieldLink]:
    # Imported here: the protocol libraries are not loaded for every other `otgate` command.
    from otgate.field.modbus import ModbusLink
    from otgate.field.opcua import OpcUaLink

    links: dict[str, FieldLink] = {}
    for name, plc in config.plcs.items():
        tags = {t: tag for t, tag in config.tags.items() if tag.plc == name}
        links[name] = ModbusLink(plc, tags) if plc.protocol is Protocol.MODBUS else OpcUaLink(plc, tags)
    return links


async def _run(selftest: Selftest) -> list[StepResult]:
    try:
        return await selftest.run()
    finally:
        for link in selftest.links.values():
            await link.close()


def sign(report: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the report's canonical JSON (sorted keys, no whitespace), hex."""
    return hmac.new(key, canonical_json(report).encode("utf-8"), hashlib.sha256).hexdigest()


def _usage(args: argparse.Namespace, config: PlantConfig) -> str | None:
    if not args.allow_plant_actions:
        return None
    if not args.operator:
        return "--allow-plant-actions needs --operator NAME: plant actions are attributed to a person"
    person = config.operators.get(args.operator)
    if person is None or person.role is Role.VIEWER:
        return f"--operator {args.operator!r} is not an operator or engineer of this config"
    return None


def cmd_selftest(args: argparse.Namespace) -> int:
    return asyncio.run(selftest_main(args))


async def selftest_main(args: argparse.Namespace) -> int:
    try:
        loaded = load_config_file(args.config)
        key = audit_key_from_env(os.environ)
        plan = default_plan(loaded.config, args.loop, args.test_tag, args.allow_plant_actions)
    except (ConfigError, ValueError) as error:
        print(f"otgate selftest: {error}", file=sys.stderr)
        return 2
    problem = _usage(args, loaded.config)
    if problem is not None:
        print(f"otgate selftest: {problem}", file=sys.stderr)
        return 2
    if args.shed_margin_s is not None:
        plan = replace(plan, shed_margin_s=args.shed_margin_s)
    if args.steady_s is not None:
        plan = replace(plan, steady_s=args.steady_s)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    results = await _run(Selftest(loaded.config, _links(loaded.config), plan))
    for result in results:
        print(f"{result.status.upper():8} {result.name:15} {result.detail}")
    failed = any(r.status == FAIL for r in results)
    report: dict[str, Any] = {
        "kind": "otgate-selftest",
        "plant": loaded.config.plant,
        "config": args.config.name,
        "config_sha256": loaded.sha256,
        "started_at": started,
        "operator": args.operator,
        "allow_plant_actions": plan.allow_plant_actions,
        "loop": plan.loop,
        "test_tag": plan.test_tag,
        "verdict": "fail" if failed else "pass",
        "steps": [
            {"name": r.name, "status": r.status, "detail": r.detail, "requirements": list(r.requirements)}
            for r in results
        ],
    }
    signed = {"report": report, "hmac_sha256": sign(report, key) if key is not None else None}
    if key is None:
        print(f"note: {AUDIT_KEY_ENV} is not set; the report is recorded unsigned", file=sys.stderr)
    if args.report is not None:
        args.report.write_text(json.dumps(signed, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if args.data_dir is not None:
        try:
            with AuditStore(args.data_dir, key) as store:
                actor = f"operator:{args.operator}" if args.operator else "selftest"
                record = store.append(AuditKind.SELFTEST, actor, signed, datetime.now(UTC).timestamp())
            print(f"audit: record {record.seq} in {args.data_dir}")
        except AuditStoreError as error:
            print(f"otgate selftest: report not recorded: {error}", file=sys.stderr)
            return 1
    print("SELFTEST " + ("FAILED" if failed else "PASSED"))
    return 1 if failed else 0


def add_selftest_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    selftest = commands.add_parser(
        "selftest",
        help="site acceptance self-test against the config's PLCs",
        description=(
            "Site acceptance test against the live PLCs of a config (or the simulator): reachability and\n"
            "the register map read back and checked; with --allow-plant-actions, the mode handshake, a write\n"
            "and read-back, and the heartbeat-loss shed. A signed report goes into the audit trail."
        ),
        epilog="example:\n  otgate selftest --config plant_configs/tank.yaml --allow-plant-actions --operator engineer",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    selftest.add_argument("--config", type=Path, required=True, help="the plant config of the site")
    selftest.add_argument(
        "--allow-plant-actions",
        action="store_true",
        help="run the steps that write to the PLC (default: read only)",
    )
    selftest.add_argument(
        "--operator", help="who runs the plant actions, an operator or engineer of the config (default: none)"
    )
    selftest.add_argument("--loop", help="the loop for the handshake and shed tests (default: the first)")
    selftest.add_argument(
        "--test-tag", help="the writable tag for write/read-back (default: the loop's setpoint)"
    )
    selftest.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="append the signed report to this audit trail (default: none)",
    )
    selftest.add_argument(
        "--report", type=Path, default=None, help="also write the signed report here as JSON (default: none)"
    )
    selftest.add_argument(
        "--shed-margin-s",
        type=float,
        default=None,
        help="allowance beyond the PLC's timeout (default: two PLC scans)",
    )
    selftest.add_argument(
        "--steady-s",
        type=float,
        default=None,
        help="watch the working setpoint this long before a mode change (default 1 s)",
    )
    selftest.set_defaults(handler=cmd_selftest)
