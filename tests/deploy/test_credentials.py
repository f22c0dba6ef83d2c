"""`otgate passwd`, `otgate token new` and the demo-secret guard of `check-config` and `run`."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from otgate.cli import main

ROOT = Path(__file__).resolve().parents[2]
TANK = ROOT / "plant_configs" / "tank.yaml"


def test_token_new_line_is_sha256_of_printed_token(capsys: pytest.CaptureFixture[str]):
    assert main(["token", "new", "--kind", "engine"]) == 0
    out = capsys.readouterr().out
    token = re.search(r"^token: (\S+)$", out, re.M)
    line = re.search(r'^token_sha256: "(sha256:[0-9a-f]{64})"$', out, re.M)
    assert token and line, out
    assert line.group(1) == "sha256:" + hashlib.sha256(token.group(1).encode()).hexdigest()
    assert len(token.group(1)) >= 43  # 32 random bytes, URL-safe base64


def test_token_new_twice_gives_different_tokens(capsys: pytest.CaptureFixture[str]):
    main(["token", "new", "--kind", "metrics"])
    main(["token", "new", "--kind", "metrics"])
    tokens = re.findall(r"^token: (\S+)$", capsys.readouterr().out, re.M)
    assert len(tokens) == 2 and tokens[0] != tokens[1]


def test_passwd_stdin_prints_argon2id_hash_that_verifies(monkeypatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["passwd", "--stdin", "--user", "alice", "--role", "engineer"]) == 0
    out = capsys.readouterr().out
    digest = re.search(r'password_hash: "(\$argon2id\$[^"]+)"', out)
    assert digest and "alice:" in out and "role: engineer" in out
    assert PasswordHasher().verify(digest.group(1), "correct horse battery")


@pytest.mark.parametrize("password", ["short", "demo-operator"])
def test_passwd_short_or_demo_password_refused(password: str, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    assert main(["passwd", "--stdin"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "otgate passwd:" in captured.err


def test_check_config_shipped_config_warns_demo_secrets_still_valid(capsys: pytest.CaptureFixture[str]):
    assert main(["check-config", str(TANK)]) == 0
    err = capsys.readouterr().err
    assert 'engines.optimizer.token_sha256 is the demo token "demo-tank-engine-token"' in err
    assert "gateway.metrics_token_sha256" in err
    assert 'operators.operator.password_hash is the demo password "demo-operator"' in err


def test_check_config_own_secrets_no_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    own = own_secrets_config(tmp_path)
    assert main(["check-config", str(own)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_run_demo_secrets_refused_before_anything_starts(tmp_path: Path, capsys):
    data = tmp_path / "data"
    assert main(["run", "--config", str(TANK), "--data-dir", str(data)]) == 1
    err = capsys.readouterr().err
    assert "refusing demo secrets" in err and "error: engines.optimizer.token_sha256" in err
    assert not data.exists()  # no trail, no listener: nothing started


def own_secrets_config(tmp_path: Path) -> Path:
    """The tank config with every published secret replaced by a fresh one."""
    hasher = PasswordHasher()
    text = TANK.read_text()
    for old in set(re.findall(r'"(sha256:[0-9a-f]{64})"', text)):
        text = text.replace(old, "sha256:" + hashlib.sha256(old.encode()).hexdigest())
    for old in set(re.findall(r'"(\$argon2id\$[^"]+)"', text)):
        text = text.replace(old, hasher.hash("not-a-demo-password"))
    path = tmp_path / "tank.yaml"
    path.write_text(text)
    return path
