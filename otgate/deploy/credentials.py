"""The secrets of a deployment: the published demo secrets found in a config (`check-config` warns,
`run` refuses) and the audit HMAC key handed over by systemd's credentials. Making new ones is
`otgate passwd` / `otgate token new` (`otgate/cli/credentials.py`)."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from otgate.audit.store import AUDIT_KEY_ENV
from otgate.core.config import PlantConfig
from otgate.core.demo_secrets import DEMO_PASSWORDS, DemoSecret, find_demo_tokens


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
