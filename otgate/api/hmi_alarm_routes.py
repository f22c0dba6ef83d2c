"""`POST /hmi/api/alarms/{code}/shelve` (operator; `reason` and `duration_s` required) and the automatic
unshelving at expiry (in `Console.refresh`). Refusals are specific and change nothing: a safety-class alarm is `409
alarm_unshelvable` with the reason (REQUIREMENTS #26), a missing reason or a duration outside (0, 8 h]
is `422`. Shelving and unshelving are in the trail (`operator_action`, events `shelve_alarm` and
`unshelve_alarm`) with the operator's name."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from otgate.api.hmi_actions import json_body, number_of, reason_of
from otgate.api.hmi_console import Console
from otgate.api.strict_requests import ApiError
from otgate.core.alarms import shelve_refusal
from otgate.core.audit_chain import AuditKind
from otgate.core.config import Role


def add_alarm_routes(app: FastAPI, console: Console) -> None:
    gateway = console.gateway
    view = console.view

    @app.post("/hmi/api/alarms/{code}/shelve")
    async def shelve(request: Request, code: str) -> dict[str, Any]:
        actor = console.require(request, Role.OPERATOR)
        body = await json_body(request)
        alarm = view.alarm(code)
        if alarm is None:
            raise ApiError(404, "unknown_alarm")
        reason = reason_of(body, required=False)
        duration_s = number_of(body, "duration_s")
        refusal = shelve_refusal(alarm, reason, duration_s)
        if refusal is not None:
            status, error = (
                (409, "alarm_unshelvable") if alarm.priority == "high" else (422, "invalid_shelving")
            )
            raise ApiError(status, error, fields=[{"loc": ["code"], "msg": refusal}])
        until = view.now() + duration_s
        data = {"event": "shelve_alarm", "code": code, "reason": reason, "until": until}
        if not gateway.record_operator_event(actor.user, AuditKind.OPERATOR_ACTION, data):
            raise ApiError(503, "audit_unavailable")  # not recorded, so not shelved
        gateway.shelve_alarm(actor.user, code, reason, until)
        console.notify()
        return {"shelved": code, "until": until, "reason": reason}
