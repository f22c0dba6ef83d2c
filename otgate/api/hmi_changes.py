"""Managed change at the HMI (engineers only): propose a candidate config, approve it as a SECOND engineer,
apply it through the existing audited reload, or reject it.

| endpoint (under `/hmi/api`)        | body                       | effect                                        |
|------------------------------------|----------------------------|-----------------------------------------------|
| `GET changes`                      |                            | the changes, newest first, with diff and replay |
| `POST changes`                     | `text`, `reason`           | checked (422 `config_invalid`, FILE:LINE:COL each) |
| `POST changes/{id}/approve`        | `password`                 | 403 `proposer_cannot_approve` for the proposer |
| `POST changes/{id}/apply`          | `password`                 | the audited reload of the approved file        |
| `POST changes/{id}/reject`         |                            | final                                          |

Every step is in the trail (`operator_action`, events `change_proposed`, `change_approved`,
`change_refused`, `change_rejected`, `change_applied`) with the names of both engineers; the reload
itself records `config_load` as before. A step the trail cannot record does not happen (503).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request

from otgate.api.hmi_actions import _audited, _reauthenticate, json_body, reason_of
from otgate.api.hmi_console import Actor, Console
from otgate.api.strict_requests import ApiError
from otgate.config.loader import ConfigError
from otgate.core.audit_chain import AuditKind, AuditRecord
from otgate.core.change_control import ChangeEvent, ChangeRequest, Refusal, step
from otgate.core.config import Role
from otgate.moc.change_board import ChangeBoard, ProposedChange, replay_summary, running_text, unified_diff
from otgate.runtime.view import GatewayView

REPLAY_MAX_RECORDS = 200_000  # the newest part of the trail; `otgate config replay` reads all of it


def recent_records(view: GatewayView) -> list[AuditRecord]:
    """The newest REPLAY_MAX_RECORDS records (blocking I/O: call it from a worker thread)."""
    head = view.audit_head
    if head is None:
        return []
    return list(view.records(max(1, head.seq - REPLAY_MAX_RECORDS + 1)))


REFUSAL_STATUS = {Refusal.PROPOSER_CANNOT_APPROVE: 403, Refusal.NOT_ALLOWED_NOW: 409, Refusal.STALE: 409}
REFUSAL_TEXT = {
    Refusal.PROPOSER_CANNOT_APPROVE: "two-person rule: the engineer who proposed a change cannot approve it",
    Refusal.NOT_ALLOWED_NOW: "not possible in the change's present state",
    Refusal.STALE: "the running config changed since this was proposed: propose it again",
}


def add_change_routes(app: FastAPI, console: Console) -> None:
    gateway = console.gateway
    view = console.view
    board = ChangeBoard(view.data_dir / "changes")
    app.state.changes = board

    def record(actor: Actor, data: dict[str, Any]) -> None:
        if not gateway.record_operator_event(actor.user, AuditKind.OPERATOR_ACTION, data):
            raise ApiError(503, "audit_unavailable")

    @app.get("/hmi/api/changes")
    async def changes(request: Request) -> dict[str, Any]:
        console.require(request, Role.ENGINEER)
        running, running_sha = await asyncio.to_thread(running_text, console.config_path)
        return {
            "running": {"file": str(console.config_path), "sha256": running_sha, "text": running},
            "changes": [c.as_dict() for c in reversed(board.changes.values())],
        }

    @app.post("/hmi/api/changes")
    async def propose(request: Request) -> dict[str, Any]:
        actor = console.require(request, Role.ENGINEER)
        body = await json_body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(422, "text_required", fields=[{"loc": ["text"], "msg": "the candidate config"}])
        reason = reason_of(body, required=True)
        change_id = board.new_id()
        try:
            loaded = await asyncio.to_thread(board.check, change_id, text)
        except ConfigError as error:
            problems = [str(p) for p in error.problems[:50]]
            record(
                actor,
                {
                    "event": "change_refused",
                    "id": change_id,
                    "why": "config_invalid",
                    "problems": len(error.problems),
                },
            )
            raise ApiError(
                422, "config_invalid", fields=[{"loc": ["text"], "msg": p} for p in problems]
            ) from None
        base, base_sha = await asyncio.to_thread(running_text, console.config_path)
        records = await asyncio.to_thread(recent_records, view)
        report = await asyncio.to_thread(replay_summary, records, loaded)
        diff = unified_diff(base, str(console.config_path), text, str(loaded.path))
        change = ProposedChange(
            ChangeRequest(change_id, actor.user, reason, base_sha, loaded.sha256), loaded.path, diff, report
        )
        record(
            actor,
            {
                "event": "change_proposed",
                "id": change_id,
                "proposed_by": actor.user,
                "reason": reason,
                "base_sha256": base_sha,
                "candidate_sha256": loaded.sha256,
                "replay": {k: report[k] for k in ("replayed", "changed", "by_reason", "affected_loops")},
            },
        )
        board.add(change)
        return change.as_dict()

    @app.post("/hmi/api/changes/{change_id}/{action}")
    async def decide(request: Request, change_id: str, action: str) -> dict[str, Any]:
        actor = console.require(request, Role.ENGINEER)
        event = {e.value: e for e in ChangeEvent}.get(action)
        change = board.changes.get(change_id)
        if event is None or change is None:
            raise ApiError(404, "unknown_change" if event is not None else "unknown_action")
        body = await json_body(request)
        if event is not ChangeEvent.REJECT:
            await _reauthenticate(console, actor, body)  # raising AI authority: the password again
        _, running_sha = await asyncio.to_thread(running_text, console.config_path)
        outcome = step(change.request, event, actor.user, running_sha)
        if isinstance(outcome, Refusal):
            record(
                actor,
                {
                    "event": "change_refused",
                    "id": change_id,
                    "action": action,
                    "why": outcome.value,
                    "proposed_by": change.request.proposed_by,
                },
            )
            raise ApiError(
                REFUSAL_STATUS[outcome], outcome.value, fields=[{"loc": [], "msg": REFUSAL_TEXT[outcome]}]
            )
        if event is ChangeEvent.APPLY:
            loaded = await asyncio.to_thread(board.load_approved, change)
            if loaded is None:
                raise ApiError(409, "candidate_changed_on_disk")
            _audited(lambda: gateway.reload_config(actor.user, loaded))
            console.config_path = loaded.path
        names = {"proposed_by": outcome.proposed_by, "approved_by": outcome.approved_by}
        record(
            actor,
            {
                "event": f"change_{outcome.state.value}",
                "id": change_id,
                **names,
                "by": actor.user,
                "candidate_sha256": outcome.candidate_sha256,
            },
        )
        change.request = outcome
        console.notify()
        return change.as_dict()
