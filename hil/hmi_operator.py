"""The scenario's operator: every `operator.*` action goes through the real HMI API, as a browser would.

`HmiOperator` logs in with the plant's demo password (`POST /hmi/api/session`), keeps the session cookie
and sends the session's CSRF token on every state-changing request, so the HMI's whole gate (origin,
cookie, CSRF, role, lock-out) is in the loop. A session that expired in simulated time is opened again.

    scenario action              HMI request (POST)
    operator.engage/fallback/    /hmi/api/loops/{loop}/{engage|fallback|reset|manual}   {"reason"}
      reset/manual
    operator.setpoint            /hmi/api/loops/{loop}/setpoint                          {"value"}
    operator.approve/reject      /hmi/api/approvals/{id}/{approve|reject}                {"digest"}
    operator.lift_quarantine     /hmi/api/engines/{engine}/lift-quarantine               {"reason"}
    operator.acknowledge         /hmi/api/alarms/{code}/acknowledge
    engineer.sign_off            /hmi/api/autonomy/sign-off        {"engine","model_digest","loop","password"}
    operator.demote              /hmi/api/autonomy/demote          {"engine","model_digest","loop","reason"}
    operator.reviews (each due)  /hmi/api/approvals/{id}/{approve|reject} for everything queued for the tag

An approval names its recommendation by `proposal` (the id), or by `tag` (the oldest one queued for it),
both read from `GET /hmi/api/state` as the page shows them. A sign-off or demotion names the engine's
entry on the loop for the model it sends now, read from `GET /hmi/api/autonomy` as the autonomy page
shows it; the sign-off re-enters the engineer's password (or the `password` the scenario gives). The digest sent is the one the page shows,
unless the scenario gives its own (a wrong digest must be refused). Every answer is returned as
`HTTP <status> <body>` for the run's event log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

DEMO_PASSWORDS = {"operator": "demo-operator", "engineer": "demo-engineer", "viewer": "demo-viewer"}
CSRF_HEADER = "x-csrf-token"
MODE_ACTIONS = {"engage", "fallback", "reset", "manual"}


@dataclass(frozen=True)
class OperatorAction:
    """One operator action of a scenario, named as in the scenario file without the `operator.` prefix."""

    kind: str
    user: str = "operator"
    reason: str = ""
    loops: tuple[str, ...] = ()
    loop: str | None = None
    value: float | None = None
    tag: str | None = None
    proposal: str | None = None
    digest: str | None = None
    engine: str | None = None
    code: str | None = None
    password: str | None = None  # sign_off: re-entered; None: the user's own
    reject_every: int | None = None  # review: every n-th answer of this operator's reviews is a rejection


class HmiOperator:
    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._clients: dict[str, httpx.AsyncClient] = {}  # one cookie jar (browser) per user
        self._csrf: dict[str, str] = {}
        self._reviewed: dict[str, int] = {}  # per tag: answers the standing reviewer has given

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    def _client(self, user: str) -> httpx.AsyncClient:
        if user not in self._clients:
            transport = httpx.ASGITransport(app=self._app)
            self._clients[user] = httpx.AsyncClient(transport=transport, base_url="http://otgate.hmi")
        return self._clients[user]

    async def act(self, action: OperatorAction) -> str:
        """Carry out `action`; the HMI's answers, one `HTTP <status> <body>` per request."""
        if action.kind in MODE_ACTIONS:
            answers = [
                await self._post(
                    action.user, f"/hmi/api/loops/{loop}/{action.kind}", {"reason": action.reason}
                )
                for loop in action.loops
            ]
            return "; ".join(answers)
        if action.kind == "setpoint":
            return await self._post(
                action.user, f"/hmi/api/loops/{action.loop}/setpoint", {"value": action.value}
            )
        if action.kind in {"approve", "reject"}:
            return await self._answer_approval(action)
        if action.kind == "lift_quarantine":
            path = f"/hmi/api/engines/{action.engine}/lift-quarantine"
            return await self._post(action.user, path, {"reason": action.reason})
        if action.kind == "acknowledge":
            return await self._post(action.user, f"/hmi/api/alarms/{action.code}/acknowledge", {})
        if action.kind in {"sign_off", "demote"}:
            return await self._autonomy(action)
        if action.kind == "review":
            return await self._review(action)
        raise ValueError(f"unknown operator action {action.kind!r}")

    async def _answer_approval(self, action: OperatorAction) -> str:
        queue = (await self._get(action.user, "/hmi/api/state")).get("approvals", [])
        chosen = [
            item
            for item in queue
            if (action.proposal is None or item["id"] == action.proposal)
            and (action.tag is None or item["tag"] == action.tag)
        ]
        if not chosen and action.proposal is None:
            return f"no approval pending{'' if action.tag is None else ' for ' + action.tag}"
        proposal = chosen[0]["id"] if chosen else action.proposal
        digest = action.digest if action.digest is not None else (chosen[0]["digest"] if chosen else "none")
        answer = await self._post(
            action.user, f"/hmi/api/approvals/{proposal}/{action.kind}", {"digest": digest}
        )
        return f"{proposal}: {answer}"

    async def _autonomy(self, action: OperatorAction) -> str:
        engine = action.engine or "optimizer"
        entries = (await self._get(action.user, "/hmi/api/autonomy")).get("entries", [])
        current = [
            e for e in entries if e["engine"] == engine and e["loop"] == action.loop and e["current_model"]
        ]
        if not current:
            return f"no autonomy entry for {engine} on {action.loop}"
        body: dict[str, Any] = {
            "engine": engine,
            "model_digest": current[0]["model_digest"],
            "loop": action.loop,
        }
        if action.kind == "sign_off":
            own = DEMO_PASSWORDS.get(action.user, "")
            body["password"] = action.password if action.password is not None else own
            return await self._post(action.user, "/hmi/api/autonomy/sign-off", body)
        return await self._post(action.user, "/hmi/api/autonomy/demote", {**body, "reason": action.reason})

    async def _review(self, action: OperatorAction) -> str:
        """Answer everything queued for the tag, oldest first; every `reject_every`-th answer rejects."""
        queue = (await self._get(action.user, "/hmi/api/state")).get("approvals", [])
        answers = []
        for item in [i for i in queue if i["tag"] == action.tag]:
            count = self._reviewed.get(item["tag"], 0) + 1
            self._reviewed[item["tag"]] = count
            reject = action.reject_every is not None and count % action.reject_every == 0
            path = f"/hmi/api/approvals/{item['id']}/{'reject' if reject else 'approve'}"
            answers.append(f"{item['id']}: {await self._post(action.user, path, {'digest': item['digest']})}")
        return "; ".join(answers)

    async def _login(self, user: str) -> str:
        body = {"user": user, "password": DEMO_PASSWORDS.get(user, "")}
        response = await self._client(user).post("/hmi/api/session", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"HMI login of {user!r} refused: HTTP {response.status_code} {response.text}")
        csrf = str(response.json()["csrf_token"])
        self._csrf[user] = csrf
        return csrf

    async def _get(self, user: str, path: str) -> dict[str, Any]:
        if user not in self._csrf:
            await self._login(user)
        response = await self._client(user).get(path)
        if response.status_code == 401:
            await self._login(user)
            response = await self._client(user).get(path)
        data: dict[str, Any] = response.json()
        return data

    async def _post(self, user: str, path: str, body: dict[str, Any]) -> str:
        csrf = self._csrf.get(user) or await self._login(user)
        response = await self._client(user).post(path, json=body, headers={CSRF_HEADER: csrf})
        if response.status_code == 401:  # the session idled out in simulated time: log in again
            csrf = await self._login(user)
            response = await self._client(user).post(path, json=body, headers={CSRF_HEADER: csrf})
        return f"HTTP {response.status_code} {_compact(response.text)}"


def _compact(text: str) -> str:
    """The answer as compact JSON, without an error's correlation id (random per request by design, it
    would make the same scenario give a different trace hash every run)."""
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(data, dict) and "error" in data:
        data.pop("id", None)
    return json.dumps(data, separators=(",", ":"), sort_keys=True)
