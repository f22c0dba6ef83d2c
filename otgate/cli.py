"""The `otgate` command line. Thin: it parses arguments and hands over to the part that does the work."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hil.cli import add_hil_commands
from otgate.audit_cli import add_audit_commands
from otgate.client.cli import add_engine_commands
from otgate.config_file import ConfigError, load_config_file
from otgate.config_reference import render_reference
from otgate.core.config import PlantConfig
from otgate.mcp_door.cli import add_mcp_commands

PLANTS = ("tank", "cstr", "ricker")
DATA_DIR = Path("otgate-data")


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
    from simulator.opcua_server import ServerSecurity
    from simulator.runtime import serve

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
    from otgate.service import run_until_signalled

    try:
        loaded = load_config_file(args.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    asyncio.run(run_until_signalled(loaded, args.data_dir))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from otgate.demo import main as demo

    return demo(args.plant, args.duration, args.data_dir, args.json)


def cmd_openapi(args: argparse.Namespace) -> int:
    from otgate.api.openapi import render_openapi

    document = render_openapi()
    if args.out is None:
        print(document, end="")
    else:
        args.out.write_text(document)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otgate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "check-config", help="validate plant configs; problems as FILE:LINE:COL: message"
    )
    check.add_argument("files", nargs="+", type=Path)
    check.set_defaults(handler=cmd_check_config)

    schema = commands.add_parser("schema", help="print the JSON Schema of the plant config")
    schema.add_argument("--markdown", action="store_true", help="the config reference as Markdown instead")
    schema.set_defaults(handler=cmd_schema)

    sim = commands.add_parser("sim", help="run the plant simulator alone")
    sim.add_argument("--plant", choices=PLANTS, required=True)
    sim.add_argument("--modbus-port", type=int, default=5020)
    sim.add_argument("--opcua-port", type=int, default=4840)
    sim.add_argument("--speed", type=float, default=1.0)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--opcua-policy", default="None", help="None (default), Basic256Sha256, ...")
    sim.add_argument("--opcua-mode", default="SignAndEncrypt", choices=["Sign", "SignAndEncrypt"])
    sim.add_argument("--opcua-cert", type=Path, help="the simulated PLC's certificate (with a URI SAN)")
    sim.add_argument("--opcua-key", type=Path, help="its private key")
    sim.add_argument("--opcua-trusted", type=Path, help="directory of trusted gateway certificates")
    sim.set_defaults(handler=cmd_sim)

    run = commands.add_parser("run", help="run the gateway for one plant")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument("--data-dir", type=Path, default=DATA_DIR)
    run.set_defaults(handler=cmd_run)

    demo = commands.add_parser("demo", help="simulator + gateway + demo AI engine + HMI on localhost")
    demo.add_argument("--plant", choices=PLANTS, default="cstr")
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("--data-dir", type=Path, default=DATA_DIR)
    demo.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    demo.set_defaults(handler=cmd_demo)

    openapi = commands.add_parser("openapi", help="write the AI-facing API's OpenAPI document")
    openapi.add_argument("--out", type=Path, help="write here (docs/openapi.json) instead of stdout")
    openapi.set_defaults(handler=cmd_openapi)

    add_engine_commands(commands)
    add_mcp_commands(commands)
    add_audit_commands(commands)
    add_hil_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
