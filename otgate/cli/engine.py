"""`otgate engine run module:Class --gateway URL`: run a user-written engine live against a gateway.

The token comes from an environment variable (default OTGATE_ENGINE_TOKEN), never from the command line,
where other users of the machine could read it in the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from typing import Any

from otgate.api.schemas import ModelInfo
from otgate.client.connection import AsyncGatewayClient
from otgate.client.engine import RunStats, load_engine, run_engine

TOKEN_ENV = "OTGATE_ENGINE_TOKEN"


def add_engine_commands(commands: Any) -> None:
    engine = commands.add_parser(
        "engine",
        help="run an AI engine written against otgate.client",
        description="Run an AI engine written against the Python SDK (otgate.client) live against a gateway.",
        epilog="example:\n  export OTGATE_ENGINE_TOKEN=...\n  otgate engine run my_engine:Optimiser --gateway http://127.0.0.1:8000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = engine.add_subparsers(dest="engine_command", required=True)
    run = actions.add_parser(
        "run",
        help="run module:Class live against a gateway's AI API",
        description=(
            "Load an Engine class (state in, proposals out) and run it against a gateway's AI API: every\n"
            "cycle it reads the state, proposes, and hears the decisions; idle cycles send a heartbeat.\n"
            "The token comes from an environment variable, never the command line."
        ),
        epilog="example:\n  export OTGATE_ENGINE_TOKEN=...\n  otgate engine run my_engine:Optimiser --gateway http://127.0.0.1:8000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("engine", help="the engine class, as package.module:Class")
    run.add_argument("--gateway", required=True, help="the AI API's base URL, e.g. http://127.0.0.1:8000")
    run.add_argument(
        "--token-env", default=TOKEN_ENV, help=f"variable holding the token (default {TOKEN_ENV})"
    )
    run.add_argument("--period", type=float, default=2.0, help="seconds between cycles (default 2)")
    run.add_argument(
        "--cycles", type=int, default=None, help="stop after this many cycles (default: run until stopped)"
    )
    run.add_argument("--app-dir", default=".", help="directory put first on the import path (default .)")
    run.add_argument(
        "--model-name", default=None, help="model name sent with every proposal (default: the class name)"
    )
    run.add_argument(
        "--model-version", default="0", help="model version sent with every proposal (default 0)"
    )
    run.set_defaults(handler=cmd_engine_run)


def cmd_engine_run(args: argparse.Namespace) -> int:
    token = os.environ.get(args.token_env)
    if not token:
        print(f"otgate engine run: set {args.token_env} to the engine's token", file=sys.stderr)
        return 2
    sys.path.insert(0, os.path.abspath(args.app_dir))
    try:
        engine = load_engine(args.engine)
    except (ValueError, ImportError) as error:
        print(f"otgate engine run: {error}", file=sys.stderr)
        return 2
    model = ModelInfo(name=args.model_name, version=args.model_version) if args.model_name else None
    with contextlib.suppress(KeyboardInterrupt):
        stats = asyncio.run(_run(engine, args.gateway, token, model, args.period, args.cycles))
        print(json.dumps(vars(stats), sort_keys=True))
    return 0


async def _run(
    engine: Any, url: str, token: str, model: ModelInfo | None, period_s: float, cycles: int | None
) -> RunStats:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncGatewayClient(url, token, model=model) as client:
        return await run_engine(engine, client, period_s=period_s, stop=stop, cycles=cycles)
