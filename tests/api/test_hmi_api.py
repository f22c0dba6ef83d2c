"""The operator HMI's API: sessions, CSRF, the role matrix, and what each action does to the loops."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.routing import Match

from otgate.api.hmi import create_hmi_app
from otgate.api.hmi_console import Console
from otgate.api.hmi_sessions import ENGINEER_IDLE_S, LOCKOUT_FAILURES, SESSION_COOKIE
from otgate.audit.store import AuditStore
from otgate.core.approval import AwaitingApproval, proposal_digest
from otgate.core.change_control import ChangeRequest
from otgate.core.config import Operator, Role
from otgate.core.modes import LoopMode, ModeEvent
from otgate.core.plant import compile_plant
from otgate.core.proposal import Proposal
from otgate.field.fake import FakeLink
from otgate.moc.change_board import ProposedChange
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from tests.conftest import PLANT_CONFIGS, TANK_CONFIG

BASE = "http://hmi"
# Cheap Argon2id parameters for the tests only (the plant configs use the library's defaults).
_FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORDS = {"viewer": "v-pass", "operator": "o-pass", "engineer": "e-pass"}
ACCOUNTS = {name: Operator(role=Role(name), password_hash=_FAST.hash(pw)) for name, pw in PASSWORDS.items()}
SCRIPT = "<script>window.pwned = 1</script>"


@pytest.fixture
def gateway(fake: FakeLink, tmp_path: Path) -> Iterator[Gateway]:
    config = TANK_CONFIG.model_copy(update={"operators": ACCOUNTS})
    store = AuditStore(tmp_path, None)
    yield Gateway(compile_plant(config), {"plc1": fake}, store, ManualClock(1_800_000_000.0))
    store.close()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "tank.yaml"
    shutil.copy(PLANT_CONFIGS / "tank.yaml", path)
    return path


@pytest.fixture
async def app(gateway: Gateway, config_file: Path) -> Any:
    await gateway.scan(gateway.clock.monotonic())
    return create_hmi_app(gateway, config_path=config_file)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


@dataclass
class LoggedIn:
    http: httpx.AsyncClient
    csrf: str

    async def post(self, path: str, body: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
        return await self.http.post(path, json=body or {}, headers={"X-CSRF-Token": self.csrf, **headers})


async def log_in(app: Any, user: str, password: str | None = None) -> LoggedIn:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    answer = await http.post("/hmi/api/session", json={"user": user, "password": password or PASSWORDS[user]})
    assert answer.status_code == 200, answer.text
    return LoggedIn(http, answer.json()["csrf_token"])


def console_of(app: Any) -> Console:
    console: Console = app.state.console
    return console


def queue_supervised(
    gateway: Gateway, rationale: str | None = "raise level for the morning peak"
) -> Proposal:
    proposal = Proposal("rec-1", "optimizer", "LIC-101.RSP", 655.0, gateway.clock.now())
    gateway.awaiting[proposal.id] = AwaitingApproval(proposal, rationale, gateway.clock.now(), 1)
    return proposal


# ------------------------------------------------------------------------------------------ sessions


async def test_login_sets_httponly_samesite_strict_cookie_and_returns_csrf(app: Any):
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    answer = await http.post("/hmi/api/session", json={"user": "operator", "password": "o-pass"})
    cookie = answer.headers["set-cookie"]
    assert answer.json()["role"] == "operator" and len(answer.json()["csrf_token"]) >= 40
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert answer.cookies[SESSION_COOKIE] != answer.json()["csrf_token"]


async def test_login_with_wrong_password_401_and_audited(app: Any, gateway: Gateway):
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    answer = await http.post("/hmi/api/session", json={"user": "operator", "password": "nope"})
    assert answer.status_code == 401 and SESSION_COOKIE not in answer.cookies
    logins = [r for r in gateway.audit.records() if r.kind == "login"]
    assert [(r.actor, r.data["event"]) for r in logins] == [("operator:operator", "login_failed")]


async def test_state_without_session_401_and_page_redirects_to_login(client: httpx.AsyncClient):
    assert (await client.get("/hmi/api/state")).status_code == 401
    page = await client.get("/hmi")
    assert page.status_code == 303 and page.headers["location"] == "/hmi/login"
    assert "Log in" in (await client.get("/hmi/login")).text


@pytest.mark.requirement("R-30")
async def test_forged_session_token_401(app: Any):
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    http.cookies.set(SESSION_COOKIE, "A" * 43)
    assert (await http.get("/hmi/api/state")).status_code == 401


@pytest.mark.requirement("R-30")
async def test_token_reused_after_logout_401(app: Any):
    op = await log_in(app, "operator")
    token = op.http.cookies[SESSION_COOKIE]
    assert (await op.post("/hmi/api/session/logout")).status_code == 200
    replay = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    replay.cookies.set(SESSION_COOKIE, token)
    assert (await replay.get("/hmi/api/state")).status_code == 401


@pytest.mark.requirement("R-30")
async def test_engineer_session_idle_past_timeout_401_operator_session_lives_on(app: Any, gateway: Gateway):
    engineer, operator = await log_in(app, "engineer"), await log_in(app, "operator")
    assert isinstance(gateway.clock, ManualClock)
    gateway.clock.advance(ENGINEER_IDLE_S + 1)
    assert (await engineer.http.get("/hmi/api/state")).status_code == 401
    assert (await operator.http.get("/hmi/api/state")).status_code == 200


async def test_form_login_without_login_token_refused(client: httpx.AsyncClient):
    answer = await client.post("/hmi/login", data={"user": "operator", "password": "o-pass"})
    assert answer.status_code == 403 and SESSION_COOKIE not in answer.cookies


async def test_form_login_with_login_token_opens_session(client: httpx.AsyncClient):
    form = await client.get("/hmi/login")
    token = form.text.split('name="login_token" value="')[1].split('"')[0]
    answer = await client.post(
        "/hmi/login", data={"user": "viewer", "password": "v-pass", "login_token": token}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/hmi"
    assert (await client.get("/hmi")).status_code == 200


@pytest.mark.requirement("R-29")
async def test_lockout_leaves_only_toward_safety_actions(app: Any, gateway: Gateway):
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    for _ in range(LOCKOUT_FAILURES):
        await http.post("/hmi/api/session", json={"user": "operator", "password": "guess"})
    op = await log_in(app, "operator")
    assert (await op.http.get("/hmi/api/session")).json()["restricted"] is True
    refused = await op.post("/hmi/api/loops/LIC-101/engage")
    assert refused.status_code == 403 and refused.json()["error"] == "locked_out_toward_safety_only"
    assert (await op.post("/hmi/api/plant/fallback", {"reason": "drill"})).status_code == 200
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK


# ------------------------------------------------------------------------------------------ CSRF


async def test_post_without_csrf_token_refused_and_nothing_changes(app: Any, gateway: Gateway):
    op = await log_in(app, "operator")
    answer = await op.http.post("/hmi/api/loops/LIC-101/engage", json={})
    assert answer.status_code == 403 and answer.json()["error"] == "csrf_token_missing_or_wrong"
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK


async def test_post_with_another_sessions_csrf_token_refused(app: Any):
    op, other = await log_in(app, "operator"), await log_in(app, "operator")
    answer = await op.http.post("/hmi/api/plant/engage", json={}, headers={"X-CSRF-Token": other.csrf})
    assert answer.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["other-origin", "null-origin", "cross-site"],
)
async def test_cross_site_post_refused_even_with_token(app: Any, gateway: Gateway, headers: dict[str, str]):
    op = await log_in(app, "operator")
    answer = await op.post("/hmi/api/plant/engage", **headers)
    assert answer.status_code == 403 and answer.json()["error"] == "cross_origin"
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK


# ------------------------------------------------------------------------------------------ role matrix

ROLES = ("anonymous", "viewer", "operator", "engineer")
VIEW, OPER, ENG = "viewer", "operator", "engineer"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    least: str  # the least role that may call it
    body: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("GET", "/hmi", VIEW),
    Endpoint("GET", "/hmi/api/state", VIEW),
    Endpoint("GET", "/hmi/api/trends", VIEW),
    Endpoint("GET", "/hmi/api/session", VIEW),
    Endpoint("POST", "/hmi/api/session/logout", VIEW),
    Endpoint("POST", "/hmi/api/loops/LIC-101/fallback", OPER, {"reason": "test"}),
    Endpoint("POST", "/hmi/api/loops/LIC-101/manual", OPER),
    Endpoint("POST", "/hmi/api/loops/LIC-101/engage", OPER),
    Endpoint("POST", "/hmi/api/loops/LIC-101/reset", OPER, {"reason": "checked"}),
    Endpoint("POST", "/hmi/api/loops/LIC-101/setpoint", OPER, {"value": 652.0}),
    Endpoint("POST", "/hmi/api/plant/fallback", OPER),
    Endpoint("POST", "/hmi/api/plant/manual", OPER),
    Endpoint("POST", "/hmi/api/plant/engage", OPER),
    Endpoint("POST", "/hmi/api/plant/reset", OPER, {"reason": "checked"}),
    Endpoint("POST", "/hmi/api/approvals/rec-1/approve", OPER, {"digest": "from-queue"}),
    Endpoint("POST", "/hmi/api/approvals/rec-1/reject", OPER, {"digest": "from-queue"}),
    Endpoint("POST", "/hmi/api/alarms/TEST_ALARM/acknowledge", OPER),
    Endpoint("POST", "/hmi/api/alarms/TEST_ALARM/shelve", OPER, {"reason": "nuisance", "duration_s": 600}),
    Endpoint("POST", "/hmi/api/engines/optimizer/fallback", OPER),
    Endpoint("POST", "/hmi/api/engines/optimizer/lift-quarantine", OPER, {"reason": "engine fixed"}),
    Endpoint("POST", "/hmi/api/config/reload", ENG, {"password": "own"}),
    Endpoint("GET", "/hmi/api/changes", ENG),
    Endpoint(
        "POST", "/hmi/api/changes", ENG, {"text": (PLANT_CONFIGS / "tank.yaml").read_text(), "reason": "t"}
    ),
    Endpoint("POST", "/hmi/api/changes/chg-seed/reject", ENG),
]
RANKS = {"anonymous": -1, VIEW: 0, OPER: 1, ENG: 2}


def route_of(app: Any, method: str, path: str) -> str:
    for route in app.routes:
        match, _ = route.matches({"type": "http", "path": path, "method": method})
        if match is Match.FULL:
            return f"{method} {route.path}"
    raise AssertionError(f"no route for {method} {path}")


@pytest.mark.requirement("R-28")
def test_role_matrix_covers_every_hmi_endpoint(app: Any):
    served = {
        f"{method} {route.path}"
        for route in app.routes
        for method in getattr(route, "methods", None) or ()
        if method != "HEAD" and route.path.startswith("/hmi")
    }
    outside = {"GET /hmi/login", "POST /hmi/login", "POST /hmi/api/session"}  # logging in itself
    streamed = {"GET /hmi/events"}  # same gate as GET /hmi/api/state; driven in tests/hmi
    from tests.api.test_autonomy_api import ENDPOINTS as AUTONOMY  # its own matrix, with a policy

    covered = {route_of(app, e.method, e.path) for e in [*ENDPOINTS, *AUTONOMY]}
    assert served - outside - streamed == covered


def prepare(gateway: Gateway) -> str:
    """Give every endpoint something to act on: a queued approval, an alarm, a quarantined engine."""
    proposal = queue_supervised(gateway)
    gateway.raise_alarm("TEST_ALARM", "test", "low")
    gateway.quarantined.add("optimizer")
    gateway.operator_action("setup", ["LIC-101"], ModeEvent.MANUAL, "role matrix")
    return proposal_digest(proposal)


def seed_change(app: Any) -> None:
    """A proposed config change for the change endpoints to act on."""
    board = app.state.changes
    request = ChangeRequest("chg-seed", "someone-else", "seed", "", "")
    board.add(ProposedChange(request, board.directory / "chg-seed.yaml", "", {}))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.requirement("R-28")
async def test_role_matrix(app: Any, gateway: Gateway, endpoint: Endpoint, role: str):
    digest = prepare(gateway)
    seed_change(app)
    body = {
        k: digest if v == "from-queue" else PASSWORDS.get(role, "x") if v == "own" else v
        for k, v in (endpoint.body or {}).items()
    }
    if role == "anonymous":
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
        answer = await http.request(
            endpoint.method, endpoint.path, json=body if endpoint.method == "POST" else None
        )
        assert answer.status_code == (303 if endpoint.path == "/hmi" else 401)
        return
    who = await log_in(app, role)
    answer = await (
        who.http.get(endpoint.path) if endpoint.method == "GET" else who.post(endpoint.path, body)
    )
    if RANKS[role] >= RANKS[endpoint.least]:
        assert 200 <= answer.status_code < 300, answer.text
    else:
        assert (answer.status_code, answer.json()["error"]) == (403, "forbidden")


# ------------------------------------------------------------------------------------------ actions


@pytest.mark.requirement("R-18", "R-21")
async def test_operator_engages_falls_back_and_resets_with_reason_audited_by_name(app: Any, gateway: Gateway):
    op = await log_in(app, "operator")
    assert (await op.post("/hmi/api/loops/LIC-101/engage")).json()["outcome"] == {"LIC-101": "ai"}
    assert (await op.post("/hmi/api/plant/fallback", {"reason": "drill"})).json()["outcome"] == {
        "LIC-101": "fallback"
    }
    assert gateway.loops["LIC-101"].state.latched
    refused = await op.post("/hmi/api/loops/LIC-101/reset", {"reason": "  "})
    assert (refused.status_code, refused.json()["error"]) == (422, "reason_required")
    assert (await op.post("/hmi/api/loops/LIC-101/reset", {"reason": "plant checked"})).status_code == 200
    assert not gateway.loops["LIC-101"].state.latched
    actions = [r for r in gateway.audit.records() if r.kind == "operator_action"]
    assert [(r.actor, r.data["event"]) for r in actions] == [
        ("operator:operator", "engage"),
        ("operator:operator", "fallback"),
        ("operator:operator", "reset"),
    ]
    assert actions[-1].data["reason"] == "plant checked"


async def test_engine_fallback_takes_every_loop_the_engine_writes(app: Any, gateway: Gateway):
    op = await log_in(app, "operator")
    await op.post("/hmi/api/plant/engage")
    answer = await op.post("/hmi/api/engines/optimizer/fallback")
    assert answer.json()["outcome"] == {"LIC-101": "fallback"}
    assert (await op.post("/hmi/api/engines/nobody/fallback")).status_code == 404


async def test_engage_from_latched_fallback_reports_refusal(app: Any, gateway: Gateway):
    op = await log_in(app, "operator")
    await op.post("/hmi/api/plant/fallback")
    outcome = (await op.post("/hmi/api/plant/engage")).json()["outcome"]
    assert outcome == {"LIC-101": "refused from fallback (latched)"}


async def test_unknown_loop_and_action_404(app: Any):
    op = await log_in(app, "operator")
    assert (await op.post("/hmi/api/loops/NOPE/engage")).status_code == 404
    assert (await op.post("/hmi/api/loops/LIC-101/explode")).status_code == 404
    assert (await op.post("/hmi/api/approvals/x/maybe", {"digest": "d"})).status_code == 404


@pytest.mark.parametrize("value", [1e9, 499.9])
@pytest.mark.requirement("R-03")
async def test_manual_setpoint_outside_hard_limits_rejected(app: Any, gateway: Gateway, value: float):
    op = await log_in(app, "operator")
    await op.post("/hmi/api/loops/LIC-101/manual")
    answer = (await op.post("/hmi/api/loops/LIC-101/setpoint", {"value": value})).json()
    assert answer["decision"] == "rejected" and "OUT_OF_RANGE" in [r["code"] for r in answer["reasons"]]
    assert "LIC-101.RSP" not in gateway.pending


@pytest.mark.parametrize("raw", [b'{"value": NaN}', b'{"value": "650"}', b'{"value": true}', b"[1]"])
async def test_manual_setpoint_needs_a_finite_number(app: Any, raw: bytes):
    op = await log_in(app, "operator")
    answer = await op.http.post(
        "/hmi/api/loops/LIC-101/setpoint",
        content=raw,
        headers={"X-CSRF-Token": op.csrf, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422


async def test_manual_setpoint_within_limits_is_written_at_next_scan(
    app: Any, gateway: Gateway, fake: FakeLink
):
    op = await log_in(app, "operator")
    await op.post("/hmi/api/loops/LIC-101/manual")
    answer = (await op.post("/hmi/api/loops/LIC-101/setpoint", {"value": 660.0})).json()
    assert answer["decision"] in {"accepted", "ramping"}
    await gateway.scan(gateway.clock.monotonic() + 1)
    assert fake.values["LIC-101.RSP"] == answer["written_value"]


@pytest.mark.requirement("R-09", "R-23")
async def test_approve_writes_after_revalidation_and_is_single_use(
    app: Any, gateway: Gateway, fake: FakeLink
):
    op = await log_in(app, "operator")
    await op.post("/hmi/api/loops/LIC-101/engage")
    await gateway.scan(gateway.clock.monotonic() + 1)
    proposal = queue_supervised(gateway)
    digest = proposal_digest(proposal)
    wrong = await op.post("/hmi/api/approvals/rec-1/approve", {"digest": "0" * 64})
    assert (wrong.status_code, wrong.json()["error"]) == (409, "approval_mismatch")
    assert (await op.post("/hmi/api/approvals/rec-1/approve", {"digest": digest})).json() == {
        "outcome": "approved"
    }
    again = await op.post("/hmi/api/approvals/rec-1/approve", {"digest": digest})
    assert (again.status_code, again.json()["error"]) == (404, "approval_unknown")
    await gateway.scan(gateway.clock.monotonic() + 2)
    assert 650.0 < fake.values["LIC-101.RSP"] <= 655.0  # the first step of a rate-limited ramp
    approvals = [r for r in gateway.audit.records() if r.kind == "approval"]
    assert [(r.actor, r.data["outcome"]) for r in approvals] == [
        ("operator:operator", "mismatch"),
        ("operator:operator", "approved"),
        ("operator:operator", "unknown"),
    ]


@pytest.mark.requirement("R-23")
async def test_approval_expired_409(app: Any, gateway: Gateway):
    op = await log_in(app, "operator")
    proposal = queue_supervised(gateway)
    assert isinstance(gateway.clock, ManualClock)
    gateway.clock.advance(gateway.plant.config.gateway.approval_ttl_s + 1)
    answer = await op.post("/hmi/api/approvals/rec-1/approve", {"digest": proposal_digest(proposal)})
    assert (answer.status_code, answer.json()["error"]) == (409, "approval_expired")


async def test_acknowledge_alarm_and_lift_quarantine(app: Any, gateway: Gateway):
    gateway.raise_alarm("PLC_LINK_LOST:plc1", "gone", "high")
    gateway.quarantined.add("optimizer")
    op = await log_in(app, "operator")
    assert (await op.post("/hmi/api/alarms/PLC_LINK_LOST:plc1/acknowledge")).status_code == 200
    assert gateway.alarms["PLC_LINK_LOST:plc1"].acknowledged_by == "operator"
    assert (await op.post("/hmi/api/alarms/NOPE/acknowledge")).status_code == 404
    assert (await op.post("/hmi/api/engines/optimizer/lift-quarantine", {})).status_code == 422
    lifted = await op.post("/hmi/api/engines/optimizer/lift-quarantine", {"reason": "model rolled back"})
    assert lifted.json() == {"engine": "optimizer", "lifted": True} and not gateway.quarantined


async def test_reload_config_needs_the_engineers_password_again(app: Any, gateway: Gateway):
    eng = await log_in(app, "engineer")
    answer = await eng.post("/hmi/api/config/reload", {"password": "wrong"})
    assert (answer.status_code, answer.json()["error"]) == (403, "reauthentication_failed")
    assert not [r for r in gateway.audit.records() if r.kind == "config_load"]


@pytest.mark.requirement("R-49")
async def test_reload_checks_the_config_first(app: Any, gateway: Gateway, config_file: Path):
    config_file.write_text(config_file.read_text().replace("max_move_up: 20.0", "max_move_up: -1"))
    eng = await log_in(app, "engineer")
    answer = await eng.post("/hmi/api/config/reload", {"password": "e-pass"})
    assert (answer.status_code, answer.json()["error"]) == (422, "config_invalid")
    assert str(config_file) in answer.json()["fields"][0]["msg"]
    assert not [r for r in gateway.audit.records() if r.kind == "config_load"]


@pytest.mark.requirement("R-48")
async def test_reload_records_the_new_hash_and_the_engineer(app: Any, gateway: Gateway, config_file: Path):
    eng = await log_in(app, "engineer")
    answer = (await eng.post("/hmi/api/config/reload", {"password": "e-pass"})).json()
    load = [r for r in gateway.audit.records() if r.kind == "config_load"][-1]
    assert (load.actor, load.data["sha256"], load.data["file"]) == (
        "operator:engineer",
        answer["sha256"],
        str(config_file),
    )


# ------------------------------------------------------------------------------------------ the page


@pytest.mark.requirement("R-12", "R-25")
async def test_rationale_is_escaped_and_marked_untrusted(app: Any, gateway: Gateway):
    await gateway.scan(gateway.clock.monotonic())
    gateway.submit([Proposal("r-9", "optimizer", "LIC-101.RSP", 2000.0, gateway.clock.now())], [SCRIPT])
    queue_supervised(gateway, rationale=SCRIPT)
    await console_of(app).refresh()
    viewer = await log_in(app, "viewer")
    html = (await viewer.http.get("/hmi")).text
    assert SCRIPT not in html
    assert html.count("&lt;script&gt;window.pwned = 1&lt;/script&gt;") == 2  # last recommendation + queue
    assert "AI-generated, unverified" in html
    state = (await viewer.http.get("/hmi/api/state")).json()
    assert state["loops"][0]["last"]["rationale"] == SCRIPT  # JSON carries the text as received
    assert state["loops"][0]["last"]["decision"] == "rejected"


async def test_page_has_a_strict_content_security_policy(app: Any):
    viewer = await log_in(app, "viewer")
    page = await viewer.http.get("/hmi")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    assert 'id="plant-reason"' not in page.text  # a viewer gets no buttons
    assert (await viewer.http.get("/hmi/static/uPlot.iife.min.js")).status_code == 200


async def test_event_stream_pushes_the_plant_view_and_ends_with_the_session(app: Any):
    console = console_of(app)
    op = await log_in(app, "operator")
    token = op.http.cookies[SESSION_COOKIE]
    stream = console.stream(token)
    assert (await anext(stream)).startswith("retry:")
    event = await anext(stream)
    assert event.startswith("event: state\ndata: {") and '"LIC-101"' in event
    await op.post("/hmi/api/session/logout")
    assert (await anext(stream)).startswith("event: expired")
    await stream.aclose()
    assert console.streams == 0


async def test_expired_approvals_are_not_offered(app: Any, gateway: Gateway):
    queue_supervised(gateway)
    assert isinstance(gateway.clock, ManualClock)
    gateway.clock.advance(gateway.plant.config.gateway.approval_ttl_s + 1)
    viewer = await log_in(app, "viewer")
    assert (await viewer.http.get("/hmi/api/state")).json()["approvals"] == []


# ------------------------------------------------------------------------------------------ audit failure


@pytest.mark.requirement("R-37")
async def test_audit_failure_operator_still_falls_back_from_the_hmi(app: Any, gateway: Gateway):
    from otgate.audit.store import AuditStoreError
    from otgate.core.modes import LoopMode, ModeEvent

    operator = await log_in(app, "operator")
    await gateway.scan(gateway.clock.monotonic())
    gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "test")

    def broken(*args: object) -> None:
        raise AuditStoreError("disk full")

    gateway.audit.append_many = broken  # type: ignore[method-assign]
    answer = await operator.post("/hmi/api/plant/fallback", {"reason": "the trail is down"})
    # Unrecorded, so 503 as documented; toward safety, so it took effect all the same.
    assert answer.status_code == 503 and answer.json()["error"] == "audit_unavailable"
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK
    assert gateway.alarms.is_active("AUDIT_FAILURE")
    state = await operator.http.get("/hmi/api/state")
    assert state.status_code == 200
    await operator.http.aclose()


async def test_lockout_refuses_manual_from_fallback_which_asks_the_plc_for_remote(app: Any, gateway: Gateway):
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    for _ in range(LOCKOUT_FAILURES):
        await http.post("/hmi/api/session", json={"user": "operator", "password": "guess"})
    op = await log_in(app, "operator")
    refused = await op.post("/hmi/api/loops/LIC-101/manual")
    assert refused.status_code == 403 and refused.json()["error"] == "locked_out_toward_safety_only"
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK


async def test_reset_with_the_trail_dead_answers_503_and_stays_latched(app: Any, gateway: Gateway):
    from otgate.audit.store import AuditStoreError

    operator = await log_in(app, "operator")
    assert (await operator.post("/hmi/api/loops/LIC-101/fallback")).status_code == 200

    def broken(*args: object) -> None:
        raise AuditStoreError("disk full")

    gateway.audit.append_many = broken  # type: ignore[method-assign]
    for action in ("reset", "engage"):
        answer = await operator.post(f"/hmi/api/loops/LIC-101/{action}", {"reason": "looks fine"})
        assert answer.status_code == 503 and answer.json()["error"] == "audit_unavailable"
    state = gateway.loops["LIC-101"].state
    assert state.mode is LoopMode.FALLBACK and state.latched
    await operator.http.aclose()


async def test_lift_quarantine_after_rejection_burst_stays_lifted_until_new_evidence(
    app: Any, gateway: Gateway
):
    """Lifting resets the engine's monitors: the old rejections must not quarantine it again next scan."""
    now = gateway.clock.now()
    bad = [Proposal(f"bad-{i}", "optimizer", "LIC-101.RSP", 1e6, now) for i in range(12)]
    gateway.submit(bad)
    await gateway.scan(gateway.clock.monotonic())
    assert "optimizer" in gateway.quarantined
    op = await log_in(app, "operator")
    lifted = await op.post("/hmi/api/engines/optimizer/lift-quarantine", {"reason": "limits fixed"})
    assert lifted.json() == {"engine": "optimizer", "lifted": True}
    assert isinstance(gateway.clock, ManualClock)
    gateway.clock.advance(1.0)
    await gateway.scan(gateway.clock.monotonic())
    state = (await op.http.get("/hmi/api/state")).json()
    assert "optimizer" not in gateway.quarantined
    assert next(e for e in state["engines"] if e["name"] == "optimizer")["quarantined"] is False
    # New evidence quarantines it again.
    later = gateway.clock.now()
    gateway.submit([Proposal(f"worse-{i}", "optimizer", "LIC-101.RSP", 1e6, later) for i in range(12)])
    await gateway.scan(gateway.clock.monotonic())
    assert "optimizer" in gateway.quarantined


async def test_reload_deep_yaml_answers_422_config_invalid(app: Any, gateway: Gateway, config_file: Path):
    config_file.write_bytes(b"plant: " + b"[" * 50_000 + b"]" * 50_000 + b"\n")
    eng = await log_in(app, "engineer")
    answer = await eng.post("/hmi/api/config/reload", {"password": "e-pass"})
    assert (answer.status_code, answer.json()["error"]) == (422, "config_invalid")
    assert answer.json()["fields"][0]["msg"].startswith(f"{config_file}:1:")
    assert not [r for r in gateway.audit.records() if r.kind == "config_load"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_hmi_action_body_not_json_refused_415_nothing_changes(
    app: Any, gateway: Gateway, content_type: str
):
    op = await log_in(app, "operator")
    answer = await op.http.post(
        "/hmi/api/plant/engage",
        content=b'{"reason": "start"}',
        headers={"X-CSRF-Token": op.csrf, "Content-Type": content_type},
    )
    assert (answer.status_code, answer.json()["error"]) == (415, "unsupported_media_type")
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK


async def test_hmi_action_utf16_body_refused_422_invalid_encoding(app: Any, gateway: Gateway):
    op = await log_in(app, "operator")
    answer = await op.http.post(
        "/hmi/api/plant/engage",
        content='{"reason": "start"}'.encode("utf-16"),
        headers={"X-CSRF-Token": op.csrf, "Content-Type": "application/json"},
    )
    assert (answer.status_code, answer.json()["error"]) == (422, "invalid_encoding")
    assert "codec" not in answer.text and "utf-16" not in answer.text.lower()
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK
