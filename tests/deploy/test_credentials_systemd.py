"""systemd's LoadCredential= hands the audit HMAC key over as a file; `otgate run` reads it from there."""

from __future__ import annotations

from pathlib import Path

from otgate.audit.store import AUDIT_KEY_ENV, audit_key_from_env
from otgate.deploy.credentials import AUDIT_KEY_CREDENTIAL, audit_key_from_credentials


def test_audit_key_from_credentials_directory_same_as_cat(tmp_path: Path):
    (tmp_path / AUDIT_KEY_CREDENTIAL).write_bytes(b"k3y-from-systemd\n")
    environ = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert audit_key_from_credentials(environ)
    assert audit_key_from_env(environ) == b"k3y-from-systemd"  # as `OTGATE_AUDIT_HMAC_KEY=$(cat FILE)`


def test_audit_key_explicit_variable_wins_and_no_directory_does_nothing(tmp_path: Path):
    (tmp_path / AUDIT_KEY_CREDENTIAL).write_bytes(b"from-file")
    environ = {"CREDENTIALS_DIRECTORY": str(tmp_path), AUDIT_KEY_ENV: "from-env"}
    assert not audit_key_from_credentials(environ)
    assert environ[AUDIT_KEY_ENV] == "from-env"
    empty: dict[str, str] = {}
    assert not audit_key_from_credentials(empty) and empty == {}
