"""`otgate passwd` and `otgate token new`: the secrets a plant config holds, made with existing tools.

Operator passwords become Argon2id hashes (argon2-cffi, the library the HMI verifies them with); engine
and metrics tokens are 256 random bits from `secrets` and their `sha256:` line. The config only ever holds
hashes; the plain token is printed once, for the engine's or scraper's own secret store.

It also finds the published demo secrets in a config (`check-config` warns, `run` refuses).
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from collections.abc import MutableMapping
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from otgate.audit.store import AUDIT_KEY_ENV
from otgate.core.config import PlantConfig
from otgate.core.demo_secrets import DEMO_PASSWORDS, DemoSecret, find_demo_tokens, token_line

MIN_PASSWORD_CHARS = 12
TOKEN_BYTES = 32


def is_demo_password(password_hash: str) -> str | None:
    """The published demo password this hash verifies, if any."""
    hasher = PasswordHasher()
    for password in DEMO_PASSWORDS:
        try:
            if hasher.verify(password_hash, password):
                return password
        except (VerificationError, InvalidHashError):
            continue
    return None


def find_demo_secrets(config: PlantConfig) -> list[DemoSecret]:
    found = find_demo_tokens(config)
    for name, operator in config.operators.items():
        password = is_demo_password(operator.password_hash)
        if password is not None:
            found.append(DemoSecret(f"operators.{name}.password_hash", f'demo password "{password}"'))
    return found


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
    raw = argparse.RawDescriptionHelpFormatter
    passwd = commands.add_parser(
        "passwd",
        help="hash an operator password (Argon2id) for the config",
        description="Asks for a password twice (or reads one line from stdin with --stdin) and prints its\n"
        "Argon2id hash for an `operators:` entry. Refuses short and published demo passwords.",
        epilog="example:\n  otgate passwd --user alice --role operator",
        formatter_class=raw,
    )
    passwd.add_argument(
        "--user", help="print a whole `operators:` entry for this name (default: the hash only)"
    )
    passwd.add_argument(
        "--role", choices=["viewer", "operator", "engineer"], default="operator", help="(default: operator)"
    )
    passwd.add_argument("--stdin", action="store_true", help="read the password from stdin (default: ask)")
    passwd.set_defaults(handler=cmd_passwd)

    token = commands.add_parser(
        "token",
        help="make an engine or metrics bearer token",
        description="Makes bearer tokens for AI engines and metrics scrapers.",
        epilog="example:\n  otgate token new --kind engine",
        formatter_class=raw,
    )
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    new = token_commands.add_parser(
        "new",
        help="a random token and its sha256 line for the config",
        description="Prints a random 256-bit token (give it to the engine or scraper) and the `sha256:`\n"
        "line for the config (engines.<name>.token_sha256 or gateway.metrics_token_sha256).",
        epilog="example:\n  otgate token new --kind metrics",
        formatter_class=raw,
    )
    new.add_argument("--kind", choices=["engine", "metrics"], default="engine", help="(default: engine)")
    new.set_defaults(handler=cmd_token_new)


def demo_secret_problems(config: PlantConfig, path: object) -> list[str]:
    """One `FILE: warning:` line per published demo secret in the config."""
    return [
        f"{path}: warning: {s.where} is the {s.what}; make your own with `otgate passwd` / `otgate token new`"
        for s in find_demo_secrets(config)
    ]


AUDIT_KEY_CREDENTIAL = "audit-hmac-key"


def audit_key_from_credentials(environ: MutableMapping[str, str]) -> bool:
    """Under systemd, `LoadCredential=audit-hmac-key:FILE` puts the audit HMAC key in
    `$CREDENTIALS_DIRECTORY` (a private, non-swappable mount only this service reads) rather than in the
    unit file or its environment. Hand it on as the variable the audit store reads, unless that is set.
    Trailing newlines are dropped, as `$(cat FILE)` does, so `audit verify` sees the same key."""
    folder = environ.get("CREDENTIALS_DIRECTORY")
    if not folder or AUDIT_KEY_ENV in environ:
        return False
    path = Path(folder) / AUDIT_KEY_CREDENTIAL
    if not path.is_file():
        return False
    environ[AUDIT_KEY_ENV] = path.read_bytes().rstrip(b"\r\n").decode("utf-8", "surrogateescape")
    return True
