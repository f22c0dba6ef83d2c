"""The `otgate` command line. Thin: it parses arguments and hands over to the part that does the work."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from otgate.config_file import ConfigError, load_config_file
from otgate.config_reference import render_reference
from otgate.core.config import PlantConfig

PLANTS = ("tank", "cstr", "ricker")


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
    from simulator.runtime import serve

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.plant, args.modbus_port, args.opcua_port, args.speed, args.seed))
    return 0


def cmd_not_yet(args: argparse.Namespace) -> int:
    print(
        f"otgate {args.command}: the gateway runtime is not built yet (see the issue tracker)",
        file=sys.stderr,
    )
    return 2


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
    sim.set_defaults(handler=cmd_sim)

    for name in ("demo", "run"):
        later = commands.add_parser(name, help="(not built yet)")
        later.set_defaults(handler=cmd_not_yet)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
