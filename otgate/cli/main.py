"""The `otgate` command line. Thin: it parses arguments and hands over to the part that does the work.

Every command's help says what it does, its defaults and an example (the user's first documentation);
`tests/cli/test_help.py` keeps it so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import otgate
from otgate.cli.audit import add_audit_commands
from otgate.cli.config_replay import add_config_commands
from otgate.cli.credentials import add_credential_commands
from otgate.cli.engine import add_engine_commands
from otgate.cli.evidence import add_evidence_command
from otgate.cli.identify import add_identify_command
from otgate.cli.mcp import add_mcp_commands
from otgate.cli.parsers import HelpFormatter, command
from otgate.cli.selftest import add_selftest_command
from otgate.config.loader import ConfigError, load_config_file
from otgate.config.reference import render_reference
from otgate.core.config import PlantConfig
from otgate.deploy.credentials import audit_key_from_credentials, demo_secret_problems
from otgate.deploy.logs import add_logging_options, configure_from_args
from otgate_hil.cli import add_hil_commands

PLANTS = ("tank", "cstr", "ricker")
DATA_DIR = Path("otgate-data")
DESCRIPTION = """\
otgate: a deterministic safety gateway between AI recommendation engines and PLCs (Modbus TCP, OPC UA).
Every recommendation passes one validation chain before anything is written; on any doubt a loop goes
back to conventional control. Not a safety instrumented system: the plant's SIS stays independent."""
EPILOG = """\
examples:
  otgate demo                                   simulator + gateway + demo engine + HMI on localhost
  otgate check-config plant_configs/*.yaml      validate plant configs
  otgate run --config plant_configs/tank.yaml   the gateway for one plant
  otgate COMMAND --help                         what a command does, its defaults and an example"""


def cmd_check_config(args: argparse.Namespace) -> int:
    failed = False
    for path in args.files:
        try:
            loaded = load_config_file(path)
        except ConfigError as error:
            failed = True
            for problem in error.problems:
                print(problem, file=sys.stderr)
        else:
            config = loaded.config
            for warning in demo_secret_problems(config, path):
                print(warning, file=sys.stderr)
            print(f"{path}: ok (plant {config.plant}, {len(config.tags)} tags, sha256 {loaded.sha256[:16]}…)")
    return 1 if failed else 0


def cmd_schema(args: argparse.Namespace) -> int:
    if args.markdown:
        print(render_reference(), end="")
        return 0
    schema = PlantConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "otgate plant configuration"
    print(json.dumps(schema, indent=2, sort_keys=True))
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from otgate_simulator.opcua_server import ServerSecurity
    from otgate_simulator.runtime import serve

    try:
        security = ServerSecurity(
            args.opcua_policy, args.opcua_mode, args.opcua_cert, args.opcua_key, args.opcua_trusted
        )
    except ValueError as error:
        print(f"otgate sim: {error}", file=sys.stderr)
        return 2
    ports = (args.modbus_port, args.opcua_port)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.plant, *ports, args.speed, args.seed, opcua_security=security))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from otgate.host.service import run_until_signalled

    try:
        loaded = load_config_file(args.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    demo_secrets = demo_secret_problems(loaded.config, args.config)
    if demo_secrets and not args.allow_demo_secrets:
        # Published secrets on a live plant let anyone who read the docs drive it: refuse to start.
        for problem in demo_secrets:
            print(problem.replace(": warning: ", ": error: ", 1), file=sys.stderr)
        print("otgate run: refusing demo secrets (--allow-demo-secrets for demos and tests)", file=sys.stderr)
        return 1
    data_dir = args.data_dir if args.data_dir is not None else Path(loaded.config.gateway.data_dir)
    audit_key_from_credentials(os.environ)  # systemd's LoadCredential= (docs/DEPLOYMENT.md)
    asyncio.run(run_until_signalled(loaded, data_dir))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from otgate.cli.demo import main as demo

    return demo(args.plant, args.duration, args.data_dir, args.json)


def cmd_openapi(args: argparse.Namespace) -> int:
    from otgate.cli.openapi_doc import render_openapi

    document = render_openapi()
    if args.out is None:
        print(document, end="")
    else:
        args.out.write_text(document)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otgate", description=DESCRIPTION, epilog=EPILOG, formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"otgate {otgate.__version__}")
    add_logging_options(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = command(
        commands,
        "demo",
        "simulator + gateway + demo AI engine + HMI on localhost",
        "Starts the plant simulator, the gateway, a demo AI engine and the operator HMI on localhost and\n"
        "prints their URLs. The demo operator engages AI control after two seconds. Stops on Ctrl-C or\n"
        "SIGTERM (every loop back to conventional control first) and prints a summary.",
        "otgate demo --plant tank --duration 60",
    )
    demo.add_argument("--plant", choices=PLANTS, default="cstr", help="the plant to simulate (default: cstr)")
    demo.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds (default: run until stopped)",
    )
    demo.add_argument(
        "--data-dir", type=Path, default=DATA_DIR, help=f"where the audit trail goes (default: ./{DATA_DIR})"
    )
    demo.add_argument(
        "--json", action="store_true", help="print the summary as one JSON object (default: one text line)"
    )
    demo.set_defaults(handler=cmd_demo)

    run = command(
        commands,
        "run",
        "run the gateway for one plant",
        "Runs the gateway for the plant a config describes, against real or simulated PLCs: the AI-facing\n"
        "API and the HMI on the listeners the config names. Starts with every loop in fallback. Stops on\n"
        "Ctrl-C or SIGTERM (every loop back to conventional control first). Exit 0 on a clean stop, 1 when\n"
        "the config is invalid.",
        "otgate run --config plant_configs/tank.yaml --data-dir /var/lib/otgate",
    )
    run.add_argument("--config", type=Path, required=True, help="the plant config (YAML)")
    run.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the audit trail goes (default: the config's gateway.data_dir, relative to the working directory)",
    )
    run.add_argument(
        "--allow-demo-secrets",
        action="store_true",
        help="start even on the published demo tokens and passwords (default: refuse)",
    )
    run.set_defaults(handler=cmd_run)

    check = command(
        commands,
        "check-config",
        "validate plant configs; problems as FILE:LINE:COL: message",
        "Validates plant config files without connecting to anything. Prints every problem as\n"
        "FILE:LINE:COL: message. Exit 0 when every file is valid, 1 otherwise.",
        "otgate check-config plant_configs/*.yaml",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE", help="plant config files (YAML)")
    check.set_defaults(handler=cmd_check_config)

    schema = command(
        commands,
        "schema",
        "print the JSON Schema of the plant config",
        "Prints the JSON Schema of the plant config, for editors that complete and check YAML\n"
        "(see docs/OPERATIONS.md), or with --markdown the config reference.",
        "otgate schema > otgate-config.schema.json",
    )
    schema.add_argument(
        "--markdown",
        action="store_true",
        help="the config reference as Markdown instead (default: JSON Schema)",
    )
    schema.set_defaults(handler=cmd_schema)

    sim = command(
        commands,
        "sim",
        "run the plant simulator alone",
        "Runs one simulated plant with its virtual PLC, served over Modbus TCP and OPC UA, until Ctrl-C.",
        "otgate sim --plant tank --modbus-port 5020 --opcua-port 4840",
    )
    sim.add_argument("--plant", choices=PLANTS, required=True, help="the plant to simulate")
    sim.add_argument("--modbus-port", type=int, default=5020, help="Modbus TCP port (default: 5020)")
    sim.add_argument("--opcua-port", type=int, default=4840, help="OPC UA port (default: 4840)")
    sim.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per wall second (default: 1.0)"
    )
    sim.add_argument("--seed", type=int, default=0, help="random seed of the process noise (default: 0)")
    sim.add_argument(
        "--opcua-policy",
        default="None",
        help="OPC UA security policy: None or Basic256Sha256 (default: None)",
    )
    sim.add_argument(
        "--opcua-mode",
        default="SignAndEncrypt",
        choices=["Sign", "SignAndEncrypt"],
        help="OPC UA message security mode when a policy is set (default: SignAndEncrypt)",
    )
    sim.add_argument(
        "--opcua-cert", type=Path, help="the simulated PLC's certificate, with a URI SAN (default: none)"
    )
    sim.add_argument("--opcua-key", type=Path, help="the certificate's private key (default: none)")
    sim.add_argument(
        "--opcua-trusted", type=Path, help="directory of trusted gateway certificates (default: none)"
    )
    sim.set_defaults(handler=cmd_sim)

    openapi = command(
        commands,
        "openapi",
        "write the AI-facing API's OpenAPI document",
        "Write the complete OpenAPI document of the AI-facing API (recommendation body, typed /v1/tags\n"
        "and /v1/state, every error answer). The listener itself serves none.",
        "otgate openapi --out docs/openapi.json",
    )
    openapi.add_argument("--out", type=Path, help="write here instead of stdout (default: stdout)")
    openapi.set_defaults(handler=cmd_openapi)

    add_engine_commands(commands)
    add_mcp_commands(commands)
    add_audit_commands(commands)
    add_hil_commands(commands)
    add_evidence_command(commands)
    add_selftest_command(commands)
    add_identify_command(commands)
    add_config_commands(commands)
    add_credential_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_from_args(args)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
