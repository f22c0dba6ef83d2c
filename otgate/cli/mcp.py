"""`otgate mcp --gateway URL [--transport stdio|http]`: the MCP server for LLM agents, a separate process
that is one more engine to the gateway. Its token comes from an environment variable (default
OTGATE_ENGINE_TOKEN), never from the command line. On stdio nothing but the protocol is written to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from typing import Any

from otgate.cli.engine import TOKEN_ENV

START = {"X-Otgate-Tool": "mcp-start"}  # names the start-up check's read in the audit trail


def add_mcp_commands(commands: Any) -> None:
    mcp = commands.add_parser(
        "mcp",
        help="MCP server for LLM agents (stdio or streamable HTTP)",
        description=(
            "Serve the gateway to an LLM agent over the Model Context Protocol: tools to list its tags,\n"
            "read the state, propose a setpoint with a rationale and read a decision. It is just another\n"
            "engine to the gateway: its own token, its own permissions, every call audited."
        ),
        epilog="example:\n  export OTGATE_ENGINE_TOKEN=...\n  otgate mcp --gateway http://127.0.0.1:8000 --transport stdio",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mcp.add_argument("--gateway", required=True, help="the AI API's base URL, e.g. http://127.0.0.1:8000")
    mcp.add_argument(
        "--token-env", default=TOKEN_ENV, help=f"variable holding the engine token (default {TOKEN_ENV})"
    )
    mcp.add_argument(
        "--transport",
        choices=["stdio", "http"],
        default="stdio",
        help="how the agent connects (default stdio)",
    )
    mcp.add_argument("--host", default="127.0.0.1", help="HTTP only (default 127.0.0.1)")
    mcp.add_argument("--port", type=int, default=8765, help="HTTP only; 0 takes any free port (default 8765)")
    mcp.add_argument(
        "--allow-autonomous",
        action="store_true",
        help="serve even if the engine may write a tag without an operator's approval (default: refuse)",
    )
    mcp.set_defaults(handler=cmd_mcp)


def cmd_mcp(args: argparse.Namespace) -> int:
    token = os.environ.get(args.token_env)
    if not token:
        print(f"otgate mcp: set {args.token_env} to the engine's token", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(
            serve(args.gateway, token, args.transport, args.host, args.port, args.allow_autonomous)
        )
    return 0


async def serve(
    gateway_url: str, token: str, transport: str, host: str, port: int, allow_autonomous: bool
) -> int:
    # Imported here, not at the top: every other otgate command would pay for loading the MCP SDK.
    import httpx

    from otgate.client import AsyncGatewayClient, GatewayError
    from otgate.mcp_door.tools import build_server
    from otgate.mcp_door.transport import http_app, start_http

    async with AsyncGatewayClient(gateway_url, token) as client:
        try:
            autonomous = [
                e.tag for e in (await client.tags(headers=START)).writable if e.autonomy == "autonomous"
            ]
        except (GatewayError, httpx.HTTPError) as error:
            print(f"otgate mcp: cannot read the engine's tags from the gateway: {error}", file=sys.stderr)
            return 1
        if autonomous and not allow_autonomous:
            # An agent's setpoints wait for an operator by default: the engine's max_autonomy says so.
            print(
                f"otgate mcp: this engine may write {', '.join(autonomous)} without approval; give it"
                " `max_autonomy: supervised` in the plant config (or pass --allow-autonomous)",
                file=sys.stderr,
            )
            return 2
        server = build_server(client)
        if transport == "stdio":
            await server.run_stdio_async()
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        listener = await start_http(http_app(server, token, host), host, port)
        print(f"otgate mcp: streamable HTTP at {listener.url} (bearer: the engine token)", flush=True)
        await stop.wait()
        await listener.stop()
    return 0
