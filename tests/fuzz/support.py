"""Shared pieces of the fuzz and hostile-input tests: a tank gateway on the in-memory fake PLC (loop
engaged, operators with cheap Argon2 parameters), the engine token, HMI log-in, and the checks every
answer of either app must pass (no 5xx, error bodies carry a code and a correlation id only, no internals).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from otgate.audit.store import AuditStore
from otgate.core.config import Operator, Role
from otgate.core.modes import ModeEvent
from otgate.core.plant import compile_plant
from otgate.field.fake import FakeLink
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from tests.conftest import REMOTE_PLC, TANK_CONFIG

ENGINE_TOKEN = "demo-tank-engine-token"  # plant_configs/tank.yaml, engine "optimizer"
ENGINE_AUTH = {"Authorization": f"Bearer {ENGINE_TOKEN}"}
SETPOINT = "LIC-101.RSP"
LOOP = "LIC-101"
START = 1_800_000_000.0

# Cheap Argon2id parameters for the tests only (the plant configs use the library's defaults).
_FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORDS = {"viewer": "v-pass", "operator": "o-pass", "engineer": "e-pass"}
ACCOUNTS = {name: Operator(role=Role(name), password_hash=_FAST.hash(pw)) for name, pw in PASSWORDS.items()}
TANK_WITH_ACCOUNTS = TANK_CONFIG.model_copy(update={"operators": ACCOUNTS})

ERROR_KEYS = {"error", "id"}
ERROR_KEYS_WITH_FIELDS = {"error", "id", "fields"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# What must never leak into an answer: tracebacks, source or file paths, exception reprs, IP addresses.
LEAKS = [
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r'File "[^"]+", line \d+'),
    re.compile(r"(/work/|/home/|/usr/lib|/tmp/|site-packages|\.venv)"),
    re.compile(r"\.py\b"),
    re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
    re.compile(r"\b(OverflowError|RecursionError|KeyError|TypeError|AttributeError|AssertionError)\b"),
    # Python's own exception texts and codec names (issue 13): the answer's words must be ours.
    re.compile(r"\b(ValueError|UnicodeDecodeError|JSONDecodeError)\b"),
    re.compile(r"\bcodec\b|can't decode|invalid start byte|utf-16|utf-32", re.IGNORECASE),
    re.compile(r"Expecting (value|property name|',' delimiter|':' delimiter)|\(char \d+\)"),
    re.compile(r"Extra data|Invalid control character|Unterminated string|Invalid \\escape"),
    re.compile(r"maximum recursion depth|Exceeds the limit \(\d+ digits\)|Unexpected UTF-8 BOM"),
]


def examples(default: int, fuzz_share: float = 1.0) -> int:
    """Hypothesis example count: `default` in the ordinary run; under `make fuzz` OTGATE_FUZZ_EXAMPLES
    (times `fuzz_share` for the costlier tests), never fewer than the default."""
    raw = os.environ.get("OTGATE_FUZZ_EXAMPLES")
    if not raw:
        return default
    return max(default, int(int(raw) * fuzz_share))


def new_gateway(data_dir: Path, fake: FakeLink | None = None) -> tuple[Gateway, FakeLink, AuditStore]:
    fake = fake or FakeLink(TANK_WITH_ACCOUNTS.tags, REMOTE_PLC)
    store = AuditStore(data_dir, None)
    gateway = Gateway(compile_plant(TANK_WITH_ACCOUNTS), {"plc1": fake}, store, ManualClock(START))
    return gateway, fake, store


@contextmanager
def throwaway_gateway() -> Iterator[Gateway]:
    """A gateway for building an app only to read its routes or OpenAPI (at import, to name the cases)."""
    with tempfile.TemporaryDirectory(prefix="otgate-fuzz-") as data_dir:
        gateway, _fake, store = new_gateway(Path(data_dir))
        try:
            yield gateway
        finally:
            store.close()


async def engage(gateway: Gateway) -> None:
    await gateway.scan(gateway.clock.monotonic())
    gateway.operator_action("operator", [LOOP], ModeEvent.ENGAGE, "fuzz")
    await gateway.scan(gateway.clock.monotonic())


def engaged_gateway(data_dir: Path) -> tuple[Gateway, FakeLink, AuditStore]:
    gateway, fake, store = new_gateway(data_dir)
    asyncio.run(engage(gateway))
    return gateway, fake, store


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def setpoint_writes(fake: FakeLink) -> list[Any]:
    return [w for w in fake.writes if w.tag == SETPOINT]


def check_answer(status: int, headers: Any, text: str, sent: str = "", *, shape: bool = True) -> None:
    """The invariants of every answer: no 5xx except the documented 503s, tidy errors, no internals.
    `sent` is what the request carried: the caller's own text echoed back (a tag name) is not a leak."""
    assert status < 500 or (
        status == 503 and _error_code(text) in {"audit_unavailable", "too_many_streams"}
    ), f"server error {status}: {text[:500]}"
    for pattern in LEAKS:
        for match in pattern.finditer(text):
            assert match.group(0) in sent, f"answer leaks internals ({match.group(0)!r}): {text[:500]}"
    content_type = headers.get("content-type", "")
    if shape and status >= 400 and content_type.startswith("application/json"):
        check_error_body(json.loads(text))


def check_error_body(body: Any) -> None:
    assert isinstance(body, dict), body
    assert set(body) in (ERROR_KEYS, ERROR_KEYS_WITH_FIELDS), f"error body has other keys: {sorted(body)}"
    assert isinstance(body["error"], str) and re.fullmatch(r"[a-z_]{1,64}", body["error"]), body
    assert isinstance(body["id"], str) and UUID.match(body["id"]), body
    if "fields" in body:
        assert isinstance(body["fields"], list) and body["fields"], body
        for item in body["fields"]:
            assert isinstance(item, dict) and set(item) <= {"loc", "msg", "type"}, item


def _error_code(text: str) -> str | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None
