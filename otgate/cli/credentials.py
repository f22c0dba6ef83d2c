"""`otgate passwd` and `otgate token new`: the secrets a plant config holds, made with existing tools.

Operator passwords become Argon2id hashes (argon2-cffi, the library the HMI verifies them with); engine
and metrics tokens are 256 random bits from `secrets` and their `sha256:` line. The config only ever holds
hashes; the plain token is printed once, for the engine's or scraper's own secret store.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

from argon2 import PasswordHasher

from otgate.cli.parsers import command
from otgate.core.demo_secrets import DEMO_PASSWORDS, token_line

MIN_PASSWORD_CHARS = 12
TOKEN_BYTES = 32


def _read_password(from_stdin: bool) -> str:
    if from_stdin:  # for scripts: the first line of stdin, never an argument (argv is world-readable)
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_passwd(args: argparse.Namespace) -> int:
    try:
        password = _read_password(args.stdin)
    except ValueError as error:
        print(f"otgate passwd: {error}", file=sys.stderr)
        return 1
    if len(password) < MIN_PASSWORD_CHARS:
        print(f"otgate passwd: a password needs at least {MIN_PASSWORD_CHARS} characters", file=sys.stderr)
        return 1
    if password in DEMO_PASSWORDS:
        print("otgate passwd: that is a published demo password", file=sys.stderr)
        return 1
    line = PasswordHasher().hash(password)  # argon2-cffi's defaults: Argon2id, RFC 9106 low-memory profile
    if args.user:
        print(f'  {args.user}:\n    role: {args.role}\n    password_hash: "{line}"')
    else:
        print(line)
    return 0


def cmd_token_new(args: argparse.Namespace) -> int:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    key = "metrics_token_sha256" if args.kind == "metrics" else "token_sha256"
    print(f"token: {token}")
    print(f'{key}: "{token_line(token)}"')
    return 0


def add_credential_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `passwd` and `token new` to the `otgate` sub-command parsers."""
    passwd = command(
        commands,
        "passwd",
        "hash an operator password (Argon2id) for the config",
        "Asks for a password twice (or reads one line from stdin with --stdin) and prints its\n"
        "Argon2id hash for an `operators:` entry. Refuses short and published demo passwords.",
        "otgate passwd --user alice --role operator",
    )
    passwd.add_argument(
        "--user", help="print a whole `operators:` entry for this name (default: the hash only)"
    )
    passwd.add_argument(
        "--role", choices=["viewer", "operator", "engineer"], default="operator", help="(default: operator)"
    )
    passwd.add_argument("--stdin", action="store_true", help="read the password from stdin (default: ask)")
    passwd.set_defaults(handler=cmd_passwd)

    token = command(
        commands,
        "token",
        "make an engine or metrics bearer token",
        "Makes bearer tokens for AI engines and metrics scrapers.",
        "otgate token new --kind engine",
    )
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    new = command(
        token_commands,
        "new",
        "a random token and its sha256 line for the config",
        "Prints a random 256-bit token (give it to the engine or scraper) and the `sha256:`\n"
        "line for the config (engines.<name>.token_sha256 or gateway.metrics_token_sha256).",
        "otgate token new --kind metrics",
    )
    new.add_argument("--kind", choices=["engine", "metrics"], default="engine", help="(default: engine)")
    new.set_defaults(handler=cmd_token_new)
